package cluster

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chatd/room"
)

// fakeRC is a room.Receiver that records what its stream delivers.
type fakeRC struct {
	mu     sync.Mutex
	events []string
	lost   int
	synced chan error
}

func newFakeRC() *fakeRC { return &fakeRC{synced: make(chan error, 16)} }

func (f *fakeRC) Event(ev []byte) {
	f.mu.Lock()
	f.events = append(f.events, string(ev))
	f.mu.Unlock()
}
func (f *fakeRC) Requested(uint64, string)             {}
func (f *fakeRC) Synced(_ uint64, _ []byte, err error) { f.synced <- err }
func (f *fakeRC) Lost() {
	f.mu.Lock()
	f.lost++
	f.mu.Unlock()
}

func startTestNode(t *testing.T, url string) *Node {
	t.Helper()
	n := dialTestNode(t, url)
	if err := n.Start(room.NewHub(room.Config{})); err != nil {
		t.Fatal(err)
	}
	return n
}

func dialTestNode(t *testing.T, url string) *Node {
	t.Helper()
	n, err := Dial(Config{URL: url, Heartbeat: 100 * time.Millisecond, NodeTTL: time.Second,
		SyncTimeout: time.Second, ReconnectWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(time.Second) })
	return n
}

func startTestNATS(t *testing.T) *Embedded {
	t.Helper()
	e, err := StartEmbedded("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// openRoom opens id on n, syncs it (an empty room: no holder) and holds
// it, as the hub does for a room's first local member.
func openRoom(t *testing.T, n *Node, id string, rc *fakeRC) room.Stream {
	t.Helper()
	st := n.Open(id, rc)
	st.Sync(1)
	select {
	case err := <-rc.synced:
		if err != room.ErrNoHolder {
			t.Fatalf("room %s: sync: %v", id, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("room %s: no sync", id)
	}
	st.Hold(true)
	return st
}

// settle waits until n's bus queue is empty and NATS has every SUB.
func settle(t *testing.T, n *Node) {
	t.Helper()
	for n.queued() > 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the batch being issued
	if err := n.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// goroutines returns the goroutine count once it stops falling (sync
// goroutines finishing).
func goroutines() int {
	g := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(20 * time.Millisecond)
		h := runtime.NumGoroutine()
		if h >= g {
			return h
		}
		g = h
	}
	return g
}

// A node's goroutines do not grow with the number of its rooms: each room
// has two subscriptions (its ordered subject and the holders' queue
// group), and they all deliver to the node's one dispatcher.
func TestGoroutinesPerRoom(t *testing.T) {
	e := startTestNATS(t)
	n := startTestNode(t, e.URL())
	openRoom(t, n, "room-0", newFakeRC())
	settle(t, n)
	one := goroutines()
	const rooms = 200
	for i := 1; i < rooms; i++ {
		openRoom(t, n, fmt.Sprintf("room-%d", i), newFakeRC())
	}
	settle(t, n)
	many := goroutines()
	t.Logf("goroutines: %d with 1 room, %d with %d rooms", one, many, rooms)
	if many-one > 50 {
		t.Fatalf("goroutines grew from %d (1 room) to %d (%d rooms)", one, many, rooms)
	}
}

// The dispatch channel overflows while the dispatcher is stalled: NATS
// drops the room's events and reports a slow consumer; the node counts
// it, tells the room (Receiver.Lost) and takes a fresh subscription on
// the room's next Sync.
func TestDispatchOverflowLost(t *testing.T) {
	var stalled atomic.Bool
	gate := make(chan struct{})
	e := startTestNATS(t)
	a := startTestNode(t, e.URL())
	setDispatch(t, 4, func() { // node b's only
		if stalled.Load() {
			<-gate
		}
	})
	b := startTestNode(t, e.URL())
	release := sync.OnceFunc(func() { stalled.Store(false); close(gate) })
	t.Cleanup(release) // before b closes, should the test fail stalled
	rc := newFakeRC()
	st := openRoom(t, b, "x", rc)
	settle(t, b)

	stalled.Store(true)
	for i := range 50 {
		a.Publish("x", []byte(fmt.Sprint("ev", i)))
	}
	waitUntil(t, "room told of the loss", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.lost == 1
	})
	if got := b.LostRooms(); got != 1 {
		t.Fatalf("LostRooms = %d, want 1", got)
	}
	release()

	// The room resyncs: a fresh subscription, then the stream again.
	st.Hold(false)
	st.Sync(2)
	if err := <-rc.synced; err != room.ErrNoHolder {
		t.Fatalf("resync: %v", err)
	}
	settle(t, b)
	a.Publish("x", []byte("after"))
	waitUntil(t, "event after the resync", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.events) > 0 && rc.events[len(rc.events)-1] == "after"
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events) >= 51 {
		t.Fatalf("got %d events: nothing was dropped", len(rc.events))
	}
	if rc.lost != 1 {
		t.Fatalf("lost = %d after the resync, want 1", rc.lost)
	}
}

// setDispatch sets the dispatch channel size and hook for the nodes the
// test dials, and restores them after the test (and its nodes) end.
func setDispatch(t *testing.T, size int, hook func()) {
	oldSize, oldHook := dispatchChan, dispatchHook
	dispatchChan, dispatchHook = size, hook
	t.Cleanup(func() { dispatchChan, dispatchHook = oldSize, oldHook })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
