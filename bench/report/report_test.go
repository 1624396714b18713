package report

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"

	"chatd/bench/load"
)

func TestBarChartIsWellFormedSVG(t *testing.T) {
	for _, logY := range []bool{false, true} {
		svg := BarChart("t <&>", "y", []string{"a", "b"},
			[]Series{{Name: "x", Values: []float64{1, 250}}, {Name: "y", Values: []float64{math.NaN(), 0.5}}}, logY)
		d := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := d.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatalf("BarChart(logY=%v) is not well-formed XML: %v", logY, err)
				}
				break
			}
		}
		if strings.Count(svg, "<rect") != 1+3+2 { // background, 3 bars, 2 legend keys
			t.Errorf("BarChart(logY=%v) has %d rects; want 6", logY, strings.Count(svg, "<rect"))
		}
	}
}

func TestMarkdownTargets(t *testing.T) {
	res := []load.Result{
		{Scenario: "broadcast", Label: "broadcast-100/closed", Server: "chatd", OK: true, DeliveriesPerSec: 3e6, Latency: load.Summary{P99: 5}},
		{Scenario: "broadcast", Label: "broadcast-100/closed", Server: "baseline", OK: true, DeliveriesPerSec: 5e5, Latency: load.Summary{P99: 50}},
		{Scenario: "connect", Label: "connect-15000", Server: "chatd", OK: true, BytesPerConn: 900, Established: 15000},
		{Scenario: "connect", Label: "connect-15000", Server: "baseline", OK: false, BytesPerConn: 30000, Problems: []string{"boom"}},
	}
	md := Markdown(Run{Results: res})
	for _, want := range []string{
		"| broadcast-100/closed | deliveries/s | 3M | 500k | **6.00× better** |",
		"6.00× (3M vs 500k/s), p99 5.00 vs 50.00 ms | ✅ yes |",
		"0.88 KiB",
		"baseline failed connect-15000** — boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
}

func TestNum(t *testing.T) {
	tests := map[float64]string{0: "0", 0.25: "0.25", 12.5: "12.5", 350: "350", 35000: "35k", 1250000: "1.25M"}
	for v, want := range tests {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q; want %q", v, got, want)
		}
	}
}

func TestMarkdownBaselineCouldNotComplete(t *testing.T) {
	res := []load.Result{
		{Scenario: "broadcast", Label: "broadcast-10000/closed", Server: "chatd", OK: true, DeliveriesPerSec: 9e5, Latency: load.Summary{P99: 2000}},
		{Scenario: "broadcast", Label: "broadcast-10000/open", Server: "chatd", OK: true, Latency: load.Summary{P99: 200}},
		{Scenario: "broadcast", Label: "broadcast-10000", Server: "baseline", Incomplete: true, Problems: []string{"load: timed out: connect after 2m0s"}},
	}
	md := Markdown(Run{Results: res})
	for _, want := range []string{
		"All chatd scenarios passed",
		"baseline could not complete broadcast-10000** — load: timed out: connect after 2m0s",
		"| broadcast-10000/closed | deliveries/s | 900k | could not complete | — |",
		"not measured: baseline could not complete",
		"⚪ could not complete",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	for _, bad := range []string{"🔴", "| broadcast-10000 | deliveries/s"} {
		if strings.Contains(md, bad) {
			t.Errorf("Markdown has %q", bad)
		}
	}
}

func TestMarkdown100k(t *testing.T) {
	nodes := func(rss int64) []load.NodeStat {
		return []load.NodeStat{{Index: 1, Node: 1, NATS: true, RSS: 10 * rss, Conns: 2}, {Index: 2, Node: 2, RSS: rss, Conns: 2}}
	}
	res := []load.Result{
		{Scenario: "connect", Label: "connect-4", Server: "chatd", OK: true, Conns: 4, Established: 4,
			Params: map[string]any{"room_size": 2.0}, RSSBefore: 11 << 20, RSSFull: 22 << 20,
			Nodes: nodes(1 << 20), NodesFull: nodes(2 << 20)},
		{Scenario: "broadcast", Label: "connect-4/broadcast", Server: "chatd", OK: true, Sent: 10, Delivered: 20, Expected: 20,
			Params: map[string]any{"room_size": 2.0}, Latency: load.Summary{P50: 1, P99: 5, Max: 9}},
	}
	md := Markdown100k(Run{Results: res})
	for _, want := range []string{
		"**2816.00 KiB per connection**",             // 11 MiB over 4
		"10.0 → 20.0 MiB for 2 connections",          // node 1
		"| 2 | 2 | 1.0 MiB | 2.0 MiB | 512.00 KiB |", // node 2
		"10 / 20 / 20 / **0**",
		"p99 **5.00ms**",
		"| result | ✅ yes |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown100k lacks %q\n%s", want, md)
		}
	}
}

