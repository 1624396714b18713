package load

import (
	"fmt"
	"io"
	"strings"
	"time"

	"chatd/bench"
)

// Result is what one scenario phase measured against one server; the suite
// writes it as the raw JSON of the report.
type Result struct {
	Scenario string         `json:"scenario"` // connect, broadcast, private, storm
	Label    string         `json:"label"`    // e.g. broadcast-1000/closed
	Server   string         `json:"server"`
	Params   map[string]any `json:"params"`
	OK       bool           `json:"ok"`
	Problems []string       `json:"problems,omitempty"`
	// Incomplete marks a scenario that never reached its measurement: the
	// server did not start, or its clients could not all connect and log
	// in within the scenario's bound. Problems say why.
	Incomplete bool `json:"incomplete,omitempty"`

	Conns       int `json:"conns"`
	Established int `json:"established"`
	Failed      int `json:"failed"`
	Dropped     int `json:"dropped"`

	Login       Summary `json:"login"` // handshake + login latency
	ConnectSecs float64 `json:"connect_secs"`
	ConnectRate float64 `json:"connect_rate"`
	Logins      int64   `json:"logins"`
	WantLogins  int64   `json:"want_logins"`

	RSSBefore    int64   `json:"rss_before"`
	RSSFull      int64   `json:"rss_full"`
	HeapBefore   int64   `json:"heap_before"` // -1: no endpoint
	HeapFull     int64   `json:"heap_full"`
	BytesPerConn float64 `json:"rss_per_conn"`
	HeapPerConn  float64 `json:"heap_per_conn"`
	// LiveBefore and LiveFull are the Go heap right after a forced GC
	// (connect: at start and at full load, sampled after RSS), -1 when the
	// server has no endpoint; LivePerConn is their difference per client.
	LiveBefore  int64   `json:"live_heap_before"`
	LiveFull    int64   `json:"live_heap_full"`
	LivePerConn float64 `json:"live_heap_per_conn"`

	Sent             int64   `json:"sent"`
	Expected         int64   `json:"expected"`
	Delivered        int64   `json:"delivered"`
	Loss             int64   `json:"loss"`
	Seconds          float64 `json:"seconds"`
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	Latency          Summary `json:"latency"`

	ServerCPU   float64 `json:"server_cpu_secs"`
	IdleCPU     float64 `json:"idle_server_cpu_secs,omitempty"` // connect: server CPU while holding idle
	GenCPU      float64 `json:"generator_cpu_secs"`
	CPUPerDeliv float64 `json:"server_cpu_ns_per_delivery"`
	// ServerWrites counts the server's write-family system calls in the
	// window (/proc/<pid>/io syscw: socket writes and writevs, and the
	// eventfd writes that wake an event loop); 0 when unknown.
	ServerWrites  int64   `json:"server_writes,omitempty"`
	DelivPerWrite float64 `json:"deliveries_per_write,omitempty"`
	StormSecs     float64 `json:"storm_secs"`
	// MachineCPU is the CPU time the whole machine was busy during the
	// window; OtherCPU what of it was neither the server nor the generator
	// (other work sharing the machine).
	MachineCPU float64 `json:"machine_cpu_secs"`
	OtherCPU   float64 `json:"other_cpu_secs"`

	// Nodes are the server processes one by one (a cluster's nodes), at
	// rest after start and at full load (connect) or after the phase.
	Nodes     []NodeStat `json:"nodes,omitempty"`
	NodesFull []NodeStat `json:"nodes_full,omitempty"`
	// HeapProfiles are files with each node's heap profile (after a GC) at
	// full load, relative to the results directory.
	HeapProfiles []string `json:"heap_profiles,omitempty"`

	LoginHist   *bench.Hist `json:"login_hist,omitempty"`
	LatencyHist *bench.Hist `json:"latency_hist,omitempty"`
}

// NodeStat is one server process at one moment. Figures a process does not
// expose are -1.
type NodeStat struct {
	Index      int     `json:"index"` // 1-based position in the group
	Node       int     `json:"node"`  // cluster node id, 0 outside a cluster
	NATS       bool    `json:"nats"`  // runs the cluster's embedded NATS server
	PID        int     `json:"pid"`
	CPU        float64 `json:"cpu_secs"`
	RSS        int64   `json:"rss"`
	Heap       int64   `json:"heap_alloc"`  // Go heap, live + not yet collected
	HeapInuse  int64   `json:"heap_inuse"`  // Go heap spans in use
	Stack      int64   `json:"stack_inuse"` // goroutine stacks
	Sys        int64   `json:"go_sys"`      // everything the Go runtime got from the OS
	Goroutines int64   `json:"goroutines"`
	Conns      int64   `json:"conns"` // chatd_connections
}

