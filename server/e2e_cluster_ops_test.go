package server_test

// Operations of a cluster node: its counters on /metrics.

import (
	"strings"
	"testing"
	"time"
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
