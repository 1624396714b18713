package main

import (
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bytedance/sonic"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

const (
	maxQueued  = 1 << 20 // unsent bytes per connection before nbio closes it
	maxContent = 4096
	maxMessage = 64 << 10
)

// client is one connection. uid, name and room are guarded by hub.mu.
type client struct {
	ws *websocket.Conn
	nc net.Conn // nbio's non-blocking conn: Write never blocks, keeps what the socket does not take

	uid  uint64
	name string
	room *room
}

// A batch is frames for one member set: every member gets buf in one write.
type batch struct {
	buf     *[]byte
	members []*client
}

// room is one chat room. All fields are guarded by hub.mu. members is never
// modified in place: a join appends (earlier snapshots keep their length), a
// leave makes a new slice, so a queued batch keeps the member set it was
// sent to.
type room struct {
	id       string
	members  []*client
	queue    []batch // frames not yet written, oldest first
	flushing bool    // a task is writing the queue
	flush    func()
}

// hub owns rooms and users; mu guards everything in it and in rooms.
type hub struct {
	mu      sync.Mutex
	nextUID uint64
	rooms   map[string]*room
	byUID   map[uint64]*client
	conns   map[*client]struct{}
	scratch []byte
	sec     int64
	stamp   string // time of the current second, "2006-01-02 15:04:05"

	execute func(func()) // nbio's task pool
}

func newHub() *hub {
	return &hub{nextUID: 1000, rooms: map[string]*room{}, byUID: map[uint64]*client{}, conns: map[*client]struct{}{}}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (h *hub) open(ws *websocket.Conn) {
	c := &client{ws: ws, nc: ws.UnderlayerConn()}
	ws.SetSession(c)
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) close(ws *websocket.Conn, _ error) {
	c, _ := ws.Session().(*client)
	if c == nil {
		return
	}
	h.mu.Lock()
	delete(h.conns, c)
	var start func()
	if c.room != nil {
		start = h.leaveLocked(c)
	}
	delete(h.byUID, c.uid)
	h.mu.Unlock()
	if start != nil {
		h.execute(start)
	}
}

type inbound struct {
	Type    string          `json:"type"`
	Name    string          `json:"name"`
	RoomID  json.RawMessage `json:"room_id"`
	ToUID   json.RawMessage `json:"to_uid"`
	Content *string         `json:"content"`
}

// message runs in nbio's task pool, one message of a connection at a time.
func (h *hub) message(ws *websocket.Conn, _ websocket.MessageType, data []byte) {
	c, _ := ws.Session().(*client)
	if c == nil {
		return
	}
	var m inbound
	// ConfigStd copies strings: the payload buffer is reused after this call.
	if err := sonic.ConfigStd.Unmarshal(data, &m); err != nil {
		c.sendError("bad_json", "message is not a JSON object")
		return
	}
	switch m.Type {
	case "pong":
	case "login":
		name := strings.TrimSpace(m.Name)
		if n := utf8.RuneCountInString(name); n < 1 || n > 32 {
			c.sendError("bad_name", "name must be 1 to 32 characters")
			return
		}
		h.join(c, htmlEscaper.Replace(name), roomID(m.RoomID))
	case "say":
		h.say(c, &m)
	default:
		c.sendError("unknown_type", "unknown message type")
	}
}

func (h *hub) join(c *client, name, id string) {
	h.mu.Lock()
	var start func()
	if c.room != nil {
		start = h.leaveLocked(c)
	}
	if c.uid == 0 {
		h.nextUID++
		c.uid = h.nextUID
		h.byUID[c.uid] = c
	}
	c.name = name
	r := h.rooms[id]
	if r == nil {
		r = &room{id: id}
		r.flush = func() { h.flushRoom(r) }
		h.rooms[id] = r
	}
	r.members = append(r.members, c)
	c.room = r
	// user_list goes out now, before anything queued for the room after this join.
	p := append(h.scratch[:0], `{"type":"user_list","user_list":[`...)
	for i, m := range r.members {
		if i > 0 {
			p = append(p, ',')
		}
		p = append(p, `{"uid":`...)
		p = strconv.AppendUint(p, m.uid, 10)
		p = append(p, `,"name":`...)
		p = appendString(p, m.name)
		p = append(p, '}')
	}
	p = append(p, "]}"...)
	h.scratch = p
	f := appendFrame(nil, p)
	c.nc.Write(f)

	p = append(h.scratch[:0], `{"type":"login","uid":`...)
	p = strconv.AppendUint(p, c.uid, 10)
	p = append(p, `,"name":`...)
	p = appendString(p, c.name)
	p = append(p, `,"time":"`...)
	p = append(p, h.now()...)
	p = append(p, `"}`...)
	h.scratch = p
	start2 := h.broadcastLocked(r, p)
	h.mu.Unlock()
	// Both rooms' flushes when c moved from one room to another.
	for _, f := range []func(){start, start2} {
		if f != nil {
			h.execute(f)
		}
	}
}

func (h *hub) say(c *client, m *inbound) {
	switch {
	case m.Content == nil || strings.TrimSpace(*m.Content) == "":
		c.sendError("bad_content", "empty message")
		return
	case len(*m.Content) > maxContent:
		c.sendError("too_long", "message too long")
		return
	}
	content := escapeContent(*m.Content)
	to := strings.Trim(string(m.ToUID), `"`)
	h.mu.Lock()
	if c.room == nil {
		h.mu.Unlock()
		c.sendError("not_logged_in", "log in first")
		return
	}
	var target *client
	if to != "all" {
		uid, err := strconv.ParseUint(to, 10, 64)
		if err == nil {
			target = h.byUID[uid]
		}
		if target == nil {
			h.mu.Unlock()
			c.sendError("no_such_user", "no user with that uid")
			return
		}
	}
	p := append(h.scratch[:0], `{"type":"say","from_uid":`...)
	p = strconv.AppendUint(p, c.uid, 10)
	p = append(p, `,"to_uid":`...)
	if target == nil {
		p = append(p, `"all"`...)
	} else {
		p = strconv.AppendUint(p, target.uid, 10)
	}
	p = append(p, `,"content":`...)
	p = appendString(p, content)
	p = append(p, `,"time":"`...)
	p = append(p, h.now()...)
	p = append(p, `"}`...)
	h.scratch = p
	if target == nil {
		start := h.broadcastLocked(c.room, p)
		h.mu.Unlock()
		if start != nil {
			h.execute(start)
		}
		return
	}
	pb := bufPool.Get().(*[]byte)
	*pb = appendFrame((*pb)[:0], p)
	h.mu.Unlock()
	target.nc.Write(*pb)
	if target != c {
		c.nc.Write(*pb)
	}
	bufPool.Put(pb)
}

// leaveLocked takes c out of its room and tells the others.
func (h *hub) leaveLocked(c *client) func() {
	r := c.room
	c.room = nil
	ms := make([]*client, 0, len(r.members))
	for _, m := range r.members {
		if m != c {
			ms = append(ms, m)
		}
	}
	r.members = ms
	if len(ms) == 0 {
		delete(h.rooms, r.id)
		return nil
	}
	p := append(h.scratch[:0], `{"type":"logout","uid":`...)
	p = strconv.AppendUint(p, c.uid, 10)
	p = append(p, `,"time":"`...)
	p = append(p, h.now()...)
	p = append(p, `"}`...)
	h.scratch = p
	return h.broadcastLocked(r, p)
}

// broadcastLocked frames payload once and queues it for every member of r,
// in the last batch when that batch has the same members; it returns the
// room's flush task when none is running (to be started after unlocking).
func (h *hub) broadcastLocked(r *room, payload []byte) func() {
	if len(r.members) == 0 {
		return nil
	}
	if n := len(r.queue); n > 0 && sameMembers(r.queue[n-1].members, r.members) {
		b := r.queue[n-1].buf
		*b = appendFrame(*b, payload)
	} else {
		b := bufPool.Get().(*[]byte)
		*b = appendFrame((*b)[:0], payload)
		r.queue = append(r.queue, batch{b, r.members})
	}
	if r.flushing {
		return nil
	}
	r.flushing = true
	return r.flush
}

func sameMembers(a, b []*client) bool {
	return len(a) == len(b) && &a[0] == &b[0]
}

// flushRoom writes the room's queued batches; what is queued while it
// writes goes out in its next round. Consecutive batches whose member sets
// only grew (joins append to the same array) form a chain: their frames are
// concatenated and every member gets, in one write, the suffix from the
// first batch it belongs to. So a round is one write per member, even
// while a room fills up.
func (h *hub) flushRoom(r *room) {
	var spare []batch
	var offs []int
	for {
		h.mu.Lock()
		q := r.queue
		if len(q) == 0 {
			r.flushing = false
			h.mu.Unlock()
			return
		}
		r.queue = spare[:0]
		h.mu.Unlock()
		for i := 0; i < len(q); {
			j := i + 1
			for j < len(q) && extends(q[j-1].members, q[j].members) {
				j++
			}
			buf := q[i].buf
			offs = append(offs[:0], 0)
			for k := i + 1; k < j; k++ {
				offs = append(offs, len(*buf))
				*buf = append(*buf, *q[k].buf...)
				putBuf(q[k].buf)
			}
			k := i
			for idx, m := range q[j-1].members {
				for idx >= len(q[k].members) {
					k++
				}
				m.nc.Write((*buf)[offs[k-i]:])
			}
			putBuf(buf)
			i = j
		}
		clear(q)
		spare = q
	}
}

// extends reports whether b is a (not smaller) member set grown from a by joins.
func extends(a, b []*client) bool {
	return len(a) > 0 && len(a) <= len(b) && &a[0] == &b[0]
}

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		bufPool.Put(b)
	}
}

