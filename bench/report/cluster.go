package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"chatd/bench/load"
)

// Write100k writes the report of `make bench-100k` into dir: 100k.md and
// 100k.json (the raw results, histograms included). When dir holds
// 100k-notes.md (an analysis written by hand, e.g. of the heap profiles
// the run saved), it is appended to 100k.md, so re-rendering keeps it.
func Write100k(dir string, run Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(run, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "100k.json"), b, 0o644); err != nil {
		return err
	}
	md := Markdown100k(run)
	if notes, err := os.ReadFile(filepath.Join(dir, "100k-notes.md")); err == nil {
		md += "\n" + string(notes)
	}
	return os.WriteFile(filepath.Join(dir, "100k.md"), []byte(md), 0o644)
}

// Markdown100k renders the 100k cluster report: the connect phase and the
// broadcast measured under that load, with memory per node.
func Markdown100k(run Run) string {
	var b strings.Builder
	m := run.Machine
	fmt.Fprintf(&b, "# chatd: 100,000 connections on a cluster — %s\n\n", m.Date)
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n| CPU | %s |\n| cores | %d |\n| memory | %.0f GiB |\n| kernel | %s |\n| Go | %s |\n| chatd commit | %s |\n| open-file limit | %d per process |\n| run time | %s |\n\n",
		m.CPU, m.Cores, m.MemGiB, m.Kernel, m.Go, m.Commit, m.FDLimit, m.Duration)
	fmt.Fprintf(&b, "Reproduce with `%s`.\n\n", m.Command)
	for i := range run.Results {
		r := &run.Results[i]
		if r.Scenario != "connect" {
			continue
		}
		var br *load.Result
		if j := i + 1; j < len(run.Results) && run.Results[j].Label == r.Label+"/broadcast" {
			br = &run.Results[j]
		}
		b.WriteString(method100k(r, br))
		b.WriteString(failures(run.Results))
		b.WriteString("## Summary\n\n")
		b.WriteString(summary100k(r, br))
		b.WriteString("\n## Memory per node\n\n")
		b.WriteString(nodeTable(r))
	}
	b.WriteString("\nRaw data: `100k.json` (every figure above, per-node samples, the merged login and latency histograms as bucket counts); the nodes' logs and heap profiles are under `logs/`.\n")
	return b.String()
}

func method100k(r, br *load.Result) string {
	nodes := len(r.NodesFull)
	var b strings.Builder
	fmt.Fprintf(&b, "**Method.** %d chatd processes run as one cluster on this machine (a process may hold at most 20,000 open files): "+
		"node 1 runs the embedded NATS server (JetStream on, memory only) and the others join it with `-nats-url`; each node has its own chat port. "+
		"%d clients in rooms of %d log in at a target rate of %v/s with at most %v handshakes in flight, from load-generator worker processes "+
		"(one epoll loop each) over source addresses 127.0.0.2, 127.0.0.3, ...; client g connects to node g mod %d, so every room has members on every node "+
		"and every login, say and logout crosses NATS. A client counts as established when it has seen its own login and learned of its whole room (user_list plus later logins); "+
		"every login notice is counted against the exact number expected. The clients then hold idle for %vs (answering pings) and each node's RSS, Go heap and goroutines are read at full load "+
		"(RSS from /proc, the rest from the node's /metrics). ",
		nodes, r.Conns, intParam(r, "room_size"), r.Params["connect_rate"], r.Params["inflight"], nodes, r.Params["hold_s"])
	if br != nil {
		fmt.Fprintf(&b, "With all of them still connected, %v rooms spread over the run get %v senders each (on different nodes) and broadcast open-loop at %v messages per second in all for %vs; "+
			"latency is receive time minus the send time written in the message (one clock), and loss is counted exactly: every message must reach all %d members of its room. ",
			br.Params["sender_rooms"], br.Params["senders"], br.Params["open_rate"], br.Params["duration_s"], intParam(br, "room_size"))
	}
	b.WriteString("The nodes get chatd's abuse limits raised above the load (bench/load.ChatdLimits) and `-handshake-timeout 30s` (bench/load.ClusterFlags): " +
		"the nodes, NATS and the load generator share two cores while clients arrive, and a handshake waiting for a busy loop is a property of the machine, not a failure of the server. " +
		"The baseline is not run here: it has no cluster mode (its memory per connection at 15,000 is in the `make bench` report).\n\n")
	return b.String()
}

func intParam(r *load.Result, key string) int {
	switch v := r.Params[key].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}

