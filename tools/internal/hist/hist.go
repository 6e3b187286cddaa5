// Package hist is a small log-linear latency histogram, in the style of
// HdrHistogram: values below 2*SubBuckets are counted exactly, and every
// larger power-of-two range [2^k, 2^(k+1)) is split into SubBuckets buckets
// of equal width. A value is thus known to within 1/SubBuckets of itself
// (0.8%), whatever its magnitude, in a fixed amount of memory and without
// keeping samples.
//
// A Histogram is not safe for concurrent use: give each goroutine its own
// and Merge them at the end.
package hist

import (
	"math"
	"math/bits"
)

// SubBucketBits sets the precision: each power-of-two range holds
// 1<<SubBucketBits buckets.
const SubBucketBits = 7

// SubBuckets is the number of buckets in each power-of-two range (128).
const SubBuckets = 1 << SubBucketBits

// MaxTrackable is the largest value counted in its own bucket: larger values
// share the last bucket, although Max still reports them exactly. In
// nanoseconds it is about 18 minutes.
const MaxTrackable = 1<<40 - 1

// maxShift is the shift of the bucket that holds MaxTrackable.
const maxShift = 40 - (SubBucketBits + 1)

// numBuckets is the number of buckets: 2*SubBuckets exact ones, then
// SubBuckets for each shift from 1 to maxShift.
const numBuckets = 2*SubBuckets + maxShift*SubBuckets

// Histogram counts non-negative integer values (latencies in nanoseconds,
// say). The zero value is not usable; call New.
type Histogram struct {
	counts []uint64
	total  uint64
	min    uint64
	max    uint64
	sum    float64
}

// New returns an empty histogram.
func New() *Histogram {
	return &Histogram{counts: make([]uint64, numBuckets), min: math.MaxUint64}
}

// index returns the bucket of v, which must be at most MaxTrackable.
func index(v uint64) int {
	if v < 2*SubBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - (SubBucketBits + 1) // v>>shift is in [SubBuckets, 2*SubBuckets)
	return 2*SubBuckets + (shift-1)*SubBuckets + int(v>>shift) - SubBuckets
}

// highest returns the largest value that falls into bucket i.
func highest(i int) uint64 {
	if i < 2*SubBuckets {
		return uint64(i)
	}
	shift := (i-2*SubBuckets)/SubBuckets + 1
	sub := uint64((i-2*SubBuckets)%SubBuckets + SubBuckets)
	return (sub+1)<<shift - 1
}

// Record counts one value.
func (h *Histogram) Record(v uint64) {
	h.total++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
	h.counts[index(min(v, MaxTrackable))]++
}

// Merge adds the counts of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total }

// Min returns the smallest value recorded, exactly (0 if none).
func (h *Histogram) Min() uint64 {
	if h.total == 0 {
		return 0
	}
	return h.min
}

// Max returns the largest value recorded, exactly (0 if none).
func (h *Histogram) Max() uint64 { return h.max }

// Mean returns the average of the values recorded (0 if none).
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return h.sum / float64(h.total)
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// recorded values lie: the largest value of the bucket that holds the
// ceil(q*Count())-th smallest value, clamped to [Min, Max]. It is within
// 1/SubBuckets of the exact answer, never below it, and monotonic in q, so
// Quantile(0.5) <= Quantile(0.9) <= Quantile(0.99) <= Max. It returns 0 for
// an empty histogram. A quantile that falls among values above MaxTrackable
// is reported as Max.
func (h *Histogram) Quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	q = max(0, min(1, q))
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == numBuckets-1 { // values above MaxTrackable: only Max bounds them
				return h.max
			}
			return max(h.min, min(h.max, highest(i)))
		}
	}
	return h.max
}
