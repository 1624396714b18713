package cluster

// An in-memory cluster: three nodes (hubs with the real feed, publisher
// and worker) on an in-memory log store that drops, duplicates, delays
// and reorders live events, loses acks, fails publishes and reads, and
// cuts a node off — then checks the invariants: one order per room at
// every member, every acked say delivered once to every member, lists
// equal on every node, no ghost.

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"chatd/room"
)

// faults are the probabilities of each injected fault.
type faults struct {
	drop, dup, delay, lostAck, failPub, failRead float64
}

var errInjected = errors.New("injected fault")

// memStore is the log store of every node of an in-memory cluster.
type memStore struct {
	mu   sync.Mutex
	f    faults
	rnd  *rand.Rand
	seq  uint64
	logs map[string][]stored // log subject -> events
	ids  map[string]uint64   // message id -> sequence
	subs map[string][]*feed  // republished subject -> subscribed feeds
	node map[*feed]*Node
	ckpt map[string][]byte
	cut  map[*Node]bool
	deaf map[*Node]bool // gets no live events (its subscriptions lost in a disconnect)
	pubs int            // publish calls, failed ones too
}

func newMemStore() *memStore {
	return &memStore{rnd: rand.New(rand.NewPCG(1, 2)), logs: map[string][]stored{}, ids: map[string]uint64{},
		subs: map[string][]*feed{}, node: map[*feed]*Node{}, ckpt: map[string][]byte{}, cut: map[*Node]bool{}, deaf: map[*Node]bool{}}
}

func (s *memStore) chance(p float64) bool { return p > 0 && s.rnd.Float64() < p }

// memView is one node's handle on the store.
type memView struct {
	s *memStore
	n *Node
}

type memAck struct {
	ok  chan *jetstream.PubAck
	err chan error
}

func (a *memAck) Ok() <-chan *jetstream.PubAck { return a.ok }
func (a *memAck) Err() <-chan error            { return a.err }

func (v memView) publish(subj, id string, data []byte) (ackFuture, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pubs++
	if s.cut[v.n] || s.chance(s.f.failPub) {
		return nil, errInjected
	}
	seq, dup := s.ids[id]
	if !dup {
		var last uint64
		if l := s.logs[subj]; len(l) > 0 {
			last = l[len(l)-1].seq
		}
		s.seq++
		seq = s.seq
		s.ids[id] = seq
		s.logs[subj] = append(s.logs[subj], stored{seq, data})
		s.deliver(strings.Replace(subj, ".r.", ".o.", 1), seq, last, data)
	}
	a := &memAck{ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	if s.chance(s.f.lostAck) {
		a.err <- errInjected // stored, but the ack is lost: the publisher sends it again
	} else {
		a.ok <- &jetstream.PubAck{Sequence: seq, Duplicate: dup}
	}
	return a, nil
}

// deliver republishes one event to every subscribed feed, with faults.
// Called with s.mu held.
func (s *memStore) deliver(ordered string, seq, last uint64, data []byte) {
	for _, f := range s.subs[ordered] {
		n := s.node[f]
		if s.cut[n] || s.deaf[n] || s.chance(s.f.drop) {
			continue
		}
		m := &nats.Msg{Subject: ordered, Data: data, Header: nats.Header{}}
		m.Header.Set("Nats-Sequence", strconv.FormatUint(seq, 10))
		m.Header.Set("Nats-Last-Sequence", strconv.FormatUint(last, 10))
		copies := 1
		if s.chance(s.f.dup) {
			copies = 2
		}
		for range copies {
			if s.chance(s.f.delay) {
				d := time.Duration(s.rnd.IntN(20)) * time.Millisecond
				time.AfterFunc(d, func() { send(n, m) }) // arrives after later events
			} else {
				send(n, m)
			}
		}
	}
}

// send hands m to n's dispatcher, dropping it when the channel is full,
// as NATS does to a slow subscriber.
func send(n *Node, m *nats.Msg) {
	select {
	case n.msgs <- m:
	default:
	}
}

func (v memView) read(subj string, after uint64) ([]stored, bool, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut[v.n] || s.chance(s.f.failRead) {
		return nil, false, errInjected
	}
	l := s.logs[subj]
	i, _ := slices.BinarySearchFunc(l, after+1, func(e stored, seq uint64) int { return cmp.Compare(e.seq, seq) })
	j := min(len(l), i+readBatch/8) // small batches: catch-ups take several reads
	return slices.Clone(l[i:j]), j == len(l), nil
}

func (v memView) holds(subj string, seq uint64) (bool, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut[v.n] || s.chance(s.f.failRead) {
		return false, errInjected
	}
	_, ok := slices.BinarySearchFunc(s.logs[subj], seq, func(e stored, seq uint64) int { return cmp.Compare(e.seq, seq) })
	return ok, nil
}

func (v memView) subscribe(f *feed) error {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.node[f] == nil {
		s.subs[f.ordered] = append(s.subs[f.ordered], f)
		s.node[f] = v.n
	}
	return nil
}

func (v memView) unsubscribe(f *feed) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[f.ordered] = slices.DeleteFunc(s.subs[f.ordered], func(g *feed) bool { return g == f })
	delete(s.node, f)
}

