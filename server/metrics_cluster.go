package server

import "github.com/prometheus/client_golang/prometheus"

// clusterCollector exports the cluster node's counters (cluster.Metrics)
// at scrape time. On a single node it exports nothing.
type clusterCollector struct{ s *Server }

var (
	descClAppended   = desc("chatd_cluster_appended_total", "Room events (logins, says, leaves) the rooms' log acknowledged.")
	descClRejected   = desc("chatd_cluster_rejected_total", "Says and logins the log did not take (publish queue full, or not acknowledged within append_timeout); each sender got an unavailable error.")
	descClRetries    = desc("chatd_cluster_publish_retries_total", "Times the publisher sent its unacknowledged appends again after a failure.")
	descClPending    = desc("chatd_cluster_publish_pending", "Appends queued or waiting for the log's acknowledgement now.")
	descClGaps       = desc("chatd_cluster_gaps_total", "Live room events that arrived before their predecessor (each starts a repair).")
	descClRepairs    = desc("chatd_cluster_repairs_total", "Catch-ups of a room from the log (after a gap, a slow-consumer drop or a reconnection).")
	descClSyncs      = desc("chatd_cluster_syncs_total", "Rooms subscribed and brought up to date from the log (on open and after a reconnection).")
	descClSyncFails  = desc("chatd_cluster_sync_failures_total", "Syncs and repairs that failed and were retried.")
	descClDropped    = desc("chatd_cluster_dropped_total", "Room events NATS dropped because a subscription could not keep up (each starts a repair).")
	descClEvictions  = desc("chatd_cluster_evictions_total", "Other nodes declared gone (silent past node_ttl) whose members were evicted.")
	descClDisconnect = desc("chatd_cluster_nats_disconnects_total", "Times the connection to NATS was lost.")
	descClHealthy    = desc("chatd_cluster_healthy", "1 while the node can append to and read its rooms' logs (what /readyz checks), else 0.")
	descClNode       = desc("chatd_cluster_node", "This node's id in the cluster.")
)

// Describe implements prometheus.Collector.
func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClAppended, descClRejected, descClRetries, descClPending,
		descClGaps, descClRepairs, descClSyncs, descClSyncFails, descClDropped, descClEvictions,
		descClDisconnect, descClHealthy, descClNode} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.cl.Load()
	if st == nil {
		return
	}
	n, m := st.node, st.node.Stats()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descClAppended, m.Appended.Load())
	counter(descClRejected, m.Rejected.Load())
	counter(descClRetries, m.Retries.Load())
	gauge(descClPending, float64(n.Pending()))
	counter(descClGaps, m.Gaps.Load())
	counter(descClRepairs, m.Repairs.Load())
	counter(descClSyncs, m.Syncs.Load())
	counter(descClSyncFails, m.SyncFailures.Load())
	counter(descClDropped, m.Dropped.Load())
	counter(descClEvictions, m.Evictions.Load())
	counter(descClDisconnect, int64(n.Drops()))
	healthy := 0.0
	if n.Healthy() {
		healthy = 1
	}
	gauge(descClHealthy, healthy)
	gauge(descClNode, float64(n.ID()))
}
