package cluster

import (
	"fmt"
	"testing"
	"time"
)

// TestEnsureLeavesRoomsRunning: while the node ensures the log (after a
// reconnection) and its requests wait (a stream electing a leader
// answers nothing), the node's rooms still sync: a login completes.
// Before, ensure held the epoch lock over its requests, and every room
// task of the node waited for it.
func TestEnsureLeavesRoomsRunning(t *testing.T) {
	st := newMemStore()
	n := startTestNode(t, st, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	n.work.openLog = func() (*openedLog, error) {
		close(entered)
		<-release
		return &openedLog{st: memView{st, n.Node}}, nil
	}
	t.Cleanup(func() { close(release) }) // before the node stops
	n.work.ensure()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("ensure did not start")
	}
	c := &testConn{}
	tm := &testMember{name: "a", node: n, m: n.hub.Shard(0).NewMember(c), c: c}
	tm.login("r")
	waitUntil(t, 10*time.Second, "login while ensure waits", tm.loggedIn)
}

// TestRequestsProbeWhileLogDown: after a failed request to the log, the
// next ones are bounded by probeTimeout, not SyncTimeout, until one
// succeeds: a request sent just before a new stream leader is elected
// waits less for its answer.
func TestRequestsProbeWhileLogDown(t *testing.T) {
	st := newMemStore()
	n := startTestNode(t, st, 1, func(c *Config) { c.SyncTimeout = 2 * time.Second })
	bound := func() time.Duration {
		ctx, cancel := n.ctx()
		defer cancel()
		dl, _ := ctx.Deadline()
		return time.Until(dl)
	}
	if b := bound(); b <= probeTimeout(2*time.Second) {
		t.Fatalf("log up: request bound %v; want SyncTimeout (2s)", b)
	}
	st.mu.Lock()
	st.cut[n.Node] = true
	st.mu.Unlock()
	c := &testConn{}
	tm := &testMember{name: "a", node: n, m: n.hub.Shard(0).NewMember(c), c: c}
	tm.login("r") // its sync fails
	waitUntil(t, 10*time.Second, "a failed sync", func() bool { return n.metrics.SyncFailures.Load() > 0 })
	if b := bound(); b > probeTimeout(2*time.Second) {
		t.Errorf("log down: request bound %v; want at most %v", b, probeTimeout(2*time.Second))
	}
	st.mu.Lock()
	st.cut[n.Node] = false
	st.mu.Unlock()
	waitUntil(t, 10*time.Second, "login after the log is back", tm.loggedIn)
	waitUntil(t, 10*time.Second, "full bound again", func() bool { return bound() > probeTimeout(2*time.Second) })
}

func TestProbeTimeout(t *testing.T) {
	for _, c := range []struct{ sync, want time.Duration }{
		{2 * time.Second, 500 * time.Millisecond},
		{8 * time.Second, 2 * time.Second},
		{200 * time.Millisecond, 200 * time.Millisecond},
		{time.Second, 500 * time.Millisecond},
	} {
		if got := probeTimeout(c.sync); got != c.want {
			t.Errorf("probeTimeout(%v) = %v; want %v", c.sync, got, c.want)
		}
	}
}

// TestPublisherProbesWhileLogDown: while the log refuses every append,
// the publisher retries with the head of its window alone, one publish
// per retry, not the whole window each time; once the log is back every
// say is appended, in order.
func TestPublisherProbesWhileLogDown(t *testing.T) {
	st := newMemStore()
	n := startTestNode(t, st, 1, func(c *Config) { c.ReconnectWait = 20 * time.Millisecond })
	c := &testConn{}
	tm := &testMember{name: "a", node: n, m: n.hub.Shard(0).NewMember(c), c: c}
	tm.login("r")
	waitUntil(t, 10*time.Second, "login", tm.loggedIn)
	pubs := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.pubs
	}
	st.mu.Lock()
	st.cut[n.Node] = true
	st.mu.Unlock()
	const says = 50
	for i := range says {
		tm.say(fmt.Sprintf("s%d", i))
	}
	r0 := n.metrics.Retries.Load()
	waitUntil(t, 10*time.Second, "a retry", func() bool { return n.metrics.Retries.Load() > r0 })
	r1, p1 := n.metrics.Retries.Load(), pubs()
	waitUntil(t, 10*time.Second, "ten more retries", func() bool { return n.metrics.Retries.Load() >= r1+10 })
	r2, p2 := n.metrics.Retries.Load(), pubs()
	if p2-p1 > int(r2-r1)+1 {
		t.Errorf("%d publishes over %d retries while the log was down; want one per retry (the head alone)", p2-p1, r2-r1)
	}
	st.mu.Lock()
	st.cut[n.Node] = false
	st.mu.Unlock()
	waitUntil(t, 10*time.Second, "every say after the log is back", func() bool { return len(tm.says()) >= says })
	got := tm.says()
	for i := range says {
		if want := fmt.Sprintf("s%d", i); i >= len(got) || got[i] != want {
			t.Fatalf("says %v; want s0..s%d in order", got, says-1)
		}
	}
	if len(got) != says {
		t.Errorf("%d says; want %d", len(got), says)
	}
}

// TestLogBackEndsProbes: a request sent while the log was down ends as
// soon as the log is back (another request or an append succeeded), so
// its task is retried at once rather than after its probe timeout.
func TestLogBackEndsProbes(t *testing.T) {
	n := startTestNode(t, newMemStore(), 1, func(c *Config) { c.SyncTimeout = 8 * time.Second })
	n.logFailed()
	ctx, cancel := n.ctx()
	defer cancel()
	n.logUp()
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatalf("a request sent while the log was down still waits after the log is back (err %v)", ctx.Err())
	}
	ctx2, cancel2 := n.ctx()
	defer cancel2()
	if ctx2.Err() != nil {
		t.Fatalf("a request after the log is back: %v", ctx2.Err())
	}
}