func (v memView) loadCheckpoint(r string) ([]byte, error) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut[v.n] || s.chance(s.f.failRead) {
		return nil, errInjected
	}
	return s.ckpt[r], nil
}

func (v memView) saveCheckpoint(r string, data []byte) error {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut[v.n] {
		return errInjected
	}
	s.ckpt[r] = data
	return nil
}

// testLoop stands in for a node's event loop: it runs tasks and drains
// the hub's shard when woken.
type testLoop struct {
	tasks chan func()
}

func (l *testLoop) do(f func()) {
	done := make(chan struct{})
	l.tasks <- func() { f(); close(done) }
	<-done
}

// testConn records the frames a member was sent.
type testConn struct {
	mu   sync.Mutex
	data []byte
}

func (c *testConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.data = append(c.data, b...)
	c.mu.Unlock()
	return len(b), nil
}

func (c *testConn) OutboundBuffered() int { return 0 }

// messages decodes the server's text frames written to c.
func (c *testConn) messages() []map[string]any {
	c.mu.Lock()
	b := slices.Clone(c.data)
	c.mu.Unlock()
	var out []map[string]any
	for len(b) > 0 {
		n, hdr := int(b[1]&0x7f), 2
		if n == 126 {
			n, hdr = int(b[2])<<8|int(b[3]), 4
		}
		var m map[string]any
		if err := jsonUnmarshal(b[hdr:hdr+n], &m); err == nil {
			out = append(out, m)
		}
		b = b[hdr+n:]
	}
	return out
}

type testNode struct {
	*Node
	loop *testLoop
}

// startTestNode runs a node on st without NATS: the publisher, the
// dispatcher, the worker and a control loop that repairs overdue and
// idle rooms and evicts gone nodes. tweaks change its Config.
func startTestNode(t *testing.T, st *memStore, id uint64, tweaks ...func(*Config)) *testNode {
	cfg := Config{Node: id, Heartbeat: 50 * time.Millisecond, NodeTTL: time.Second, SyncTimeout: 200 * time.Millisecond,
		AppendTimeout: 30 * time.Second, ReconnectWait: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tw := range tweaks {
		tw(&cfg)
	}
	cfg.normalize()
	n := &Node{cfg: cfg, log: cfg.Logger, id: id, boot: newBoot(), quit: make(chan struct{}), done: make(chan struct{}),
		kick: make(chan struct{}, 1), msgs: make(chan *nats.Msg, 256)}
	n.feeds.init()
	n.pub.init(n)
	n.work.init()
	n.work.n = n
	n.live.init(n)
	n.ids.size = cfg.UIDBlock
	n.ids.add(id, 1, 1+cfg.UIDBlock)
	n.ids.askReserve = func() {}
	loop := &testLoop{tasks: make(chan func(), 4096)}
	hub := room.NewHub(room.Config{Loops: 1})
	hub.Shard(0).Bind(func() error {
		select {
		case loop.tasks <- hub.Shard(0).Drain:
		default:
			go func() { loop.tasks <- hub.Shard(0).Drain }()
		}
		return nil
	})
	n.hub = hub
	hub.AttachCluster(n, id, n.boot)
	n.work.setStore(memView{st, n})
	n.ready.Store(true)
	var wg sync.WaitGroup
	control := func() {
		tick := time.NewTicker(cfg.Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-n.quit:
				return
			case <-tick.C:
				n.checkFeeds()
			}
		}
	}
	runLoop := func() {
		for {
			select {
			case <-n.quit:
				return
			case f := <-loop.tasks:
				f()
			}
		}
	}
	for _, f := range append([]func(){n.pub.run, n.pub.runRejects, n.runDispatch, control, runLoop}, n.work.goroutines()...) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	t.Cleanup(func() { close(n.quit); wg.Wait() })
	return &testNode{n, loop}
}

