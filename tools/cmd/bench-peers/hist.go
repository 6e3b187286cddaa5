package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records latencies in fixed log-linear buckets: exact below
// 256 ns, then 128 buckets per power of two, so that a bucket is at most
// 1/128 (0.8%) of its value wide and its midpoint is within 0.4%. Recording
// is a few instructions and allocates nothing; every call is recorded.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
}

const (
	histSubBits = 7 // 128 sub-buckets per power of two
	histSub     = 1 << histSubBits
	histMaxExp  = 40 // values are capped at 2^40 ns, about 18 minutes
	histBuckets = (histMaxExp - histSubBits + 1) * histSub
)

// bucketOf returns the bucket of v nanoseconds.
func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	if v >= 1<<histMaxExp {
		v = 1<<histMaxExp - 1
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	return shift*histSub + int(v>>uint(shift))
}

// bucketRange returns the values [lo, hi) that bucket i holds.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*histSub {
		return uint64(i), uint64(i) + 1
	}
	shift := uint(i/histSub - 1)
	m := uint64(i - int(shift)*histSub)
	return m << shift, (m + 1) << shift
}

func (h *histogram) record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)]++
	h.total++
}

func (h *histogram) reset() { *h = histogram{} }

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
}

// quantile returns the q-quantile (0 < q <= 1) in nanoseconds: the midpoint
// of the bucket that holds the ceil(q*total)-th smallest value, or NaN if
// nothing was recorded.
func (h *histogram) quantile(q float64) float64 {
	if h.total == 0 {
		return math.NaN()
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			if hi-lo == 1 {
				return float64(lo)
			}
			return (float64(lo) + float64(hi)) / 2
		}
	}
	return math.NaN() // unreachable: the counts add up to total
}
