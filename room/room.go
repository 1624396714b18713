package room

import (
	"slices"
	"sync"
	"sync/atomic"

	"chatd/codec"
)

// Room is one chat room. Its member list (join order) is the state its
// log's events build, guarded by mu; the per-loop member slices are the
// fan-out state, each owned by its loop.
type Room struct {
	// Immutable after creation.
	id string

	// Guarded by mu. Every event of the room is applied, and its frames
	// posted to the loops' inboxes, while mu is held: that is what orders
	// the room's messages at every member.
	mu      sync.Mutex
	seq     uint64       // log sequence of the last applied event
	users   []codec.User // join order; names HTML-escaped
	owners  []Owner      // owners[i] is the node (and boot) of users[i]
	pending []joining    // local members whose join is appended, not applied
	hist    *history     // the says kept for history and resume (history.go)
	joined  []*Member    // local members whose join is applied
	counts  []int32      // counts[i]: joined members on loop i
	total   int          // len(joined)
	dead    bool         // retired: a new Room serves the id now
	scratch []byte       // JSON encoding buffer of the apply step (sync.Pool drops items under -race)
	from    *Shard       // while a loop appends to the log: that loop's shard (Hub.append)

	// dialects[d]: joined members of dialect d. Written with mu held;
	// read without it as a hint of which dialects to encode for.
	dialects [codec.NumDialects]atomic.Int32

	// local[i] is owned by loop i: the members whose join loop i has applied.
	local [][]*Member
	// runs[i] is owned by loop i: the room's broadcasts of its current
	// pass (Shard.broadcast).
	runs []run

	// Log is the log implementation's per-room state (cluster: the room's
	// feed), set by Log.Open; immutable afterwards.
	Log any
}

// Owner is the node that a listed member is connected to, and that
// node's boot (a node restarted with the same id has a new boot). Both
// are 0 on a single node.
type Owner struct {
	Node, Boot uint64
}

func newRoom(id string, loops int) *Room {
	return &Room{id: id, counts: make([]int32, loops), local: make([][]*Member, loops), runs: make([]run, loops)}
}

// ID returns the room's id.
func (r *Room) ID() string { return r.id }

// indexOf returns uid's index in the list, -1 if absent. Called with mu held.
func (r *Room) indexOf(uid uint64) int {
	for i := range r.users {
		if r.users[i].UID == uid {
			return i
		}
	}
	return -1
}

// removeAt deletes entry i of the list. Called with mu held.
func (r *Room) removeAt(i int) {
	r.users = slices.Delete(r.users, i, i+1)
	r.owners = slices.Delete(r.owners, i, i+1)
}

// joining is a local member whose join is appended, not applied, with
// what its login asked of the room's history.
type joining struct {
	m    *Member
	want codec.Resume // Since.Epoch is a copy, not an alias of a payload
	at   int64        // Hub.now when the join was appended
}

// popPending removes and returns the pending local member with uid.
func (r *Room) popPending(uid uint64) (*Member, codec.Resume) {
	for i, j := range r.pending {
		if j.m.uid == uid {
			r.pending = slices.Delete(r.pending, i, i+1)
			return j.m, j.want
		}
	}
	return nil, codec.Resume{}
}

// drop removes m from the pending or joined members; it reports whether
// m was joined (applied, counted on its loop).
func (r *Room) drop(m *Member) (joined bool) {
	if i := slices.IndexFunc(r.pending, func(j joining) bool { return j.m == m }); i >= 0 {
		r.pending = slices.Delete(r.pending, i, i+1)
		return false
	}
	if i := slices.Index(r.joined, m); i >= 0 {
		r.joined = slices.Delete(r.joined, i, i+1)
		r.count(m, -1)
		return true
	}
	return false
}

// count adds delta to the joined members of m's loop and dialect.
// Called with mu held.
func (r *Room) count(m *Member, delta int32) {
	r.counts[m.shard.idx] += delta
	r.total += int(delta)
	r.dialects[m.dialect].Add(delta)
}

// empty reports whether no local member is in or entering the room.
func (r *Room) empty() bool { return r.total == 0 && len(r.pending) == 0 }

// addLocal appends m to the loop's member slice. Called on loop idx.
func (r *Room) addLocal(idx int, m *Member) {
	m.listed = r
	m.pos = int32(len(r.local[idx]))
	r.local[idx] = append(r.local[idx], m)
}

// removeLocal swap-removes m from the loop's member slice. Called on loop idx.
func (r *Room) removeLocal(idx int, m *Member) {
	l, i := r.local[idx], int(m.pos)
	if i >= len(l) || l[i] != m {
		return
	}
	if m.listed == r {
		m.listed = nil
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
