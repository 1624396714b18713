package room

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"chatd/codec"
)

// fakeConn records what a member's connection was given. Its methods run
// on the member's loop only, like gnet.Conn's.
type fakeConn struct {
	writes   int
	data     []byte
	stalled  bool // the peer stopped reading: writes pile up in buffered
	buffered int  // unsent bytes
}

func (c *fakeConn) Write(b []byte) (int, error) {
	c.writes++
	if c.stalled {
		c.buffered += len(b)
		return len(b), nil
	}
	c.data = append(c.data, b...)
	return len(b), nil
}

func (c *fakeConn) OutboundBuffered() int { return c.buffered }

// messages decodes the unmasked server text frames written to c.
func (c *fakeConn) messages(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	b := c.data
	for len(b) > 0 {
		n, hdr := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, hdr = int(b[2])<<8|int(b[3]), 4
		case 127:
			n, hdr = 0, 10
			for _, x := range b[2:10] {
				n = n<<8 | int(x)
			}
		}
		if b[0] == 0x81 {
			var m map[string]any
			if err := json.Unmarshal(b[hdr:hdr+n], &m); err != nil {
				t.Fatalf("frame payload %q: %v", b[hdr:hdr+n], err)
			}
			out = append(out, m)
		}
		b = b[hdr+n:]
	}
	return out
}

func types(ms []map[string]any) []string {
	var ts []string
	for _, m := range ms {
		ts = append(ts, fmt.Sprint(m["type"]))
	}
	return ts
}

// syncHub returns a hub whose shards drain only when the test says so:
// every call in these tests runs on the test goroutine, which plays all
// the loops.
func syncHub(loops int, cfg Config) *Hub {
	cfg.Loops = loops
	cfg.Now = func() time.Time { return time.Date(2014, 8, 12, 17, 50, 30, 0, time.Local) }
	h := NewHub(cfg)
	for i := 0; i < loops; i++ {
		h.Shard(i).Bind(func() error { return nil })
	}
	return h
}

func drainAll(h *Hub) {
	for i := 0; i < h.Shards(); i++ {
		h.Shard(i).Drain()
	}
}

