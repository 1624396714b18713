package cluster

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Entry is one member of a user_list.
type Entry struct {
	UID  int64  `json:"uid"`
	Name string `json:"name"`
}

// Msg is one message a client received, decoded by encoding/json (not
// chatd's codec), with the time it was read.
type Msg struct {
	At       time.Time
	Type     string
	UID      int64 // login, logout
	Name     string
	From     int64  // say
	To       string // say: "all" or the target uid
	Content  string
	Code     string  // error
	UserList []Entry // user_list
}

type wireMsg struct {
	Type     string          `json:"type"`
	UID      int64           `json:"uid"`
	Name     string          `json:"name"`
	From     int64           `json:"from_uid"`
	To       json.RawMessage `json:"to_uid"`
	Content  string          `json:"content"`
	Code     string          `json:"code"`
	UserList []Entry         `json:"user_list"`
}

// Client is a chat member on one node: a gorilla/websocket connection
// whose reader records every message with its receive time. UIDs it
// sees are checked against the world's registry (uid reuse).
type Client struct {
	// Immutable after Login.
	Name string
	Room string
	Node int // index of the node it connected to
	w    *World
	conn *websocket.Conn
	list chan struct{} // closed at the first user_list
	nack chan struct{} // closed at an error received before the first user_list
	done chan struct{} // closed when the reader stops

	// Guarded by wmu.
	wmu sync.Mutex

	// Guarded by mu.
	mu       sync.Mutex
	uid      int64
	loginAt  time.Time // first user_list received
	refusal  string    // code of the error that refused the login ("" if none)
	userList []Entry
	msgs     []Msg
	closedAt time.Time // reader stopped (server closed, killed node, Close)
	err      error
}

// Dial connects a client to addr and sends a login into room; it does
// not wait for the user_list (see WaitLogin).
func (w *World) Dial(addr string, node int, name, room string) (*Client, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial("ws://"+addr+"/", nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	c := &Client{Name: name, Room: room, Node: node, w: w, conn: conn, list: make(chan struct{}), nack: make(chan struct{}), done: make(chan struct{})}
	conn.SetPingHandler(func(s string) error {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return conn.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	w.track(c)
	go c.read()
	b, _ := json.Marshal(map[string]string{"type": "login", "name": name, "room_id": room})
	if err := c.write(b); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Login dials and waits up to d for the user_list (ErrStuck, or
// ErrRefused if an error came first).
func (w *World) Login(addr string, node int, name, room string, d time.Duration) (*Client, error) {
	c, err := w.Dial(addr, node, name, room)
	if err != nil {
		return nil, err
	}
	return c, c.WaitLogin(d)
}

// WaitLogin waits up to d for the client's user_list. An error message
// before it (any code: chatd says "unavailable" when the room's log did
// not take the join) refuses the login: ErrRefused, with the code.
func (c *Client) WaitLogin(d time.Duration) error {
	closed := false
	select {
	case <-c.list:
	case <-c.nack:
	case <-c.done:
		closed = true
	case <-time.After(d):
		return fmt.Errorf("%s on node %d, room %s: %w (%v)", c.Name, c.Node, c.Room, ErrStuck, d)
	}
	c.mu.Lock()
	code, listed := c.refusal, !c.loginAt.IsZero() // refusal: set only by an error before the user_list
	c.mu.Unlock()
	switch {
	case code != "":
		return fmt.Errorf("%s on node %d, room %s: %w: %s", c.Name, c.Node, c.Room, ErrRefused, code)
	case closed && !listed:
		return fmt.Errorf("%s: connection closed before user_list: %v", c.Name, c.Err())
	}
	return nil
}

func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		now := time.Now()
		if err != nil {
			c.mu.Lock()
			c.err, c.closedAt = err, now
			c.mu.Unlock()
			return
		}
		var wm wireMsg
		if err := json.Unmarshal(data, &wm); err != nil {
			c.w.errorf("%s: undecodable message %q: %v", c.Name, data, err)
			continue
		}
		c.record(now, &wm)
	}
}

func (c *Client) record(now time.Time, wm *wireMsg) {
	m := Msg{At: now, Type: wm.Type, UID: wm.UID, Name: wm.Name, From: wm.From, Content: wm.Content, Code: wm.Code, UserList: wm.UserList}
	if len(wm.To) > 0 {
		if s, err := strconv.Unquote(string(wm.To)); err == nil {
			m.To = s
		} else {
			m.To = string(wm.To)
		}
	}
	switch m.Type {
	case "user_list":
		for _, e := range m.UserList {
			c.w.sawUID(e.UID, e.Name)
		}
	case "login":
		c.w.sawUID(m.UID, m.Name)
	}
	c.mu.Lock()
	first := m.Type == "user_list" && c.loginAt.IsZero()
	if first {
		c.loginAt, c.userList = now, m.UserList
		if n := len(m.UserList); n > 0 {
			c.uid = m.UserList[n-1].UID
		}
	}
	refused := m.Type == "error" && c.loginAt.IsZero() && c.refusal == ""
	if refused {
		c.refusal = m.Code
		if c.refusal == "" {
			c.refusal = "(no code)"
		}
	}
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
	if first {
		close(c.list)
	}
	if refused {
		close(c.nack)
	}
}

func (c *Client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

// Say sends a say to all with content.
func (c *Client) Say(content string) error {
	b, _ := json.Marshal(map[string]string{"type": "say", "to_uid": "all", "content": content})
	return c.write(b)
}

// Private sends a private say to uid.
func (c *Client) Private(uid int64, content string) error {
	b, _ := json.Marshal(map[string]any{"type": "say", "to_uid": uid, "content": content})
	return c.write(b)
}

// Close closes the connection (a normal WebSocket close) and waits for
// the reader.
func (c *Client) Close() {
	c.wmu.Lock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(3 * time.Second):
	}
	_ = c.conn.Close()
	<-c.done
}

// UID is the client's uid (the last entry of its user_list), 0 before.
func (c *Client) UID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.uid
}

// LoginAt is when the user_list arrived (zero before).
func (c *Client) LoginAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loginAt
}

// UserList is the client's first user_list.
func (c *Client) UserList() []Entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userList
}

// Connected reports whether the connection is still open.
func (c *Client) Connected() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// ClosedAt is when the connection ended (zero while open).
func (c *Client) ClosedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedAt
}

// Err is why the connection ended.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Msgs returns a copy of what the client received so far.
func (c *Client) Msgs() []Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Msg(nil), c.msgs...)
}

// WaitMsg waits up to d for a received message (from index from on) that
// match accepts and returns it.
func (c *Client) WaitMsg(d time.Duration, from int, match func(*Msg) bool) (Msg, bool) {
	deadline := time.Now().Add(d)
	for {
		c.mu.Lock()
		for i := from; i < len(c.msgs); i++ {
			if match(&c.msgs[i]) {
				m := c.msgs[i]
				c.mu.Unlock()
				return m, true
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			return Msg{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Len is the number of messages received so far.
func (c *Client) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}
