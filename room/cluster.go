package room

import (
	"encoding/binary"
	"maps"
	"slices"
	"time"

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

// Cluster is what a hub needs from the cluster it is a node of; package
// cluster implements it over NATS JetStream.
type Cluster interface {
	// Log is the cluster's replicated room log.
	Log
	// NextUID returns a uid that no node of the cluster ever handed out
	// (node<<NodeShift | counter), or false if none can be had now.
	NextUID() (uint64, bool)
	// Direct sends msg (a private message, see Deliver) to node's inbox.
	// The answer comes back through Hub.Deliver, or Hub.Undeliverable(from)
	// if the node does not exist. It never blocks.
	Direct(node, from uint64, msg []byte)
	// Reply answers a message received by Deliver at reply.
	Reply(to string, msg []byte)
	// Watch tells the cluster that o has members listed here: it appends
	// their eviction when o's node goes silent or restarts.
	Watch(o Owner)
}

// AttachCluster makes the hub node (boot) of cl; it must be called
// before the first login.
func (h *Hub) AttachCluster(cl Cluster, node, boot uint64) {
	h.cl, h.log, h.node, h.boot = cl, cl, node, boot
}

// Reset sets r's state to snap (AppendSnapshot of another node's list)
// as of its sequence: the log calls it when it opens a room, and when
// it must resynchronise the room from a snapshot. Local members are told
// what changed, in the snapshot's (join) order; pending joins the
// snapshot already holds complete: such a joiner's user_list ends with
// itself, as any joiner's does, and the members the snapshot lists after
// it reach it as login notices.
func (h *Hub) Reset(r *Room, snap *Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead {
		return
	}
	now := time.Unix(0, h.now())
	for _, u := range r.users {
		if !slices.ContainsFunc(snap.Users, func(v codec.User) bool { return v.UID == u.UID }) {
			h.broadcast(r, &codec.Event{Kind: codec.EventLogout, UID: u.UID, Name: u.Name, Time: now, ID: h.id(r)})
		}
	}
	old := r.users
	known := func(u codec.User) bool {
		return slices.ContainsFunc(old, func(v codec.User) bool { return v.UID == u.UID })
	}
	r.users, r.owners, r.seq = slices.Clone(snap.Users), slices.Clone(snap.Owners), snap.Seq
	for i, u := range r.users {
		h.watch(r.owners[i])
		if known(u) {
			continue
		}
		login := codec.Event{Kind: codec.EventLogin, UID: u.UID, Name: u.Name, Time: now, ID: h.id(r)}
		if r.owners[i] == (Owner{h.node, h.boot}) {
			if m, want := r.popPending(u.UID); m != nil {
				// The joiner's list: the members up to it, and those after
				// it that are not announced below (listed before Reset).
				list := r.users[:i+1]
				if later := r.users[i+1:]; slices.ContainsFunc(later, known) {
					list = slices.Clone(list)
					for _, v := range later {
						if known(v) {
							list = append(list, v)
						}
					}
				}
				h.joinLocal(r, m, &want, &login, list)
				continue
			}
		}
		h.broadcast(r, &login)
	}
}

// Caught tells the hub that r has applied every event of its log: the
// node now appends joins for its members the list lacks (they were
// evicted while the node was cut off) and leaves for entries of its own
// that no member backs.
func (h *Hub) Caught(r *Room) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dead {
		h.rejoin(r)
	}
}

// Snapshot is a room's state as of a log sequence: its list and, when
// Kept, its history (the kept says, oldest first; says at or below Floor
// may be missing from it). A node opening a room starts from it and
// reads only the log after Seq: no read of the room's whole log.
type Snapshot struct {
	Seq    uint64
	Users  []codec.User
	Owners []Owner

	Kept    bool
	Floor   uint64
	Trimmed bool
	Says    []Said
}

// maxSnapshotSays bounds the bytes of says a snapshot carries (the
// newest first); the history it gives is trimmed past it.
const maxSnapshotSays = 256 << 10