func TestLoginUserListAndSay(t *testing.T) {
	h := syncHub(2, Config{})
	ca, cb := &fakeConn{}, &fakeConn{}
	a, b := h.Shard(0).NewMember(ca), h.Shard(1).NewMember(cb)
	h.Login(a, "&#29482;", "")
	drainAll(h)
	h.Login(b, "mynick", "")
	drainAll(h)
	if err := h.Say(b, "hi, all !"); err != nil {
		t.Fatalf("Say: %v", err)
	}
	drainAll(h)
	gotA, gotB := types(ca.messages(t)), types(cb.messages(t))
	wantA, wantB := "[user_list login login say]", "[user_list login say]"
	if fmt.Sprint(gotA) != wantA || fmt.Sprint(gotB) != wantB {
		t.Fatalf("a got %v, b got %v; want %s and %s", gotA, gotB, wantA, wantB)
	}
	list := cb.messages(t)[0]["user_list"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["uid"].(float64) != 1 || list[1].(map[string]any)["name"] != "mynick" {
		t.Fatalf("user_list = %v; want [a(1) mynick(2)] in join order", list)
	}
}

func TestRoomsAreIsolatedAndReloginMoves(t *testing.T) {
	h := syncHub(1, Config{})
	ca, cb := &fakeConn{}, &fakeConn{}
	a, b := h.Shard(0).NewMember(ca), h.Shard(0).NewMember(cb)
	h.Login(a, "a", "r1")
	h.Login(b, "b", "r2")
	drainAll(h)
	_ = h.Say(b, "only r2")
	h.Login(b, "b", "r1") // move: r2 is left (and emptied), r1 joined
	drainAll(h)
	if got := fmt.Sprint(types(ca.messages(t))); got != "[user_list login login]" {
		t.Fatalf("a in r1 got %s; want [user_list login login] (no r2 traffic)", got)
	}
	if h.Rooms() != 1 {
		t.Fatalf("Rooms() = %d; want 1 (empty r2 removed)", h.Rooms())
	}
	if got := b.RoomID(); got != "r1" {
		t.Fatalf("RoomID() = %q; want r1", got)
	}
}

func TestCloseSendsLogoutToRest(t *testing.T) {
	h := syncHub(2, Config{})
	ca, cb := &fakeConn{}, &fakeConn{}
	a, b := h.Shard(0).NewMember(ca), h.Shard(1).NewMember(cb)
	h.Login(a, "a", "")
	h.Login(b, "b", "")
	drainAll(h)
	h.Close(b)
	writes := cb.writes
	drainAll(h)
	_ = h.Say(a, "after")
	drainAll(h)
	if got := fmt.Sprint(types(ca.messages(t))); got != "[user_list login login logout say]" {
		t.Fatalf("a got %s; want [user_list login login logout say]", got)
	}
	if cb.writes != writes {
		t.Fatalf("closed member got %d more writes; want 0", cb.writes-writes)
	}
	if err := h.Private(a, b.UID(), "x"); err != ErrNoSuchUser {
		t.Fatalf("Private to closed uid = %v; want ErrNoSuchUser", err)
	}
}

func TestPrivateEchoOnce(t *testing.T) {
	h := syncHub(2, Config{})
	ca, cb, cc := &fakeConn{}, &fakeConn{}, &fakeConn{}
	a, b, c := h.Shard(0).NewMember(ca), h.Shard(1).NewMember(cb), h.Shard(1).NewMember(cc)
	for _, m := range []*Member{a, b, c} {
		h.Login(m, "n", "")
	}
	drainAll(h)
	na, nb, nc := len(ca.messages(t)), len(cb.messages(t)), len(cc.messages(t))
	if err := h.Private(a, b.UID(), "psst"); err != nil {
		t.Fatalf("Private: %v", err)
	}
	if err := h.Private(a, a.UID(), "self"); err != nil {
		t.Fatalf("Private to self: %v", err)
	}
	drainAll(h)
	if d := len(ca.messages(t)) - na; d != 2 {
		t.Errorf("sender got %d messages; want 2 (one echo, one to self)", d)
	}
	if d := len(cb.messages(t)) - nb; d != 1 {
		t.Errorf("target got %d messages; want 1", d)
	}
	if d := len(cc.messages(t)) - nc; d != 0 {
		t.Errorf("bystander got %d messages; want 0", d)
	}
}

func TestSeveralFramesOneWrite(t *testing.T) {
	h := syncHub(1, Config{})
	c := &fakeConn{}
	m := h.Shard(0).NewMember(c)
	h.Login(m, "a", "")
	for i := 0; i < 10; i++ {
		_ = h.Say(m, "x")
	}
	drainAll(h)
	if c.writes != 1 {
		t.Fatalf("writes = %d; want 1 for 12 frames queued in one pass", c.writes)
	}
	if n := len(c.messages(t)); n != 12 {
		t.Fatalf("messages = %d; want 12", n)
	}
}

// TestOtherLoopWokenOncePerPass: the says (and a private message) one
// loop reads in a row wake another loop with members once, when the
// reading loop's pass starts, not at the first say; the other loop then
// writes them all to its member in one write, in order.
func TestOtherLoopWokenOncePerPass(t *testing.T) {
	h := syncHub(2, Config{})
	var wakes, queued [2]int
	for i := 0; i < 2; i++ {
		h.Shard(i).Bind(func() error { wakes[i]++; return nil })
		h.Shard(i).OnQueue(func() { queued[i]++ })
	}
	ca, cb := &fakeConn{}, &fakeConn{}
	a, b := h.Shard(0).NewMember(ca), h.Shard(1).NewMember(cb)
	h.Login(a, "a", "r")
	drainAll(h)
	h.Login(b, "b", "r")
	drainAll(h)
	drainAll(h) // the wakes the last passes queued run (a queued wake is not queued again)
	n0 := len(cb.messages(t))
	wakes, queued, cb.writes = [2]int{}, [2]int{}, 0
	for i := 0; i < 5; i++ { // loop 0 reads five says
		if err := h.Say(a, fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Private(a, b.UID(), "p"); err != nil {
		t.Fatal(err)
	}
	if wakes != [2]int{1, 0} {
		t.Fatalf("wakes (loop 0, loop 1) = %v before loop 0's pass; want [1 0]", wakes)
	}
	if queued != [2]int{1, 1} { // the queue-age metric starts at the first say on both
		t.Fatalf("first-event notices (loop 0, loop 1) = %v; want [1 1]", queued)
	}
	h.Shard(0).Drain()
	if wakes != [2]int{1, 1} {
		t.Fatalf("wakes (loop 0, loop 1) = %v after loop 0's pass; want [1 1]", wakes)
	}
	h.Shard(1).Drain()
	if cb.writes != 1 {
		t.Fatalf("loop 1's member got %d writes; want 1", cb.writes)
	}
	var got []string
	for _, m := range cb.messages(t)[n0:] {
		got = append(got, fmt.Sprint(m["type"], ":", m["content"]))
	}
	if want := "[say:m0 say:m1 say:m2 say:m3 say:m4 say:p]"; fmt.Sprint(got) != want {
		t.Fatalf("loop 1's member got %v; want %s", got, want)
	}
}

// slowPair is a one-loop hub with two members in the default room: slow,
// whose peer has stopped reading, and ok; the members cut off as slow
// consumers are in cut.
type slowPair struct {
	h        *Hub
	slow, ok *fakeConn
	ms, mo   *Member
	cut      []*Member
}

func newSlowPair(maxOutbound int) *slowPair {
	p := &slowPair{slow: &fakeConn{}, ok: &fakeConn{}}
	p.h = syncHub(1, Config{MaxOutbound: maxOutbound, OnSlow: func(m *Member) { p.cut = append(p.cut, m); p.h.Close(m) }})
	p.ms, p.mo = p.h.Shard(0).NewMember(p.slow), p.h.Shard(0).NewMember(p.ok)
	p.h.Login(p.ms, "slow", "")
	p.h.Login(p.mo, "ok", "")
	drainAll(p.h)
	p.slow.stalled = true
	return p
}

func TestSlowConsumerCutOff(t *testing.T) {
	p := newSlowPair(256)
	h, slow, ok, ms, mo := p.h, p.slow, p.ok, p.ms, p.mo
	const says = 6 // ~150-byte frames: the backlog passes 256 bytes after the 2nd
	for i := 0; i < says; i++ {
		_ = h.Say(mo, "some content that pushes it over the limit, some content that pushes it")
		drainAll(h)
	}
	if len(p.cut) != 1 || p.cut[0] != ms {
		t.Fatalf("cut off %d members; want exactly the slow one", len(p.cut))
	}
	if slow.buffered > 256+200 {
		t.Fatalf("slow member's backlog reached %d bytes; want it cut off just past 256", slow.buffered)
	}
	// user_list, own login, then the says with the slow member's logout
	// where it was cut off (while the 3rd say was fanned out).
	if got := fmt.Sprint(types(ok.messages(t))); got != "[user_list login say say say logout say say say]" {
		t.Fatalf("healthy member got %s; want all 6 says and the logout", got)
	}
	if h.SlowConsumers() != 1 {
		t.Fatalf("SlowConsumers() = %d; want 1", h.SlowConsumers())
	}
}

// TestBroadcastAllocs pins the allocation budget of a room broadcast: one
// allocation per message (the shared frame), none per member.
func TestBroadcastAllocs(t *testing.T) {
	for _, members := range []int{10, 1000} {
		t.Run(fmt.Sprint(members), func(t *testing.T) {
			h := syncHub(2, Config{MaxOutbound: 1 << 30})
			var ms []*Member
			for i := 0; i < members; i++ {
				m := h.Shard(i % 2).NewMember(&nullConn{})
				h.Login(m, "n", "")
				ms = append(ms, m)
			}
			drainAll(h)
			allocs := testing.AllocsPerRun(200, func() {
				_ = h.Say(ms[0], "hello")
				drainAll(h)
			})
			if allocs > 1 {
				t.Fatalf("allocs per broadcast to %d members = %v; want <= 1", members, allocs)
			}
		})
	}
}

type nullConn struct{}

func (nullConn) Write(b []byte) (int, error) { return len(b), nil }
func (nullConn) OutboundBuffered() int       { return 0 }

// TestConcurrentOrder runs each shard on its own goroutine, as gnet loops
// do, with senders on every loop, and checks that every member sees the
// room's messages in the same order and none is lost.
func TestConcurrentOrder(t *testing.T) {
	const loops, perLoop, says = 3, 4, 50
	h := NewHub(Config{Loops: loops})
	runners := make([]*testLoop, loops)
	for i := range runners {
		runners[i] = newTestLoop()
		defer runners[i].stop()
		sh := h.Shard(i)
		r := runners[i]
		sh.Bind(func() error { r.run(sh.Drain); return nil })
	}
	var members []*Member
	var conns []*lockedConn
	for i := 0; i < loops*perLoop; i++ {
		c := &lockedConn{}
		m := h.Shard(i % loops).NewMember(c)
		members, conns = append(members, m), append(conns, c)
		runners[i%loops].do(func() { h.Login(m, "n", "") })
	}
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < says; j++ {
				runners[i%loops].do(func() { _ = h.Say(m, fmt.Sprintf("%d-%d", i, j)) })
			}
		}()
	}
	wg.Wait()
	want := len(members) * says
	deadline := time.Now().Add(10 * time.Second)
	for _, c := range conns {
		for c.says() < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	ref := conns[0].sayOrder(t)
	for i, c := range conns {
		got := c.sayOrder(t)
		if len(got) != want {
			t.Fatalf("member %d got %d says; want %d", i, len(got), want)
		}
		for k := range got {
			if got[k] != ref[k] {
				t.Fatalf("member %d: say #%d = %s; member 0 saw %s", i, k, got[k], ref[k])
			}
		}
	}
}

// TestBigFrameToIdleMember checks that the outbound limit bounds backlog,
// not frame size: a user_list larger than MaxOutbound still reaches a
// member that has nothing unsent.
func TestBigFrameToIdleMember(t *testing.T) {
	cut := 0
	h := syncHub(1, Config{MaxOutbound: 256, OnSlow: func(*Member) { cut++ }})
	for i := 0; i < 20; i++ {
		h.Login(h.Shard(0).NewMember(nullConn{}), "someone", "")
		drainAll(h)
	}
	c := &fakeConn{}
	h.Login(h.Shard(0).NewMember(c), "late", "")
	drainAll(h)
	ms := c.messages(t)
	if len(ms) == 0 || ms[0]["type"] != "user_list" || len(ms[0]["user_list"].([]any)) != 21 {
		t.Fatalf("late member got %v; want a 21-entry user_list first", types(ms))
	}
	if cut != 0 {
		t.Fatalf("cut off %d members; want 0", cut)
	}
}

// TestBurstCapacityIsReleased: a burst (here 5,000 messages to a room of
// 100 in one pass: thousands of inbox events and queued frames per shard)
// must not leave its buffers' capacity behind once passes are small again,
// the way a fast connect ramp did; a pass as large as the burst regrows them.
func TestBurstCapacityIsReleased(t *testing.T) {
	h := syncHub(2, Config{MaxOutbound: 1 << 30})
	var ms []*Member
	for i := 0; i < 100; i++ {
		m := h.Shard(i % 2).NewMember(&nullConn{})
		h.Login(m, "n", "")
		ms = append(ms, m)
	}
	drainAll(h)
	// A burst of replies (a room's says go out as its run and take no
	// queue entries, TestRunOneBufferForAll).
	frame := codec.NewFrame(ws.OpText, []byte(`{"type":"error"}`))
	for i := 0; i < 10000; i++ {
		h.Send(ms[i%len(ms)], frame)
	}
	drainAll(h)
	for i := 0; i < 2; i++ {
		if s := h.Shard(i); cap(s.queue) <= keepEntries || cap(s.spare) <= keepEntries {
			t.Fatalf("shard %d after the burst: queue cap %d, inbox cap %d; the burst should have grown both past %d",
				i, cap(s.queue), cap(s.spare), keepEntries)
		}
	}
	for range leanPasses + 1 { // the inbox alternates between two buffers
		_ = h.Say(ms[0], "calm")
		drainAll(h)
		drainAll(h)
	}
	for i := 0; i < 2; i++ {
		s := h.Shard(i)
		if cap(s.queue) > keepEntries || cap(s.spare) > keepEntries || cap(s.inbox) > keepEntries {
			t.Errorf("shard %d after calm passes: queue cap %d, inbox caps %d and %d; want each <= %d",
				i, cap(s.queue), cap(s.inbox), cap(s.spare), keepEntries)
		}
	}
}

// TestCrossPostsKeepARealWake: two loops posting to each other with the
// wake deferred (post's from) always leave a wake queued for a loop that
// will pass, so neither inbox waits for the other's pass for ever. (This
// model of the loops passed before Shard.kick's fix too: the stall it
// fixed, a connect ramp of 15,000 on two loops with both queues 17 s old,
// was seen only with gnet's loops, in chatbench runs.)
func TestCrossPostsKeepARealWake(t *testing.T) {
	h := syncHub(2, Config{})
	s0, s1 := h.Shard(0), h.Shard(1)
	var queuedWake [2]bool
	for i, s := range []*Shard{s0, s1} {
		s.Bind(func() error { queuedWake[i] = true; return nil })
	}
	a, b := s0.NewMember(&fakeConn{}), s1.NewMember(&fakeConn{})
	h.Login(a, "a", "r")
	h.Login(b, "b", "r")
	for i := range queuedWake {
		queuedWake[i] = true // both have passes to run
	}
	r := h.RoomList()[0]
	run := func(i int) { // the loop runs its queued Drain
		if !queuedWake[i] {
			return
		}
		queuedWake[i] = false
		h.Shard(i).Drain()
	}
	for round := range 200 {
		// Interleavings of loop 1 posting to 0 and loop 0 posting to 1,
		// with passes in between.
		if round%2 == 0 {
			s0.post(event{kind: evBroadcast, room: r}, s1)
		}
		if round%3 == 0 {
			s1.post(event{kind: evBroadcast, room: r}, s0)
		}
		if round%5 == 1 {
			run(0)
		}
		if round%7 == 2 {
			run(1)
		}
	}
	for range 10 { // the loops run whatever is queued
		run(0)
		run(1)
	}
	for i, s := range []*Shard{s0, s1} {
		s.mu.Lock()
		n, sched := len(s.inbox), s.scheduled
		s.mu.Unlock()
		if n != 0 || sched {
			t.Errorf("shard %d: %d events left in its inbox (scheduled %v) with no wake queued", i, n, sched)
		}
	}
}

// countConn counts writes and bytes.
type countConn struct{ writes, bytes int }

func (c *countConn) Write(b []byte) (int, error) { c.writes++; c.bytes += len(b); return len(b), nil }
func (c *countConn) OutboundBuffered() int       { return 0 }

// TestBigRoomPassOneWrite: a pass that fans 30 says out to a room of
// 3,000 on one loop (90,000 queued frames) still writes each member once.
func TestBigRoomPassOneWrite(t *testing.T) {
	h := syncHub(1, Config{MaxOutbound: 1 << 30})
	var cs []*countConn
	var ms []*Member
	for range 3000 {
		c := &countConn{}
		m := h.Shard(0).NewMember(c)
		h.Login(m, "n", "big")
		cs, ms = append(cs, c), append(ms, m)
	}
	drainAll(h)
	for _, c := range cs {
		c.writes = 0
	}
	for i := range 30 {
		_ = h.Say(ms[i], "x")
	}
	h.Shard(0).Drain()
	for i, c := range cs {
		if c.writes != 1 {
			t.Fatalf("member %d: %d writes for 30 says in one pass; want 1", i, c.writes)
		}
	}
}

// TestJoinKeepsNoListBuffer: a newcomer's user_list (client_list in the
// current dialect) is encoded straight into its frame, so a room keeps no
// buffer the size of its list after the joins (it kept one, about 40
// bytes per member, for its life), and listSize's estimate holds the
// frame without a second allocation.
func TestJoinKeepsNoListBuffer(t *testing.T) {
	for _, d := range []codec.Dialect{codec.Dialect2014, codec.DialectCurrent} {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			h := syncHub(2, Config{MaxOutbound: 1 << 30})
			for i := 0; i < 1000; i++ {
				m := h.Shard(i % 2).NewMember(&nullConn{})
				m.SetDialect(d)
				h.Login(m, fmt.Sprintf("member-%d", i), "")
				drainAll(h)
			}
			r := h.rooms["1"]
			if r == nil || len(r.users) != 1000 {
				t.Fatalf("room 1 lists %d users; want 1000", len(r.users))
			}
			if c := cap(r.scratch); c > 1<<10 {
				t.Errorf("room scratch after 1,000 joins: cap %d; want <= 1 KiB (no list-sized buffer kept)", c)
			}
			ev := codec.Event{Kind: codec.EventLogin, UID: 1000, Name: "member-999", Time: time.Now()}
			for _, n := range []int{1, 10, 1000} {
				users := r.users[:n]
				allocs := testing.AllocsPerRun(20, func() {
					_ = joinFrames(d, &ev, users, []byte("login frame"), nil)
				})
				if allocs != 1 {
					t.Errorf("joinFrames with %d users: %v allocations; want 1 (the frame)", n, allocs)
				}
			}
		})
	}
}

