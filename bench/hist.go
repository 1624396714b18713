package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// histSubBits is the number of mantissa bits per power of two: 2^7 = 128
// sub-buckets bound the relative error of a recorded value to 1/128 (0.8%),
// the same resolution HdrHistogram gives with two significant digits.
const histSubBits = 7

const (
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub // covers every uint64
)

// Hist is a log-linear histogram of non-negative values (nanoseconds here).
// Values below 128 are counted exactly; above that each power of two is cut
// into 128 buckets. Two Hists merge exactly by adding bucket counts, which is
// how the coordinator combines the worker processes: percentiles are only
// computed from the merged counts, never averaged.
//
// The zero value is ready to use. A Hist is not safe for concurrent use.
type Hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	min    uint64
	max    uint64
}

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - histSubBits
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// histBounds returns the smallest and the largest value counted in bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i)
	}
	shift := uint(i/histSub - 1)
	m := uint64(i%histSub + histSub)
	lo = m << shift
	return lo, lo + (1 << shift) - 1
}

// Record adds one value; negative values count as zero.
func (h *Hist) Record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[histIndex(u)]++
	if h.n == 0 || u < h.min {
		h.min = u
	}
	if u > h.max {
		h.max = u
	}
	h.n++
	h.sum += float64(u)
}

// Merge adds every count of o to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Hist) Reset() { *h = Hist{} }

// Count is the number of recorded values.
func (h *Hist) Count() uint64 { return h.n }

// Min is the smallest recorded value, exactly (0 when empty).
func (h *Hist) Min() uint64 { return h.min }

// Max is the largest recorded value, exactly (0 when empty).
func (h *Hist) Max() uint64 { return h.max }

// Mean is the exact mean of the recorded values.
func (h *Hist) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding the ceil(q*n)-th smallest value, clamped to [Min, Max]. So
// it never under-reports, and over-reports by at most one bucket (0.8%).
func (h *Hist) Quantile(q float64) uint64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := histBounds(i)
			return min(max(hi, h.min), h.max)
		}
	}
	return h.max
}

// QuantileDuration is Quantile for histograms of nanoseconds.
func (h *Hist) QuantileDuration(q float64) time.Duration {
	return time.Duration(h.Quantile(q))
}

// histJSON is the wire form: only non-empty buckets, as [index, count].
type histJSON struct {
	N       uint64      `json:"n"`
	Sum     float64     `json:"sum"`
	Min     uint64      `json:"min"`
	Max     uint64      `json:"max"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON encodes the non-empty buckets, so a worker's report stays small.
func (h *Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{N: h.n, Sum: h.sum, Min: h.min, Max: h.max, Buckets: [][2]uint64{}}
	for i, c := range h.counts {
		if c != 0 {
			j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h.Reset()
	var n uint64
	for _, bc := range j.Buckets {
		if bc[0] >= histBuckets {
			return fmt.Errorf("%w: bucket %d", ErrHistBucket, bc[0])
		}
		h.counts[bc[0]] += bc[1]
		n += bc[1]
	}
	if n != j.N {
		return fmt.Errorf("%w: buckets hold %d values, header says %d", ErrHistBucket, n, j.N)
	}
	h.n, h.sum, h.min, h.max = j.N, j.Sum, j.Min, j.Max
	return nil
}
