package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Series is one bar per category, drawn in one color.
type Series struct {
	Name   string
	Values []float64 // NaN or <= 0 (log scale): no bar
}

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"}

// BarChart draws grouped bars as a standalone SVG: one group per category,
// one bar per series. With logY the axis is logarithmic (latency spans
// orders of magnitude between p50 and max).
func BarChart(title, yLabel string, cats []string, series []Series, logY bool) string {
	const (
		width, height = 860, 420
		left, right   = 80, 20
		top, bottom   = 50, 110
	)
	plotW, plotH := float64(width-left-right), float64(height-top-bottom)
	lo, hi := valueRange(series, logY)
	y := func(v float64) float64 {
		if logY {
			return float64(top) + plotH*(1-(math.Log10(v)-lo)/(hi-lo))
		}
		return float64(top) + plotH*(1-(v-lo)/(hi-lo))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
	fmt.Fprintf(&b, `<text transform="translate(16,%d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+int(plotH/2), esc(yLabel))
	for _, t := range ticks(lo, hi, logY) {
		yy := y(t)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, yy, yy)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, yy+4, num(t))
	}
	groupW := plotW / float64(max(len(cats), 1))
	barW := groupW * 0.8 / float64(max(len(series), 1))
	for ci, cat := range cats {
		gx := float64(left) + groupW*float64(ci)
		for si, s := range series {
			if ci >= len(s.Values) {
				continue
			}
			v := s.Values[ci]
			if math.IsNaN(v) || (logY && v <= 0) {
				continue
			}
			x := gx + groupW*0.1 + barW*float64(si)
			yy := y(math.Max(v, floor(lo, logY)))
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s</title></rect>`+"\n",
				x, yy, barW*0.92, float64(top)+plotH-yy, palette[si%len(palette)], esc(s.Name), esc(cat), num(v))
			if barW > 22 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">%s</text>`+"\n", x+barW*0.46, yy-3, num(v))
			}
		}
		fmt.Fprintf(&b, `<text transform="translate(%.1f,%d) rotate(30)" font-size="11">%s</text>`+"\n",
			gx+groupW*0.3, top+int(plotH)+14, esc(cat))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="black"/>`+"\n", left, width-right, top+int(plotH), top+int(plotH))
	for si, s := range series {
		x := left + 10 + si*150
		fmt.Fprintf(&b, `<rect x="%d" y="30" width="12" height="12" fill="%s"/><text x="%d" y="40">%s</text>`+"\n",
			x, palette[si%len(palette)], x+16, esc(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// valueRange returns the axis range: log10 bounds for a log axis, else
// [0, max] with head room.
func valueRange(series []Series, logY bool) (lo, hi float64) {
	mn, mx := math.Inf(1), 0.0
	for _, s := range series {
		for _, v := range s.Values {
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			mn, mx = math.Min(mn, v), math.Max(mx, v)
		}
	}
	if mx == 0 {
		return 0, 1
	}
	if logY {
		return math.Floor(math.Log10(mn)), math.Ceil(math.Log10(mx) + 0.05)
	}
	return 0, mx * 1.15
}

func floor(lo float64, logY bool) float64 {
	if logY {
		return math.Pow(10, lo)
	}
	return lo
}

func ticks(lo, hi float64, logY bool) []float64 {
	var t []float64
	if logY {
		for e := lo; e <= hi; e++ {
			t = append(t, math.Pow(10, e))
		}
		return t
	}
	step := math.Pow(10, math.Floor(math.Log10(hi/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if hi/(step*m) <= 6 {
			step *= m
			break
		}
	}
	for v := 0.0; v <= hi; v += step {
		t = append(t, v)
	}
	return t
}

// num formats a value compactly: 1.2M, 35k, 0.25.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trim(fmt.Sprintf("%.2f", v/1e6)) + "M"
	case a >= 1e4:
		return trim(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 1:
		return trim(fmt.Sprintf("%.2f", v))
	case a == 0:
		return "0"
	default:
		return trim(fmt.Sprintf("%.3f", v))
	}
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }
