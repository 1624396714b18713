package cluster

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ClusterName is the NATS cluster name of StartNATS's servers.
const ClusterName = "chatd-faults"

// NATS is a cluster of nats-server instances running in this process,
// with routes between every pair and JetStream on (each server its own
// store directory). Every client and route connection passes through a
// link (proxy.go) on a port fixed for the cluster's lifetime, so a
// killed server comes back on the same addresses with the same store.
type NATS struct {
	// Immutable after StartNATS.
	t       testing.TB
	names   []string // server names: n1, n2, ...
	dirs    []string // JetStream store directories
	cport   []int    // inner client ports (behind client links)
	rport   []int    // inner route ports (behind route links)
	clients []*link  // clients[i]: the public client address of server i
	routes  [][]*link
	mon     *nats.Conn // a connection to any live server, for JetStream queries
	js      nats.JetStreamContext

	// Guarded by mu.
	mu   sync.Mutex
	srvs []*natsserver.Server // nil while killed
}

// StartNATS starts n routed nats-server instances and waits until
// JetStream has a meta leader. They are shut down when the test ends.
func StartNATS(t testing.TB, n int) *NATS {
	t.Helper()
	c := &NATS{t: t, srvs: make([]*natsserver.Server, n), routes: make([][]*link, n)}
	base := t.TempDir()
	for i := range n {
		c.names = append(c.names, "n"+strconv.Itoa(i+1))
		c.dirs = append(c.dirs, filepath.Join(base, c.names[i]))
		c.cport = append(c.cport, freePort(t))
		c.rport = append(c.rport, freePort(t))
	}
	for i := range n {
		c.clients = append(c.clients, mustLink(t, "127.0.0.1:"+strconv.Itoa(c.cport[i])))
		c.routes[i] = make([]*link, n)
		for j := range n {
			if i != j {
				c.routes[i][j] = mustLink(t, "127.0.0.1:"+strconv.Itoa(c.rport[j]))
			}
		}
	}
	t.Cleanup(c.close)
	for i := range n {
		if err := c.start(i); err != nil {
			t.Fatal(err)
		}
	}
	mon, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Name("faults-monitor"),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatalf("monitor connection: %v", err)
	}
	c.mon = mon
	if c.js, err = mon.JetStream(nats.MaxWait(2 * time.Second)); err != nil {
		t.Fatalf("jetstream context: %v", err)
	}
	if err := c.WaitJetStream(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustLink(t testing.TB, target string) *link {
	l, err := newLink(target)
	if err != nil {
		t.Fatalf("link to %s: %v", target, err)
	}
	return l
}

func (c *NATS) opts(i int) *natsserver.Options {
	var routes []*url.URL
	for j, l := range c.routes[i] {
		if j != i {
			routes = append(routes, &url.URL{Scheme: "nats-route", Host: l.Addr()})
		}
	}
	return &natsserver.Options{
		ServerName: c.names[i],
		Host:       "127.0.0.1",
		Port:       c.cport[i],
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 8 << 20, // as chatd's embedded server (cluster.EmbeddedMaxPayload)
		MaxPending: 256 << 20,
		JetStream:  true,
		StoreDir:   c.dirs[i],
		// Memory streams by default; file streams of a redesign fit too.
		JetStreamMaxMemory: 1 << 30,
		JetStreamMaxStore:  1 << 30,
		Cluster: natsserver.ClusterOpts{
			Name: ClusterName, Host: "127.0.0.1", Port: c.rport[i],
			// Peers must reach a server only through the links: no
			// gossiped route or client URLs (a dead address instead of
			// the inner route port).
			Advertise:   "127.0.0.1:1",
			NoAdvertise: true,
		},
		Routes: routes,
	}
}

func (c *NATS) start(i int) error {
	srv, err := natsserver.NewServer(c.opts(i))
	if err != nil {
		return fmt.Errorf("nats server %s: %w", c.names[i], err)
	}
	go srv.Start()
	// 30 s, as a chatd node's readiness (chatd.go): on a loaded machine
	// under -race one start of three took over 10 s once (TestKillChatdNode).
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("nats server %s not ready in 30s", c.names[i])
	}
	c.mu.Lock()
	c.srvs[i] = srv
	c.mu.Unlock()
	c.clients[i].open()
	for j := range c.routes {
		if j != i {
			c.routes[i][j].open()
			c.routes[j][i].open()
		}
	}
	return nil
}

// N is the number of servers.
func (c *NATS) N() int { return len(c.names) }

// Name is server i's name ("n1" for i = 0), as StreamInfo reports leaders.
func (c *NATS) Name(i int) string { return c.names[i] }

// URL is server i's client URL; it stays the same across restarts.
func (c *NATS) URL(i int) string { return "nats://" + c.clients[i].Addr() }

// URLs is every server's client URL, comma-separated (chatd's -nats-url).
func (c *NATS) URLs() string {
	var us []string
	for i := range c.names {
		us = append(us, c.URL(i))
	}
	return strings.Join(us, ",")
}

// Alive reports whether server i runs.
func (c *NATS) Alive(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srvs[i] != nil
}

// Server returns server i, nil while it is killed.
func (c *NATS) Server(i int) *natsserver.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.srvs[i]
}

