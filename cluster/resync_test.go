package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"chatd/room"
)

// testConn is a member's connection: it keeps the server's frames.
type testConn struct {
	mu   sync.Mutex
	data []byte
}

func (c *testConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.data = append(c.data, b...)
	c.mu.Unlock()
	return len(b), nil
}

func (c *testConn) OutboundBuffered() int { return 0 }

type testMsg struct {
	Type     string
	UID      uint64
	UserList []struct{ UID uint64 } `json:"user_list"`
}

// messages decodes the unmasked text frames written so far.
func (c *testConn) messages(t *testing.T) []testMsg {
	t.Helper()
	c.mu.Lock()
	b := slices.Clone(c.data)
	c.mu.Unlock()
	var out []testMsg
	for len(b) > 0 {
		n, hdr := int(b[1]&0x7f), 2
		switch n {
		case 126:
			n, hdr = int(b[2])<<8|int(b[3]), 4
		case 127:
			n, hdr = 0, 10
			for _, x := range b[2:10] {
				n = n<<8 | int(x)
			}
		}
		if b[0] == 0x81 {
			var m testMsg
			if err := json.Unmarshal(b[hdr:hdr+n], &m); err != nil {
				t.Fatalf("frame %q: %v", b[hdr:hdr+n], err)
			}
			out = append(out, m)
		}
		b = b[hdr+n:]
	}
	return out
}

// testHub is a one-loop hub whose loop is a goroutine and a mutex.
type testHub struct {
	*room.Hub
	loop sync.Mutex
}

func newTestHub(t *testing.T) *testHub {
	h := &testHub{Hub: room.NewHub(room.Config{})}
	s := h.Shard(0)
	wake := make(chan struct{}, 1)
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) })
	s.Bind(func() error {
		select {
		case wake <- struct{}{}:
		default:
		}
		return nil
	})
	go func() {
		for {
			select {
			case <-quit:
				return
			case <-wake:
				h.loop.Lock()
				s.Drain()
				h.loop.Unlock()
			}
		}
	}()
	return h
}

func (h *testHub) login(name, roomID string) (*room.Member, *testConn) {
	c := &testConn{}
	h.loop.Lock()
	defer h.loop.Unlock()
	m := h.Shard(0).NewMember(c)
	h.Login(m, name, roomID)
	return m, c
}

// uids of the user_list c got (nil before it).
func userList(t *testing.T, c *testConn) []uint64 {
	for _, m := range c.messages(t) {
		if m.Type == "user_list" {
			var uids []uint64
			for _, u := range m.UserList {
				uids = append(uids, u.UID)
			}
			slices.Sort(uids)
			return uids
		}
	}
	return nil
}

// A room whose events the dispatch channel dropped resynchronises to the
// list the other node has: its members hear of the joins they missed,
// and a later joiner gets the whole list.
func TestDispatchOverflowResync(t *testing.T) {
	var stalled atomic.Bool
	gate := make(chan struct{})
	e := startTestNATS(t)
	a := dialTestNode(t, e.URL())
	setDispatch(t, 4, func() { // node b's only
		if stalled.Load() {
			<-gate
		}
	})
	b := dialTestNode(t, e.URL())
	release := sync.OnceFunc(func() { stalled.Store(false); close(gate) })
	t.Cleanup(release) // before b closes, should the test fail stalled
	ha, hb := newTestHub(t), newTestHub(t)
	if err := a.Start(ha.Hub); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(hb.Hub); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "nodes healthy", func() bool { return a.Healthy() && b.Healthy() })

	alice, ca := ha.login("alice", "x")
	waitUntil(t, "alice's list", func() bool { return userList(t, ca) != nil })
	bob, cb := hb.login("bob", "x")
	waitUntil(t, "bob's list", func() bool { return len(userList(t, cb)) == 2 })
	want := []uint64{alice.UID(), bob.UID()}

	stalled.Store(true)
	for i := range 30 {
		m, _ := ha.login(fmt.Sprint("a", i), "x")
		want = append(want, m.UID())
	}
	waitUntil(t, "the loss", func() bool { return b.LostRooms() > 0 })
	release()

	// bob hears of every member he missed (from the stream or the resync).
	waitUntil(t, "bob's logins", func() bool {
		got := map[uint64]bool{}
		for _, m := range cb.messages(t) {
			if m.Type == "login" {
				got[m.UID] = true
			}
		}
		for _, uid := range want[1:] { // alice was in bob's list
			if !got[uid] {
				return false
			}
		}
		return true
	})
	carol, cc := hb.login("carol", "x")
	want = append(want, carol.UID())
	slices.Sort(want)
	waitUntil(t, "carol's list", func() bool { return userList(t, cc) != nil })
	if got := userList(t, cc); !slices.Equal(got, want) {
		t.Fatalf("carol's list on node b: %v\nwant (node a's): %v", got, want)
	}
	t.Logf("rooms lost on node b: %d", b.LostRooms())
}
