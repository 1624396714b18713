package room

import (
	"encoding/binary"
	"time"

	"github.com/gobwas/ws"

	"chatd/codec"
)

// Private messages do not go through a room's log: they go from the
// sender's loop to the target's, on one node, or to the target's node
// (its id is in the uid's high bits) through Cluster.Direct, which
// answers with the echo for the sender or "no such user". What crosses
// between nodes is dialect-neutral; each end frames for its member.

// Private sends content (validated and HTML-escaped) from m to the member
// with uid to, and echoes it to m once. Called on m's loop.
func (h *Hub) Private(m *Member, to uint64, content string) error {
	if m.room == nil {
		return ErrNotLoggedIn
	}
	now := h.now()
	if h.cl != nil && NodeOf(to) != h.node {
		if NodeOf(to) == 0 {
			return ErrNoSuchUser
		}
		p := private{From: m.uid, FromName: m.name, To: to, Time: now, Content: content}
		h.cl.Direct(NodeOf(to), m.uid, p.append(nil, privateMsg))
		return nil
	}
	t, toName := h.memberName(to)
	if t == nil {
		return ErrNoSuchUser
	}
	ev := codec.Event{Kind: codec.EventPrivate, UID: m.uid, Name: m.name, To: to, ToName: toName,
		Content: content, Time: time.Unix(0, now)}
	frame := eventFrame(&m.shard.scratch, t.dialect, &ev)
	t.shard.post(event{kind: evDirect, member: t, one: frame}, m.shard) // Send, from m's loop
	if t != m {
		h.Send(m, echoFrame(&m.shard.scratch, m.dialect, &ev, t.dialect, frame))
	}
	return nil
}

// echoFrame returns the sender's copy of the private message ev, whose
// target got frame in dialect td: the same frame when both see the 2014
// shape (one allocation for both), else its own rendering in dialect d.
func echoFrame(scratch *[]byte, d codec.Dialect, ev *codec.Event, td codec.Dialect, frame []byte) []byte {
	if d == codec.Dialect2014 && td == codec.Dialect2014 {
		return frame
	}
	echo := *ev
	echo.Kind = codec.EventPrivateEcho
	return eventFrame(scratch, d, &echo)
}

// Kinds of the messages between nodes' inboxes.
const (
	privateMsg  byte = 1 // a private message
	privateEcho byte = 2 // delivered: the message again, for the sender's echo
	privateNone byte = 3 // the target is not logged in
)

// private is a private message between nodes.
type private struct {
	From     uint64
	FromName string
	To       uint64
	ToName   string // in the echo
	Time     int64
	Content  string
}

func (p *private) append(dst []byte, kind byte) []byte {
	dst = append(dst, wireVersion, kind)
	dst = binary.AppendUvarint(dst, p.From)
	dst = appendWireString(dst, p.FromName)
	dst = binary.AppendUvarint(dst, p.To)
	dst = appendWireString(dst, p.ToName)
	dst = binary.AppendVarint(dst, p.Time)
	return appendWireString(dst, p.Content)
}

func (p *private) event(kind codec.EventKind) codec.Event {
	return codec.Event{Kind: kind, UID: p.From, Name: p.FromName, To: p.To, ToName: p.ToName,
		Content: p.Content, Time: time.Unix(0, p.Time)}
}

// Deliver handles a message of this node's inbox: a private message from
// another node (answered at reply), or the answer to one of ours.
// Malformed messages are dropped.
func (h *Hub) Deliver(msg []byte, reply string) {
	if len(msg) < 2 || msg[0] != wireVersion {
		return
	}
	d := decoder{b: msg[2:]}
	var p private
	p.From, p.FromName, p.To, p.ToName, p.Time, p.Content = d.uint(), d.str(), d.uint(), d.str(), d.int(), d.str()
	if d.bad || len(d.b) != 0 {
		return
	}
	switch msg[1] {
	case privateMsg:
		t, toName := h.memberName(p.To)
		if t == nil {
			h.cl.Reply(reply, p.append(nil, privateNone))
			return
		}
		p.ToName = toName
		ev := p.event(codec.EventPrivate)
		h.Send(t, frameOf(t.dialect, &ev))
		h.cl.Reply(reply, p.append(nil, privateEcho))
	case privateEcho:
		if m := h.member(p.From); m != nil {
			ev := p.event(codec.EventPrivateEcho)
			if m.dialect == codec.Dialect2014 {
				ev.Kind = codec.EventPrivate
			}
			h.Send(m, frameOf(m.dialect, &ev))
		}
	case privateNone:
		h.Undeliverable(p.From)
	}
}

// frameOf frames ev in dialect d through a pooled scratch buffer.
func frameOf(d codec.Dialect, ev *codec.Event) []byte {
	s := scratches.Get().(*[]byte)
	f := eventFrame(s, d, ev)
	*s = (*s)[:0]
	scratches.Put(s)
	return f
}

// Undeliverable tells member from that its private message found nobody.
func (h *Hub) Undeliverable(from uint64) {
	if m := h.member(from); m != nil {
		h.Send(m, noSuchUserFrame)
	}
}

var noSuchUserFrame = codec.NewFrame(ws.OpText, codec.AppendReply(nil, &codec.Reply{Code: codec.CodeNoSuchUser, Reason: "no such user"}))
