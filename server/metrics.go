package server

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// loopStats are one loop's hot-path counters. Only that loop writes them
// (an uncontended atomic add on a line no other core writes); a scrape
// sums them. Padded so that two loops never share a cache line.
type loopStats struct {
	framesOut atomic.Int64 // frames handed to connections by the room fan-out
	bytesOut  atomic.Int64
	bytesIn   atomic.Int64 // frame bytes parsed
	wakeAt    atomic.Int64 // unix nanos of the oldest undrained room event; 0 if none
	_         [32]byte
}

// fanoutBuckets span a local drain (tens of µs) to a badly loaded loop.
var fanoutBuckets = []float64{25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1}

func newFanoutHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "chatd_fanout_latency_seconds",
		Help:    "Time from a room event being queued for a loop (broadcast, login, logout, private) until the loop has written it to its members; one observation per loop pass.",
		Buckets: fanoutBuckets,
	})
}

// instrument wraps a new loop's drain task so that each pass observes the
// fan-out latency: from the queueing of the oldest event of the batch
// (Shard.OnQueue: a wake-up by another loop comes later) to the end of
// the flush. Called from loopOf before the
// loop has connections. Costs one clock read per pass, not per message.
func (s *Server) instrument(l *loop) {
	ls := &s.ops.loops[l.shard.Index()]
	sh, el, hist := l.shard, l.el, s.ops.fanout
	l.drainTask = gnet.RunnableFunc(func(context.Context) error {
		t0 := ls.wakeAt.Swap(0)
		sh.Drain()
		if t0 != 0 {
			hist.Observe(float64(time.Now().UnixNano()-t0) / 1e9)
		}
		return nil
	})
	sh.OnQueue(func() { ls.wakeAt.CompareAndSwap(0, time.Now().UnixNano()) })
	sh.Bind(func() error { return el.Execute(context.Background(), l.drainTask) })
}

// countOut records a room write of whole server frames. Loop-owned.
func (c *conn) countOut(b []byte) {
	ls := &c.l.srv.ops.loops[c.l.shard.Index()]
	ls.bytesOut.Add(int64(len(b)))
	ls.framesOut.Add(int64(countFrames(b)))
}

// countIn records n parsed frame bytes. Loop-owned.
func (c *conn) countIn(n int) {
	if n > 0 {
		c.l.srv.ops.loops[c.l.shard.Index()].bytesIn.Add(int64(n))
	}
}

// countFrames counts the unmasked frames in b by skipping from header to
// header: a few bytes read per frame, no payload touched.
func countFrames(b []byte) int {
	n := 0
	for len(b) >= 2 {
		size, hdr := int(b[1]&0x7f), 2
		switch size {
		case 126:
			if len(b) < 4 {
				return n + 1
			}
			size, hdr = int(b[2])<<8|int(b[3]), 4
		case 127:
			if len(b) < 10 {
				return n + 1
			}
			size = 0
			for _, x := range b[2:10] {
				size = size<<8 | int(x)
			}
			hdr = 10
		}
		n++
		if size < 0 || hdr+size > len(b) {
			return n
		}
		b = b[hdr+size:]
	}
	return n
}

