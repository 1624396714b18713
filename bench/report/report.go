package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"chatd/bench/load"
)

// Machine describes where a run happened.
type Machine struct {
	Date     string  `json:"date"`
	CPU      string  `json:"cpu"`
	Cores    int     `json:"cores"`
	MemGiB   float64 `json:"mem_gib"`
	Kernel   string  `json:"kernel"`
	Go       string  `json:"go"`
	Commit   string  `json:"commit"`
	FDLimit  uint64  `json:"fd_limit"`
	Command  string  `json:"command"`
	Duration string  `json:"duration"`
}

// Run is everything a report is made from; it is saved as results.json.
type Run struct {
	Machine Machine       `json:"machine"`
	Results []load.Result `json:"results"`
}

// metric is one row of the summary table.
type metric struct {
	name   string
	higher bool // higher is better
	get    func(*load.Result) float64
	unit   string
}

var (
	mDeliv = metric{"deliveries/s", true, func(r *load.Result) float64 { return r.DeliveriesPerSec }, ""}
	mP99   = metric{"p99 latency", false, func(r *load.Result) float64 { return r.Latency.P99 }, "ms"}
	mCPU   = metric{"server CPU per delivery", false, func(r *load.Result) float64 { return r.CPUPerDeliv }, "ns"}
	mRSS   = metric{"server RSS per idle conn", false, func(r *load.Result) float64 { return r.BytesPerConn / 1024 }, "KiB"}
	mLive  = metric{"live Go heap per idle conn", false, func(r *load.Result) float64 {
		if r.LiveFull < 0 || r.LiveBefore < 0 {
			return math.NaN()
		}
		return r.LivePerConn / 1024
	}, "KiB"}
	mEff = metric{"deliveries per server CPU-second", true, func(r *load.Result) float64 {
		if r.CPUPerDeliv <= 0 {
			return math.NaN()
		}
		return 1e9 / r.CPUPerDeliv
	}, ""}
	// mPerWrite is deliveries per write system call of the server: the
	// figure that sets a loopback fan-out's CPU (a write costs several µs
	// in the kernel, a frame coalesced into it well under one).
	mPerWrite = metric{"deliveries per write(2)", true, func(r *load.Result) float64 {
		if r.DelivPerWrite <= 0 {
			return math.NaN()
		}
		return r.DelivPerWrite
	}, ""}
	mLogin = metric{"handshake+login p99", false, func(r *load.Result) float64 { return r.Login.P99 }, "ms"}
	mStorm = metric{"all back and logged in", false, func(r *load.Result) float64 { return r.StormSecs }, "s"}
	mCRate = metric{"connect rate", true, func(r *load.Result) float64 { return r.ConnectRate }, "/s"}
)

func metricsOf(r *load.Result) []metric {
	switch {
	case r.Scenario == "connect":
		return []metric{mRSS, mLive, mLogin, mCRate}
	case r.Scenario == "storm":
		return []metric{mStorm, mLogin}
	case strings.HasSuffix(r.Label, "/open"):
		return []metric{mP99, mCPU}
	default:
		return []metric{mDeliv, mP99, mCPU, mEff, mPerWrite}
	}
}

// Write writes report.md, the charts and results.json into dir.
func Write(dir string, run Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(run, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), b, 0o644); err != nil {
		return err
	}
	charts := map[string]string{
		"latency.svg":    latencyChart(run.Results),
		"deliveries.svg": deliveriesChart(run.Results),
		"memory.svg":     memoryChart(run.Results),
	}
	for name, svg := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(Markdown(run)), 0o644)
}

// servers returns the server names in order of appearance.
func servers(rs []load.Result) []string {
	var s []string
	for _, r := range rs {
		if !contains(s, r.Server) {
			s = append(s, r.Server)
		}
	}
	return s
}

