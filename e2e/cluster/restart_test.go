package cluster

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Restarts of chatd nodes (issue 9): cold starts of all three, and a node
// back with its id at once.

// TestColdStarts starts the three chatd nodes from nothing many times in
// a row on one NATS cluster (5 in the test command, 60 in full mode),
// logging members in on every node as soon as it listens: no login may
// hang (refused, with an error, is fine), and the lists must agree every
// time. (Before b73c4a5: a joiner completed by a snapshot got a
// user_list with later members after itself, 6-12 "ghosts" in 8 runs.)
func TestColdStarts(t *testing.T) {
	runs, perNode, rooms := 5, 10, 5
	switch {
	case Full():
		runs, perNode, rooms = 60, 30, 10
	case testing.Short():
		runs, perNode, rooms = 3, 3, 3
	}
	w := New(t, Options{Nodes: -1})
	var roomIDs []string
	for r := range rooms {
		roomIDs = append(roomIDs, fmt.Sprintf("c%d", r))
	}
	total := &Report{Scenario: fmt.Sprintf("%d cold starts", runs)}
	var slowest time.Duration
	for run := range runs {
		stopAll(w)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range w.NodeCount() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.Node(i).Start(); err != nil {
					mu.Lock()
					total.NodeFailed++
					total.detail("run %d: node %d: %v", run, i, err)
					mu.Unlock()
					return
				}
				var lw sync.WaitGroup
				for k := range perNode {
					lw.Add(1)
					go func() {
						defer lw.Done()
						at := time.Now()
						_, err := w.Login(w.Node(i).Addr, i, w.Name("cold"), roomIDs[(k+i)%rooms], 10*time.Second)
						mu.Lock()
						defer mu.Unlock()
						total.ChurnLogins++
						switch {
						case errors.Is(err, ErrRefused):
							total.ChurnRefused++ // told: not stuck
							total.detail("run %d: %v", run, err)
						case err != nil:
							total.ChurnStuck++
							total.detail("run %d: %v", run, err)
						default:
							slowest = max(slowest, time.Since(at))
						}
					}()
				}
				lw.Wait()
			}()
		}
		wg.Wait()
		if err := w.WaitReady(30 * time.Second); err != nil {
			total.detail("run %d: %v", run, err)
		}
		w.Quiet(time.Second, 10*time.Second) // the logins' notices have arrived
		w.Probe(total, roomIDs, w.Running(), 10*time.Second)
		w.closeClients()
	}
	total.ChurnMax = slowest
	total.Check(t, All(0))
}

// stopAll stops every node of w at once.
func stopAll(w *World) {
	var wg sync.WaitGroup
	for i := range w.NodeCount() {
		wg.Add(1)
		go func() { defer wg.Done(); w.Node(i).Stop() }()
	}
	wg.Wait()
}

// TestSameIDRestart SIGKILLs a chatd process and starts it again with the
// same node id within a second, then logs new members in on it into half
// of the rooms: the killed incarnation's members must be logged out
// everywhere (no ghost), no uid may be issued twice, and a private
// message to an old uid must get no_such_user.
func TestSameIDRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a chatd process")
	}
	bin := chatdBinary(t)
	w := New(t, Options{Nodes: 2})
	p := w.AddProcess(bin, 3)
	rooms := 4
	if Full() {
		rooms = 10
	}
	l := w.StartLoad(LoadConfig{Members: rooms * 6, Rooms: rooms, RoomPrefix: "s"})
	victims := l.MembersOn(p)
	var watchers []*Client
	for _, c := range l.Members {
		if c.Node != p {
			watchers = append(watchers, c)
		}
	}
	marks := make(map[*Client]int)
	for _, c := range watchers {
		marks[c] = c.Len()
	}
	at := time.Now()
	w.Node(p).Kill()
	w.Node(p).Restart()
	t.Logf("node %d killed and ready again in %v", w.Node(p).ID, time.Since(at).Round(time.Millisecond))
	for r := range rooms / 2 {
		for range 2 {
			// A refused login (the client is told) is tried again.
			err := ErrRefused
			for try := 0; errors.Is(err, ErrRefused) && try < 3; try++ {
				if _, err = w.Login(w.Node(p).Addr, p, w.Name("new"), l.Rooms[r], 10*time.Second); err != nil {
					t.Logf("login after restart: %v", err)
				}
			}
			if err != nil {
				t.Errorf("login after restart: %v", err)
			}
		}
	}

	// Logouts of the old incarnation's members, everywhere (node TTL 5 s
	// plus a margin).
	missing := 0
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range watchers {
		for _, v := range victims {
			if v.Room != c.Room {
				continue
			}
			_, ok := c.WaitMsg(time.Until(deadline), marks[c], func(m *Msg) bool { return m.Type == "logout" && m.UID == v.UID() })
			if !ok {
				missing++
			}
		}
	}

	// Private messages to the old uids.
	from := watchers[0]
	mark := from.Len()
	for _, v := range victims {
		if err := from.Private(v.UID(), fmt.Sprintf("pm-%d", v.UID())); err != nil {
			t.Fatal(err)
		}
	}
	noSuch := 0
	for end := time.Now().Add(5 * time.Second); noSuch < len(victims) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
		noSuch = 0
		for _, m := range from.Msgs()[mark:] {
			if m.Type == "error" && m.Code == "no_such_user" {
				noSuch++
			}
		}
	}
	w.Quiet(500*time.Millisecond, 5*time.Second) // a misdelivery has arrived, if any
	misdelivered := 0
	for _, c := range w.Clients() {
		if c == from {
			continue
		}
		for _, m := range c.Msgs() {
			if m.Type == "say" && strings.HasPrefix(m.Content, "pm-") {
				misdelivered++
			}
		}
	}

	r := &Report{Scenario: "same-id restart"}
	w.Probe(r, l.Rooms, []int{0, 1, p}, 10*time.Second)
	t.Logf("same-id restart: %d old members; logouts missing %d of %d expected; private messages to old uids: %d no_such_user of %d, %d delivered to someone else",
		len(victims), missing, len(victims)*(len(watchers)/len(l.Rooms)), noSuch, len(victims), misdelivered)
	if missing > 0 {
		t.Errorf("same-id restart: %d logouts of the old incarnation's members missing", missing)
	}
	if noSuch != len(victims) || misdelivered > 0 {
		t.Errorf("same-id restart: private messages to old uids: %d no_such_user of %d, %d misdelivered", noSuch, len(victims), misdelivered)
	}
	r.Check(t, All(0))
}
