package cluster

import (
	"testing"

	"chatd/room"
)

// TestMembersTrack: the says the history read keeps are the ones the
// apply step delivers: not after the sender's leave or its node's
// eviction, again after a join.
func TestMembersTrack(t *testing.T) {
	const n1, n2 = 1, 2
	u1, u2, old := uint64(n1<<room.NodeShift|1), uint64(n2<<room.NodeShift|1), uint64(n2<<room.NodeShift|7)
	tests := []struct {
		name string
		ev   room.Event
		want bool
	}{
		{"say of a sender joined before the read", room.Event{Kind: room.KindSay, UID: old, Content: "a"}, true},
		{"join", room.Event{Kind: room.KindJoin, UID: u1, Node: n1, Boot: 5, Name: "x"}, false},
		{"say", room.Event{Kind: room.KindSay, UID: u1, Content: "b"}, true},
		{"leave", room.Event{Kind: room.KindLeave, UID: u1}, false},
		{"say after the leave", room.Event{Kind: room.KindSay, UID: u1, Content: "c"}, false},
		{"join again", room.Event{Kind: room.KindJoin, UID: u1, Node: n1, Boot: 5, Name: "x"}, false},
		{"say after the join", room.Event{Kind: room.KindSay, UID: u1, Content: "d"}, true},
		{"join of node 2", room.Event{Kind: room.KindJoin, UID: u2, Node: n2, Boot: 9, Name: "y"}, false},
		{"evict node 2", room.Event{Kind: room.KindEvict, Node: n2, Boot: 9}, false},
		{"say of the evicted", room.Event{Kind: room.KindSay, UID: u2, Content: "e"}, false},
		{"say of node 2 joined before the read", room.Event{Kind: room.KindSay, UID: old, Content: "f"}, false},
		{"say of node 1 unaffected", room.Event{Kind: room.KindSay, UID: u1, Content: "g"}, true},
	}
	var ms members
	for _, tt := range tests {
		if got := ms.track(&tt.ev); got != tt.want {
			t.Errorf("%s: track = %v; want %v", tt.name, got, tt.want)
		}
	}
}
