package room

import (
	"sync"
	"sync/atomic"
	"time"

	"chatd/codec"
)

// Config configures a Hub. The zero value of each field has the meaning
// its comment gives.
type Config struct {
	// Loops is the number of event loops (shards). Zero means 1.
	Loops int
	// MaxOutbound is the most unsent data a member may have before it is
	// cut off as a slow consumer. Zero means 1 MiB.
	MaxOutbound int
	// DefaultRoom is the room of a login without room_id. Zero means "1",
	// the default room of workerman-chat's page.
	DefaultRoom string
	// OnSlow is called on the member's loop when it is cut off; the server
	// closes the connection with 1008. Nil means the member is only muted.
	OnSlow func(m *Member)
	// Now returns the time stamped on messages. Nil means time.Now.
	Now func() time.Time
	// FirstUID is the first uid handed out. Zero means 1.
	FirstUID uint64
}

func (c *Config) normalize() {
	if c.Loops <= 0 {
		c.Loops = 1
	}
	if c.MaxOutbound <= 0 {
		c.MaxOutbound = 1 << 20
	}
	if c.DefaultRoom == "" {
		c.DefaultRoom = "1"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FirstUID == 0 {
		c.FirstUID = 1
	}
}

// Hub is the registry of rooms and logged-in members.
type Hub struct {
	// Immutable after NewHub.
	cfg    Config
	shards []*Shard

	// Guarded by mu. Lock order: Hub.mu before Room.mu before Shard.mu.
	mu    sync.Mutex
	rooms map[string]*Room

	// Guarded by umu: uid -> member, for private messages. Member.name is
	// written with umu held too.
	umu   sync.RWMutex
	users map[uint64]*Member

	// Safe for concurrent use.
	nextUID atomic.Uint64
	slow    atomic.Int64

	// Cluster mode (remote.go); nil on a single node. Set by AttachBus.
	cl *clusterHub
}

// NewHub returns a hub with cfg.Loops shards.
func NewHub(cfg Config) *Hub {
	cfg.normalize()
	h := &Hub{cfg: cfg, rooms: make(map[string]*Room), users: make(map[uint64]*Member)}
	h.nextUID.Store(cfg.FirstUID - 1)
	for i := 0; i < cfg.Loops; i++ {
		h.shards = append(h.shards, &Shard{hub: h, idx: i})
	}
	return h
}

// Shard returns the shard of loop i.
func (h *Hub) Shard(i int) *Shard { return h.shards[i] }

// Shards returns the number of shards.
func (h *Hub) Shards() int { return len(h.shards) }

// SlowConsumers returns how many members have been cut off so far.
func (h *Hub) SlowConsumers() int64 { return h.slow.Load() }

// Rooms returns the number of rooms with members.
func (h *Hub) Rooms() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// Login logs m in (name already validated and HTML-escaped) into room
// roomID ("" for the default room), leaving its current room first. In
// the 2014 dialect m gets the room's user_list, then every member
// including m gets the login; in the current dialect m gets one login
// carrying the client_list, the others the plain login. Called on m's
// loop.
func (h *Hub) Login(m *Member, name, roomID string) {
	if m.closed {
		return
	}
	now := h.cfg.Now()
	if m.room != nil {
		h.leave(m, now)
	}
	h.umu.Lock()
	if m.uid == 0 {
		m.uid = h.nextUID.Add(1)
		h.users[m.uid] = m
	}
	m.name = name
	h.umu.Unlock()
	if roomID == "" {
		roomID = h.cfg.DefaultRoom
	}
	if h.cl != nil {
		h.loginRemote(m, name, roomID, now)
		return
	}
	s := m.shard
	ev := codec.Event{Kind: codec.EventLogin, UID: m.uid, Name: name, Time: now}
	r := h.acquire(roomID)
	r.users = append(r.users, codec.User{UID: m.uid, Name: name})
	r.count(m, 1)
	var fs frames
	r.encode(&fs, &ev, &s.scratch)
	join := joinFrames(&s.scratch, m.dialect, &ev, r.users, fs[m.dialect])
	h.post(r, event{kind: evBroadcast, room: r, frames: fs}, m, join)
	r.mu.Unlock()
	m.room = r
}

// post posts e to every loop with members of r. With joiner set, the
// joiner's loop gets e as its evJoin, with join for the joiner. Called
// with r.mu held.
func (h *Hub) post(r *Room, e event, joiner *Member, join []byte) {
	for i, n := range r.counts {
		switch {
		case joiner != nil && i == joiner.shard.idx:
			j := e
			j.kind, j.member, j.one = evJoin, joiner, join
			h.shards[i].post(j)
		case n > 0:
			h.shards[i].post(e)
		}
	}
}

// acquire returns the room with id, created if needed, with its mu held.
func (h *Hub) acquire(id string) *Room {
	h.mu.Lock()
	r := h.rooms[id]
	if r == nil {
		r = newRoom(id, len(h.shards))
		h.rooms[id] = r
	}
	r.mu.Lock()
	h.mu.Unlock()
	return r
}

// Close retires m when its connection closes: it leaves its room (the
// room gets a logout) and its uid stops resolving. Called on m's loop.
func (h *Hub) Close(m *Member) {
	if m.closed {
		return
	}
	m.closed = true
	m.reset()
	if m.room != nil {
		h.leave(m, h.cfg.Now())
	}
	if m.uid != 0 {
		h.umu.Lock()
		delete(h.users, m.uid)
		h.umu.Unlock()
	}
}

// leave takes m out of its room and sends the logout to the rest of it.
func (h *Hub) leave(m *Member, now time.Time) {
	if h.cl != nil {
		h.leaveRemote(m, now)
		return
	}
	r, s := m.room, m.shard
	m.room = nil
	ev := codec.Event{Kind: codec.EventLogout, UID: m.uid, Name: m.name, Time: now}
	var fs frames
	r.encode(&fs, &ev, &s.scratch)
	h.mu.Lock()
	r.mu.Lock()
	r.removeUser(m.uid)
	r.count(m, -1)
	if r.total == 0 {
		r.dead = true
		delete(h.rooms, r.id)
	}
	h.mu.Unlock()
	s.post(event{kind: evLeave, room: r, member: m})
	r.encode(&fs, &ev, &s.scratch)
	h.post(r, event{kind: evBroadcast, room: r, frames: fs}, nil, nil)
	r.mu.Unlock()
}

// Say sends content (validated and HTML-escaped) from m to its whole room.
// Called on m's loop.
func (h *Hub) Say(m *Member, content string) error {
	r := m.room
	if r == nil {
		return ErrNotLoggedIn
	}
	if h.cl != nil {
		return h.sayRemote(m, r, content)
	}
	ev := codec.Event{Kind: codec.EventSay, UID: m.uid, Name: m.name, Content: content, Time: h.cfg.Now()}
	var fs frames
	r.encode(&fs, &ev, &m.shard.scratch)
	r.mu.Lock()
	r.encode(&fs, &ev, &m.shard.scratch)
	h.post(r, event{kind: evBroadcast, room: r, frames: fs}, nil, nil)
	r.mu.Unlock()
	return nil
}

// Private sends content (validated and HTML-escaped) from m to the member
// with uid to, and echoes it to m once. Called on m's loop.
func (h *Hub) Private(m *Member, to uint64, content string) error {
	if m.room == nil {
		return ErrNotLoggedIn
	}
	if h.cl != nil && NodeOf(to) != h.cl.node {
		return h.privateRemote(m, to, content)
	}
	t, toName := h.memberName(to)
	if t == nil {
		return ErrNoSuchUser
	}
	ev := codec.Event{Kind: codec.EventPrivate, UID: m.uid, Name: m.name, To: to, ToName: toName,
		Content: content, Time: h.cfg.Now()}
	frame := eventFrame(&m.shard.scratch, t.dialect, &ev)
	h.Send(t, frame)
	if t != m {
		h.Send(m, echoFrame(&m.shard.scratch, m.dialect, &ev, t.dialect, frame))
	}
	return nil
}

// echoFrame returns the sender's copy of the private message ev, whose
// target got frame in dialect td: the same frame when both see the 2014
// shape (one allocation for both), else its own rendering in dialect d.
func echoFrame(scratch *[]byte, d codec.Dialect, ev *codec.Event, td codec.Dialect, frame []byte) []byte {
	if d == codec.Dialect2014 && td == codec.Dialect2014 {
		return frame
	}
	echo := *ev
	echo.Kind = codec.EventPrivateEcho
	return eventFrame(scratch, d, &echo)
}

// memberName returns the logged-in member with uid and its name, or nil.
// Safe for concurrent use.
func (h *Hub) memberName(uid uint64) (*Member, string) {
	h.umu.RLock()
	defer h.umu.RUnlock()
	if m := h.users[uid]; m != nil {
		return m, m.name
	}
	return nil, ""
}

// Send queues frame for m behind every event already queued for m's loop,
// so replies keep their order relative to room traffic. frame must not be
// modified afterwards. Safe for concurrent use.
func (h *Hub) Send(m *Member, frame []byte) {
	m.shard.post(event{kind: evDirect, member: m, one: frame})
}
