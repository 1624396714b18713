package room

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

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
	// FirstUID is the first uid handed out on a single node. Zero means 1.
	FirstUID uint64
	// HistoryMax is the most says a room keeps for history and resume.
	// Zero means 100; negative means none.
	HistoryMax int
	// HistoryAge is how long a say is kept. Zero means 24h.
	HistoryAge time.Duration
	// HistoryBytes bounds the memory of the says kept by all rooms
	// together. Zero means 64 MiB.
	HistoryBytes int64
	// Epoch names a single node's log in the ids of room events
	// ([0-9a-z], at most codec.MaxEpochLen). Zero means a random value
	// per hub: ids of an earlier process are then of another log.
	Epoch string
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
	if c.HistoryMax == 0 {
		c.HistoryMax = 100
	}
	if c.HistoryMax < 0 {
		c.HistoryMax = 0
	}
	if c.HistoryAge <= 0 {
		c.HistoryAge = 24 * time.Hour
	}
	if c.HistoryBytes <= 0 {
		c.HistoryBytes = 64 << 20
	}
	if c.Epoch == "" {
		c.Epoch = randomEpoch()
	}
}

// Hub is the registry of rooms and logged-in members.
type Hub struct {
	// Immutable after NewHub (log, cl, node, boot: after AttachCluster,
	// before the first login).
	cfg    Config
	shards []*Shard
	log    Log
	cl     Cluster // nil on a single node
	node   uint64
	boot   uint64

	// Guarded by mu. Lock order: Hub.mu before Room.mu before Shard.mu.
	mu    sync.Mutex
	rooms map[string]*Room

	// Guarded by amu, taken last (after any Room.mu): single node, the
	// history of retired rooms by room id (history.go).
	amu     sync.Mutex
	archive map[string]*history

	// Guarded by umu: uid -> member, for private messages.
	umu   sync.RWMutex
	users map[uint64]*Member

	// Safe for concurrent use.
	nextUID   atomic.Uint64
	slow      atomic.Int64
	epoch     atomic.Pointer[string] // the log's epoch (SetEpoch)
	seqs      atomic.Uint64          // single node: the last log sequence handed out
	histBytes atomic.Int64           // memory of the says kept by every room
}

// NewHub returns a single node's hub with cfg.Loops shards.
func NewHub(cfg Config) *Hub {
	cfg.normalize()
	h := &Hub{cfg: cfg, rooms: make(map[string]*Room), users: make(map[uint64]*Member), archive: make(map[string]*history)}
	h.log = memLog{h}
	h.SetEpoch(cfg.Epoch)
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

// Rooms returns the number of rooms with local members.
func (h *Hub) Rooms() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// Login logs m in (name already validated and HTML-escaped) into room
// roomID ("" for the default room), leaving its current room first. Its
// join is appended to the room's log; when it is applied m gets the
// room's user_list, then every member including m gets the login.
// Called on m's loop.
func (h *Hub) Login(m *Member, name, roomID string) {
	h.LoginResume(m, name, roomID, codec.Resume{})
}

// LoginResume is Login for a login that asks want of the room's history
// (want.Since.Epoch must not alias a payload): m gets the history frame
// right after its user_list (history.go).
func (h *Hub) LoginResume(m *Member, name, roomID string, want codec.Resume) {
	if m.closed {
		return
	}
	if m.room != nil {
		h.leave(m)
	}
	if m.uid == 0 {
		uid, ok := h.newUID()
		if !ok {
			h.Send(m, unavailableFrame)
			return
		}
		m.uid = uid
	}
	h.umu.Lock() // others read a member's name with umu read-locked
	h.users[m.uid] = m
	m.name = name
	h.umu.Unlock()
	if roomID == "" {
		roomID = h.cfg.DefaultRoom
	}
	r := h.acquire(roomID)
	r.pending = append(r.pending, joining{m, want, h.now()})
	m.room = r
	h.append(r, m, Event{Kind: KindJoin, UID: m.uid, Name: name, Node: h.node, Boot: h.boot, Time: h.now()})
	r.mu.Unlock()
}

func (h *Hub) newUID() (uint64, bool) {
	if h.cl != nil {
		return h.cl.NextUID()
	}
	return h.nextUID.Add(1), true
}

func (h *Hub) now() int64 { return h.cfg.Now().UnixNano() }

// acquire returns the live room with id, created (and opened on the log)
// if needed, with its mu held.
func (h *Hub) acquire(id string) *Room {
	h.mu.Lock()
	old := h.rooms[id]
	var hist *history
	if old != nil {
		old.mu.Lock()
		if !old.dead {
			h.mu.Unlock()
			return old
		}
		hist, old.hist = old.hist, nil
		old.mu.Unlock()
	}
	r := newRoom(id, len(h.shards))
	r.hist = h.reopenHistory(id, hist)
	h.rooms[id] = r
	r.mu.Lock()
	h.mu.Unlock()
	h.log.Open(r)
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
		h.leave(m)
	}
	if m.uid != 0 {
		h.umu.Lock()
		delete(h.users, m.uid)
		h.umu.Unlock()
	}
}

