package cluster

import (
	"testing"
	"time"
)

// TestSteady: three chatd nodes on a three-server NATS cluster under
// steady load, no fault, no member joining or leaving during the load.
// Every invariant holds.
func TestSteady(t *testing.T) {
	lc := Sizes(testing.Short())
	lc.Churners = 0
	r := RunLoad(t, "steady", Options{Nodes: -1}, lc, steadyTimings(), nil)
	r.Check(t, All(gapBound()))
}

// TestSteadyChurn is TestSteady with members logging in and out all
// along (Sizes' churners). (Before the room-log redesign it failed 1 run
// of 6: a node kept another node's members of one room out of its list
// for good.)
func TestSteadyChurn(t *testing.T) {
	r := RunLoad(t, "steady with churn", Options{Nodes: -1}, Sizes(testing.Short()), steadyTimings(), nil)
	r.Check(t, All(gapBound()))
}

// steadyTimings runs the load 10 s (30 s in full mode) without a fault.
func steadyTimings() Timings {
	tm := DefaultTimings(testing.Short())
	tm.Warmup = 10 * time.Second
	if Full() {
		tm.Warmup = 30 * time.Second
	}
	return tm
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