// Snapshot appends r's state as of its last applied event to dst
// (AppendSnapshot) if take, given the owners of r's members at that event
// (the room's own slice: take must not keep it), says so; take nil means
// always. It reports whether it did: a node that is not a room's
// checkpoint writer decides so before the snapshot is built (up to 256
// KiB of says encoded, every checkpointEvery events, on every node).
func (h *Hub) Snapshot(r *Room, dst []byte, take func(owners []Owner) bool) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if take != nil && !take(r.owners) {
		return dst, false
	}
	s := Snapshot{Seq: r.seq, Users: r.users, Owners: r.owners}
	if hs := r.hist; hs != nil && h.cfg.HistoryMax > 0 {
		hs.sameEpoch(h)
		hs.expire(h, h.now())
		s.Kept, s.Floor, s.Trimmed = true, hs.floor, hs.trimmed
		size, from := 0, hs.n
		for from > 0 {
			sd := hs.at(from - 1)
			if size += len(sd.name) + len(sd.content) + 32; size > maxSnapshotSays || sd.content == "" {
				s.Floor, s.Trimmed = sd.seq, true // older says are not carried
				break
			}
			from--
		}
		s.Says = make([]Said, 0, hs.n-from)
		for i := from; i < hs.n; i++ {
			sd := hs.at(i)
			s.Says = append(s.Says, Said{Seq: sd.seq, Event: Event{Kind: KindSay, UID: sd.uid, Time: sd.at, Name: sd.name, Content: sd.content}})
		}
	}
	return AppendSnapshot(dst, &s), true
}

// AppendSnapshot appends the wire form of s: version, seq, count, then
// uid, node, boot and name of each member in join order; when Kept, a 1,
// the floor, trimmed (0 or 1), the count of says, then seq, uid, time,
// name and content of each.
func AppendSnapshot(dst []byte, s *Snapshot) []byte {
	dst = append(dst, wireVersion)
	dst = binary.AppendUvarint(dst, s.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(s.Users)))
	for i, u := range s.Users {
		dst = binary.AppendUvarint(dst, u.UID)
		dst = binary.AppendUvarint(dst, s.Owners[i].Node)
		dst = binary.AppendUvarint(dst, s.Owners[i].Boot)
		dst = appendWireString(dst, u.Name)
	}
	if !s.Kept {
		return dst
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, s.Floor)
	trimmed := byte(0)
	if s.Trimmed {
		trimmed = 1
	}
	dst = append(dst, trimmed)
	dst = binary.AppendUvarint(dst, uint64(len(s.Says)))
	for i := range s.Says {
		e := &s.Says[i].Event
		dst = binary.AppendUvarint(dst, s.Says[i].Seq)
		dst = binary.AppendUvarint(dst, e.UID)
		dst = binary.AppendVarint(dst, e.Time)
		dst = appendWireString(dst, e.Name)
		dst = appendWireString(dst, e.Content)
	}
	return dst
}

// DecodeSnapshot decodes a snapshot encoded by AppendSnapshot.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	if len(b) < 1 || b[0] != wireVersion {
		return nil, ErrBadEvent
	}
	d := decoder{b: b[1:]}
	s := &Snapshot{Seq: d.uint()}
	n := d.uint()
	if n > uint64(len(d.b)) {
		return nil, ErrBadEvent
	}
	for range n {
		uid, node, boot, name := d.uint(), d.uint(), d.uint(), d.str()
		if d.bad || uid == 0 || name == "" || slices.ContainsFunc(s.Users, func(u codec.User) bool { return u.UID == uid }) {
			return nil, ErrBadEvent
		}
		s.Users = append(s.Users, codec.User{UID: uid, Name: name})
		s.Owners = append(s.Owners, Owner{node, boot})
	}
	if !d.bad && len(d.b) > 0 {
		s.decodeSays(&d)
	}
	if d.bad || len(d.b) != 0 {
		return nil, ErrBadEvent
	}
	return s, nil
}

