package room

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"chatd/codec"
)

// Cluster mode. With a Bus attached, a room event (join, say, leave) is
// not applied where it happens: it is published on the room's stream and
// applied by every subscribed node, this one included, when the stream
// delivers it. The bus delivers a room's events to every node in one
// order (cluster: a JetStream stream's sequence), so every node builds the
// same user list and every member sees the room's messages in the same
// order. While the bus
// is down a room runs in local phase: events apply at once, on this node
// only, exactly as on a single node.

// phase is where a room's events go.
type phase uint8

const (
	phaseLocal phase = iota // bus down: events apply at once, locally
	phaseSync               // waiting for a snapshot: stream buffered, own events queued
	phaseLive               // events apply when the stream delivers them
)

// pendingJoin is a local member whose join is sequenced but not yet
// applied.
type pendingJoin struct {
	m    *Member
	name string
}

// remote is a room's cluster state. Guarded by Room.mu.
type remote struct {
	stream  Stream
	phase   phase
	resync  bool     // counted in Hub.Resyncing
	nodes   []uint64 // nodes[i] is the node of Room.users[i]
	pending []pendingJoin
	joined  map[uint64]pendingJoin // local members whose join is applied
	outq    [][]byte               // own events held while syncing
	inbuf   [][]byte               // stream events buffered while syncing
	token   uint64                 // the sync in progress
	marker  int                    // inbuf index just past our marker, -1 before it
	snap    []byte                 // snapshot received for token
}

// empty reports whether no local member is in or entering the room.
func (c *remote) empty() bool { return len(c.joined) == 0 && len(c.pending) == 0 }

func (c *remote) popPending(uid uint64) *Member {
	for i, p := range c.pending {
		if p.m.uid == uid {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return p.m
		}
	}
	return nil
}

func (c *remote) dropPending(m *Member) bool {
	for i, p := range c.pending {
		if p.m == m {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return true
		}
	}
	return false
}

// clusterHub is the hub's cluster state.
type clusterHub struct {
	// Immutable after AttachBus.
	bus  Bus
	node uint64

	// Guarded by Hub.mu.
	up bool

	// Guarded by dmu: rooms left while the bus was down, whose stale
	// entries of this node the other nodes may still list.
	dmu      sync.Mutex
	departed map[string]bool

	// Safe for concurrent use.
	token     atomic.Uint64
	resyncing atomic.Int64
}

// AttachBus switches the hub to cluster mode as node (1..MaxNode); up
// tells whether the bus is connected. It must be called before the
// first login; uids are handed out from FirstUID(node) on.
func (h *Hub) AttachBus(b Bus, node uint64, up bool) {
	c := &clusterHub{bus: b, node: node, up: up, departed: make(map[string]bool)}
	c.token.Store(node << 40) // tokens unique across nodes
	h.nextUID.Store(FirstUID(node) - 1)
	h.cl = c
}

// Resyncing returns how many rooms are re-synchronising after the bus
// came back; a node is ready again when it is zero.
func (h *Hub) Resyncing() int64 {
	if h.cl == nil {
		return 0
	}
	return h.cl.resyncing.Load()
}

// acquireRemote returns the live room with id, created and opened on the
// bus if needed, with its mu held.
func (h *Hub) acquireRemote(id string) *Room {
	h.mu.Lock()
	if r := h.rooms[id]; r != nil {
		r.mu.Lock()
		if !r.dead {
			h.mu.Unlock()
			return r
		}
		r.mu.Unlock()
	}
	r := newRoom(id, len(h.shards))
	r.cl = &remote{joined: make(map[uint64]pendingJoin), marker: -1}
	h.rooms[id] = r
	up := h.cl.up
	r.mu.Lock()
	h.mu.Unlock()
	r.cl.stream = h.cl.bus.Open(id, &link{h: h, r: r})
	if up {
		h.startSync(r)
	}
	return r
}

