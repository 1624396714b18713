package server_test

// End-to-end tests of cluster mode: several nodes (in this process, and
// one chatd subprocess for the SIGKILL test) joined through an embedded
// NATS server, driven by gorilla/websocket clients.

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"chatd/cluster"
	"chatd/server"
)

// Test timings: fast heartbeats so that a dead node is evicted in about a
// second.
const (
	testHeartbeat = 100 * time.Millisecond
	testNodeTTL   = time.Second
)

func startNATS(t *testing.T, listen string) *cluster.Embedded {
	t.Helper()
	e, err := cluster.StartEmbedded(listen)
	if err != nil {
		t.Fatalf("embedded nats: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func clusterOpt(url string) func(*server.Config) {
	return func(c *server.Config) {
		noRateLimit(c)
		c.Cluster = server.ClusterConfig{
			NATSURL: url, Heartbeat: testHeartbeat, NodeTTL: testNodeTTL,
			SyncTimeout: time.Second, AppendTimeout: time.Second, ReconnectWait: 50 * time.Millisecond,
		}
	}
}

func startNode(t *testing.T, url string) *testServer {
	t.Helper()
	ts := startServer(t, clusterOpt(url))
	waitFor(t, 5*time.Second, "node healthy", ts.srv.ClusterHealthy)
	return ts
}

func TestClusterCrossNode(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	n1, n2, n3 := startNode(t, nats.URL()), startNode(t, nats.URL()), startNode(t, nats.URL())
	if ids := []uint64{n1.srv.ClusterNode(), n2.srv.ClusterNode(), n3.srv.ClusterNode()}; ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Fatalf("node ids %v are not unique", ids)
	}

	a, b, c := dial(t, n1.addr, "a"), dial(t, n2.addr, "b"), dial(t, n3.addr, "c")
	ua := a.login("alice", `"r"`)
	ub := b.login("bob", `"r"`, ua)
	a.expect(jLogin(ub))
	uc := c.login("carol<3", `"r"`, ua, ub)
	a.expect(jLogin(uc))
	b.expect(jLogin(uc))
	for _, u := range []user{ua, ub, uc} {
		if u.uid >= 1<<53 || u.uid <= 0 {
			t.Fatalf("uid %d is not a positive JavaScript-safe integer", u.uid)
		}
	}

	t.Run("say", func(t *testing.T) {
		b.send(sayAll("hi <all>"))
		for _, cl := range []*wsClient{a, b, c} {
			cl.expect(jSay(ub.uid, "hi &lt;all&gt;"))
		}
	})
	t.Run("private", func(t *testing.T) {
		a.send(sayMsg(strconv.FormatInt(uc.uid, 10), "psst"))
		c.expect(jPrivate(ua.uid, uc.uid, "psst"))
		a.expect(jPrivate(ua.uid, uc.uid, "psst"))
		a.send(sayMsg(strconv.FormatInt(uc.uid+1000, 10), "nobody"))
		a.expectError("no_such_user")
		a.send(sayMsg(strconv.FormatInt(int64(4242)<<37|1, 10), "no node"))
		a.expectError("no_such_user")
	})
	t.Run("order", func(t *testing.T) {
		clients := []*wsClient{a, b, c}
		const per = 50
		var wg sync.WaitGroup
		for i, cl := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range per {
					_ = cl.sendRaw(sayAll(fmt.Sprintf("%d-%d", i, j)))
				}
			}()
		}
		wg.Wait()
		var seqs [][]string
		for _, cl := range clients {
			var seq []string
			for range per * len(clients) {
				var m struct{ Content string }
				if err := json.Unmarshal(cl.next(), &m); err != nil {
					t.Fatal(err)
				}
				seq = append(seq, m.Content)
			}
			seqs = append(seqs, seq)
		}
		for i := 1; i < len(seqs); i++ {
			if !slices.Equal(seqs[0], seqs[i]) {
				t.Fatalf("client %d saw the room in another order than client 0:\n%v\n%v", i, seqs[i], seqs[0])
			}
		}
	})
	t.Run("logout", func(t *testing.T) {
		c.close()
		a.expect(jLogout(uc.uid))
		b.expect(jLogout(uc.uid))
		b.send(loginMsg("bob", `"other"`))
		b.expectLogin("bob", nil)
		a.expect(jLogout(ub.uid))
		d := dial(t, n3.addr, "d")
		ud := d.login("dave", `"r"`, ua)
		a.expect(jLogin(ud))
		b.expectNothingPending()
	})
}

