package room

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"chatd/codec"
)

// heldCluster is a cluster of one node whose log never applies: the test
// plays the log (Reset, Apply).
type heldCluster struct{ nopCluster }

func (heldCluster) Append(*Room, Event) {}

// TestResetCompletesJoinInOrder: a node opening a room from a snapshot
// that already holds its pending joiner (the join reached the log and a
// later join too, e.g. at a cold start) gives the joiner a user_list
// that ends with itself; the member the snapshot lists after it arrives
// as a login notice, as it would have from the log. (Before: the
// user_list held the later member too, then its login came; a client
// taking the last entry as itself took another member's uid: the e2e
// cold starts saw it as a ghost.)
func TestResetCompletesJoinInOrder(t *testing.T) {
	tests := []struct {
		name     string
		before   []codec.User // the room's list before Reset
		snap     []string     // names in join order; "a" is the joiner
		wantList string
		wantRest string // what a gets after its user_list: logins by name
	}{
		{"joiner last", nil, []string{"x", "a"}, "[x a]", "[login a]"},
		{"a later member", nil, []string{"x", "a", "y"}, "[x a]", "[login a login y]"},
		{"a later member already listed", []codec.User{{UID: 7<<NodeShift | 3, Name: "y"}}, []string{"x", "a", "y", "z"}, "[x a y]", "[login a login z]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := syncHub(1, Config{})
			h.AttachCluster(heldCluster{nopCluster{h}}, 1, 1)
			ca := &fakeConn{}
			a := h.Shard(0).NewMember(ca)
			h.Login(a, "a", "r")
			drainAll(h)
			if len(ca.data) != 0 {
				t.Fatalf("a got %v before its join was applied", types(ca.messages(t)))
			}
			r := a.room
			r.mu.Lock()
			r.users = tt.before
			for range tt.before {
				r.owners = append(r.owners, Owner{7, 1})
			}
			r.mu.Unlock()
			snap := &Snapshot{Seq: 9}
			for k, name := range tt.snap {
				u, o := codec.User{UID: uint64(7<<NodeShift | (k + 1)), Name: name}, Owner{7, 1}
				if name == "a" {
					u.UID, o = a.uid, Owner{1, 1}
				}
				if name == "y" && tt.before != nil {
					u.UID = tt.before[0].UID
				}
				snap.Users, snap.Owners = append(snap.Users, u), append(snap.Owners, o)
			}
			h.Reset(r, snap)
			drainAll(h)
			ms := ca.messages(t)
			if len(ms) == 0 || ms[0]["type"] != "user_list" {
				t.Fatalf("a got %v; want its user_list first", types(ms))
			}
			var list, rest []string
			for _, e := range ms[0]["user_list"].([]any) {
				list = append(list, e.(map[string]any)["name"].(string))
			}
			for _, m := range ms[1:] {
				rest = append(rest, fmt.Sprint(m["type"]), fmt.Sprint(m["name"]))
			}
			if fmt.Sprint(list) != tt.wantList || fmt.Sprint(rest) != tt.wantRest {
				t.Errorf("a got user_list %v, then %v; want %s, then %s", list, rest, tt.wantList, tt.wantRest)
			}
		})
	}
}

// recCluster is heldCluster recording what is appended.
type recCluster struct {
	heldCluster
	mu  sync.Mutex
	evs []Event
}

func (c *recCluster) Append(_ *Room, ev Event) {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
}

// TestExpireJoins: a join the room has not applied within the bound (the
// room stuck syncing or repairing, e.g. while NATS elects a stream
// leader) is given up: the joiner gets unavailable, a leave is appended,
// and the join applied after all gives it no user_list. (Before: no
// bound; e2e: a login under a stream-leader kill got neither its
// user_list nor an error for 20 s.)
func TestExpireJoins(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	h := syncHub(1, Config{})
	h.cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	rc := &recCluster{heldCluster: heldCluster{nopCluster{h}}}
	h.AttachCluster(rc, 1, 1)
	ca := &fakeConn{}
	a := h.Shard(0).NewMember(ca)
	h.Login(a, "a", "r")
	r := a.room

	at(5 * time.Second)
	if n := h.ExpireJoins(r, 10*time.Second); n != 0 {
		t.Fatalf("ExpireJoins after 5s = %d; want 0", n)
	}
	at(11 * time.Second)
	if n := h.ExpireJoins(r, 10*time.Second); n != 1 {
		t.Fatalf("ExpireJoins after 11s = %d; want 1", n)
	}
	drainAll(h)
	ms := ca.messages(t)
	if len(ms) != 1 || ms[0]["type"] != "error" || ms[0]["code"] != "unavailable" {
		t.Fatalf("a got %v; want one unavailable error", ms)
	}
	rc.mu.Lock()
	evs := slices.Clone(rc.evs)
	rc.mu.Unlock()
	if k := len(evs); k < 2 || evs[k-1].Kind != KindLeave || evs[k-1].UID != a.uid {
		t.Fatalf("appended %+v; want the join, then a's leave", evs)
	}
	h.Apply(r, 1, &evs[0]) // the join, applied after all
	drainAll(h)
	if got := types(ca.messages(t)); len(got) != 1 {
		t.Fatalf("a got %v after its join was applied late; want nothing more", got)
	}
}

// lockLog is a log that, like the cluster's, holds a lock of its own
// (mu) while it applies an event, and takes it in Close.
type lockLog struct {
	heldCluster
	mu      *sync.Mutex
	entered chan struct{}
	proceed chan struct{}
}

func (l lockLog) Close(*Room) {
	close(l.entered)
	<-l.proceed
	l.mu.Lock() // waits for the applying side
	defer l.mu.Unlock()
}

// TestRetireDoesNotHoldRoomInClose: the last member leaving retires the
// room and closes it on the log while the log applies an event of the
// room under its own lock: neither waits for the other. (Before: Close
// ran under the room's mutex; the cluster's feed lock was taken in the
// other order by its catch-up, and an in-process node's shutdown hung in
// the e2e cold starts with a goroutine dump showing both.)
func TestRetireDoesNotHoldRoomInClose(t *testing.T) {
	h := syncHub(1, Config{})
	l := lockLog{heldCluster{nopCluster{h}}, &sync.Mutex{}, make(chan struct{}), make(chan struct{})}
	h.AttachCluster(l, 1, 1)
	a := h.Shard(0).NewMember(&fakeConn{})
	h.Login(a, "a", "r")
	r := a.room
	h.Apply(r, 1, &Event{Kind: KindJoin, UID: a.uid, Name: "a", Node: 1, Boot: 1})
	drainAll(h)

	left := make(chan struct{})
	go func() { h.Close(a); close(left) }() // retires r: Close
	<-l.entered
	l.mu.Lock() // the log applying an event of r
	close(l.proceed)
	applied := make(chan struct{})
	go func() {
		h.Apply(r, 2, &Event{Kind: KindSay, UID: 99, Content: "x"})
		close(applied)
	}()
	select {
	case <-applied:
	case <-time.After(5 * time.Second):
		t.Fatal("Hub.Apply waited for the room's mutex, held by a Close waiting for the log's lock: deadlock")
	}
	l.mu.Unlock()
	<-left
}
