package main

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// A command is one thing for the hub to do, sent by a reader goroutine.
type command struct {
	c       *client
	kind    byte // 'j' join, 's' say, 'l' leave
	name    string
	room    string
	toAll   bool
	to      uint64
	content string
}

// hub owns every room; only its goroutine touches rooms and byUID.
type hub struct {
	cmds chan command

	nextUID uint64
	rooms   map[string]*room
	byUID   map[uint64]*client
}

type room struct {
	members []*client // join order
}

func newHub() *hub {
	return &hub{
		cmds:    make(chan command, 4096),
		nextUID: 1000,
		rooms:   map[string]*room{},
		byUID:   map[uint64]*client{},
	}
}

func (h *hub) run() {
	for cmd := range h.cmds {
		switch cmd.kind {
		case 'j':
			h.join(cmd)
		case 's':
			h.say(cmd)
		case 'l':
			h.leave(cmd.c)
		}
	}
}

func now() string { return time.Now().Format("2006-01-02 15:04:05") }

type member struct {
	UID  uint64 `json:"uid"`
	Name string `json:"name"`
}

func (h *hub) join(cmd command) {
	c := cmd.c
	if c.room != nil {
		h.leave(c)
	}
	if c.uid == 0 {
		h.nextUID++
		c.uid = h.nextUID
		h.byUID[c.uid] = c
	}
	c.name = cmd.name
	r := h.rooms[cmd.room]
	if r == nil {
		r = &room{}
		h.rooms[cmd.room] = r
	}
	r.members = append(r.members, c)
	c.room = r
	list := make([]member, len(r.members))
	for i, m := range r.members {
		list[i] = member{m.uid, m.name}
	}
	c.send(encode(struct {
		Type     string   `json:"type"`
		UserList []member `json:"user_list"`
	}{"user_list", list}))
	h.broadcast(r, encode(struct {
		Type string `json:"type"`
		UID  uint64 `json:"uid"`
		Name string `json:"name"`
		Time string `json:"time"`
	}{"login", c.uid, c.name, now()}))
}

func (h *hub) say(cmd command) {
	c := cmd.c
	if c.room == nil {
		return
	}
	var to any = "all"
	var target *client
	if !cmd.toAll {
		target = h.byUID[cmd.to]
		if target == nil {
			c.sendError("no_such_user", "no user with that uid")
			return
		}
		to = cmd.to
	}
	pm := encode(struct {
		Type    string `json:"type"`
		From    uint64 `json:"from_uid"`
		To      any    `json:"to_uid"`
		Content string `json:"content"`
		Time    string `json:"time"`
	}{"say", c.uid, to, escapeContent(cmd.content), now()})
	if cmd.toAll {
		h.broadcast(c.room, pm)
		return
	}
	target.send(pm)
	if target != c {
		c.send(pm)
	}
}

func (h *hub) leave(c *client) {
	r := c.room
	if r == nil {
		if c.closed() {
			delete(h.byUID, c.uid)
		}
		return
	}
	for i, m := range r.members {
		if m == c {
			r.members = append(r.members[:i], r.members[i+1:]...)
			break
		}
	}
	c.room = nil
	if c.closed() {
		delete(h.byUID, c.uid)
	}
	h.broadcast(r, encode(struct {
		Type string `json:"type"`
		UID  uint64 `json:"uid"`
		Time string `json:"time"`
	}{"logout", c.uid, now()}))
}

// broadcast queues one prepared message, framed once, to every member.
func (h *hub) broadcast(r *room, pm outMsg) {
	for _, m := range r.members {
		m.send(pm)
	}
}

// outMsg is an encoded message and its payload size (gorilla does not tell it).
type outMsg struct {
	pm *websocket.PreparedMessage
	n  int
}

// encode marshals v once and prepares its frame once for every recipient.
func encode(v any) outMsg {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed struct shapes are encoded
	}
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, b)
	if err != nil {
		panic(err)
	}
	return outMsg{pm, len(b)}
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func escapeContent(s string) string {
	return strings.ReplaceAll(htmlEscaper.Replace(s), "\n", "<br />\n")
}
