package report

import (
	"fmt"
	"strings"

	"chatd/bench/load"
)

// peerTargets are the broadcast targets against each reference server:
// chatd's deliveries/s at least factor times the peer's, at a p99 no higher
// (strictly lower for nbio: issue 12).
var peerTargets = []struct {
	server string
	factor float64
	strict bool
}{{"baseline", 3, false}, {"nbio", 1.5, true}}

// cpuTarget: deliveries per server CPU-second in the latency-bound room of 1,000.
const (
	cpuTargetLabel  = "broadcast-1000-w1/closed"
	cpuTargetLoops2 = "broadcast-1000-w1-loops2/closed" // the same, chatd on two loops
	cpuTarget       = 1e6
)

// targets checks the numbers against the issues' targets: chatd at least
// 3x the gorilla baseline's and 1.5x the nbio baseline's broadcast
// deliveries per second at a lower p99; 1M deliveries per server
// CPU-second in the latency-bound room of 1,000; at most 1 KiB of RSS per
// idle logged-in connection at 15k; zero loss.
func targets(rs []load.Result) string {
	var b strings.Builder
	b.WriteString("| target | measured | held |\n|---|---|---|\n")
	for _, r := range rs {
		if r.Server != "chatd" || r.Scenario != "broadcast" || !strings.HasSuffix(r.Label, "/closed") {
			continue
		}
		for _, pt := range peerTargets {
			cmp := "≤"
			if pt.strict {
				cmp = "<"
			}
			what := fmt.Sprintf("%s: ≥ %g× %s deliveries/s at %s its p99", r.Label, pt.factor, pt.server, cmp)
			base := find(rs, r.Label, pt.server)
			if base == nil {
				if inc := incomplete(rs, r.Label, pt.server); inc != nil {
					fmt.Fprintf(&b, "| %s | not measured: %s could not complete (chatd: %s/s, p99 %.2f ms) | — |\n",
						what, pt.server, num(r.DeliveriesPerSec), r.Latency.P99)
				}
				continue
			}
			ratio := 0.0
			if base.DeliveriesPerSec > 0 {
				ratio = r.DeliveriesPerSec / base.DeliveriesPerSec
			}
			p99ok := r.Latency.P99 <= base.Latency.P99
			if pt.strict {
				p99ok = r.Latency.P99 < base.Latency.P99
			}
			held := ratio >= pt.factor && p99ok && r.OK && base.OK
			fmt.Fprintf(&b, "| %s | %.2f× (%s vs %s/s), p99 %.2f vs %.2f ms | %s |\n",
				what, ratio, num(r.DeliveriesPerSec), num(base.DeliveriesPerSec), r.Latency.P99, base.Latency.P99, yes(held))
		}
		if r.Label == cpuTargetLabel || r.Label == cpuTargetLoops2 {
			if r.CPUPerDeliv <= 0 {
				continue
			}
			eff := 1e9 / r.CPUPerDeliv
			var peers []string
			for _, pt := range peerTargets {
				if p := find(rs, r.Label, pt.server); p != nil && p.CPUPerDeliv > 0 {
					peers = append(peers, fmt.Sprintf("%s %s", pt.server, num(1e9/p.CPUPerDeliv)))
				}
			}
			fmt.Fprintf(&b, "| %s: ≥ 1M deliveries per server CPU-second | %s (%s) | %s |\n",
				r.Label, num(eff), strings.Join(peers, ", "), yes(r.OK && eff >= cpuTarget))
		}
	}
	for _, r := range rs {
		if r.Server != "chatd" || r.Scenario != "connect" {
			continue
		}
		kib := r.BytesPerConn / 1024
		live := ""
		if r.LiveFull >= 0 && r.LiveBefore >= 0 {
			live = fmt.Sprintf("; live Go heap %.2f KiB per connection", r.LivePerConn/1024)
		}
		fmt.Fprintf(&b, "| %s (%s logins/s): ≤ 1 KiB server RSS per idle connection | %.2f KiB (RSS %.1f → %.1f MiB for %d)%s | %s |\n",
			r.Label, num(paramFloat(r, "connect_rate")), kib, mb(r.RSSBefore), mb(r.RSSFull), r.Established, live, yes(r.OK && kib <= 1))
		for _, pt := range peerTargets {
			switch base := find(rs, r.Label, pt.server); {
			case base == nil:
			case base.Incomplete:
				fmt.Fprintf(&b, "| %s: %s for comparison | could not complete | — |\n", r.Label, pt.server)
			default:
				fmt.Fprintf(&b, "| %s: %s for comparison | %.2f KiB per connection | — |\n", r.Label, pt.server, base.BytesPerConn/1024)
			}
		}
	}
	var loss, expected int64
	allOK := true
	for _, r := range rs {
		loss += r.Loss
		expected += r.Expected
		allOK = allOK && (r.OK || (r.Incomplete && load.IsPeer(r.Server)))
	}
	note := ""
	if !allOK {
		note = " (failures for other reasons are listed under Failures)"
	}
	fmt.Fprintf(&b, "| zero loss, every scenario, every server | %d of %d expected deliveries missing%s | %s |\n", loss, expected, note, yes(loss == 0))
	b.WriteString("\nThe kernel keeps about 4.8 KB per idle TCP socket outside any process's RSS; it is not counted above for any server.\n")
	return b.String()
}

