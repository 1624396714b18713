package room

import (
	"sync"

	"chatd/codec"
)

type eventKind uint8

const (
	evBroadcast eventKind = iota + 1 // frames to every local member of room
	evJoin                           // frames to every local member, then add member and send it one
	evLeave                          // remove member from room's local slice
	evDirect                         // one to member only
	evReject                         // member's join was rejected: it is in no room; one to member
)

// event is one entry of a loop's inbox. Frames are shared and immutable.
type event struct {
	kind   eventKind
	room   *Room
	member *Member
	frames frames // evBroadcast, evJoin: the room's frame per dialect
	one    []byte // evDirect: the frame; evJoin: the newcomer's (joinFrames)
}

// Shard is one event loop's part of the hub: its inbox of room events and
// its members' outbound queues.
type Shard struct {
	// Immutable after NewHub (wake, queued: after Bind and OnQueue, before
	// the first member).
	hub    *Hub
	idx    int
	wake   func() error
	queued func()

	// Guarded by mu.
	mu        sync.Mutex
	inbox     []event
	scheduled bool // the inbox has events for a Drain that has not started yet
	kicked    bool // a wake of the loop is queued and its Drain has not started

	// Owned by the shard's loop.
	spare   []event                   // the other inbox buffer, swapped in by Drain
	later   []*Shard                  // shards this loop posted to, to wake at its next Drain
	queue   []queued                  // frames for one member waiting for Flush, chained per member (a room's says: runs)
	dirty   []*Member                 // members with queued frames
	runs    []*Room                   // rooms whose run (Room.runs[idx]) was opened this pass, in order; may repeat
	scratch []byte                    // JSON encoding scratch for callers on this loop
	wbuf    []byte                    // coalescing buffer for multi-frame writes
	rbuf    [codec.NumDialects][]byte // a run's frames of each dialect, written to each member
	// lean counts consecutive passes that used under a quarter of the
	// queue's or the inbox's capacity (see shrink).
	leanQueue, leanInbox int
}

// queued is one frame waiting for Flush. The frames of one member are
// chained through next, so a member holds two indices instead of a slice
// and its backing array (an idle connection then keeps no queue memory).
type queued struct {
	frame []byte
	next  int32 // index+1 of the member's next frame, 0 if last
}

// Index returns the shard's loop index.
func (s *Shard) Index() int { return s.idx }

// Bind sets the function that makes the loop call Drain soon (for gnet:
// EventLoop.Execute of a runnable that calls Drain). It must be called
// before the shard's first member is created.
func (s *Shard) Bind(wake func() error) { s.wake = wake }

// OnQueue sets a function called, on the posting goroutine, when an event
// reaches the inbox while no Drain is pending: the time the oldest event
// of the next pass was queued (a loop posted to by another is woken later,
// at the end of the poster's pass: post). It must be called before the
// shard's first member is created.
func (s *Shard) OnQueue(queued func()) { s.queued = queued }

// NewMember returns the chat endpoint of a new connection on this shard's
// loop.
func (s *Shard) NewMember(c Conn) *Member {
	m := new(Member)
	s.InitMember(m, c)
	return m
}

// InitMember sets m up as the chat endpoint of a new connection c on this
// shard's loop; m is usually a field of the caller's connection state.
func (s *Shard) InitMember(m *Member, c Conn) { *m = Member{shard: s, conn: c} }

// post appends e to the inbox and requests a Drain if none is pending.
// Safe for concurrent use; room events are posted with the room's mu held.
// from is the shard of the loop posting, nil off the loops (a cluster's
// apply, a private message from another node). A loop that posts to
// another loop does not wake it at once: it wakes it at the end of its
// own next pass, after its writes (wakeLater). The says a loop reads in
// a row then reach the other loop in one pass, and the loops take turns
// with a room's traffic instead of each writing every say apart: in a
// room of 1,000 on two loops, 10 senders with one message in flight
// each, deliveries per write(2) went from 4.4 to 7.8-8.6 and server CPU
// per delivery from 1.6-2.0 µs to 1.0-1.2 µs (waking it at the start of
// the pass instead, so that both loops write at once, did no better than
// waking it at once).
func (s *Shard) post(e event, from *Shard) {
	s.mu.Lock()
	s.inbox = append(s.inbox, e)
	wake := !s.scheduled
	s.scheduled = true
	s.mu.Unlock()
	if !wake {
		return
	}
	if s.queued != nil {
		s.queued()
	}
	if from != nil && from != s && from.kick() {
		from.later = append(from.later, s)
		return
	}
	s.kick()
}

