package cluster

import (
	"testing"
	"time"
)

// TestSteady: three chatd nodes on a three-server NATS cluster under
// steady load, no fault. Every invariant holds.
func TestSteady(t *testing.T) {
	tm := DefaultTimings(testing.Short())
	tm.Warmup = 10 * time.Second // the run itself: no fault follows
	if Full() {
		tm.Warmup = 30 * time.Second
	}
	r := RunLoad(t, "steady", Options{Nodes: -1}, Sizes(testing.Short()), tm, nil)
	r.Check(t, All(gapBound()))
}

// gapBound is the chat gap asserted: issue 9's 3 s in full mode; in the
// default mode the gap is reported, not asserted (a timed assertion on a
// shared machine under -race would flake).
func gapBound() time.Duration {
	if Full() {
		return 3 * time.Second
	}
	return 0
}
