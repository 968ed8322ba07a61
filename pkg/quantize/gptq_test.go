package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// outputError is Σ over patches of ‖(Wq·scale − W)ᵀ x‖², the error GPTQ
// minimises, for d×cout weights.
func outputError(w []float32, q []int8, scale []float32, xs [][]float64, cout int) float64 {
	var e float64
	for _, x := range xs {
		for c := 0; c < cout; c++ {
			var s float64
			for i, v := range x {
				k := i*cout + c
				s += (float64(q[k])*float64(scale[c]) - float64(w[k])) * v
			}
			e += s * s
		}
	}
	return e
}

func TestGPTQBeatsNearestRounding(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const d, cout, n = 24, 6, 400
	w := make([]float32, d*cout)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	// Correlated inputs with a nonzero mean, like ReLU outputs: where
	// rounding each weight alone is furthest from optimal.
	xs := make([][]float64, n)
	h := make([]float64, d*d)
	for p := range xs {
		base := r.Float64()
		x := make([]float64, d)
		for i := range x {
			x[i] = max(0, base+0.3*r.NormFloat64())
		}
		if p%5 == 0 {
			x[3] = 0 // some zeros, and one input that is always 0
		}
		x[7] = 0
		xs[p] = x
		for a := range x {
			for b := a; b < d; b++ {
				h[a*d+b] += x[a] * x[b]
			}
		}
	}
	nearest, scale, _ := QuantizePerChannel(w, cout)
	q, err := gptqRound(w, d, cout, scale, h)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range q {
		if v < -127 || v > 127 {
			t.Fatalf("weight %d = %d is outside [-127, 127]", i, v)
		}
		if math.Abs(float64(v)*float64(scale[i%cout])-float64(w[i])) > 8*float64(scale[i%cout]) {
			t.Fatalf("weight %d moved %d steps from %g", i, v, w[i]/scale[i%cout])
		}
	}
	eg, en := outputError(w, q, scale, xs, cout), outputError(w, nearest, scale, xs, cout)
	t.Logf("output error: GPTQ %.4g, nearest %.4g (%.1fx smaller)", eg, en, en/eg)
	if eg >= en/2 {
		t.Errorf("GPTQ output error %.4g is not well below nearest rounding's %.4g", eg, en)
	}
}

func TestGPTQExactOnGrid(t *testing.T) {
	// Weights already on the int8 grid are kept as they are.
	const d, cout = 5, 3
	scale := []float32{0.5, 0.25, 1}
	w := make([]float32, d*cout)
	want := make([]int8, d*cout)
	for i := range w {
		want[i] = int8(i*7%25 - 12)
		w[i] = float32(want[i]) * scale[i%cout]
	}
	h := make([]float64, d*d)
	for a := 0; a < d; a++ {
		for b := a; b < d; b++ {
			h[a*d+b] = 1 / float64(1+b-a)
		}
	}
	q, err := gptqRound(w, d, cout, scale, h)
	if err != nil {
		t.Fatal(err)
	}
	for i := range q {
		if q[i] != want[i] {
			t.Fatalf("weight %d = %d, want %d", i, q[i], want[i])
		}
	}
}