// Kill is the in-process equivalent of kill -9 of server i: every TCP
// connection to and from it (clients and routes) is reset at once and new
// ones are refused, then the server is shut down behind the cut, so its
// graceful part (stepping down its Raft leaderships, the eventing
// system's goodbyes) reaches no peer and no client. Its store directory
// is kept for Restart.
func (c *NATS) Kill(i int) {
	c.mu.Lock()
	srv := c.srvs[i]
	c.srvs[i] = nil
	c.mu.Unlock()
	if srv == nil {
		return
	}
	c.clients[i].cut()
	for j := range c.routes {
		if j != i {
			c.routes[i][j].cut()
			c.routes[j][i].cut()
		}
	}
	done := make(chan struct{})
	go func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownBound):
		// Seen once with the room-log redesign (2026-12-03): a stream's
		// lock and the jetStream lock waiting on each other inside
		// nats-server, so Shutdown never returns. Fail instead of
		// hanging the test binary, and keep the stacks.
		c.t.Errorf("nats server %s: %v", c.names[i], stuckShutdown())
	}
}

// shutdownBound bounds a killed server's shutdown.
const shutdownBound = 30 * time.Second

// stuckShutdown writes every goroutine's stack to a file that outlives
// the test and says where.
func stuckShutdown() string {
	return fmt.Sprintf("shutdown not done in %v (deadlocked?); goroutines in %s", shutdownBound, dumpGoroutines("nats"))
}

// dumpGoroutines writes every goroutine's stack to a file that outlives
// the test and returns its name (or why there is none).
func dumpGoroutines(what string) string {
	f, err := os.CreateTemp("", "chatd-faults-stuck-"+what+"-*.txt")
	if err != nil {
		return fmt.Sprintf("no file (goroutine dump failed: %v)", err)
	}
	defer f.Close()
	_ = pprof.Lookup("goroutine").WriteTo(f, 2)
	return f.Name()
}

// Restart starts killed server i again on the same ports with the same
// store directory.
func (c *NATS) Restart(i int) {
	c.t.Helper()
	if c.Alive(i) {
		return
	}
	if err := c.start(i); err != nil {
		c.t.Fatal(err)
	}
}

// KillAll kills every server (in index order).
func (c *NATS) KillAll() {
	for i := range c.names {
		c.Kill(i)
	}
}

// RestartAll restarts every killed server.
func (c *NATS) RestartAll() {
	for i := range c.names {
		c.Restart(i)
	}
}

// MetaLeader is the index of the server leading the JetStream meta
// group, -1 if none has been elected.
func (c *NATS) MetaLeader() int {
	for i := range c.names {
		if s := c.Server(i); s != nil && s.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// StreamLeader is the index of the server leading stream (for an R1
// stream: the server holding it), as StreamInfo reports it.
func (c *NATS) StreamLeader(stream string) (int, error) {
	si, err := c.js.StreamInfo(stream, nats.MaxWait(2*time.Second))
	if err != nil {
		return -1, fmt.Errorf("stream info %s: %w", stream, err)
	}
	if si.Cluster == nil || si.Cluster.Leader == "" {
		return -1, fmt.Errorf("stream %s: %w", stream, ErrNoLeader)
	}
	for i, n := range c.names {
		if n == si.Cluster.Leader {
			return i, nil
		}
	}
	return -1, fmt.Errorf("stream %s: leader %q is not ours", stream, si.Cluster.Leader)
}

// SeparateLeaders makes stream's leader another server than the meta
// leader, if they coincide, by asking the stream's Raft leader to step
// down (a replicated stream only; an R1 stream cannot move), so that
// killing one does not kill the other. It reports whether they differ.
func (c *NATS) SeparateLeaders(stream string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		s, err := c.StreamLeader(stream)
		m := c.MetaLeader()
		if err == nil && m >= 0 && s != m {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		if srv := c.Server(s); err == nil && srv != nil {
			_ = srv.JetStreamStepdownStream(natsserver.DEFAULT_GLOBAL_ACCOUNT, stream)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// WaitStreamLeader polls StreamLeader until it answers or d passes.
func (c *NATS) WaitStreamLeader(stream string, d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	for {
		i, err := c.StreamLeader(stream)
		if err == nil || time.Now().After(deadline) {
			return i, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ServerOf is the index of the server that the NATS client named name
// (chatd: "chatd-<node id>") is connected to, -1 if none.
func (c *NATS) ServerOf(name string) int {
	for i := range c.names {
		s := c.Server(i)
		if s == nil {
			continue
		}
		cz, err := s.Connz(&natsserver.ConnzOptions{Limit: 1 << 16})
		if err != nil {
			continue
		}
		for _, ci := range cz.Conns {
			if ci.Name == name {
				return i
			}
		}
	}
	return -1
}

// WaitJetStream waits until a meta leader is elected and JetStream
// answers account requests.
func (c *NATS) WaitJetStream(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if c.MetaLeader() >= 0 {
			if _, err := c.js.AccountInfo(nats.MaxWait(time.Second)); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w within %v", ErrNoLeader, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *NATS) close() {
	if c.mon != nil {
		c.mon.Close()
	}
	var wg sync.WaitGroup
	for i := range c.names {
		wg.Add(1)
		go func() { defer wg.Done(); c.Kill(i) }()
	}
	wg.Wait()
	for _, l := range c.clients {
		l.close()
	}
	for _, row := range c.routes {
		for _, l := range row {
			if l != nil {
				l.close()
			}
		}
	}
}

// freePort is a loopback port free right now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