// kick makes sure a wake of s's loop is queued, so that a Drain of s
// runs; it reports whether one is (false: unbound, or the loop has
// stopped). A deferred wake (post) must never stand for a queued one:
// when two loops posted to each other, each waited for the other's pass
// and neither drained again (1 connect ramp in 4 left thousands of
// logins unanswered, both loops' queues 17 s old). Safe for concurrent
// use.
func (s *Shard) kick() bool {
	if s.wake == nil {
		return false
	}
	s.mu.Lock()
	if s.kicked {
		s.mu.Unlock()
		return true
	}
	s.kicked = true
	s.mu.Unlock()
	if err := s.wake(); err != nil {
		s.mu.Lock()
		s.kicked, s.scheduled = false, false
		s.mu.Unlock()
		return false
	}
	return true
}

// wakeLater wakes the loops this loop posted to without waking them
// (post). Drain calls it after its flush. Loop-owned.
func (s *Shard) wakeLater() {
	for i, t := range s.later {
		s.later[i] = nil
		t.kick()
	}
	s.later = s.later[:0]
}

// Drain applies every queued event in order, flushes every member that
// got frames, one write each, and then wakes the loops this one posted
// to since its last pass (post). It must run on the shard's loop.
func (s *Shard) Drain() {
	s.mu.Lock()
	evs := s.inbox
	s.inbox = s.spare[:0]
	s.scheduled, s.kicked = false, false
	s.mu.Unlock()
	for i := range evs {
		s.apply(&evs[i])
		evs[i] = event{}
	}
	s.spare = shrink(evs[:0], len(evs), &s.leanInbox)
	s.Flush()
	s.wakeLater()
}

// Past a burst (a connect ramp: thousands of joins and login notices per
// pass) the inbox and the queue keep the burst's capacity for the life of
// the process: the faster the ramp, the more. shrink lets a buffer of
// more than keepEntries go once leanPasses passes in a row have used less
// than a quarter of it; a room that is busy every pass keeps its buffer
// (no reallocation per pass).
const (
	keepEntries = 4096
	leanPasses  = 8
)

// shrink returns buf (emptied), or nil when its capacity is past
// keepEntries and the last leanPasses passes, this one using used
// entries, each used under a quarter of it.
func shrink[T any](buf []T, used int, lean *int) []T {
	if cap(buf) <= keepEntries {
		return buf[:0] // (the inbox's other buffer may be the big one)
	}
	if used >= cap(buf)/4 {
		*lean = 0
		return buf[:0]
	}
	if *lean++; *lean < leanPasses {
		return buf[:0]
	}
	*lean = 0
	return nil
}

func (s *Shard) apply(e *event) {
	switch e.kind {
	case evBroadcast:
		s.broadcast(e.room, &e.frames)
	case evJoin:
		// The newcomer gets none of the room's frames before its own
		// join, the others get the login in its place: the open run
		// goes to the members it was for, then the login the same way.
		s.seal(e.room)
		s.fanout(e.room, &e.frames)
		e.room.addLocal(s.idx, e.member)
		s.Enqueue(e.member, e.one)
	case evLeave:
		s.seal(e.room) // the leaver still gets what the room said before
		e.room.removeLocal(s.idx, e.member)
	case evDirect:
		s.Enqueue(e.member, e.one)
	case evReject:
		if e.member.room == e.room {
			e.member.room = nil
		}
		s.Enqueue(e.member, e.one)
	}
}

// A room's broadcasts of a pass are kept as its run, whole, instead of
// queued member by member: at the flush each member of the room is
// written the run's frames of its dialect, concatenated once for all of
// them (one buffer per dialect, as nbio's room batches). A broadcast then
// costs the loop O(1) instead of a queue entry per member, and a write
// copies nothing per member. The run keeps each member's order: anything
// queued for one member alone (Enqueue: a reply, a private message, a
// ping) first seals the run of the room that lists it, that is, queues
// the run's frames for every member the old way, and so does a join or a
// leave of the room; what the member had queued before the run opened is
// written before it (Flush).
//
// run is the open run of a room on one loop (Room.runs[idx]).
type run struct {
	frames [codec.NumDialects][][]byte // per dialect, in the room's order
	bytes  int                         // the longest dialect's total
	open   bool
}

