package quantize

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGridLevels checks that weights stored as TF.js stores them (uint8 per
// tensor, 0 on the grid) and then scaled per output channel, as folding
// BatchNorm does, come back exactly from int8 where a channel spans at most
// 127 steps each side, and that other channels are left to rounding.
func TestGridLevels(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const k, cout = 50, 4
	step, zero := 0.0123, 131 // zero point of the uint8 grid
	gamma := []float64{1, 0.37, 2.9, 1}
	w := make([]float32, k*cout)
	for i := range w {
		c := i % cout
		q := 60 + r.IntN(140) // uint8 values within [−71, 68] steps of zero
		switch c {
		case 2:
			q = 4 + 2*r.IntN(120) // even steps only: a grid of 2·step spans fewer levels
		case 3:
			q = r.IntN(256) // up to 131 steps: more than int8 holds
		}
		w[i] = float32(float32(float64(q-zero)*step) * float32(gamma[c]))
	}
	w[3] = float32(-131 * step) // channel 3 reaches the grid's end for certain
	q, scale, _ := quantizePerChannel(w, cout, nil, true)
	for i, v := range w {
		c := i % cout
		d := math.Abs(float64(v) - float64(q[i])*float64(scale[c]))
		if c < 3 && d > 1e-6*math.Abs(float64(v))+1e-9 {
			t.Fatalf("channel %d weight %d: %g comes back as %d·%g", c, i, v, q[i], scale[c])
		}
	}
	levels := gridLevels(w, cout, []float64{maxAbsOf(w, cout, 0), maxAbsOf(w, cout, 1), maxAbsOf(w, cout, 2), maxAbsOf(w, cout, 3)})
	if levels[3] != 0 {
		t.Errorf("channel 3 spans 131 steps but got %d levels", levels[3])
	}
	// Off the grid (an adapter merged, say): no levels, plain max|w|/127.
	for i := range w {
		w[i] += float32(r.NormFloat64() * 1e-3)
	}
	for c, l := range gridLevels(w, cout, []float64{maxAbsOf(w, cout, 0), maxAbsOf(w, cout, 1), maxAbsOf(w, cout, 2), maxAbsOf(w, cout, 3)}) {
		if l != 0 {
			t.Errorf("channel %d off the grid: %d levels", c, l)
		}
	}
}

func maxAbsOf(w []float32, cout, c int) float64 {
	m := 0.0
	for i := c; i < len(w); i += cout {
		m = max(m, math.Abs(float64(w[i])))
	}
	return m
}
