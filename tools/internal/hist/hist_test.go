package hist

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIndexAndHighest(t *testing.T) {
	// Every bucket's highest value maps back to the bucket, and the next
	// value starts the next bucket.
	for i := range numBuckets {
		hi := highest(i)
		require.Equal(t, i, index(hi), "bucket %d", i)
		if i+1 < numBuckets {
			require.Equal(t, i+1, index(hi+1), "after bucket %d", i)
		}
	}
	assert.Equal(t, numBuckets-1, index(MaxTrackable))
	assert.Equal(t, uint64(MaxTrackable), highest(numBuckets-1))
}

func TestEmpty(t *testing.T) {
	h := New()
	assert.Zero(t, h.Count())
	assert.Zero(t, h.Min())
	assert.Zero(t, h.Max())
	assert.Zero(t, h.Mean())
	assert.Zero(t, h.Quantile(0.5))
}

func TestQuantileAccuracy(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) uint64
	}{
		{"small exact", func(r *rand.Rand) uint64 { return r.Uint64N(256) }},
		{"uniform us", func(r *rand.Rand) uint64 { return 1000 + r.Uint64N(1_000_000) }},
		{"log-uniform", func(r *rand.Rand) uint64 { return uint64(1) << r.UintN(39) * (1 + r.Uint64N(1000)) / 1000 }},
		{"huge", func(r *rand.Rand) uint64 { return MaxTrackable + r.Uint64N(1<<50) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			h := New()
			var exact []uint64
			for range 20000 {
				v := tt.gen(r)
				h.Record(v)
				exact = append(exact, v)
			}
			slices.Sort(exact)
			require.Equal(t, uint64(len(exact)), h.Count())
			assert.Equal(t, exact[0], h.Min())
			assert.Equal(t, exact[len(exact)-1], h.Max())
			prev := uint64(0)
			for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
				rank := max(1, int(float64(len(exact))*q+0.999999999))
				want := exact[rank-1]
				got := h.Quantile(q)
				assert.GreaterOrEqual(t, got, want, "q=%v", q)
				if want <= MaxTrackable {
					assert.LessOrEqual(t, float64(got-want), float64(want)/SubBuckets+1, "q=%v: got %d want %d", q, got, want)
				}
				assert.GreaterOrEqual(t, got, prev, "monotonic at q=%v", q)
				prev = got
			}
			assert.Equal(t, h.Max(), h.Quantile(1))
		})
	}
}

func TestMerge(t *testing.T) {
	a, b, all := New(), New(), New()
	for v := range uint64(10000) {
		if v%3 == 0 {
			a.Record(v * 7)
		} else {
			b.Record(v * 7)
		}
		all.Record(v * 7)
	}
	a.Merge(b)
	a.Merge(New())
	assert.Equal(t, all.Count(), a.Count())
	assert.Equal(t, all.Min(), a.Min())
	assert.Equal(t, all.Max(), a.Max())
	assert.InDelta(t, all.Mean(), a.Mean(), 1e-6)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		assert.Equal(t, all.Quantile(q), a.Quantile(q))
	}
}