func yes(ok bool) string {
	if ok {
		return "✅ yes"
	}
	return "❌ no"
}

// status is a result's "ok" cell.
func status(r load.Result) string {
	if r.Incomplete && load.IsPeer(r.Server) {
		return "⚪ could not complete"
	}
	return yes(r.OK)
}

// paramFloat is a numeric parameter of r (0 when absent).
func paramFloat(r load.Result, key string) float64 {
	switch v := r.Params[key].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	return 0
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func details(rs []load.Result) string {
	var b strings.Builder
	b.WriteString("| scenario | server | conns | sent | delivered | loss | deliveries/s | p50 | p90 | p99 | p99.9 | max | server CPU s | generator CPU s | other CPU s | ok |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if r.Scenario != "broadcast" && r.Scenario != "private" {
			continue
		}
		l := r.Latency
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |\n",
			r.Label, r.Server, r.Established, r.Sent, r.Delivered, r.Loss, num(r.DeliveriesPerSec),
			ms(l.P50), ms(l.P90), ms(l.P99), ms(l.P999), ms(l.Max), r.ServerCPU, r.GenCPU, r.OtherCPU, status(r))
	}
	b.WriteString("\n| scenario | server | established | failed | connect rate | login p50 | login p99 | RSS before → full | KiB/conn | Go heap before → full | live heap KiB/conn | login notices (want) | storm s | server CPU s | generator CPU s | other CPU s | ok |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if r.Scenario != "connect" && r.Scenario != "storm" {
			continue
		}
		heap := "n/a"
		if r.HeapBefore >= 0 && r.HeapFull > 0 {
			heap = fmt.Sprintf("%.1f → %.1f MiB", mb(r.HeapBefore), mb(r.HeapFull))
		}
		rss, kib, notices, live := "—", "—", "—", "n/a"
		if r.LiveFull >= 0 && r.LiveBefore >= 0 && r.Scenario == "connect" {
			live = fmt.Sprintf("%.2f", r.LivePerConn/1024)
		}
		if r.Scenario == "connect" {
			rss = fmt.Sprintf("%.1f → %.1f MiB", mb(r.RSSBefore), mb(r.RSSFull))
			kib = fmt.Sprintf("%.2f", r.BytesPerConn/1024)
			notices = fmt.Sprintf("%d (%d)", r.Logins, r.WantLogins)
		} else {
			heap = "—"
		}
		storm := "—"
		if r.Scenario == "storm" {
			storm = fmt.Sprintf("%.2f", r.StormSecs)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s/s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |\n",
			r.Label, r.Server, r.Established, r.Failed, num(r.ConnectRate), ms(r.Login.P50), ms(r.Login.P99),
			rss, kib, heap, live, notices, storm, r.ServerCPU, r.GenCPU, r.OtherCPU, status(r))
	}
	return b.String()
}

func ms(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0fµs", v*1000)
	}
	return fmt.Sprintf("%.2fms", v)
}
