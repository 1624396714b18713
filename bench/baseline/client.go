package main

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

const (
	maxQueued  = 1 << 20 // unsent bytes before a slow consumer is closed with 1008
	maxContent = 4096
	maxMessage = 64 << 10
)

type server struct {
	hub  *hub
	ping time.Duration
	up   websocket.Upgrader
}

// client is one connection. uid, name and room are owned by the hub
// goroutine; the queue fields are guarded by mu.
type client struct {
	ws  *websocket.Conn
	hub *hub

	uid  uint64
	name string
	room *room

	mu       sync.Mutex
	queue    []*websocket.PreparedMessage
	queued   int
	dead     bool
	closeMsg []byte
	wake     chan struct{}
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{ws: conn, hub: s.hub, wake: make(chan struct{}, 1)}
	go c.writeLoop(s.ping)
	c.readLoop(s.ping)
}

// send queues pm; past maxQueued unsent bytes the client is dropped.
func (c *client) send(m outMsg) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, m.pm)
	c.queued += m.n
	if c.queued > maxQueued {
		c.dead = true
		c.closeMsg = websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "slow consumer")
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *client) closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dead
}

func (c *client) sendError(code, reason string) {
	c.send(encode(struct {
		Type   string `json:"type"`
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}{"error", code, reason}))
}

func (c *client) writeLoop(ping time.Duration) {
	t := time.NewTicker(ping)
	defer func() {
		t.Stop()
		c.ws.Close()
	}()
	var batch []*websocket.PreparedMessage
	for {
		select {
		case <-c.wake:
		case <-t.C:
			c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
			continue
		}
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.queued = 0
		dead, closeMsg := c.dead, c.closeMsg
		c.mu.Unlock()
		for _, pm := range batch {
			c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WritePreparedMessage(pm); err != nil {
				return
			}
		}
		clear(batch)
		if dead {
			if closeMsg != nil {
				c.ws.WriteControl(websocket.CloseMessage, closeMsg, time.Now().Add(time.Second))
			}
			return
		}
	}
}

type inbound struct {
	Type    string          `json:"type"`
	Name    string          `json:"name"`
	RoomID  json.RawMessage `json:"room_id"`
	ToUID   json.RawMessage `json:"to_uid"`
	Content *string         `json:"content"`
}

func (c *client) readLoop(ping time.Duration) {
	defer func() {
		c.mu.Lock()
		c.dead = true
		c.mu.Unlock()
		c.hub.cmds <- command{c: c, kind: 'l'}
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}()
	c.ws.SetReadLimit(maxMessage)
	alive := func() { c.ws.SetReadDeadline(time.Now().Add(2 * ping)) }
	alive()
	c.ws.SetPongHandler(func(string) error { alive(); return nil })
	loggedIn := false
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		alive()
		var m inbound
		if err := json.Unmarshal(data, &m); err != nil {
			c.sendError("bad_json", "message is not a JSON object")
			continue
		}
		switch m.Type {
		case "pong":
		case "login":
			name := strings.TrimSpace(m.Name)
			if n := utf8.RuneCountInString(name); n < 1 || n > 32 {
				c.sendError("bad_name", "name must be 1 to 32 characters")
				continue
			}
			loggedIn = true
			c.hub.cmds <- command{c: c, kind: 'j', name: htmlEscaper.Replace(name), room: roomID(m.RoomID)}
		case "say":
			c.say(m, loggedIn)
		default:
			c.sendError("unknown_type", "unknown message type")
		}
	}
}

func (c *client) say(m inbound, loggedIn bool) {
	switch {
	case !loggedIn:
		c.sendError("not_logged_in", "log in first")
		return
	case m.Content == nil || strings.TrimSpace(*m.Content) == "":
		c.sendError("bad_content", "empty message")
		return
	case len(*m.Content) > maxContent:
		c.sendError("too_long", "message too long")
		return
	}
	to := strings.Trim(string(m.ToUID), `"`)
	if to == "all" {
		c.hub.cmds <- command{c: c, kind: 's', toAll: true, content: *m.Content}
		return
	}
	uid, err := strconv.ParseUint(to, 10, 64)
	if err != nil {
		c.sendError("no_such_user", "no user with that uid")
		return
	}
	c.hub.cmds <- command{c: c, kind: 's', to: uid, content: *m.Content}
}

// roomID maps a string or number room_id to its room name; the default room is "1".
func roomID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return "1"
}