func summary100k(r, br *load.Result) string {
	var b strings.Builder
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("nodes", fmt.Sprintf("%d (node 1 also runs NATS)", len(r.NodesFull)))
	row("clients", fmt.Sprintf("%d in rooms of %d", r.Conns, intParam(r, "room_size")))
	row("established / failed / dropped", fmt.Sprintf("%d / %d / %d", r.Established, r.Failed, r.Dropped))
	row("connect rate", fmt.Sprintf("%s/s (target %v/s, ≤ %v in flight), %.0f s for all", num(r.ConnectRate), r.Params["connect_rate"], r.Params["inflight"], r.ConnectSecs))
	row("handshake+login latency", fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s", ms(r.Login.P50), ms(r.Login.P90), ms(r.Login.P99), ms(r.Login.Max)))
	row("login notices", fmt.Sprintf("%d (want %d)", r.Logins, r.WantLogins))
	all, nats, rest := memSplit(r)
	row("RSS, all nodes", fmt.Sprintf("%.1f → %.1f MiB: **%.2f KiB per connection**", mb(all.rss0), mb(all.rss1), all.perConn()))
	if nats.conns > 0 {
		row("RSS, node 1 (chatd + embedded NATS)", fmt.Sprintf("%.1f → %.1f MiB for %d connections: %.2f KiB per connection", mb(nats.rss0), mb(nats.rss1), nats.conns, nats.perConn()))
		row(fmt.Sprintf("RSS, nodes 2..%d (chatd only)", len(r.NodesFull)), fmt.Sprintf("%.1f → %.1f MiB for %d connections: %.2f KiB per connection", mb(rest.rss0), mb(rest.rss1), rest.conns, rest.perConn()))
	}
	if r.HeapFull >= 0 && r.HeapBefore >= 0 {
		row("Go heap, all nodes", fmt.Sprintf("%.1f → %.1f MiB: %.2f KiB per connection", mb(r.HeapBefore), mb(r.HeapFull), r.HeapPerConn/1024))
	}
	row("CPU while connecting and holding", fmt.Sprintf("servers %.1f s, generator %.1f s, other processes %.1f s", r.ServerCPU, r.GenCPU, r.OtherCPU))
	if hold, ok := r.Params["hold_s"].(float64); ok && hold > 0 {
		row("servers' CPU while all clients are idle", fmt.Sprintf("%.2f s in the %.0f s hold: %.0f%% of one core", r.IdleCPU, hold, 100*r.IdleCPU/hold))
	}
	if br != nil {
		row("broadcast under load", fmt.Sprintf("%v rooms × %v senders, %v msg/s open loop for %v s", br.Params["sender_rooms"], br.Params["senders"], br.Params["open_rate"], br.Params["duration_s"]))
		row("sent / delivered / expected / loss", fmt.Sprintf("%d / %d / %d / **%d**", br.Sent, br.Delivered, br.Expected, br.Loss))
		l := br.Latency
		row("broadcast latency", fmt.Sprintf("p50 **%s**, p90 %s, p99 **%s**, p99.9 %s, max **%s** (n=%d)", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), l.N))
		row("CPU during the broadcast", fmt.Sprintf("servers %.2f s (%s per delivery), generator %.2f s, other processes %.2f s", br.ServerCPU, nsPer(br.CPUPerDeliv), br.GenCPU, br.OtherCPU))
	}
	ok := r.OK && (br == nil || br.OK)
	row("result", yes(ok))
	return b.String()
}

func nsPer(ns float64) string {
	if ns >= 10000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

type memPart struct {
	rss0, rss1 int64
	conns      int
}

func (p memPart) perConn() float64 {
	if p.conns == 0 {
		return 0
	}
	return float64(p.rss1-p.rss0) / float64(p.conns) / 1024
}

// memSplit sums RSS before and at full load over all nodes, the node that
// runs NATS, and the others. Connections per node are the node's own count
// (chatd_connections), all nodes' the established clients.
func memSplit(r *load.Result) (all, nats, rest memPart) {
	all = memPart{r.RSSBefore, r.RSSFull, r.Established}
	for i, n := range r.NodesFull {
		var rss0 int64
		if i < len(r.Nodes) {
			rss0 = r.Nodes[i].RSS
		}
		p := &rest
		if n.NATS {
			p = &nats
		}
		p.rss0 += rss0
		p.rss1 += n.RSS
		p.conns += int(max(n.Conns, 0))
	}
	return all, nats, rest
}

func nodeTable(r *load.Result) string {
	var b strings.Builder
	b.WriteString("| node | conns | RSS at rest | RSS full | RSS Δ per conn | Go heap (alloc) | heap in use | goroutine stacks | goroutines | Go runtime total (sys) | CPU s (connect + hold) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, n := range r.NodesFull {
		var n0 load.NodeStat
		if i < len(r.Nodes) {
			n0 = r.Nodes[i]
		}
		name := fmt.Sprint(n.Index)
		if n.NATS {
			name += " (NATS)"
		}
		per := "—"
		if n.Conns > 0 {
			per = fmt.Sprintf("%.2f KiB", float64(n.RSS-n0.RSS)/float64(n.Conns)/1024)
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f MiB | %.1f MiB | %s | %s | %s | %s | %d → %d | %s | %.1f |\n",
			name, n.Conns, mb(n0.RSS), mb(n.RSS), per, mbOr(n.Heap), mbOr(n.HeapInuse), mbOr(n.Stack), n0.Goroutines, n.Goroutines, mbOr(n.Sys), n.CPU-n0.CPU)
	}
	return b.String()
}

func mbOr(v int64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", mb(v))
}