// loginRemote sequences m's join of roomID on the bus. Called on m's loop.
func (h *Hub) loginRemote(m *Member, name, roomID string, now time.Time) {
	r := h.acquireRemote(roomID)
	r.cl.pending = append(r.cl.pending, pendingJoin{m: m, name: name})
	h.emit(r, h.joinEvent(m.uid, name, now))
	r.mu.Unlock()
	m.room = r
}

func (h *Hub) joinEvent(uid uint64, name string, now time.Time) []byte {
	return h.roomEvent(wireJoin, &codec.Event{Kind: codec.EventLogin, UID: uid, Name: name, Time: now})
}

// roomEvent is a room stream message of type typ from this node.
func (h *Hub) roomEvent(typ byte, ev *codec.Event) []byte {
	return wire(make([]byte, 0, 12+eventSize(ev))).bytes([]byte{typ}).uint(h.cl.node).event(ev)
}

// leaveRemote takes m out of its room at once (it gets no more of the
// room's traffic) and sequences the logout for the others. Called on m's
// loop.
func (h *Hub) leaveRemote(m *Member, now time.Time) {
	r := m.room
	m.room = nil
	r.mu.Lock()
	if !r.cl.dropPending(m) && r.cl.joined[m.uid].m == m {
		delete(r.cl.joined, m.uid)
		r.count(m, -1)
		m.shard.post(event{kind: evLeave, room: r, member: m})
	}
	h.emit(r, h.roomEvent(wireLeave, &codec.Event{Kind: codec.EventLogout, UID: m.uid, Name: m.name, Time: now}))
	dead := r.cl.empty()
	if dead {
		h.retire(r)
	}
	r.mu.Unlock()
	if dead {
		h.mu.Lock()
		if h.rooms[r.id] == r {
			delete(h.rooms, r.id)
		}
		h.mu.Unlock()
	}
}

// sayRemote sequences a say to m's room r. Called on m's loop.
func (h *Hub) sayRemote(m *Member, r *Room, content string) error {
	ev := h.roomEvent(wireSay, &codec.Event{Kind: codec.EventSay, UID: m.uid, Name: m.name, Content: content, Time: h.cfg.Now()})
	r.mu.Lock()
	h.emit(r, ev)
	r.mu.Unlock()
	return nil
}

// privateRemote sends a private message to a member of another node;
// the echo (or no_such_user) comes back with the node's answer.
func (h *Hub) privateRemote(m *Member, to uint64, content string) error {
	if NodeOf(to) == 0 {
		return ErrNoSuchUser
	}
	ev := codec.Event{Kind: codec.EventPrivate, UID: m.uid, Name: m.name, To: to, Content: content, Time: h.cfg.Now()}
	h.cl.bus.Direct(NodeOf(to), m.uid, wire(make([]byte, 0, 1+eventSize(&ev))).bytes([]byte{wirePrivate}).event(&ev))
	return nil
}

// emit sends one of this node's events of r where r's phase says. ev is
// owned by the callee. Called with r.mu held.
func (h *Hub) emit(r *Room, ev []byte) {
	switch r.cl.phase {
	case phaseLive:
		r.cl.stream.Publish(ev)
	case phaseSync:
		r.cl.outq = append(r.cl.outq, ev)
	default:
		h.apply(r, ev)
	}
}

// retire closes r's stream once no local member is left. Called with
// r.mu held.
func (h *Hub) retire(r *Room) {
	c := r.cl
	r.dead = true
	switch c.phase {
	case phaseSync:
		// Nothing of ours was applied yet: send what we queued, then drop
		// whatever stale entries of this node the others still list.
		for _, ev := range c.outq {
			c.stream.Publish(ev)
		}
		c.stream.Publish(h.evictEvent(h.cl.node))
	case phaseLocal:
		h.cl.dmu.Lock()
		h.cl.departed[r.id] = true
		h.cl.dmu.Unlock()
	}
	h.endResync(r)
	c.stream.Hold(false)
	c.stream.Close()
	c.outq, c.inbuf, c.snap = nil, nil, nil
}

func (h *Hub) endResync(r *Room) {
	if r.cl.resync {
		r.cl.resync = false
		h.cl.resyncing.Add(-1)
	}
}

