package server_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"chatd/server"
)

// TestE2EOrderAcrossSenders has several members say things concurrently:
// every member sees the same sequence, each sender's messages in order,
// none lost.
func TestE2EOrderAcrossSenders(t *testing.T) {
	t.Parallel()
	const n, m = 5, 40
	ts := startServer(t, noRateLimit)
	var clients []*wsClient
	var users []user
	for i := 0; i < n; i++ {
		c := dial(t, ts.addr, fmt.Sprintf("s%d", i))
		u := c.login(c.name, "", users...)
		for _, prev := range clients {
			prev.expect(jLogin(u))
		}
		clients, users = append(clients, c), append(users, u)
	}
	sender := map[int64]int{}
	for i, u := range users {
		sender[u.uid] = i
	}

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < m; k++ {
				if err := c.sendRaw(sayAll(fmt.Sprintf("s%d-%03d", i, k))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	seqs := make([][]string, n)
	for i, c := range clients {
		next := make([]int, n) // next k expected from each sender
		for len(seqs[i]) < n*m {
			raw := c.next()
			var msg struct {
				FromUID int64 `json:"from_uid"`
				Content string
			}
			if err := json.Unmarshal(raw, &msg); err != nil {
				t.Fatalf("%s got %s: %v", c.name, raw, err)
			}
			s, ok := sender[msg.FromUID]
			want := fmt.Sprintf("s%d-%03d", s, next[s])
			if !ok || msg.Content != want {
				t.Fatalf("%s: message %d = %s; want the next say of its sender (%q)", c.name, len(seqs[i]), raw, want)
			}
			if err := sameJSON(raw, jSay(msg.FromUID, want)); err != nil {
				t.Fatalf("%s got %s: %v", c.name, raw, err)
			}
			next[s]++
			seqs[i] = append(seqs[i], want)
		}
		c.expectNothingPending()
	}
	for i := 1; i < n; i++ {
		for j := range seqs[0] {
			if seqs[i][j] != seqs[0][j] {
				t.Fatalf("message %d: %s saw %q, %s saw %q; want the same sequence", j, clients[0].name, seqs[0][j], clients[i].name, seqs[i][j])
			}
		}
	}
}

// TestE2EUIDBurst logs 200 clients in at once: every uid is distinct and
// positive, and uids are not reused after their connections close.
func TestE2EUIDBurst(t *testing.T) {
	t.Parallel()
	const n = 200
	// All from one address at once: lift its handshake cap (limits are
	// tested in e2e_limits_test.go).
	ts := startServer(t, func(c *server.Config) { c.MaxHandshakesPerIP = n })
	type result struct {
		c   *wsClient
		uid int64
		err error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, uid, err := burstLogin(t, ts.addr, i)
			results[i] = result{c, uid, err}
		}()
	}
	close(start)
	wg.Wait()

	seen := map[int64]int{}
	var maxUID int64
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("client %d: %v", i, r.err)
		}
		if r.uid < 1 {
			t.Errorf("client %d: uid = %d; want >= 1", i, r.uid)
		}
		if j, dup := seen[r.uid]; dup {
			t.Errorf("clients %d and %d both got uid %d", j, i, r.uid)
		}
		seen[r.uid] = i
		maxUID = max(maxUID, r.uid)
	}
	if got := ts.srv.Stats().Logins.Load(); got != n {
		t.Errorf("Stats().Logins = %d; want %d", got, n)
	}
	for _, r := range results[:50] {
		r.c.close()
	}
	fresh := dial(t, ts.addr, "fresh")
	u := fresh.login("fresh", `"fresh"`)
	if _, reused := seen[u.uid]; reused || u.uid <= maxUID {
		t.Errorf("uid after the burst = %d; want a new uid above %d", u.uid, maxUID)
	}
}

// burstLogin dials and logs client i in (one of 4 rooms), returning its
// uid; it checks the user_list and login it gets. Safe in any goroutine.
func burstLogin(t *testing.T, addr string, i int) (*wsClient, int64, error) {
	name := fmt.Sprintf("u%03d", i)
	c, err := dialPath(t, addr, "/", name)
	if err != nil {
		return nil, 0, err
	}
	if err := c.sendRaw(loginMsg(name, fmt.Sprintf(`"b%d"`, i%4))); err != nil {
		return c, 0, err
	}
	m, err := c.recv(readTimeout)
	if err != nil {
		return c, 0, err
	}
	var ul struct {
		Type     string
		UserList []struct {
			UID  int64
			Name string
		} `json:"user_list"`
	}
	if err := json.Unmarshal(m.data, &ul); err != nil || ul.Type != "user_list" || len(ul.UserList) == 0 {
		return c, 0, fmt.Errorf("first message %s; want a user_list (%v)", m.data, err)
	}
	uids := map[int64]bool{}
	for _, e := range ul.UserList {
		if uids[e.UID] {
			return c, 0, fmt.Errorf("user_list %s has uid %d twice", m.data, e.UID)
		}
		uids[e.UID] = true
	}
	me := ul.UserList[len(ul.UserList)-1]
	if me.Name != name {
		return c, 0, fmt.Errorf("user_list %s does not end with %s", m.data, name)
	}
	m, err = c.recv(readTimeout)
	if err != nil {
		return c, 0, err
	}
	if err := sameJSON(m.data, jLogin(user{me.UID, name})); err != nil {
		return c, 0, fmt.Errorf("second message %s: %v", m.data, err)
	}
	return c, me.UID, nil
}
