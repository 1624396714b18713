package report

import (
	"math"
	"strings"

	"chatd/bench/load"
)

// latencyChart: p50 and p99 of every measured phase, per server (log scale).
func latencyChart(rs []load.Result) string {
	var cats []string
	for _, l := range labels(rs) {
		if strings.Contains(l, "/") {
			cats = append(cats, l)
		}
	}
	var series []Series
	for _, s := range servers(rs) {
		p50 := Series{Name: s + " p50"}
		p99 := Series{Name: s + " p99"}
		for _, c := range cats {
			v50, v99 := math.NaN(), math.NaN()
			if r := find(rs, c, s); r != nil {
				v50, v99 = r.Latency.P50, r.Latency.P99
			}
			p50.Values = append(p50.Values, v50)
			p99.Values = append(p99.Values, v99)
		}
		series = append(series, p50, p99)
	}
	return BarChart("Delivery latency per scenario (p50, p99)", "milliseconds (log scale)", cats, series, true)
}

// deliveriesChart: closed-loop deliveries per second per scenario.
func deliveriesChart(rs []load.Result) string {
	var cats []string
	for _, l := range labels(rs) {
		if strings.HasSuffix(l, "/closed") {
			cats = append(cats, strings.TrimSuffix(l, "/closed"))
		}
	}
	var series []Series
	for _, s := range servers(rs) {
		se := Series{Name: s}
		for _, c := range cats {
			v := math.NaN()
			if r := find(rs, c+"/closed", s); r != nil {
				v = r.DeliveriesPerSec
			}
			se.Values = append(se.Values, v)
		}
		series = append(series, se)
	}
	return BarChart("Deliveries per second (closed loop) by room size", "deliveries per second", cats, series, false)
}

// memoryChart: server RSS per idle logged-in connection.
func memoryChart(rs []load.Result) string {
	var cats []string
	for _, r := range rs {
		if r.Scenario == "connect" && !contains(cats, r.Label) {
			cats = append(cats, r.Label)
		}
	}
	var series []Series
	for _, s := range servers(rs) {
		se := Series{Name: s}
		for _, c := range cats {
			v := math.NaN()
			if r := find(rs, c, s); r != nil {
				v = r.BytesPerConn / 1024
			}
			se.Values = append(se.Values, v)
		}
		series = append(series, se)
	}
	return BarChart("Server RSS per idle logged-in connection", "KiB per connection", cats, series, false)
}