// decodeSays decodes the history section of a snapshot: says in
// increasing order, none past the snapshot's sequence.
func (s *Snapshot) decodeSays(d *decoder) {
	if d.b[0] != 1 {
		d.bad = true
		return
	}
	d.b = d.b[1:]
	s.Kept, s.Floor = true, d.uint()
	if d.bad || len(d.b) == 0 || d.b[0] > 1 {
		d.bad = true
		return
	}
	s.Trimmed, d.b = d.b[0] == 1, d.b[1:]
	n := d.uint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return
	}
	last := uint64(0)
	for range n {
		sd := Said{Seq: d.uint(), Event: Event{Kind: KindSay}}
		sd.Event.UID, sd.Event.Time = d.uint(), d.int()
		sd.Event.Name, sd.Event.Content = d.str(), d.str()
		if d.bad || sd.Seq <= last || sd.Seq > s.Seq || !sd.Event.valid() {
			d.bad = true
			return
		}
		last = sd.Seq
		s.Says = append(s.Says, sd)
	}
}

// Rejected reports an event of r the log could not take: a joiner is
// told and is no longer entering the room (a leave is appended in case
// the join reached the log after all); a sender is told its say was not
// delivered.
func (h *Hub) Rejected(r *Room, ev *Event) {
	var m *Member
	r.mu.Lock()
	switch ev.Kind {
	case KindJoin:
		if m, _ = r.popPending(ev.UID); m != nil {
			h.log.Append(r, Event{Kind: KindLeave, UID: ev.UID, Time: h.now()})
			m.shard.post(event{kind: evReject, room: r, member: m, one: unavailableFrame}, nil)
		} else if !r.dead && slices.ContainsFunc(r.joined, func(m *Member) bool { return m.uid == ev.UID }) {
			h.log.Append(r, *ev) // a joined member announced again (rejoin): it must reach the log
		}
	case KindSay:
		if m = h.member(ev.UID); m != nil {
			h.Send(m, unavailableFrame)
		}
	}
	dead := h.retireIfEmpty(r)
	r.mu.Unlock()
	if dead {
		h.forget(r)
	}
}

// ExpireJoins gives up r's joins pending for longer than age: the log
// took them (or may have) but the room has not applied them (it is
// syncing or repairing). Each joiner is told (unavailable) and is no
// longer entering the room, as in Rejected; a leave is appended in case
// its join is applied after all. The cluster calls it for every open room
// now and then; it returns how many joins it gave up.
func (h *Hub) ExpireJoins(r *Room, age time.Duration) int {
	cutoff := h.now() - int64(age)
	r.mu.Lock()
	var old []*Member
	r.pending = slices.DeleteFunc(r.pending, func(j joining) bool {
		if j.at < cutoff {
			old = append(old, j.m)
			return true
		}
		return false
	})
	for _, m := range old {
		h.log.Append(r, Event{Kind: KindLeave, UID: m.uid, Time: h.now()})
		m.shard.post(event{kind: evReject, room: r, member: m, one: unavailableFrame}, nil)
	}
	dead := len(old) > 0 && h.retireIfEmpty(r)
	r.mu.Unlock()
	if dead {
		h.forget(r)
	}
	return len(old)
}

// RoomList returns the hub's live rooms.
func (h *Hub) RoomList() []*Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Collect(maps.Values(h.rooms))
}

// Evict appends the eviction of o's members to every room that lists
// them. The cluster calls it when o's node went silent or restarted.
func (h *Hub) Evict(o Owner) {
	for _, r := range h.RoomList() {
		r.mu.Lock()
		if !r.dead && slices.Contains(r.owners, o) {
			h.log.Append(r, Event{Kind: KindEvict, Node: o.Node, Boot: o.Boot, Time: h.now()})
		}
		r.mu.Unlock()
	}
}
