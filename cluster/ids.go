package cluster

import (
	"sync"

	"chatd/room"
)

// defaultUIDBlock is how many uid counters a node reserves at a time
// unless Config.UIDBlock says otherwise.
const defaultUIDBlock = 1 << 16

// uidBlocks hands out this node's uids from blocks of counters reserved
// in the uid stores (uids.go), so no uid is handed out twice in the
// cluster's life, across restarts and deleted buckets too.
type uidBlocks struct {
	// Immutable after Dial.
	size uint64 // counters per block

	// Guarded by mu.
	mu         sync.Mutex
	node       uint64
	next, end  uint64 // the current block: counters [next, end)
	spare      [2]uint64
	high       uint64 // the end of the highest block this process reserved: its floor for every later one
	asked      bool   // a reservation is under way
	askReserve func()
}

// NextUID implements room.Cluster.
func (n *Node) NextUID() (uint64, bool) { return n.ids.take() }

func (b *uidBlocks) take() (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.next >= b.end && b.spare[1] != 0 {
		b.next, b.end, b.spare = b.spare[0], b.spare[1], [2]uint64{}
	}
	if b.next >= b.end {
		b.ask()
		return 0, false
	}
	uid := b.node<<room.NodeShift | b.next
	b.next++
	if b.end-b.next < b.size/2 && b.spare[1] == 0 {
		b.ask()
	}
	return uid, true
}

func (b *uidBlocks) ask() {
	if !b.asked && b.askReserve != nil {
		b.asked = true
		b.askReserve()
	}
}

// add hands over a reserved block [start, end).
func (b *uidBlocks) add(node, start, end uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.node, b.asked = node, false
	b.high = max(b.high, end)
	if b.next >= b.end {
		b.next, b.end = start, end
		return
	}
	b.spare = [2]uint64{start, end}
}

// floor returns the end of the highest block this process reserved (0
// if none): whatever the stores say, no later block starts below it.
func (b *uidBlocks) floor() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.high
}

func (b *uidBlocks) available() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next < b.end || b.spare[1] != 0
}

func (b *uidBlocks) prefetched() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spare[1] != 0 || (b.next < b.end && b.end-b.next >= b.size/2)
}
