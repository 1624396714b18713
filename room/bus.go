package room

import (
	"encoding/binary"
	"errors"
	"time"
	"unsafe"

	"chatd/codec"
)

// NodeShift is where the node id sits in a cluster uid: uid = node<<37 |
// counter. 16 bits of node and 37 bits of counter keep every uid below
// 2^53, so JavaScript clients read it exactly.
const NodeShift = 37

// MaxNode is the largest node id.
const MaxNode = 1<<(53-NodeShift) - 1

// NodeOf returns the node id encoded in uid (0 on a single node).
func NodeOf(uid uint64) uint64 { return uid >> NodeShift }

// FirstUID returns the first uid of node: node ids in the high bits make
// uids unique across the cluster without coordination.
func FirstUID(node uint64) uint64 { return node<<NodeShift | 1 }

// Bus carries room events between the nodes of a cluster; the cluster
// package implements it over NATS. Every method is non-blocking: a
// publish is queued and sent by the bus's own goroutine, in call order.
type Bus interface {
	// Open subscribes to roomID's stream. Events, snapshot requests and
	// snapshots are handed to rc on the bus's goroutines, one at a time
	// per room.
	Open(roomID string, rc Receiver) Stream
	// Publish queues ev for roomID's subject without subscribing to it.
	Publish(roomID string, ev []byte)
	// Direct sends msg to node's inbox; answers (and "no such node")
	// come back through Hub.Deliver and Hub.Undeliverable for from.
	Direct(node, from uint64, msg []byte)
	// Reply sends data to a reply address received earlier.
	Reply(to string, data []byte)
	// Watch makes the bus track node's heartbeats, so that a node seen
	// only in a room's list is declared gone (Hub.NodeGone) if it is
	// silent.
	Watch(node uint64)
}

// Stream is one room's channel on the bus.
type Stream interface {
	// Publish queues ev for the room's subject. Every node subscribed to
	// the room, this one included, receives the room's events in one
	// order (with one NATS server; see docs/cluster.md).
	Publish(ev []byte)
	// Sync asks a node that holds the room's state for a snapshot; the
	// outcome reaches Receiver.Synced with token.
	Sync(token uint64)
	// Hold makes this node answer snapshot requests (true) or stop.
	Hold(on bool)
	// Close unsubscribes.
	Close()
}

// Receiver is what a Stream delivers to: one room of the hub.
type Receiver interface {
	// Event is one event of the room's stream, in stream order. ev is
	// owned by the callee.
	Event(ev []byte)
	// Requested is a snapshot request for token, to be answered at reply.
	Requested(token uint64, reply string)
	// Synced reports a snapshot (err nil), an empty room (ErrNoHolder),
	// or a failed attempt (any other error, reported after a back-off;
	// the room then asks again with a new token).
	Synced(token uint64, snap []byte, err error)
}

// ErrNoHolder reports that no node holds a room's state: it is empty.
var ErrNoHolder = errors.New("room: no node holds the room")

// Event kinds of a room stream and of node inboxes. The first byte of
// every bus message; the rest is uvarints and length-prefixed strings.
// Chat events cross the bus dialect-neutral (an "event": the fields of a
// codec.Event, see wire.event); each node frames them per dialect.
const (
	wireJoin      byte = iota + 1 // node, event (login)
	wireLeave                     // node, event (logout)
	wireSay                       // node, event (say)
	wireMarker                    // responder node, token, reply
	wireEvict                     // sender node, gone node
	wireReconcile                 // node, count, (uid, name)*
	wirePrivate                   // event (private: from UID to To)
	wireAck                       // ok (0/1), event (the private message, ToName set by the target's node)
)

// wire appends the fields of a bus message.
type wire []byte

func (w wire) uint(v uint64) wire  { return binary.AppendUvarint(w, v) }
func (w wire) str(s string) wire   { return append(w.uint(uint64(len(s))), s...) }
func (w wire) bytes(b []byte) wire { return append(w, b...) }

// event appends ev's fields but its kind (the message type implies it):
// uid, name, to, to name, unix seconds, content.
func (w wire) event(ev *codec.Event) wire {
	w = w.uint(ev.UID).str(ev.Name).uint(ev.To).str(ev.ToName)
	return w.uint(uint64(ev.Time.Unix())).str(ev.Content)
}

// eventSize is about what wire.event appends for ev.
func eventSize(ev *codec.Event) int { return 40 + len(ev.Name) + len(ev.ToName) + len(ev.Content) }

// reader reads the fields of a bus message; a malformed message leaves
// bad set and zero values.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// view returns the next string field, aliasing the message.
func (r *reader) view() string {
	n := r.uint()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := unsafe.String(unsafe.SliceData(r.b), n)
	r.b = r.b[n:]
	return s
}

// event reads what wire.event wrote, as an event of kind. Its strings
// alias the message: callers copy what they keep.
func (r *reader) event(kind codec.EventKind) codec.Event {
	ev := codec.Event{Kind: kind, UID: r.uint(), Name: r.view(), To: r.uint(), ToName: r.view()}
	ev.Time = time.Unix(int64(r.uint()), 0)
	ev.Content = r.view()
	return ev
}