type testMember struct {
	name string
	node *testNode
	m    *room.Member
	c    *testConn
}

func (tm *testMember) login(roomID string) {
	tm.node.loop.do(func() { tm.node.hub.Login(tm.m, tm.name, roomID) })
}

func (tm *testMember) say(s string) {
	tm.node.loop.do(func() { _ = tm.node.hub.Say(tm.m, s) })
}

func (tm *testMember) close() {
	tm.node.loop.do(func() { tm.node.hub.Close(tm.m) })
}

func (tm *testMember) says() []string {
	var out []string
	for _, m := range tm.c.messages() {
		if m["type"] == "say" {
			out = append(out, fmt.Sprint(m["content"]))
		}
	}
	return out
}

func (tm *testMember) loggedIn() bool {
	for _, m := range tm.c.messages() {
		if m["type"] == "user_list" {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// roomList returns the uids node lists in roomID, in order.
func roomList(n *testNode, roomID string) []uint64 {
	for _, r := range n.hub.RoomList() {
		if r.ID() == roomID {
			snap, _ := n.hub.Snapshot(r, nil, nil)
			s, err := room.DecodeSnapshot(snap)
			if err != nil {
				return nil
			}
			var uids []uint64
			for _, u := range s.Users {
				uids = append(uids, u.UID)
			}
			return uids
		}
	}
	return nil
}

func TestInMemoryClusterUnderFaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    faults
		cut  bool
	}{
		{"no faults", faults{}, false},
		{"drop dup delay", faults{drop: 0.15, dup: 0.15, delay: 0.3}, false},
		{"lost acks, failed publishes and reads", faults{drop: 0.05, lostAck: 0.1, failPub: 0.1, failRead: 0.2}, false},
		{"a node cut off", faults{delay: 0.1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) { runInMemoryCluster(t, tc.f, tc.cut) })
	}
}

func runInMemoryCluster(t *testing.T, f faults, cut bool) {
	const perNode, says = 4, 25
	st := newMemStore()
	nodes := []*testNode{startTestNode(t, st, 1), startTestNode(t, st, 2), startTestNode(t, st, 3)}
	var members []*testMember
	for i, n := range nodes {
		for k := range perNode {
			c := &testConn{}
			members = append(members, &testMember{name: fmt.Sprintf("m%d-%d", i+1, k), node: n, m: n.hub.Shard(0).NewMember(c), c: c})
		}
	}
	for _, m := range members {
		m.login("r")
	}
	for _, m := range members {
		waitUntil(t, 10*time.Second, m.name+" logged in", m.loggedIn)
	}
	st.mu.Lock()
	st.f = f
	if cut {
		st.cut[nodes[2].Node] = true
	}
	st.mu.Unlock()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range says {
				m.say(fmt.Sprintf("%s#%d", m.name, i))
				time.Sleep(time.Millisecond) // paced: live delivery, gaps and repairs interleave
			}
		}()
	}
	wg.Wait()
	if cut {
		time.Sleep(100 * time.Millisecond)
	}
	st.mu.Lock()
	st.f = faults{}
	clear(st.cut)
	st.mu.Unlock()

	want := len(members) * says
	waitUntil(t, 30*time.Second, "every say delivered to every member", func() bool {
		for _, m := range members {
			if len(m.says()) < want {
				return false
			}
		}
		return true
	})
	ref := members[0].says()
	for _, m := range members {
		got := m.says()
		if len(got) != want || !slices.Equal(got, ref) {
			t.Fatalf("%s got %d says in another order or with duplicates than %s (%d); want the same %d, once each",
				m.name, len(got), members[0].name, len(ref), want)
		}
	}
	seen := map[string]bool{}
	for _, s := range ref {
		if seen[s] {
			t.Fatalf("say %q delivered twice", s)
		}
		seen[s] = true
	}

	// Leaves: the lists converge, without the members that left.
	members[0].close()
	members[perNode].close()
	left := []uint64{members[0].m.UID(), members[perNode].m.UID()}
	waitUntil(t, 10*time.Second, "lists equal on every node, without the members that left", func() bool {
		l1 := roomList(nodes[1], "r")
		for _, n := range nodes[1:] {
			if l := roomList(n, "r"); !slices.Equal(l, l1) {
				return false
			}
		}
		return len(l1) == len(members)-2 && !slices.Contains(l1, left[0]) && !slices.Contains(l1, left[1])
	})
	if l0 := roomList(nodes[0], "r"); !slices.Equal(l0, roomList(nodes[1], "r")) {
		t.Fatalf("node 1 lists %v; node 2 lists %v", l0, roomList(nodes[1], "r"))
	}
	var stats []string
	for _, n := range nodes {
		m := n.Stats()
		stats = append(stats, fmt.Sprintf("node %d: gaps %d, repairs %d, retries %d, rejected %d", n.id,
			m.Gaps.Load(), m.Repairs.Load(), m.Retries.Load(), m.Rejected.Load()))
	}
	t.Logf("%d says to %d members in one order; %s", want, len(members), strings.Join(stats, "; "))
}

