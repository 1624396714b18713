package bench

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveQuantile is the reference: the ceil(q*n)-th smallest value.
func naiveQuantile(sorted []uint64, q float64) uint64 {
	r := int(math.Ceil(q * float64(len(sorted))))
	r = max(r, 1)
	return sorted[r-1]
}

func TestHistBucketBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 1 << 20, 123456789, 1<<63 - 1, math.MaxUint64} {
		i := histIndex(v)
		lo, hi := histBounds(i)
		if v < lo || v > hi || i >= histBuckets {
			t.Errorf("histIndex(%d) = %d with bounds [%d, %d]; want v inside, index < %d", v, i, lo, hi, histBuckets)
		}
		if v >= histSub && float64(hi-lo) > float64(lo)/histSub {
			t.Errorf("bucket of %d is [%d, %d]; wider than 1/%d", v, lo, hi, histSub)
		}
	}
}

func TestHistQuantileMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Hist
	var vals []uint64
	for range 100000 {
		v := uint64(r.ExpFloat64() * 2e6)
		vals = append(vals, v)
		h.Record(int64(v))
	}
	slices.Sort(vals)
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		want := naiveQuantile(vals, q)
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/histSub+1 {
			t.Errorf("Quantile(%v) = %d; want %d within 1/%d above", q, got, want, histSub)
		}
	}
	if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
		t.Errorf("Min, Max = %d, %d; want %d, %d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
}

func TestHistMergeIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all, merged Hist
	parts := make([]Hist, 4)
	for i := range 50000 {
		v := int64(r.IntN(1 << 30))
		all.Record(v)
		parts[i%len(parts)].Record(v)
	}
	for i := range parts {
		// Round-trip through JSON as the workers' reports do.
		b, err := json.Marshal(&parts[i])
		if err != nil {
			t.Fatal(err)
		}
		var p Hist
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		merged.Merge(&p)
	}
	if merged.counts != all.counts {
		t.Fatal("merged bucket counts differ from recording everything in one histogram")
	}
	if merged.Count() != all.Count() || merged.Min() != all.Min() || merged.Max() != all.Max() {
		t.Errorf("merged n/min/max = %d/%d/%d; want %d/%d/%d",
			merged.Count(), merged.Min(), merged.Max(), all.Count(), all.Min(), all.Max())
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged Quantile(%v) = %d; want %d", q, merged.Quantile(q), all.Quantile(q))
		}
	}
}

func TestHistUnmarshalRejectsInconsistent(t *testing.T) {
	for name, in := range map[string]string{
		"bucket out of range": `{"n":1,"buckets":[[99999,1]]}`,
		"count mismatch":      `{"n":2,"buckets":[[5,1]]}`,
	} {
		t.Run(name, func(t *testing.T) {
			var h Hist
			if err := json.Unmarshal([]byte(in), &h); err == nil {
				t.Errorf("Unmarshal(%q) = nil; want error", in)
			}
		})
	}
}

func TestHistEmpty(t *testing.T) {
	var h, e Hist
	h.Merge(&e)
	if h.Quantile(0.99) != 0 || h.Count() != 0 || h.Mean() != 0 {
		t.Errorf("empty histogram: Quantile = %d, Count = %d; want 0, 0", h.Quantile(0.99), h.Count())
	}
}

func BenchmarkHistRecord(b *testing.B) {
	var h Hist
	b.ReportAllocs()
	for i := range b.N {
		h.Record(int64(i) * 7919)
	}
}

func BenchmarkHistMerge(b *testing.B) {
	var h, o Hist
	for i := range 10000 {
		o.Record(int64(i) * 7919)
	}
	b.ReportAllocs()
	for range b.N {
		h.Merge(&o)
	}
}
