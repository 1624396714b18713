package server_test

// Operations of a cluster node: its counters on /metrics and /readyz
// while NATS is away.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"chatd/cluster"
)

// clusterMetricNames are the metrics of clusterCollector (metrics_cluster.go).
var clusterMetricNames = []string{
	"chatd_cluster_appended_total", "chatd_cluster_rejected_total", "chatd_cluster_publish_retries_total",
	"chatd_cluster_publish_pending", "chatd_cluster_gaps_total", "chatd_cluster_repairs_total",
	"chatd_cluster_syncs_total", "chatd_cluster_sync_failures_total", "chatd_cluster_dropped_total",
	"chatd_cluster_evictions_total", "chatd_cluster_nats_disconnects_total", "chatd_cluster_healthy",
	"chatd_cluster_node",
}

// startAdminNode is startNode with the admin listener on.
func startAdminNode(t *testing.T, url string) *hServer {
	t.Helper()
	ts := startServer(t, clusterOpt(url), adminOn)
	waitFor(t, 5*time.Second, "node healthy", ts.srv.ClusterHealthy)
	return &hServer{srv: ts.srv, addr: ts.addr}
}

// TestClusterMetrics: a node's cluster counters are on /metrics with
// their HELP text, and move as members log in and say.
func TestClusterMetrics(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	n1, n2 := startAdminNode(t, nats.URL()), startNode(t, nats.URL())
	_, body := httpGet(t, "http://"+adminAddr(t, n1)+"/metrics")
	for _, name := range clusterMetricNames {
		if !strings.Contains(body, "# HELP "+name+" ") || !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("/metrics has no %s with its HELP text", name)
		}
	}
	a, b := dial(t, n1.addr, "a"), dial(t, n2.addr, "b")
	ua := a.login("alice", `"r"`)
	ub := b.login("bob", `"r"`, ua)
	a.expect(jLogin(ub))
	a.send(sayAll("hi"))
	a.expect(jSay(ua.uid, "hi"))
	b.expect(jSay(ua.uid, "hi"))
	var m map[string]float64
	waitFor(t, 5*time.Second, "cluster counters moved", func() bool {
		m = scrape(t, n1)
		return m["chatd_cluster_appended_total"] >= 2 && m["chatd_cluster_syncs_total"] >= 1
	})
	if m["chatd_cluster_healthy"] != 1 || m["chatd_cluster_node"] != float64(n1.srv.ClusterNode()) {
		t.Errorf("chatd_cluster_healthy = %v, chatd_cluster_node = %v; want 1, %d", m["chatd_cluster_healthy"], m["chatd_cluster_node"], n1.srv.ClusterNode())
	}
	t.Logf("n1: appended %v, syncs %v", m["chatd_cluster_appended_total"], m["chatd_cluster_syncs_total"])
}

// TestSingleNodeNoClusterMetrics: a single node exports none of them.
func TestSingleNodeNoClusterMetrics(t *testing.T) {
	hs := hStart(t, adminOn)
	_, body := httpGet(t, "http://"+adminAddr(t, hs)+"/metrics")
	if strings.Contains(body, "chatd_cluster_") {
		t.Errorf("a single node's /metrics has chatd_cluster_ metrics")
	}
}

// TestClusterReadyz (issue 9): /readyz answers 503 while the node cannot
// reach the rooms' log (NATS stopped under it) and 200 again once NATS is
// back; /healthz stays 200 throughout.
func TestClusterReadyz(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	addr := nats.Addr()
	n1 := startAdminNode(t, nats.URL())
	admin := "http://" + adminAddr(t, n1)
	status := func(path string) int {
		resp, err := http.Get(admin + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := status("/readyz"); st != http.StatusOK {
		t.Fatalf("/readyz = %d with NATS up; want 200", st)
	}
	a := dial(t, n1.addr, "a")
	a.login("alice", `"r"`)

	nats.Shutdown()
	down := time.Now()
	waitFor(t, 5*time.Second, "/readyz 503 with NATS down", func() bool { return status("/readyz") == http.StatusServiceUnavailable })
	t.Logf("/readyz 503 %v after NATS stopped", time.Since(down).Round(time.Millisecond))
	if st := status("/healthz"); st != http.StatusOK {
		t.Errorf("/healthz = %d with NATS down; want 200 (the process is alive)", st)
	}
	if m := scrape(t, n1); m["chatd_cluster_healthy"] != 0 || m["chatd_cluster_nats_disconnects_total"] < 1 {
		t.Errorf("chatd_cluster_healthy = %v, chatd_cluster_nats_disconnects_total = %v with NATS down; want 0, >= 1",
			m["chatd_cluster_healthy"], m["chatd_cluster_nats_disconnects_total"])
	}
	// It stays 503 while NATS is down, not only at the moment of the loss.
	for range 5 {
		if st := status("/readyz"); st != http.StatusServiceUnavailable {
			t.Fatalf("/readyz = %d %v after NATS stopped; want 503", st, time.Since(down).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}

	startNATS(t, addr)
	waitFor(t, 15*time.Second, "/readyz 200 with NATS back", func() bool { return status("/readyz") == http.StatusOK })
	b := dial(t, n1.addr, "b")
	ub := b.login("bob", `"r2"`)
	b.send(sayAll("back"))
	b.expect(jSay(ub.uid, "back"))
}

// TestClusterStreamDeleted: an operator deletes the rooms' stream while
// the nodes are connected and idle (to wipe the history, say). The nodes
// notice without traffic, create the stream again (a new epoch: the rooms
// start over with their members) and the chat works again on both nodes,
// without a restart or a NATS reconnect. Before, no node noticed: /readyz
// stayed 200 and a login on the other node got no answer.
func TestClusterStreamDeleted(t *testing.T) {
	nats := startNATS(t, "127.0.0.1:0")
	n1, n2 := startAdminNode(t, nats.URL()), startNode(t, nats.URL())
	a, b := dial(t, n1.addr, "a"), dial(t, n2.addr, "b")
	ua := a.login("alice", `"r"`)
	ub := b.login("bob", `"r"`, ua)
	a.expect(jLogin(ub))

	nc, err := natsgo.Connect(nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := cluster.StreamName("chatd")
	old, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, name); err != nil {
		t.Fatalf("deleting the stream: %v", err)
	}
	deleted := time.Now()
	waitFor(t, 15*time.Second, "the stream created again", func() bool {
		_, err := js.Stream(ctx, name)
		return err == nil
	})
	t.Logf("stream back %v after the deletion", time.Since(deleted).Round(time.Millisecond))
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if e0, e1 := old.CachedInfo().Config.Metadata["chatd_epoch"], s.CachedInfo().Config.Metadata["chatd_epoch"]; e1 == "" || e1 == e0 {
		t.Fatalf("epoch of the stream created again %q; want a new one (was %q)", e1, e0)
	}
	waitFor(t, 15*time.Second, "n1 and n2 healthy", func() bool { return n1.srv.ClusterHealthy() && n2.srv.ClusterHealthy() })
	// The rooms start over: a newcomer on either node finds alice and
	// bob listed again, and a say reaches everyone.
	var d *wsClient
	waitFor(t, 20*time.Second, "alice and bob listed again", func() bool {
		if d != nil {
			d.close()
		}
		d = dial(t, n2.addr, "d")
		return len(d.loginList("dave")) == 3
	})
	a.send(sayAll("after"))
	for _, cl := range []*wsClient{a, b, d} {
		cl.skipUntil(jSay(ua.uid, "after"))
	}
}
