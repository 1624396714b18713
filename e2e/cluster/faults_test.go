package cluster

import (
	"testing"
	"time"

	chatcluster "chatd/cluster"
)

// Issue 9's NATS faults, in the test command. Each kills part of NATS
// under load and checks every invariant; the chat gap is asserted only in
// full mode (gapBound), and not for a total outage (it lasts the outage).

var roomsStream = chatcluster.StreamName("chatd")

// TestKillStreamLeader kills the server leading the rooms' stream for
// the fault time, then restarts it.
func TestKillStreamLeader(t *testing.T) {
	runFault(t, "kill stream leader", All(gapBound()), func(t testing.TB, w *World, tm Timings) {
		i := streamLeaderApart(t, w)
		t.Logf("stream %s led by %s; meta leader %s", roomsStream, w.NATS.Name(i), name(w, w.NATS.MetaLeader()))
		w.KillFor(t, i, tm.Fault)
	})
}

// TestKillMetaLeader kills the JetStream meta leader.
func TestKillMetaLeader(t *testing.T) {
	runFault(t, "kill meta leader", All(gapBound()), func(t testing.TB, w *World, tm Timings) {
		t.Logf("stream and meta leaders apart: %v", w.NATS.SeparateLeaders(roomsStream, 10*time.Second))
		i := w.NATS.MetaLeader()
		s, _ := w.NATS.StreamLeader(roomsStream)
		t.Logf("meta leader %s; stream leader %s", name(w, i), name(w, s))
		w.KillFor(t, i, tm.Fault)
	})
}

// TestKillNodeServer kills the server chatd node 1 is connected to,
// preferring a node whose server does not lead the rooms' stream.
func TestKillNodeServer(t *testing.T) {
	runFault(t, "kill a node's server", All(gapBound()), func(t testing.TB, w *World, tm Timings) {
		s, _ := w.NATS.StreamLeader(roomsStream)
		pick := -1
		for n := range w.NodeCount() {
			i := w.NATS.ServerOf(NATSName(w.Node(n).ID))
			t.Logf("chatd node %d is connected to %s", w.Node(n).ID, name(w, i))
			if i >= 0 && (pick < 0 || i != s) {
				pick = i
			}
		}
		if pick < 0 {
			t.Fatal("no node's server found")
		}
		t.Logf("stream leader %s, meta leader %s", name(w, s), name(w, w.NATS.MetaLeader()))
		w.KillFor(t, pick, tm.Fault)
	})
}

// TestAllNATSDown stops every NATS server for the fault time: says and
// logins meanwhile are refused (the senders are told), no acked say is
// lost, one order per room, lists equal. The gap is the outage's length
// and more: reported, never asserted. (Before 0036f7c a node that
// resynchronised a room from a later checkpoint lost every say between:
// 200-465 acked says at 14-20 members.)
func TestAllNATSDown(t *testing.T) {
	runFault(t, "all nats down", All(0), func(t testing.TB, w *World, tm Timings) {
		t.Logf("all nats servers down for %v", tm.Fault)
		w.NATS.KillAll()
		time.Sleep(tm.Fault)
		w.NATS.RestartAll()
	})
}

func runFault(t *testing.T, name string, want Want, f Fault) {
	r := RunLoad(t, name, Options{Nodes: -1}, Sizes(testing.Short()), DefaultTimings(testing.Short()), f)
	r.Check(t, want)
}

// name is NATS server i's name, "none" for -1.
// streamLeaderApart waits for the rooms' stream to have a leader, moves
// it off the meta leader's server if it can (SeparateLeaders: a kill then
// takes out one of them, not both) and returns the stream leader's index.
func streamLeaderApart(t testing.TB, w *World) int {
	t.Helper()
	if _, err := w.NATS.WaitStreamLeader(roomsStream, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("stream and meta leaders apart: %v", w.NATS.SeparateLeaders(roomsStream, 10*time.Second))
	i, err := w.NATS.StreamLeader(roomsStream)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func name(w *World, i int) string {
	if i < 0 {
		return "none"
	}
	return w.NATS.Name(i)
}
