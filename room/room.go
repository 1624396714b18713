package room

import (
	"sync"
	"sync/atomic"

	"chatd/codec"
)

// Room is one chat room. Its member list (join order) and per-loop member
// counts are the sequencing state, guarded by mu; the per-loop member
// slices are the fan-out state, each owned by its loop.
type Room struct {
	// Immutable after creation.
	id string

	// Guarded by mu. Every event of the room is posted to the loops'
	// inboxes while mu is held: that is what orders the room's messages.
	mu     sync.Mutex
	users  []codec.User // join order; names HTML-escaped
	counts []int32      // counts[i]: members sequenced on loop i
	total  int
	dead   bool // removed from the hub; a new Room serves the id now

	// dialects[d]: members of dialect d sequenced on this node. Written
	// with mu held; read without it as a hint of which dialects to encode
	// a message for before taking mu (Room.encode checks again under mu).
	dialects [codec.NumDialects]atomic.Int32

	// local[i] is owned by loop i: the members whose join loop i has applied.
	local [][]*Member

	// Cluster state (remote.go), guarded by mu; nil on a single node.
	cl *remote
}

func newRoom(id string, loops int) *Room {
	return &Room{id: id, counts: make([]int32, loops), local: make([][]*Member, loops)}
}

// ID returns the room's id.
func (r *Room) ID() string { return r.id }

// count adds delta to the sequenced members of m's loop and dialect.
// Called with mu held.
func (r *Room) count(m *Member, delta int32) {
	r.counts[m.shard.idx] += delta
	r.total += int(delta)
	r.dialects[m.dialect].Add(delta)
}

// removeUser deletes uid from the join-ordered list. Called with mu held.
func (r *Room) removeUser(uid uint64) {
	for i := range r.users {
		if r.users[i].UID == uid {
			copy(r.users[i:], r.users[i+1:])
			r.users[len(r.users)-1] = codec.User{}
			r.users = r.users[:len(r.users)-1]
			return
		}
	}
}

// addLocal appends m to the loop's member slice. Called on loop idx.
func (r *Room) addLocal(idx int, m *Member) {
	m.pos = int32(len(r.local[idx]))
	r.local[idx] = append(r.local[idx], m)
}

// removeLocal swap-removes m from the loop's member slice. Called on loop idx.
func (r *Room) removeLocal(idx int, m *Member) {
	l, i := r.local[idx], int(m.pos)
	if i >= len(l) || l[i] != m {
		return
	}
	last := len(l) - 1
	l[i] = l[last]
	l[i].pos = m.pos
	l[last] = nil
	r.local[idx] = l[:last]
	if last == 0 {
		r.local[idx] = nil
	}
}