// TestSlowConsumerCutOffWithinAPass: a stalled member's backlog is asked
// when it has nothing queued, which includes after an early write of a
// long pass (flushAt): one pass of many says still cuts it off just past
// the limit, not at the end of the pass.
func TestSlowConsumerCutOffWithinAPass(t *testing.T) {
	p := newSlowPair(100 << 10)
	h, slow, ok, ms, mo := p.h, p.slow, p.ok, p.ms, p.mo
	content := strings.Repeat("x", 1000)
	for i := 0; i < 400; i++ { // ~400 KiB in one pass
		_ = h.Say(mo, content)
	}
	drainAll(h)
	if len(p.cut) != 1 || p.cut[0] != ms {
		t.Fatalf("cut off %d members; want exactly the slow one", len(p.cut))
	}
	if max := 100<<10 + flushAt + 2<<10; slow.buffered > max {
		t.Fatalf("slow member's backlog reached %d bytes in one pass; want it cut off by %d (limit + one early write)", slow.buffered, max)
	}
	if n := strings.Count(string(ok.data), `"type":"say"`); n != 400 {
		t.Fatalf("healthy member got %d says; want 400", n)
	}
}

// ptrConn records where each write's bytes were (to tell a shared buffer
// from copies) and what they said.
type ptrConn struct {
	fakeConn
	at []*byte
}