// labels returns the scenario labels in order of appearance.
func labels(rs []load.Result) []string {
	var s []string
	for _, r := range rs {
		if !contains(s, r.Label) {
			s = append(s, r.Label)
		}
	}
	return s
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func find(rs []load.Result, label, server string) *load.Result {
	for i := range rs {
		if rs[i].Label == label && rs[i].Server == server {
			return &rs[i]
		}
	}
	return nil
}

const method = `**Method.** Every scenario starts a fresh process of each server on a free loopback port and runs the same workload against it. ` +
	"Clients are spread over load-generator worker processes (one epoll loop each, under the 20,000 open-file limit) and over source addresses 127.0.0.2, 127.0.0.3, ... " +
	"Latency is the receive time minus the send time the sender wrote into the message content (one clock). " +
	"*Closed loop*: each sender keeps W messages in flight and sends the next when its own comes back (maximum throughput). *Open loop*: a fixed send rate (latency at equal load). " +
	"Loss is counted exactly: every sent message must reach every member (broadcast) or the target and the sender (private); the run fails otherwise. " +
	"chatd's abuse limits (accept rate, connections per address, messages per second) are raised above the load (bench/load.ChatdLimits); the baselines have none. " +
	"Two reference servers speak the same protocol: *baseline* (gorilla/websocket, two goroutines per connection, bench/baseline) and *nbio* (lesismal/nbio non-blocking mode: one poller, a few workers, frames combined per room, bench/nbiobaseline). " +
	"*Live Go heap* is the heap right after a GC the benchmark forces once RSS is sampled (chatd: /debug/pprof/heap?gc=1 then /metrics; the baselines: /debug/live). " +
	"*other CPU* is CPU time used by other processes on the machine during the window: the machine is shared, and a large value means the figures are noisy. " +
	"*Could not complete*: when a baseline cannot finish a scenario's setup within its bound (all clients connected, logged in and aware of their whole room; e.g. the 10,000-member room, whose n(n+1)/2 = 50M login notices it cannot deliver in the time this suite gives it), " +
	"the scenario is reported for it as \"<baseline> could not complete\" with the reason, its ratios are left out, and it is not a failure of the run. " +
	"The run's exit status reflects chatd's results only: any chatd failure (a connection failed or dropped, a delivery lost or duplicated, an error message, a dead server) makes it non-zero; the baselines' problems are reported here and never change it.\n\n"

// Markdown renders the report.
func Markdown(run Run) string {
	rs := run.Results
	srvs := servers(rs)
	var b strings.Builder
	m := run.Machine
	fmt.Fprintf(&b, "# chatd load benchmark — %s\n\n", m.Date)
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n| CPU | %s |\n| cores | %d |\n| memory | %.0f GiB |\n| kernel | %s |\n| Go | %s |\n| chatd commit | %s |\n| open-file limit | %d per process |\n| run time | %s |\n\n",
		m.CPU, m.Cores, m.MemGiB, m.Kernel, m.Go, m.Commit, m.FDLimit, m.Duration)
	fmt.Fprintf(&b, "Reproduce with `%s`. The load generator (bench/load: epoll worker processes, no goroutine per connection) shares the cores with the server; its CPU time is in every table next to the server's.\n\n", m.Command)
	b.WriteString(method)
	b.WriteString(failures(rs))
	b.WriteString("## Summary\n\n")
	b.WriteString(summaryTable(rs, srvs))
	b.WriteString("\n## Targets of the benchmark issue\n\n")
	b.WriteString(targets(rs))
	b.WriteString("\n## Charts\n\n![latency percentiles](latency.svg)\n\n![deliveries per second](deliveries.svg)\n\n![memory per connection](memory.svg)\n\n")
	b.WriteString("## Details\n\n")
	b.WriteString(details(rs))
	b.WriteString("\nRaw data: `results.json` (every figure above, plus the merged latency histograms as bucket counts).\n")
	return b.String()
}

