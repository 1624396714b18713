package cluster

import (
	"runtime"
	"testing"
	"time"
)

// TestRefusedSaysNoGoroutines: with the log unreachable and the publish
// queue full, a flood of says is refused (each sender told
// "unavailable") without a goroutine per refused say.
func TestRefusedSaysNoGoroutines(t *testing.T) {
	st := newMemStore()
	n := startTestNode(t, st, 1)
	c := &testConn{}
	tm := &testMember{name: "flood", node: n, m: n.hub.Shard(0).NewMember(c), c: c}
	tm.login("r")
	waitUntil(t, 5*time.Second, "login", tm.loggedIn)
	st.mu.Lock()
	st.cut[n.Node] = true // every publish fails from now on
	st.mu.Unlock()

	const refused = 5000
	base := runtime.NumGoroutine()
	peak := base
	n.loop.do(func() {
		for i := range maxQueued + maxInflight + refused {
			_ = n.hub.Say(tm.m, "x")
			if i%500 == 0 {
				peak = max(peak, runtime.NumGoroutine())
			}
		}
		peak = max(peak, runtime.NumGoroutine())
	})
	t.Logf("goroutines: %d before the flood, peak %d during it (%d says refused)", base, peak, refused)
	if peak > base+50 {
		t.Errorf("goroutines grew from %d to %d while %d says were refused; want a bounded number", base, peak, refused)
	}
	unavailable := func() int {
		k := 0
		for _, m := range c.messages() {
			if m["type"] == "error" && m["code"] == "unavailable" {
				k++
			}
		}
		return k
	}
	waitUntil(t, 20*time.Second, "every refused say answered unavailable", func() bool {
		return unavailable() >= refused && n.metrics.Rejected.Load() >= refused
	})
	if got := unavailable(); got > refused+maxInflight {
		t.Errorf("%d unavailable errors; want about %d", got, refused)
	}
}