func (c *ptrConn) Write(b []byte) (int, error) {
	c.at = append(c.at, &b[0])
	return c.fakeConn.Write(b)
}

// TestRunOneBufferForAll: a room's says of one pass reach each member in
// one write of one buffer built once for all of them (the room's run),
// and the pass allocates only the says' own frames.
func TestRunOneBufferForAll(t *testing.T) {
	h := syncHub(1, Config{MaxOutbound: 1 << 30})
	var cs []*ptrConn
	var ms []*Member
	for i := 0; i < 100; i++ {
		c := &ptrConn{}
		m := h.Shard(0).NewMember(c)
		h.Login(m, fmt.Sprint("m", i), "")
		drainAll(h)
		cs, ms = append(cs, c), append(ms, m)
	}
	for _, c := range cs {
		c.at, c.data, c.writes = nil, nil, 0
	}
	for i := 0; i < 10; i++ {
		_ = h.Say(ms[i], fmt.Sprint("say ", i))
	}
	drainAll(h)
	for i, c := range cs {
		if len(c.at) != 1 || c.at[0] != cs[0].at[0] {
			t.Fatalf("member %d: %d writes at %v; want 1, of the buffer member 0 got (%v)", i, len(c.at), c.at, cs[0].at)
		}
		got := c.messages(t)
		if len(got) != 10 || got[0]["content"] != "say 0" || got[9]["content"] != "say 9" {
			t.Fatalf("member %d got %v; want the 10 says in order", i, got)
		}
	}
	h = syncHub(1, Config{MaxOutbound: 1 << 30})
	ms = ms[:0]
	for i := 0; i < 100; i++ {
		m := h.Shard(0).NewMember(&nullConn{})
		h.Login(m, "n", "")
		ms = append(ms, m)
	}
	drainAll(h)
	allocs := testing.AllocsPerRun(50, func() {
		for i := 0; i < 10; i++ {
			_ = h.Say(ms[i], "again")
		}
		drainAll(h)
	})
	if allocs > 10 {
		t.Fatalf("allocs per pass of 10 says to 100 members = %v; want <= 10 (the says' frames)", allocs)
	}
}

