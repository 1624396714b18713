package cluster

import (
	"testing"
	"time"
)

// Timings of a load scenario.
type Timings struct {
	Warmup time.Duration // load before the fault
	Fault  time.Duration // how long a server stays down
	Ready  time.Duration // bound on the nodes' /readyz turning 200 after the fault
	Settle time.Duration // load after the nodes are ready again
	Quiet  time.Duration // after Stop: nothing received for this long ends the drain
	Drain  time.Duration // bound of the drain
	Probe  time.Duration // bound of a probe login (stuck past it)
}

// DefaultTimings are the timings of a scenario: in full mode issue 9's
// (a 10 s fault); by default a 6 s fault and shorter margins, so that the
// package fits the test command; -short a 5 s fault. A login gets 10 s
// before it counts as stuck.
func DefaultTimings(short bool) Timings {
	tm := Timings{Warmup: 2 * time.Second, Fault: 6 * time.Second, Ready: 30 * time.Second,
		Settle: 2 * time.Second, Quiet: 1500 * time.Millisecond, Drain: 20 * time.Second, Probe: 10 * time.Second}
	switch {
	case Full():
		tm.Warmup, tm.Fault, tm.Settle, tm.Quiet = 5*time.Second, 10*time.Second, 5*time.Second, 2*time.Second
	case short:
		tm.Fault = 5 * time.Second
	}
	return tm
}

// Fault is what a scenario does to the world while the load runs. It
// returns once it has undone the fault (restarted what it killed).
type Fault func(t testing.TB, w *World, tm Timings)

// RunLoad runs a load scenario: a world of o, the load lc, Warmup, the
// fault (none if nil), a wait (bounded by Ready) until every running
// node's /readyz is 200 again, Settle, then Stop and drain, Analyze over
// the whole load and Probe every room on every running node. The caller checks the
// report (Report.Check).
func RunLoad(t testing.TB, name string, o Options, lc LoadConfig, tm Timings, fault Fault) *Report {
	t.Helper()
	w := New(t, o)
	l := w.StartLoad(lc)
	t.Logf("%s: %s", name, l)
	time.Sleep(tm.Warmup)
	if fault != nil {
		at := time.Now()
		fault(t, w, tm)
		if err := w.WaitReady(tm.Ready); err != nil {
			t.Logf("%s: after the fault: %v", name, err)
		}
		t.Logf("%s: nodes ready %v after the fault began", name, time.Since(at).Round(time.Millisecond))
		time.Sleep(tm.Settle)
	}
	l.Stop(tm.Quiet, tm.Drain)
	r := &Report{Scenario: name}
	l.Analyze(r, l.Start.Add(time.Second), l.StopAt, 5*time.Second)
	w.Probe(r, l.Rooms, w.Running(), tm.Probe)
	return r
}

// KillFor kills NATS server i, waits d and restarts it.
func (w *World) KillFor(t testing.TB, i int, d time.Duration) {
	t.Helper()
	t.Logf("killing nats server %s for %v", w.NATS.Name(i), d)
	w.NATS.Kill(i)
	time.Sleep(d)
	w.NATS.Restart(i)
}