// broadcast adds fs to r's run, opening it if needed; a run past flushAt
// is written at once, as a member's queue is (Enqueue).
func (s *Shard) broadcast(r *Room, fs *frames) {
	ru := &r.runs[s.idx]
	if !ru.open {
		ru.open = true
		s.runs = append(s.runs, r)
	}
	n := 0
	for d, f := range fs {
		if f != nil {
			ru.frames[d] = append(ru.frames[d], f)
			n = max(n, len(f))
		}
	}
	if ru.bytes += n; ru.bytes >= flushAt {
		s.writeRun(r)
	}
}

// seal queues r's open run for each of its members, so that what is
// queued next for one of them comes after it. A run that would take the
// queue past maxQueue is written out instead (writeRun, each member's
// queue first): queued, it would make enqueue flush in the middle of the
// seal and write the run's first members their frames twice. Loop-owned.
func (s *Shard) seal(r *Room) {
	ru := &r.runs[s.idx]
	if !ru.open {
		return
	}
	n := 0
	for _, fs := range ru.frames {
		n = max(n, len(fs))
	}
	if len(s.queue)+n*len(r.local[s.idx]) >= maxQueue {
		s.writeRun(r)
		return
	}
	for _, m := range r.local[s.idx] {
		for _, f := range ru.frames[m.dialect] {
			s.enqueue(m, f)
		}
	}
	ru.reset()
}

// reset empties the run. A run holds at most flushAt bytes of frames
// (a few hundred); one that grew past keepRun in a burst lets its
// capacity go as soon as it used under a quarter of it.
func (ru *run) reset() {
	used, size := 0, 0
	for d := range ru.frames {
		clear(ru.frames[d]) // drop the frame references for the GC
		used, size = max(used, len(ru.frames[d])), max(size, cap(ru.frames[d]))
		ru.frames[d] = ru.frames[d][:0]
	}
	if size > keepRun && used < size/4 {
		ru.frames = [codec.NumDialects][][]byte{}
	}
	ru.bytes, ru.open = 0, false
}

const keepRun = 256

// writeRun writes r's open run to every member of the room, one write
// each of a buffer shared by the members of a dialect, and closes it.
func (s *Shard) writeRun(r *Room) {
	ru := &r.runs[s.idx]
	if !ru.open {
		return
	}
	var bufs [codec.NumDialects][]byte
	for d, fs := range ru.frames {
		switch len(fs) {
		case 0:
		case 1:
			bufs[d] = fs[0]
		default:
			b := s.rbuf[d][:0]
			for _, f := range fs {
				b = append(b, f...)
			}
			bufs[d], s.rbuf[d] = b, b[:0]
		}
	}
	for _, m := range r.local[s.idx] {
		b := bufs[m.dialect]
		if m.closed || m.slow || (b == nil && m.head == 0) {
			continue
		}
		// What m has queued of its own was queued before the run opened
		// (Enqueue seals it first): it goes first, in the same write, and
		// its backlog was asked then.
		if s.backlogged(m) {
			continue
		}
		s.write(m, b)
		m.reset()
	}
	for d := range s.rbuf {
		if cap(s.rbuf[d]) > maxKeptWriteBuf {
			s.rbuf[d] = nil
		}
	}
	ru.reset()
}

// fanout queues for every local member of r its dialect's frame.
func (s *Shard) fanout(r *Room, fs *frames) {
	for _, m := range r.local[s.idx] {
		if f := fs[m.dialect]; f != nil {
			s.enqueue(m, f)
		}
	}
}

// Enqueue queues frame for m; it goes out at the next Flush. frame must
// not be modified afterwards. A member whose unsent data has passed the
// outbound limit is cut off instead (Config.OnSlow). Loop-owned.
func (s *Shard) Enqueue(m *Member, frame []byte) {
	if r := m.listed; r != nil && r.runs[s.idx].open {
		s.seal(r) // the room's earlier frames first
	}
	s.enqueue(m, frame)
}

