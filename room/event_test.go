package room

import (
	"bytes"
	"testing"

	"chatd/codec"
)

func TestEventRoundTrip(t *testing.T) {
	for _, ev := range []Event{
		{Kind: KindJoin, UID: 1<<52 | 7, Node: 8191, Boot: 1<<53 - 1, Time: -1, Name: "&lt;b&gt;"},
		{Kind: KindLeave, UID: 42, Time: 1700000000000000000},
		{Kind: KindSay, UID: 42, Content: "hi<br />\n\u732a"},
		{Kind: KindEvict, Node: 3, Boot: 9},
	} {
		var got Event
		if err := DecodeEvent(AppendEvent(nil, &ev), &got); err != nil || got != ev {
			t.Errorf("DecodeEvent(AppendEvent(%+v)) = %+v, %v; want the same event", ev, got, err)
		}
	}
}

func TestDecodeEventRejects(t *testing.T) {
	good := AppendEvent(nil, &Event{Kind: KindSay, UID: 1, Content: "x"})
	for name, b := range map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{9}, good[1:]...),
		"kind":          append([]byte{wireVersion, 99}, good[2:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"say no uid":    AppendEvent(nil, &Event{Kind: KindSay, Content: "x"}),
		"say no text":   AppendEvent(nil, &Event{Kind: KindSay, UID: 1}),
		"join no name":  AppendEvent(nil, &Event{Kind: KindJoin, UID: 1}),
		"evict no node": AppendEvent(nil, &Event{Kind: KindEvict}),
		"huge string":   append([]byte{wireVersion, byte(KindSay), 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, 'x'),
	} {
		var e Event
		if err := DecodeEvent(b, &e); err != ErrBadEvent {
			t.Errorf("DecodeEvent(%s %q) = %v; want ErrBadEvent", name, b, err)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := &Snapshot{Seq: 99, Users: []codec.User{{UID: 1, Name: "a"}, {UID: 2, Name: "b"}}, Owners: []Owner{{1, 2}, {3, 4}}}
	got, err := DecodeSnapshot(AppendSnapshot(nil, s))
	if err != nil || got.Seq != 99 || len(got.Users) != 2 || got.Users[1] != s.Users[1] || got.Owners[1] != s.Owners[1] {
		t.Fatalf("DecodeSnapshot(AppendSnapshot(%+v)) = %+v, %v", s, got, err)
	}
	dup := &Snapshot{Users: []codec.User{{UID: 1, Name: "a"}, {UID: 1, Name: "b"}}, Owners: []Owner{{}, {}}}
	if _, err := DecodeSnapshot(AppendSnapshot(nil, dup)); err != ErrBadEvent {
		t.Fatalf("DecodeSnapshot(a uid listed twice) = %v; want ErrBadEvent", err)
	}
}

// FuzzDecodeEvent: the inter-node decoder never panics, and what it
// accepts encodes back to the same bytes.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(AppendEvent(nil, &Event{Kind: KindJoin, UID: 5, Node: 1, Boot: 2, Time: 3, Name: "n"}))
	f.Add(AppendEvent(nil, &Event{Kind: KindSay, UID: 5, Content: "hello"}))
	f.Add(AppendEvent(nil, &Event{Kind: KindEvict, Node: 2}))
	f.Add([]byte{wireVersion, byte(KindLeave), 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if DecodeEvent(b, &e) != nil {
			return
		}
		if again := AppendEvent(nil, &e); !bytes.Equal(again, b) {
			t.Fatalf("DecodeEvent(%q) = %+v, which encodes to %q", b, e, again)
		}
	})
}

// FuzzDecodeSnapshot: checkpoints read from the state bucket never make
// a node panic, and an accepted one encodes back to the same bytes.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(AppendSnapshot(nil, &Snapshot{Seq: 7, Users: []codec.User{{UID: 1, Name: "a"}}, Owners: []Owner{{1, 1}}}))
	f.Add([]byte{wireVersion, 0, 0})
	f.Add(AppendSnapshot(nil, snapWithSays()))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		if again := AppendSnapshot(nil, s); !bytes.Equal(again, b) {
			t.Fatalf("DecodeSnapshot(%q) = %+v, which encodes to %q", b, s, again)
		}
	})
}

// FuzzDeliver: a message in a node's inbox, however malformed, never
// makes the hub panic.
func FuzzDeliver(f *testing.F) {
	p := private{From: 1<<NodeShift | 1, FromName: "a", To: 1<<NodeShift | 1, ToName: "a", Time: 3, Content: "hi"}
	f.Add(p.append(nil, privateMsg))
	f.Add(p.append(nil, privateEcho))
	f.Add(p.append(nil, privateNone))
	h := syncHub(1, Config{})
	h.AttachCluster(nopCluster{h}, 1, 1)
	m := h.Shard(0).NewMember(&fakeConn{})
	h.Login(m, "a", "")
	f.Fuzz(func(t *testing.T, b []byte) {
		h.Deliver(b, "reply")
		drainAll(h)
	})
}

// nopCluster is a cluster of one node whose log applies at once.
type nopCluster struct{ h *Hub }

func (c nopCluster) Open(*Room)                    {}
func (c nopCluster) Close(*Room)                   {}
func (c nopCluster) Append(r *Room, ev Event)      { memLog(c).Append(r, ev) }
func (c nopCluster) NextUID() (uint64, bool)       { return c.h.nextUID.Add(1) | 1<<NodeShift, true }
func (c nopCluster) Direct(uint64, uint64, []byte) {}
func (c nopCluster) Reply(string, []byte)          {}
func (c nopCluster) Watch(Owner)                   {}
