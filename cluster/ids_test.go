package cluster

import (
	"testing"

	"chatd/room"
)

// TestUIDBlocksFloor: the floor is the end of the highest block the node
// reserved, whatever order blocks come in, and take hands out the
// current block, then the spare, then asks for more.
func TestUIDBlocksFloor(t *testing.T) {
	for _, tc := range []struct {
		name   string
		blocks [][2]uint64
		floor  uint64
		uids   []uint64 // counters handed out until none is left
	}{
		{"none", nil, 0, nil},
		{"one", [][2]uint64{{1, 5}}, 5, []uint64{1, 2, 3, 4}},
		{"current and spare", [][2]uint64{{1, 3}, {9, 11}}, 11, []uint64{1, 2, 9, 10}},
		{"lower block after a higher one", [][2]uint64{{9, 11}, {5, 7}}, 11, []uint64{9, 10, 5, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			b := uidBlocks{size: 4, askReserve: func() { asked++ }}
			for _, bl := range tc.blocks {
				b.add(7, bl[0], bl[1])
			}
			if got := b.floor(); got != tc.floor {
				t.Fatalf("floor() = %d; want %d", got, tc.floor)
			}
			var got []uint64
			for {
				uid, ok := b.take()
				if !ok {
					break
				}
				if room.NodeOf(uid) != 7 {
					t.Fatalf("take() = %d: node %d; want 7", uid, room.NodeOf(uid))
				}
				got = append(got, uid&(1<<room.NodeShift-1))
			}
			if len(got) != len(tc.uids) {
				t.Fatalf("take() handed out %v; want %v", got, tc.uids)
			}
			for i := range got {
				if got[i] != tc.uids[i] {
					t.Fatalf("take() handed out %v; want %v", got, tc.uids)
				}
			}
			if asked == 0 {
				t.Errorf("take() with no block left did not ask for a reservation")
			}
			if b.floor() != tc.floor {
				t.Errorf("floor() = %d after taking; want %d", b.floor(), tc.floor)
			}
		})
	}
}