// leave takes m out of its room at once (it gets none of the room's
// later traffic) and appends its logout for the others.
func (h *Hub) leave(m *Member) {
	r := m.room
	m.room = nil
	r.mu.Lock()
	if r.drop(m) {
		m.shard.post(event{kind: evLeave, room: r, member: m}, m.shard)
	}
	h.append(r, m, Event{Kind: KindLeave, UID: m.uid, Time: h.now()})
	dead := h.retireIfEmpty(r)
	r.mu.Unlock()
	if dead {
		h.forget(r)
	}
}

// retireIfEmpty retires r once no local member is in or entering it.
// Called with r.mu held; the caller then forgets r.
func (h *Hub) retireIfEmpty(r *Room) bool {
	if r.dead || !r.empty() {
		return false
	}
	r.dead = true
	return true
}

// forget closes the retired r on the log and drops it from the registry.
// Called without r.mu: the cluster's log applies events holding its
// feed's lock, then r.mu, so closing under r.mu could deadlock (seen: a
// leave or an expired join retiring a room while its feed caught up).
func (h *Hub) forget(r *Room) {
	h.log.Close(r)
	h.mu.Lock()
	if h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		r.mu.Lock()
		h.retireHistory(r.id, r.hist)
		r.hist = nil
		r.mu.Unlock()
	}
	h.mu.Unlock()
}

// Say appends content (validated and HTML-escaped) from m to its room's
// log; every member gets it when it is applied. Called on m's loop.
func (h *Hub) Say(m *Member, content string) error {
	r := m.room
	if r == nil {
		return ErrNotLoggedIn
	}
	r.mu.Lock()
	h.append(r, m, Event{Kind: KindSay, UID: m.uid, Name: m.name, Content: content, Time: h.now()})
	r.mu.Unlock()
	return nil
}

// append appends ev, which member m's loop produced, to r's log; whatever
// the append applies at once (a single node) wakes the other loops at
// m's loop's next Drain (Shard.post). Called on m's loop with r.mu held.
func (h *Hub) append(r *Room, m *Member, ev Event) {
	r.from = m.shard
	h.log.Append(r, ev)
	r.from = nil
}

// Send queues frame for m behind every event already queued for m's loop,
// so replies keep their order relative to room traffic. frame must not be
// modified afterwards. Safe for concurrent use.
func (h *Hub) Send(m *Member, frame []byte) {
	m.shard.post(event{kind: evDirect, member: m, one: frame}, nil)
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

func (h *Hub) member(uid uint64) *Member {
	m, _ := h.memberName(uid)
	return m
}

var unavailableFrame = codec.NewFrame(ws.OpText, codec.AppendReply(nil, &codec.Reply{Code: codec.CodeUnavailable, Reason: "the chat is unavailable, try again"}))