// Summary is a latency distribution in milliseconds.
type Summary struct {
	N    uint64  `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

func summarize(h *bench.Hist) Summary {
	ms := func(v uint64) float64 { return float64(v) / 1e6 }
	return Summary{
		N: h.Count(), Mean: h.Mean() / 1e6,
		P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()),
	}
}

func (s Summary) String() string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
		fmtMs(s.P50), fmtMs(s.P90), fmtMs(s.P99), fmtMs(s.P999), fmtMs(s.Max), s.N)
}

func fmtMs(ms float64) string {
	switch {
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 100:
		return fmt.Sprintf("%.2fms", ms)
	default:
		return fmt.Sprintf("%.0fms", ms)
	}
}

// machineWindow records the machine's busy CPU between two SystemCPU
// readings, after ServerCPU and GenCPU are set.
func (r *Result) machineWindow(busy0, busy1 time.Duration) {
	r.MachineCPU = (busy1 - busy0).Seconds()
	r.OtherCPU = max(r.MachineCPU-r.ServerCPU-r.GenCPU, 0)
}

func (r *Result) problem(format string, args ...any) {
	r.OK = false
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Print writes the human summary of r.
func (r *Result) Print(w io.Writer) {
	status := "ok"
	switch {
	case r.Incomplete:
		status = "COULD NOT COMPLETE"
	case !r.OK:
		status = "FAILED"
	}
	fmt.Fprintf(w, "== %s on %s: %s\n", r.Label, r.Server, status)
	fmt.Fprintf(w, "   connections %d established, %d failed, %d dropped; login %s\n",
		r.Established, r.Failed, r.Dropped, r.Login)
	switch r.Scenario {
	case "connect":
		fmt.Fprintf(w, "   connect rate %.0f/s; server RSS %s -> %s (%.2f KiB/conn); heap %s -> %s\n",
			r.ConnectRate, mib(r.RSSBefore), mib(r.RSSFull), r.BytesPerConn/1024, mib(r.HeapBefore), mib(r.HeapFull))
		if r.LiveFull >= 0 && r.LiveBefore >= 0 {
			fmt.Fprintf(w, "   live Go heap after GC %s -> %s (%.2f KiB/conn)\n", mib(r.LiveBefore), mib(r.LiveFull), r.LivePerConn/1024)
		}
		fmt.Fprintf(w, "   login notices %d (want %d)\n", r.Logins, r.WantLogins)
		if len(r.NodesFull) > 1 {
			for i, n := range r.NodesFull {
				var rss0 int64
				if i < len(r.Nodes) {
					rss0 = r.Nodes[i].RSS
				}
				tag := ""
				if n.NATS {
					tag = " (embedded NATS)"
				}
				fmt.Fprintf(w, "   node %d%s: %d conns, RSS %s -> %s, heap %s, stacks %s, %d goroutines\n",
					n.Index, tag, n.Conns, mib(rss0), mib(n.RSS), mib(n.Heap), mib(n.Stack), n.Goroutines)
			}
		}
	case "storm":
		fmt.Fprintf(w, "   all %d back and logged in after %.2fs\n", r.Established, r.StormSecs)
	default:
		fmt.Fprintf(w, "   sent %d, delivered %d of %d (loss %d) in %.1fs: %.0f deliveries/s\n",
			r.Sent, r.Delivered, r.Expected, r.Loss, r.Seconds, r.DeliveriesPerSec)
		fmt.Fprintf(w, "   latency %s\n", r.Latency)
	}
	fmt.Fprintf(w, "   CPU: server %.2fs (%.0f ns/delivery), generator %.2fs, other processes %.2fs\n", r.ServerCPU, r.CPUPerDeliv, r.GenCPU, r.OtherCPU)
	if r.ServerWrites > 0 {
		fmt.Fprintf(w, "   server write system calls: %d (%.2f deliveries per write)\n", r.ServerWrites, r.DelivPerWrite)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "   PROBLEM: %s\n", p)
	}
}

func mib(b int64) string {
	if b < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

func secs(d time.Duration) float64 { return d.Seconds() }

// IsPeer reports whether server is one of the reference servers chatd is
// compared with (their failures are reported, never fail the run).
func IsPeer(server string) bool { return server == "baseline" || server == "nbio" }

// labelOf builds a label such as "broadcast-1000/closed".
func labelOf(parts ...string) string { return strings.Join(parts, "/") }