// collector exports the server's counters at scrape time: the hot paths
// only bump atomics, and nothing here is looked up per message.
type collector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descAccepted    = desc("chatd_connections_accepted_total", "TCP connections accepted.")
	descOpen        = desc("chatd_connections", "Connections open now (handshaking, open or closing).")
	descUpgraded    = desc("chatd_upgrades_total", "WebSocket upgrades completed.")
	descRefused     = desc("chatd_handshakes_refused_total", "Connections refused before or at the upgrade, by reason.", "reason")
	descLogins      = desc("chatd_logins_total", "Successful logins (including re-logins).")
	descRooms       = desc("chatd_rooms", "Rooms with members now.")
	descMsgIn       = desc("chatd_messages_in_total", "Data messages received.")
	descMsgOut      = desc("chatd_messages_out_total", "Frames delivered to chat members by room fan-out.")
	descBytesIn     = desc("chatd_bytes_in_total", "WebSocket frame bytes received.")
	descBytesOut    = desc("chatd_bytes_out_total", "Bytes written to chat members by room fan-out.")
	descDisconnects = desc("chatd_disconnects_total", "Connections closed, by reason.", "reason")
	descSlow        = desc("chatd_slow_consumers_total", "Members cut off with 1008 for not reading.")
	descRateLimited = desc("chatd_rate_limited_total", "Messages refused with rate_limited.")
	descErrReplies  = desc("chatd_error_replies_total", "Error messages sent to clients.")
	descQueueAge    = desc("chatd_loop_queue_age_seconds", "Age of the oldest room event waiting for each loop (0: idle).", "loop")
	descDraining    = desc("chatd_draining", "1 while the server drains.")
	descShed        = desc("chatd_connections_shed_total", "Chat connections answered 503 and closed at accept because the process was out of file descriptors (or one could not be handed to a loop).")
	descAcceptErrs  = desc("chatd_accept_errors_total", "Other errors of the chat listener's accept (retried after a pause).")
)

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAccepted, descOpen, descUpgraded, descRefused,
		descLogins, descRooms, descMsgIn, descMsgOut, descBytesIn, descBytesOut, descDisconnects,
		descSlow, descRateLimited, descErrReplies, descQueueAge, descDraining, descShed, descAcceptErrs} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, st, lm := c.s, &c.s.stats, c.s.ops.limits
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(descAccepted, st.Accepted.Load())
	gauge(descOpen, float64(st.Open.Load()))
	counter(descUpgraded, st.Upgraded.Load())
	counter(descRefused, lm.refusedLimit.Load(), "limit")
	counter(descRefused, lm.refusedPerIP.Load(), "per_ip")
	counter(descRefused, lm.refusedPending.Load(), "handshakes_per_ip")
	counter(descRefused, s.ops.originRefused.Load(), "origin")
	counter(descRefused, s.ops.authRefused.Load(), "auth")
	counter(descRefused, max(0, st.Refused.Load()-s.ops.originRefused.Load()-s.ops.authRefused.Load()-s.ops.forwardRefused.Load()-st.HandshakeTimeouts.Load()), "bad_request")
	counter(descLogins, st.Logins.Load())
	gauge(descRooms, float64(s.hub.Rooms()))
	counter(descMsgIn, st.MessagesIn.Load())
	var out, bout, bin int64
	now := time.Now().UnixNano()
	for i := range s.ops.loops {
		ls := &s.ops.loops[i]
		out += ls.framesOut.Load()
		bout += ls.bytesOut.Load()
		bin += ls.bytesIn.Load()
		age := 0.0
		if t := ls.wakeAt.Load(); t != 0 && now > t {
			age = float64(now-t) / 1e9
		}
		gauge(descQueueAge, age, strconv.Itoa(i))
	}
	counter(descMsgOut, out)
	counter(descBytesIn, bin)
	counter(descBytesOut, bout)
	c.disconnects(counter)
	counter(descSlow, st.SlowConsumers.Load())
	counter(descRateLimited, lm.rateLimited.Load())
	counter(descErrReplies, st.ErrorReplies.Load())
	counter(descShed, s.ops.shed.Load())
	counter(descAcceptErrs, s.ops.acceptErrors.Load())
	draining := 0.0
	if s.draining.Load() {
		draining = 1
	}
	gauge(descDraining, draining)
}

func (c collector) disconnects(counter func(*prometheus.Desc, int64, ...string)) {
	st, o := &c.s.stats, &c.s.ops
	known := map[string]int64{
		"handshake_timeout": st.HandshakeTimeouts.Load(),
		"idle_timeout":      st.IdleTimeouts.Load(),
		"protocol_error":    st.ProtocolErrors.Load(),
		"slow_consumer":     st.SlowConsumers.Load(),
		"rate_limit":        o.limits.rateClosed.Load(),
		"drain":             o.drained.Load(),
	}
	closed := st.Accepted.Load() - st.Open.Load()
	for reason, v := range known {
		counter(descDisconnects, v, reason)
		closed -= v
	}
	// Everything else: the peer closed, a refused handshake, an error.
	counter(descDisconnects, max(0, closed), "other")
}

// newRegistry returns the admin registry: chatd's collectors (the
// cluster's exports nothing on a single node), the fan-out histogram, and
// the Go runtime and process collectors.
func (s *Server) newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s}, clusterCollector{s}, s.ops.fanout,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