// TestResyncKeepsSaysPastCheckpoint: a node that missed a room's live
// events (its subscriptions lost in a NATS disconnect) resynchronises it
// on reconnecting; the room's checkpoint, written meanwhile by another
// node, is past the node's state, and the log still holds everything
// after that state: the node's members get every say they missed, in
// order. (Before: the node started over from the checkpoint and its
// members never got the says between; e2e TestAllNATSDown lost 200-465
// acked says at 14-20 members.)
func TestResyncKeepsSaysPastCheckpoint(t *testing.T) {
	const says = 2 * checkpointEvery
	st := newMemStore()
	quiet := func(c *Config) { c.Heartbeat = time.Hour } // no idle repair: the resync alone brings the room back
	n1, n2 := startTestNode(t, st, 1, quiet), startTestNode(t, st, 2, quiet)
	var members []*testMember
	for i, n := range []*testNode{n1, n2} {
		c := &testConn{}
		members = append(members, &testMember{name: fmt.Sprintf("m%d", i+1), node: n, m: n.hub.Shard(0).NewMember(c), c: c})
	}
	a, b := members[0], members[1]
	// A room whose checkpoints node 1 writes (node 2, deaf, writes none).
	rid, owners := "", []room.Owner{{Node: n1.id, Boot: n1.boot}, {Node: n2.id, Boot: n2.boot}}
	for i := 0; rid == ""; i++ {
		if id := fmt.Sprint("r", i); writer(id, owners) == owners[0] {
			rid = id
		}
	}
	for _, m := range members {
		m.login(rid)
		waitUntil(t, 10*time.Second, m.name+" logged in", m.loggedIn)
	}
	st.mu.Lock()
	st.deaf[n2.Node] = true
	st.mu.Unlock()
	for i := range says {
		a.say(fmt.Sprintf("a#%d", i))
	}
	waitUntil(t, 10*time.Second, "a got its says", func() bool { return len(a.says()) == says })
	waitUntil(t, 10*time.Second, "a checkpoint past node 2's state", func() bool {
		st.mu.Lock()
		data := st.ckpt[rid]
		st.mu.Unlock()
		snap, err := room.DecodeSnapshot(data)
		return data != nil && err == nil && snap.Seq > checkpointEvery
	})
	if got := len(b.says()); got != 0 {
		t.Fatalf("node 2 got %d says while deaf", got)
	}

	// Reconnected: every room resynchronises (the control loop's step).
	st.mu.Lock()
	clear(st.deaf)
	st.mu.Unlock()
	n2.resyncRooms()
	deadline := time.Now().Add(10 * time.Second)
	for len(b.says()) < says && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := b.says(), a.says(); !slices.Equal(got, want) {
		first := "none"
		if len(got) > 0 {
			first = got[0]
		}
		t.Fatalf("after the resync m2 got %d says (first %s); want the %d of m1, in order", len(got), first, len(want))
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
