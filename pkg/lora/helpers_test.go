package lora

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// mergeTol is the error budget, relative to max(1, |value|), of merged float32 weights.
const mergeTol = 1e-6

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 99)) }

func randSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// randLayer returns a random adapter; it is a conv if its kernel is not 1×1 or its name starts with "C".
func randLayer(rng *rand.Rand, name string, rank, in, out, kh, kw int) LayerAdapter {
	return LayerAdapter{
		Layer: name, Rank: rank, In: in, Out: out, KH: kh, KW: kw, Conv: kh*kw != 1 || name[0] == 'C',
		A: randSlice(rng, rank*in*kh*kw), B: randSlice(rng, out*rank), Alpha: float64(1 + rng.IntN(16)),
	}
}

// naiveDelta computes factor·B·A by looping over PyTorch indices [o, i, y, x] and storing
// into the Keras index [y, x, i, o]: the specification of LayerAdapter.Delta.
func naiveDelta(l *LayerAdapter, factor float64) []float64 {
	k := make([]float64, l.KH*l.KW*l.In*l.Out)
	for o := 0; o < l.Out; o++ {
		for i := 0; i < l.In; i++ {
			for y := 0; y < l.KH; y++ {
				for x := 0; x < l.KW; x++ {
					s := 0.0
					for q := 0; q < l.Rank; q++ {
						s += float64(l.B[o*l.Rank+q]) * float64(l.A[q*l.In*l.KH*l.KW+(i*l.KH+y)*l.KW+x])
					}
					k[((y*l.KW+x)*l.In+i)*l.Out+o] = factor * s
				}
			}
		}
	}
	return k
}

// torchDelta is factor·B·A as a row-major [Out, Fan] slice.
func torchDelta(l *LayerAdapter, factor float64) []float64 {
	n := l.Fan()
	d := make([]float64, l.Out*n)
	for o := 0; o < l.Out; o++ {
		for c := 0; c < n; c++ {
			s := 0.0
			for q := 0; q < l.Rank; q++ {
				s += float64(l.B[o*l.Rank+q]) * float64(l.A[q*n+c])
			}
			d[o*n+c] = factor * s
		}
	}
	return d
}

func requireClose(t *testing.T, want []float64, got []float32, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*max(1, math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %g, want %g (diff %g)", msg, i, got[i], want[i], d)
		}
	}
}

func requireClose64(t *testing.T, want, got []float64, tol float64, msg string) {
	t.Helper()
	require.Len(t, got, len(want), msg)
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > tol*max(1, math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %g, want %g (diff %g)", msg, i, got[i], want[i], d)
		}
	}
}

func kernelFor(rng *rand.Rand, shape ...int) *Kernel {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Kernel{Shape: shape, Data: randSlice(rng, n)}
}

func cloneKernels(m map[string]*Kernel) map[string]*Kernel {
	c := make(map[string]*Kernel, len(m))
	for k, v := range m {
		c[k] = &Kernel{Shape: v.Shape, Data: append([]float32(nil), v.Data...), Depthwise: v.Depthwise}
	}
	return c
}

func requireBitIdentical(t *testing.T, want, got map[string]*Kernel) {
	t.Helper()
	for name, k := range want {
		for i := range k.Data {
			if math.Float32bits(k.Data[i]) != math.Float32bits(got[name].Data[i]) {
				t.Fatalf("layer %q element %d changed: %g → %g", name, i, k.Data[i], got[name].Data[i])
			}
		}
	}
}