// pinger pings every connection each interval; the read deadline
// (KeepaliveTime, renewed by every frame) closes the silent ones.
func (h *hub) pinger(every time.Duration) {
	ping := []byte{0x89, 0}
	var all []*client
	for range time.Tick(every) {
		h.mu.Lock()
		all = all[:0]
		for c := range h.conns {
			all = append(all, c)
		}
		h.mu.Unlock()
		for _, c := range all {
			c.nc.Write(ping)
		}
		clear(all)
	}
}

// now is the protocol's time of day, formatted once per second (h.mu held).
func (h *hub) now() string {
	t := time.Now()
	if s := t.Unix(); s != h.sec {
		h.sec, h.stamp = s, t.Format("2006-01-02 15:04:05")
	}
	return h.stamp
}

var errorFrames = map[string][]byte{}

func init() {
	for code, reason := range map[string]string{
		"bad_json": "message is not a JSON object", "bad_name": "name must be 1 to 32 characters",
		"unknown_type": "unknown message type", "bad_content": "empty message", "too_long": "message too long",
		"not_logged_in": "log in first", "no_such_user": "no user with that uid",
	} {
		p := []byte(`{"type":"error","code":"` + code + `","reason":"` + reason + `"}`)
		errorFrames[code] = appendFrame(nil, p)
	}
}

// sendError writes one of the fixed error messages (reason is documentation).
func (c *client) sendError(code, _ string) {
	c.nc.Write(errorFrames[code])
}

// appendFrame appends an unmasked final text frame holding p.
func appendFrame(dst, p []byte) []byte {
	n := len(p)
	switch {
	case n < 126:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x81, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, p...)
}

// appendString appends s as a JSON string.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x20 && b != '"' && b != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// roomID maps a string or number room_id to its room name; the default room is "1".
func roomID(raw json.RawMessage) string {
	var s string
	if sonic.ConfigStd.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if sonic.ConfigStd.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return "1"
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")

func escapeContent(s string) string {
	return strings.ReplaceAll(htmlEscaper.Replace(s), "\n", "<br />\n")
}
