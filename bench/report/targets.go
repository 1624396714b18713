package report

import (
	"fmt"
	"strings"

	"chatd/bench/load"
)

// targets checks the numbers against the targets: chatd at least 3x
// the baseline's broadcast deliveries per second at equal or lower p99; at
// most 1 KiB of RSS per idle logged-in connection at 15k; zero loss.
func targets(rs []load.Result) string {
	var b strings.Builder
	b.WriteString("| target | measured | held |\n|---|---|---|\n")
	for _, r := range rs {
		if r.Server != "chatd" || r.Scenario != "broadcast" || !strings.HasSuffix(r.Label, "/closed") {
			continue
		}
		base := find(rs, r.Label, "baseline")
		if base == nil {
			if inc := incomplete(rs, r.Label, "baseline"); inc != nil {
				fmt.Fprintf(&b, "| %s: ≥ 3× baseline deliveries/s at ≤ its p99 | not measured: baseline could not complete (chatd: %s/s, p99 %.2f ms) | — |\n",
					r.Label, num(r.DeliveriesPerSec), r.Latency.P99)
			}
			continue
		}
		ratio := 0.0
		if base.DeliveriesPerSec > 0 {
			ratio = r.DeliveriesPerSec / base.DeliveriesPerSec
		}
		held := ratio >= 3 && r.Latency.P99 <= base.Latency.P99 && r.OK && base.OK
		fmt.Fprintf(&b, "| %s: ≥ 3× baseline deliveries/s at ≤ its p99 | %.2f× (%s vs %s/s), p99 %.2f vs %.2f ms | %s |\n",
			r.Label, ratio, num(r.DeliveriesPerSec), num(base.DeliveriesPerSec), r.Latency.P99, base.Latency.P99, yes(held))
	}
	for _, r := range rs {
		if r.Server != "chatd" || r.Scenario != "connect" {
			continue
		}
		kib := r.BytesPerConn / 1024
		fmt.Fprintf(&b, "| %s: ≤ 1 KiB server RSS per idle connection | %.2f KiB (RSS %.1f → %.1f MiB for %d) | %s |\n",
			r.Label, kib, mb(r.RSSBefore), mb(r.RSSFull), r.Established, yes(r.OK && kib <= 1))
		if base := find(rs, r.Label, "baseline"); base != nil {
			fmt.Fprintf(&b, "| %s: baseline for comparison | %.2f KiB per connection | — |\n", r.Label, base.BytesPerConn/1024)
		}
	}
	var loss, expected int64
	allOK := true
	for _, r := range rs {
		loss += r.Loss
		expected += r.Expected
		allOK = allOK && (r.OK || (r.Incomplete && r.Server == "baseline"))
	}
	note := ""
	if !allOK {
		note = " (failures for other reasons are listed under Failures)"
	}
	fmt.Fprintf(&b, "| zero loss, every scenario, both servers | %d of %d expected deliveries missing%s | %s |\n", loss, expected, note, yes(loss == 0))
	b.WriteString("\nThe kernel keeps about 4.8 KB per idle TCP socket outside any process's RSS; it is not counted above for either server.\n")
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
	if r.Incomplete && r.Server == "baseline" {
		return "⚪ could not complete"
	}
	return yes(r.OK)
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
	b.WriteString("\n| scenario | server | established | failed | connect rate | login p50 | login p99 | RSS before → full | KiB/conn | Go heap before → full | login notices (want) | storm s | server CPU s | generator CPU s | other CPU s | ok |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---|---:|---|---|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		if r.Scenario != "connect" && r.Scenario != "storm" {
			continue
		}
		heap := "n/a"
		if r.HeapBefore >= 0 && r.HeapFull > 0 {
			heap = fmt.Sprintf("%.1f → %.1f MiB", mb(r.HeapBefore), mb(r.HeapFull))
		}
		rss, kib, notices := "—", "—", "—"
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
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s/s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |\n",
			r.Label, r.Server, r.Established, r.Failed, num(r.ConnectRate), ms(r.Login.P50), ms(r.Login.P99),
			rss, kib, heap, notices, storm, r.ServerCPU, r.GenCPU, r.OtherCPU, status(r))
	}
	return b.String()
}

func ms(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0fµs", v*1000)
	}
	return fmt.Sprintf("%.2fms", v)
}