func TestMarkdownThreeServers(t *testing.T) {
	res := []load.Result{
		{Scenario: "broadcast", Label: "broadcast-1000-w1/closed", Server: "chatd", OK: true, DeliveriesPerSec: 3e6, CPUPerDeliv: 800, Latency: load.Summary{P99: 5}, DelivPerWrite: 8.5},
		{Scenario: "broadcast", Label: "broadcast-1000-w1/closed", Server: "baseline", OK: true, DeliveriesPerSec: 5e5, CPUPerDeliv: 4000, Latency: load.Summary{P99: 50}},
		{Scenario: "broadcast", Label: "broadcast-1000-w1/closed", Server: "nbio", OK: true, DeliveriesPerSec: 2.5e6, CPUPerDeliv: 1000, Latency: load.Summary{P99: 4}, DelivPerWrite: 10},
		{Scenario: "broadcast", Label: "broadcast-1000-w1-loops2/closed", Server: "chatd", OK: true, DeliveriesPerSec: 2e6, CPUPerDeliv: 1250, Latency: load.Summary{P99: 6}},
		{Scenario: "broadcast", Label: "broadcast-1000-w1-loops2/closed", Server: "nbio", OK: true, DeliveriesPerSec: 2.5e6, CPUPerDeliv: 1000, Latency: load.Summary{P99: 4}},
		{Scenario: "connect", Label: "connect-15000-r5000", Server: "chatd", OK: true, BytesPerConn: 900, Established: 15000,
			LiveBefore: 1 << 20, LiveFull: 1<<20 + 15000*512, LivePerConn: 512, Params: map[string]any{"connect_rate": 5000.0}},
		{Scenario: "connect", Label: "connect-15000-r5000", Server: "nbio", OK: false, Incomplete: true, LiveBefore: -1, LiveFull: -1, Problems: []string{"boom"}},
	}
	md := Markdown(Run{Results: res})
	for _, want := range []string{
		"| scenario | metric | chatd | baseline | nbio | chatd vs baseline | chatd vs nbio |",
		"| broadcast-1000-w1/closed | deliveries/s | 3M | 500k | 2.5M | **6.00× better** | **1.20× better** |",
		"| broadcast-1000-w1/closed | deliveries per server CPU-second | 1.25M | 250k | 1M | **5.00× better** | **1.25× better** |",
		"| broadcast-1000-w1/closed | deliveries per write(2) | 8.5 | n/a | 10 | — | 1.18× worse |",
		"≥ 1.5× nbio deliveries/s at < its p99 | 1.20× (3M vs 2.5M/s), p99 5.00 vs 4.00 ms | ❌ no |",
		"≥ 3× baseline deliveries/s at ≤ its p99 | 6.00× (3M vs 500k/s), p99 5.00 vs 50.00 ms | ✅ yes |",
		"≥ 1M deliveries per server CPU-second | 1.25M (baseline 250k, nbio 1M) | ✅ yes |",
		"broadcast-1000-w1-loops2/closed: ≥ 1M deliveries per server CPU-second | 800k (nbio 1M) | ❌ no |",
		"connect-15000-r5000 (5000 logins/s): ≤ 1 KiB server RSS per idle connection | 0.88 KiB (RSS 0.0 → 0.0 MiB for 15000); live Go heap 0.50 KiB per connection | ✅ yes |",
		"| connect-15000-r5000 | live Go heap per idle conn | 0.5KiB | — | could not complete |",
		"nbio could not complete connect-15000-r5000** — boom",
		"| connect-15000-r5000: nbio for comparison | could not complete | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q\n%s", want, md)
		}
	}
}