func (h *Hub) evictEvent(gone uint64) []byte {
	return wire(make([]byte, 0, 12)).bytes([]byte{wireEvict}).uint(h.cl.node).uint(gone)
}

// liveRooms returns the rooms that are not retired.
func (h *Hub) roomList() []*Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rs = append(rs, r)
	}
	return rs
}

// BusDown switches every room to local phase: the members of other
// nodes leave the lists (with logout notices to local members) and local
// events apply at once. Called by the bus when it loses its connection.
func (h *Hub) BusDown() {
	h.mu.Lock()
	h.cl.up = false
	h.mu.Unlock()
	for _, r := range h.roomList() {
		r.mu.Lock()
		if !r.dead && r.cl.phase != phaseLocal {
			h.goLocal(r)
		}
		r.mu.Unlock()
	}
}

// BusUp re-synchronises every room once the bus is connected again: each
// gets a snapshot from a node that holds it, then announces its local
// members (reconcile). Called by the bus.
func (h *Hub) BusUp() {
	h.mu.Lock()
	h.cl.up = true
	h.mu.Unlock()
	h.cl.dmu.Lock()
	departed := h.cl.departed
	h.cl.departed = make(map[string]bool)
	h.cl.dmu.Unlock()
	for id := range departed {
		h.cl.bus.Publish(id, h.evictEvent(h.cl.node))
	}
	for _, r := range h.roomList() {
		r.mu.Lock()
		if !r.dead && r.cl.phase == phaseLocal {
			r.cl.resync = true
			h.cl.resyncing.Add(1)
			h.startSync(r)
		}
		r.mu.Unlock()
	}
}

// NodeGone sequences the eviction of node's members from every live room
// that lists them. Called by the bus when node's heartbeats stop.
func (h *Hub) NodeGone(node uint64) {
	for _, r := range h.roomList() {
		r.mu.Lock()
		if !r.dead && r.cl.phase == phaseLive && r.hasNode(node) {
			h.emit(r, h.evictEvent(node))
		}
		r.mu.Unlock()
	}
}

// Deliver handles a message of this node's inbox: a private message from
// another node (answered at reply), or the answer to one of ours. The
// target's node frames the target's copy in the target's dialect and
// answers with the target's name; the sender's node frames the echo in
// the sender's dialect.
func (h *Hub) Deliver(msg []byte, reply string) {
	if len(msg) == 0 {
		return
	}
	rd := reader{b: msg[1:]}
	switch msg[0] {
	case wirePrivate:
		ev := rd.event(codec.EventPrivate)
		if rd.bad {
			return
		}
		t, name := h.memberName(ev.To)
		if t == nil {
			h.cl.bus.Reply(reply, wire{wireAck}.uint(0).event(&ev))
			return
		}
		ev.ToName = name
		withScratch(func(b *[]byte) { h.Send(t, eventFrame(b, t.dialect, &ev)) })
		h.cl.bus.Reply(reply, wire(make([]byte, 0, 2+eventSize(&ev))).bytes([]byte{wireAck, 1}).event(&ev))
	case wireAck:
		ok, ev := rd.uint(), rd.event(codec.EventPrivateEcho)
		if rd.bad {
			return
		}
		if ok == 0 {
			h.Undeliverable(ev.UID)
		} else if m := h.member(ev.UID); m != nil {
			withScratch(func(b *[]byte) { h.Send(m, eventFrame(b, m.dialect, &ev)) })
		}
	}
}

// Undeliverable tells member from that its private message found nobody.
func (h *Hub) Undeliverable(from uint64) {
	if m := h.member(from); m != nil {
		h.Send(m, noSuchUserFrame)
	}
}

var noSuchUserFrame = codec.NewFrame(ws.OpText, codec.AppendReply(nil, &codec.Reply{Code: codec.CodeNoSuchUser, Reason: "no such user"}))

func (h *Hub) member(uid uint64) *Member {
	h.umu.RLock()
	defer h.umu.RUnlock()
	return h.users[uid]
}

// link delivers one room's stream to the hub.
type link struct {
	h *Hub
	r *Room
}