func failures(rs []load.Result) string {
	var b, base strings.Builder
	for _, r := range rs {
		switch {
		case r.OK:
		case load.IsPeer(r.Server) && r.Incomplete:
			fmt.Fprintf(&base, "- ⚪ **%s could not complete %s** — %s\n", r.Server, r.Label, strings.Join(r.Problems, "; "))
		case load.IsPeer(r.Server):
			fmt.Fprintf(&base, "- ⚪ **%s failed %s** — %s\n", r.Server, r.Label, strings.Join(r.Problems, "; "))
		default:
			fmt.Fprintf(&b, "- 🔴 **FAILED: %s on %s** — %s\n", r.Label, r.Server, strings.Join(r.Problems, "; "))
		}
	}
	var out string
	if b.Len() == 0 {
		out = "All chatd scenarios passed: every client connected and logged in, every expected delivery arrived (zero loss).\n\n"
	} else {
		out = "## Failures\n\n" + b.String() + "\n"
	}
	if base.Len() > 0 {
		out += "## Baselines: not completed (reported, not a failure of the run)\n\n" + base.String() + "\n"
	}
	return out
}

// incomplete returns the result of server s that stopped before the
// measured phase label (e.g. "broadcast-10000" for
// "broadcast-10000/closed"), or nil.
func incomplete(rs []load.Result, label, s string) *load.Result {
	name, _, _ := strings.Cut(label, "/")
	for i := range rs {
		if rs[i].Server == s && rs[i].Incomplete && rs[i].Label == name {
			return &rs[i]
		}
	}
	return nil
}

// onlyIncomplete reports whether label has no measured result: every
// server stopped before the measurement, and some server measured its
// phases under other labels (label/closed, ...), which carry the rows.
func onlyIncomplete(rs []load.Result, label string) bool {
	measured := false
	for _, r := range rs {
		if r.Label == label && !r.Incomplete {
			return false
		}
		if strings.HasPrefix(r.Label, label+"/") {
			measured = true
		}
	}
	return measured
}

func summaryTable(rs []load.Result, srvs []string) string {
	var b strings.Builder
	b.WriteString("| scenario | metric |")
	for _, s := range srvs {
		fmt.Fprintf(&b, " %s |", s)
	}
	// One ratio column per server compared with the first (chatd).
	for _, s := range srvs[min(1, len(srvs)):] {
		fmt.Fprintf(&b, " %s vs %s |", srvs[0], s)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---:|", len(srvs)+max(len(srvs)-1, 0)))
	b.WriteString("\n")
	for _, label := range labels(rs) {
		if onlyIncomplete(rs, label) {
			continue // shown as "could not complete" in the rows of its phases
		}
		var first *load.Result
		for _, s := range srvs {
			if first = find(rs, label, s); first != nil {
				break
			}
		}
		for _, mt := range metricsOf(first) {
			fmt.Fprintf(&b, "| %s | %s |", label, mt.name)
			var vals []float64
			for _, s := range srvs {
				r := find(rs, label, s)
				if r == nil || (r.Incomplete && load.IsPeer(s)) {
					if r != nil || incomplete(rs, label, s) != nil {
						b.WriteString(" could not complete |")
					} else {
						b.WriteString(" — |")
					}
					vals = append(vals, math.NaN())
					continue
				}
				v := mt.get(r)
				vals = append(vals, v)
				if math.IsNaN(v) {
					b.WriteString(" n/a |")
					continue
				}
				mark := ""
				if !r.OK {
					mark = " 🔴"
				}
				fmt.Fprintf(&b, " %s%s%s |", num(v), mt.unit, mark)
			}
			for _, v := range vals[min(1, len(vals)):] {
				b.WriteString(" " + advantage(vals[0], v, mt.higher) + " |")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// advantage says how many times better the first value is than the second.
func advantage(a, c float64, higher bool) string {
	if math.IsNaN(a) || math.IsNaN(c) || a <= 0 || c <= 0 {
		return "—"
	}
	x := a / c
	if !higher {
		x = c / a
	}
	if x >= 1 {
		return fmt.Sprintf("**%.2f× better**", x)
	}
	return fmt.Sprintf("%.2f× worse", 1/x)
}