// TestRunKeepsEachMembersOrder: what one member is sent alone (a reply),
// a join and a move to another room in the middle of a pass of says keep
// every member's order as if each say had been queued member by member.
func TestRunKeepsEachMembersOrder(t *testing.T) {
	h := syncHub(2, Config{MaxOutbound: 1 << 30})
	cs := make([]*fakeConn, 4)
	ms := make([]*Member, 4)
	for i := range 3 {
		cs[i] = &fakeConn{}
		ms[i] = h.Shard(i % 2).NewMember(cs[i])
		h.Login(ms[i], fmt.Sprint("m", i), "")
		drainAll(h)
	}
	for _, c := range cs[:3] {
		c.data = nil
	}
	reply := codec.NewFrame(ws.OpText, []byte(`{"type":"error","code":"x"}`))
	_ = h.Say(ms[0], "one")
	h.Send(ms[1], reply)      // m1 alone, between "one" and "two"
	h.Login(ms[2], "m2", "2") // m2 moves to room 2 after "one"
	_ = h.Say(ms[0], "two")
	cs[3] = &fakeConn{}
	ms[3] = h.Shard(1).NewMember(cs[3])
	h.Login(ms[3], "m3", "") // m3 joins after "two"
	_ = h.Say(ms[0], "three")
	drainAll(h)
	seq := func(c *fakeConn) string {
		var out []string
		for _, m := range c.messages(t) {
			switch m["type"] {
			case "say":
				out = append(out, fmt.Sprint(m["content"]))
			case "login":
				out = append(out, fmt.Sprint(m["type"], ":", m["name"]))
			default:
				out = append(out, fmt.Sprint(m["type"]))
			}
		}
		return strings.Join(out, " ")
	}
	for i, want := range []string{
		"one logout two login:m3 three",
		"one error logout two login:m3 three",
		"one user_list login:m2",
		"user_list login:m3 three",
	} {
		if got := seq(cs[i]); got != want {
			t.Errorf("member %d got %q; want %q", i, got, want)
		}
	}
}

