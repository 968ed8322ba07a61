package lora

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeltaLayout(t *testing.T) {
	rng := newRNG(1)
	for _, tc := range []struct {
		name                  string
		rank, in, out, kh, kw int
	}{
		{"dense_1", 4, 7, 5, 1, 1},
		{"dense_rank1", 1, 3, 2, 1, 1},
		{"Conv_1x1", 3, 6, 4, 1, 1},
		{"Conv_3x3", 2, 5, 3, 3, 3},
		{"Conv_3x2", 5, 2, 7, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := randLayer(rng, tc.name, tc.rank, tc.in, tc.out, tc.kh, tc.kw)
			a0, b0 := append([]float32(nil), l.A...), append([]float32(nil), l.B...)
			got := l.Delta()
			requireClose(t, naiveDelta(&l, l.Scale()), got, 1e-6, "Delta")
			assert.Equal(t, a0, l.A, "Delta must not modify A")
			assert.Equal(t, b0, l.B, "Delta must not modify B")
			if !l.Conv {
				// Keras dense [in, out] is the transpose of PyTorch Linear [out, in].
				td := torchDelta(&l, l.Scale())
				for i := 0; i < l.In; i++ {
					for o := 0; o < l.Out; o++ {
						assert.InDelta(t, td[o*l.In+i], float64(got[i*l.Out+o]), 1e-5)
					}
				}
			}
		})
	}
}

func TestScale(t *testing.T) {
	l := LayerAdapter{Rank: 16, Alpha: 32}
	assert.Equal(t, 2.0, l.Scale())
	l.RSLoRA = true
	assert.Equal(t, 8.0, l.Scale())
}

func TestValidate(t *testing.T) {
	ok := LayerAdapter{Layer: "d", Rank: 1, In: 2, Out: 2, KH: 1, KW: 1, A: make([]float32, 2), B: make([]float32, 2), Alpha: 1}
	require.NoError(t, ok.Validate())
	for _, tc := range []struct {
		name string
		edit func(l *LayerAdapter)
		want string
	}{
		{"zero rank", func(l *LayerAdapter) { l.Rank = 0 }, "all must be positive"},
		{"short A", func(l *LayerAdapter) { l.A = l.A[:1] }, `layer "d": A has 1 values, rank 1 × in 2 × 1×1 needs 2`},
		{"short B", func(l *LayerAdapter) { l.B = nil }, "B has 0 values"},
		{"magnitude", func(l *LayerAdapter) { l.Magnitude = []float32{1} }, "DoRA magnitude has 1 values, out is 2"},
		{"dense kernel", func(l *LayerAdapter) { l.KH = 3; l.A = make([]float32, 6) }, "a dense adapter with kernel 3×1"},
		{"nan", func(l *LayerAdapter) { l.A = []float32{0, float32(nan())} }, "A[1] = NaN is not finite"},
		{"huge", func(l *LayerAdapter) { l.In = 1 << 30; l.Out = 1 << 30 }, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ok.Clone()
			tc.edit(&l)
			err := l.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func nan() float64 { var z float64; return z / z }
