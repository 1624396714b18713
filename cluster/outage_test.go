package cluster

import (
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