// TestSealPastMaxQueue: sealing a big run (a reply to one member after
// many says in a room of 1,000: more queue entries than maxQueue) gets
// every say to every member exactly once, in order, and the reply after
// them.
func TestSealPastMaxQueue(t *testing.T) {
	h := syncHub(1, Config{MaxOutbound: 1 << 30})
	cs := make([]*fakeConn, 1000)
	ms := make([]*Member, len(cs))
	for i := range cs {
		cs[i] = &fakeConn{}
		ms[i] = h.Shard(0).NewMember(cs[i])
		h.Login(ms[i], "m", "")
	}
	drainAll(h)
	for _, c := range cs {
		c.data = nil
	}
	says := maxQueue/len(cs) + 20 // sealing them takes more than maxQueue entries
	for i := 0; i < says; i++ {
		_ = h.Say(ms[1], fmt.Sprint(i))
	}
	h.Send(ms[0], codec.NewFrame(ws.OpText, []byte(`{"type":"error","code":"x"}`)))
	drainAll(h)
	for i, c := range cs {
		got := string(c.data)
		if n := strings.Count(got, `"type":"say"`); n != says {
			t.Fatalf("member %d got %d says; want %d, each once", i, n, says)
		}
		last := fmt.Sprintf(`"content":"%d"`, says-1)
		if !strings.Contains(got, last) || strings.Index(got, `"content":"0"`) > strings.Index(got, last) {
			t.Fatalf("member %d: says out of order", i)
		}
		if e := strings.Index(got, `"type":"error"`); i == 0 && e < strings.LastIndex(got, `"type":"say"`) {
			t.Fatalf("member 0: the reply came before the says sent before it")
		}
	}
}