func (s *Shard) enqueue(m *Member, frame []byte) {
	if m.closed || m.slow {
		return
	}
	if s.backlogged(m) {
		return
	}
	s.queue = append(s.queue, queued{frame: frame})
	at := int32(len(s.queue))
	if m.head == 0 {
		m.head = at
	} else {
		s.queue[m.tail-1].next = at
	}
	m.tail = at
	m.queued += int32(len(frame))
	if !m.dirty {
		m.dirty = true
		s.dirty = append(s.dirty, m)
	}
	switch {
	case m.queued >= flushAt:
		s.write(m, nil) // a long pass: hand over what we have, so the backlog check sees it
		m.reset()
	case len(s.queue) >= maxQueue:
		s.Flush() // bound the pass's queue; a few frames per write still coalesce
	}
}

const (
	// flushAt is the queued size at which a member is written before the
	// end of the pass, so the outbound check sees a long pass's backlog.
	flushAt = 64 << 10
	// maxQueue bounds the frames a shard holds between flushes (32 bytes
	// each, 8 MiB at most). A room's says go out as its run and take no
	// queue entries; members' own frames and sealed runs do, so a pass
	// that seals runs of a big room often (says and replies interleaved)
	// flushes early. (When every say took an entry per member, 64K made
	// a loop with a room of 10,000 flush every 6 or 7 says: 5.8 says per
	// write(2) where 18.6 were in flight.)
	maxQueue = 256 << 10
)

// backlogged cuts m off, and reports true, when its unsent backlog is
// past the outbound limit. The limit bounds the backlog the peer has not
// read (gnet's outbound buffer), not the size of one frame: a big room's
// user_list still reaches a member with nothing unsent. The backlog grows
// only by this loop's writes, so it is asked only when m has nothing
// queued (its first frame of a pass, or the first after an early write),
// not for every frame: in a room of 10,000 the question was 2% of the
// loop's CPU.
func (s *Shard) backlogged(m *Member) bool {
	if m.head != 0 || m.conn.OutboundBuffered() <= s.hub.cfg.MaxOutbound {
		return false
	}
	s.cutOff(m)
	return true
}

func (s *Shard) cutOff(m *Member) {
	m.slow = true
	m.reset()
	s.hub.slow.Add(1)
	if s.hub.cfg.OnSlow != nil {
		s.hub.cfg.OnSlow(m)
	}
}

// Flush hands each dirty member's pending frames to its connection in one
// write. Loop-owned.
func (s *Shard) Flush() {
	for _, m := range s.dirty {
		if r := m.listed; r != nil && r.runs[s.idx].open {
			continue // written with its room's run, in one write (writeRun)
		}
		if !m.closed && !m.slow {
			s.write(m, nil)
		}
		m.reset()
	}
	for i, r := range s.runs {
		s.runs[i] = nil
		s.writeRun(r)
	}
	s.runs = s.runs[:0]
	for i, m := range s.dirty {
		s.dirty[i] = nil
		m.dirty = false
		m.reset()
	}
	s.dirty = s.dirty[:0]
	clear(s.queue) // drop the frame references for the GC
	s.queue = shrink(s.queue, len(s.queue), &s.leanQueue)
}

// write sends m's pending frames, then tail (a run's frames, or nil),
// with one Write. Several frames are copied into one buffer first:
// x/sys/unix.Writev allocates its iovec array on every call, and a copy
// of a few small frames is cheaper than a syscall.
func (s *Shard) write(m *Member, tail []byte) {
	if m.head == 0 {
		if tail != nil {
			_, _ = m.conn.Write(tail)
		}
		return
	}
	if q := &s.queue[m.head-1]; q.next == 0 && tail == nil {
		_, _ = m.conn.Write(q.frame)
		return
	}
	b := s.wbuf[:0]
	for i := m.head; i != 0; i = s.queue[i-1].next {
		b = append(b, s.queue[i-1].frame...)
	}
	b = append(b, tail...)
	_, _ = m.conn.Write(b)
	if cap(b) <= maxKeptWriteBuf {
		s.wbuf = b[:0]
	}
}

// maxKeptWriteBuf bounds the coalescing buffer a shard keeps between
// flushes; a larger one (a huge user_list) is left to the GC.
const maxKeptWriteBuf = 256 << 10

// reset forgets m's queued frames; the shard's queue entries are dropped
// at the end of the pass.
func (m *Member) reset() {
	m.head, m.tail, m.queued = 0, 0, 0
}