// TestClusterNATSRestart stops the only NATS server (its memory of the
// rooms' log with it) and starts a new one on the same address. While it
// is down the rooms' log cannot be appended to: a say gets "unavailable"
// and nothing reaches anybody, on any node; the lists stay as they were.
// When it is back the log starts over and every node joins its members
// again: the lists are equal on both nodes and chat goes on.
func TestClusterNATSRestart(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	addr := nats.Addr()
	n1, n2 := startNode(t, nats.URL()), startNode(t, nats.URL())
	a, b := dial(t, n1.addr, "a"), dial(t, n2.addr, "b")
	ua := a.login("alice", `"r"`)
	ub := b.login("bob", `"r"`, ua)
	a.expect(jLogin(ub))

	nats.Shutdown()
	waitFor(t, 5*time.Second, "n1 not ready", func() bool { return !n1.srv.ClusterHealthy() })
	waitFor(t, 5*time.Second, "n2 not ready", func() bool { return !n2.srv.ClusterHealthy() })
	a.send(sayAll("alone"))
	a.expect(`{"type":"error","code":"unavailable","reason":"the chat is unavailable, try again"}`)

	startNATS(t, addr)
	waitFor(t, 15*time.Second, "n1 ready again", n1.srv.ClusterHealthy)
	waitFor(t, 15*time.Second, "n2 ready again", n2.srv.ClusterHealthy)
	// Each node joins its members again as it resynchronises: wait until
	// a newcomer's list has them all, then compare both nodes' lists.
	var d *wsClient
	var ul []listEntry
	waitFor(t, 10*time.Second, "alice and bob listed again", func() bool {
		if d != nil {
			d.close()
		}
		d = dial(t, n2.addr, "d")
		ul = d.loginList("dave")
		return len(ul) == 3
	})
	e := dial(t, n1.addr, "e")
	if ul2 := e.loginList("erin"); len(ul2) != 4 || fmt.Sprint(ul2[:3]) != fmt.Sprint(ul) {
		t.Fatalf("n1's list %v is not n2's %v plus erin", ul2, ul)
	}
	b.send(sayAll("back"))
	for _, cl := range []*wsClient{a, b, d, e} {
		cl.skipUntil(jSay(ub.uid, "back"))
	}
}

// TestClusterNodeKill runs the second node as a chatd process and kills
// it with SIGKILL: its members must leave the first node's room.
func TestClusterNodeKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a chatd subprocess")
	}
	bin := filepath.Join(t.TempDir(), "chatd")
	if out, err := exec.Command("go", "build", "-o", bin, "chatd/cmd/chatd").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	nats := startNATS(t, "127.0.0.1:0")
	n1 := startNode(t, nats.URL())
	port := freePort(t)
	cmd := exec.Command(bin, "-listen", "127.0.0.1:"+strconv.Itoa(port), "-web-listen", "off", "-admin-listen", "off",
		"-nats-url", nats.URL(), "-cluster-heartbeat", testHeartbeat.String(), "-cluster-node-ttl", testNodeTTL.String(),
		"-log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL); _ = cmd.Wait() })
	addr2 := "127.0.0.1:" + strconv.Itoa(port)
	var b *wsClient
	waitFor(t, 10*time.Second, "chatd subprocess accepts", func() bool {
		c, err := dialPath(t, addr2, "/", "b")
		b = c
		return err == nil
	})

	a := dial(t, n1.addr, "a")
	ua := a.login("alice", `"r"`)
	ub := b.login("bob", `"r"`, ua)
	a.expect(jLogin(ub))
	b.send(sayAll("before"))
	a.expect(jSay(ub.uid, "before"))

	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m, err := a.recv(10 * time.Second)
	if err != nil {
		t.Fatalf("no logout of the killed node's member: %v", err)
	}
	if err := sameJSON(m.data, jLogout(ub.uid)); err != nil {
		t.Fatalf("got %s; want the logout of %d: %v", m.data, ub.uid, err)
	}
	t.Logf("killed node's member evicted after %v (ttl %v)", time.Since(killed).Round(10*time.Millisecond), testNodeTTL)
	c := dial(t, n1.addr, "c")
	c.login("carol", `"r"`, ua)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type listEntry struct {
	UID  int64
	Name string
}

// loginList logs in as name into room "r" and returns its user_list.
func (c *wsClient) loginList(name string) []listEntry {
	c.t.Helper()
	c.send(loginMsg(name, `"r"`))
	for {
		var ul struct {
			UserList []listEntry `json:"user_list"`
		}
		if raw := c.next(); json.Unmarshal(raw, &ul) == nil && ul.UserList != nil {
			return ul.UserList
		}
	}
}

// skipUntil reads messages until one equals want (notices of a resync
// may come first).
func (c *wsClient) skipUntil(want string) {
	c.t.Helper()
	for {
		m, err := c.recv(10 * time.Second)
		if err != nil {
			c.t.Fatalf("%s: no %s: %v", c.name, want, err)
		}
		if sameJSON(m.data, want) == nil {
			return
		}
	}
}

// TestClusterGoroutinesPerNode: a node's goroutines do not grow with the
// rooms it has members in (one dispatcher for every room subscription;
// no goroutine per room or per connection).
func TestClusterGoroutinesPerNode(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	n1 := startServer(t, clusterOpt(nats.URL()), func(c *server.Config) {
		c.DrainBatch, c.DrainInterval = 1000, time.Millisecond // 310 members: a paced drain would outlast the test's stop
	})
	waitFor(t, 5*time.Second, "node healthy", n1.srv.ClusterHealthy)
	count := func(rooms int) {
		for i := range rooms {
			c := dial(t, n1.addr, "g")
			c.login("g", strconv.Quote(fmt.Sprintf("g-%d-%d", rooms, i)))
		}
	}
	count(10)
	base := serverGoroutines()
	count(300)
	got := serverGoroutines()
	t.Logf("goroutines with 10 rooms: %d; with 310 rooms: %d", base, got)
	if got > base+20 {
		t.Fatalf("goroutines grew from %d to %d for 300 more rooms; want O(1) per node", base, got)
	}
}

// serverGoroutines counts the process's goroutines but the test clients'
// readers.
func serverGoroutines() int {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "wsClient") {
			n++
		}
	}
	return n
}
