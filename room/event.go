package room

import (
	"encoding/binary"
	"time"
)

// Kind is the kind of a room event.
type Kind uint8

// Room event kinds. The numbers are on the wire between nodes: never
// renumber them.
const (
	KindJoin  Kind = 1 // a member logs in: UID, Name, Node, Boot
	KindLeave Kind = 2 // a member leaves: UID
	KindSay   Kind = 3 // a member says Content to the whole room: UID
	KindEvict Kind = 4 // every member of Node (of boot Boot; 0: any) leaves
)

// Event is one entry of a room's log. It is dialect-neutral: each node
// encodes the frames its members need when it applies the event. Events
// are values owned by whoever holds them; their strings are immutable.
type Event struct {
	Kind    Kind
	UID     uint64
	Node    uint64 // join: the member's node; evict: the evicted node
	Boot    uint64 // join: the member's node boot; evict: the evicted boot (0: any)
	Time    int64  // unix nanoseconds, stamped by the node that appends
	Name    string // join: the HTML-escaped name
	Content string // say: the HTML-escaped content
}

// time returns the event's time stamp in the local time zone.
func (e *Event) time() time.Time { return time.Unix(0, e.Time) }

// wireVersion starts every encoded event so that the format can change.
const wireVersion byte = 1

// maxWireString bounds a string field of a decoded event: anything
// longer did not come from a node (names and contents are capped far
// below it).
const maxWireString = 1 << 20

// AppendEvent appends the wire form of e to dst: a version byte, the
// kind, then uvarints and length-prefixed strings.
func AppendEvent(dst []byte, e *Event) []byte {
	dst = append(dst, wireVersion, byte(e.Kind))
	dst = binary.AppendUvarint(dst, e.UID)
	dst = binary.AppendUvarint(dst, e.Node)
	dst = binary.AppendUvarint(dst, e.Boot)
	dst = binary.AppendVarint(dst, e.Time)
	dst = appendWireString(dst, e.Name)
	return appendWireString(dst, e.Content)
}

func appendWireString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// DecodeEvent decodes an event encoded by AppendEvent. Its strings are
// copies: e does not alias b. A malformed or unknown event is
// ErrBadEvent.
func DecodeEvent(b []byte, e *Event) error {
	if len(b) < 2 || b[0] != wireVersion {
		return ErrBadEvent
	}
	d := decoder{b: b[2:]}
	*e = Event{Kind: Kind(b[1])}
	e.UID, e.Node, e.Boot, e.Time = d.uint(), d.uint(), d.uint(), d.int()
	e.Name, e.Content = d.str(), d.str()
	if d.bad || len(d.b) != 0 || !e.valid() {
		*e = Event{}
		return ErrBadEvent
	}
	return nil
}

// valid reports whether e has the fields its kind needs.
func (e *Event) valid() bool {
	switch e.Kind {
	case KindJoin:
		return e.UID != 0 && e.Name != ""
	case KindLeave:
		return e.UID != 0
	case KindSay:
		return e.UID != 0 && e.Content != ""
	case KindEvict:
		return e.Node != 0
	}
	return false
}

// decoder reads the fields of a wire event; a malformed field sets bad.
type decoder struct {
	b   []byte
	bad bool
	tmp [binary.MaxVarintLen64]byte
}

// uint reads a uvarint; an overlong one (not the shortest spelling) is
// malformed, so every event has exactly one wire form.
func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != len(binary.AppendUvarint(d.tmp[:0], v)) {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || n != len(binary.AppendVarint(d.tmp[:0], v)) {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uint()
	if d.bad || n > maxWireString || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
