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
		"FAILED: connect-15000 on baseline** — boom",
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
