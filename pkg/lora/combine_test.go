package lora

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sumDeltas is Σ w_i·scale_i·B_i·A_i for the named layer, PyTorch layout.
func sumDeltas(in []Weighted, layer string, out, fan int) []float64 {
	sum := make([]float64, out*fan)
	for _, w := range in {
		if l, ok := w.Adapter.Layer(layer); ok {
			for i, d := range torchDelta(l, w.Weight*l.Scale()) {
				sum[i] += d
			}
		}
	}
	return sum
}

func combineInputs() []Weighted {
	a, b := testAdapter(40), testAdapter(41)
	b.Layers[1].Rank, b.Layers[1].A, b.Layers[1].B = 1, b.Layers[1].A[:8], b.Layers[1].B[:12] // Conv_1 rank 1
	b.Layers[0].RSLoRA = true
	b.Layers = b.Layers[:2] // no block_16_project
	return []Weighted{{a, 0.6}, {b, -1.3}}
}

func TestCombineCatIsExactSum(t *testing.T) {
	in := combineInputs()
	orig := []*Adapter{in[0].Adapter.Clone(), in[1].Adapter.Clone()}
	got, err := Combine(in, CombineCat, CombineOptions{Name: "mix"})
	require.NoError(t, err)
	assert.Equal(t, orig[0], in[0].Adapter, "Combine must not modify its inputs")
	assert.Equal(t, orig[1], in[1].Adapter)
	assert.Equal(t, "mix", got.Name)
	require.Len(t, got.Layers, 3)
	for i := range got.Layers {
		l := &got.Layers[i]
		assert.Equal(t, 1.0, l.Scale())
		requireClose64(t, sumDeltas(in, l.Layer, l.Out, l.Fan()), torchDelta(l, 1), 1e-6, l.Layer)
	}
	c, _ := got.Layer("Conv_1")
	assert.Equal(t, 3, c.Rank, "cat concatenates ranks 2 and 1")
}

func TestCombineSVD(t *testing.T) {
	in := combineInputs()
	// A target rank at least the sum of ranks keeps the sum exactly.
	got, err := Combine(in, CombineSVD, CombineOptions{Rank: 16})
	require.NoError(t, err)
	for i := range got.Layers {
		l := &got.Layers[i]
		requireClose64(t, sumDeltas(in, l.Layer, l.Out, l.Fan()), torchDelta(l, 1), 1e-5, l.Layer)
	}
	// The default rank is the largest input rank, and is the optimal rank-k approximation.
	got, err = Combine(in, CombineSVD, CombineOptions{})
	require.NoError(t, err)
	l, _ := got.Layer("dense_1")
	assert.Equal(t, 3, l.Rank)
	cat, err := Combine(in, CombineCat, CombineOptions{})
	require.NoError(t, err)
	cl, _ := cat.Layer("dense_1")
	s, err := cl.SingularValues()
	require.NoError(t, err)
	want := 0.0
	for _, v := range s[3:] {
		want += v * v
	}
	sum, approx, errF := sumDeltas(in, "dense_1", l.Out, l.Fan()), torchDelta(l, 1), 0.0
	for i := range sum {
		errF += (sum[i] - approx[i]) * (sum[i] - approx[i])
	}
	assert.InDelta(t, want, errF, 1e-5*(want+1))
}

func TestCombineLinear(t *testing.T) {
	a, b := testAdapter(42), testAdapter(43)
	in := []Weighted{{a, 0.5}, {b, -2}}
	got, err := Combine(in, CombineLinear, CombineOptions{})
	require.NoError(t, err)
	for i := range got.Layers {
		l := &got.Layers[i]
		la, _ := a.Layer(l.Layer)
		lb, _ := b.Layer(l.Layer)
		fa, fb := math.Sqrt(0.5*la.Scale()), math.Sqrt(2*lb.Scale())
		wantA, wantB := make([]float64, len(l.A)), make([]float64, len(l.B))
		for j := range wantA {
			wantA[j] = fa*float64(la.A[j]) + fb*float64(lb.A[j])
		}
		for j := range wantB {
			wantB[j] = fa*float64(la.B[j]) - fb*float64(lb.B[j])
		}
		requireClose(t, wantA, l.A, 1e-6, l.Layer+" A")
		requireClose(t, wantB, l.B, 1e-6, l.Layer+" B")
		assert.Equal(t, 1.0, l.Scale())
	}
	_, err = Combine(combineInputs(), CombineLinear, CombineOptions{})
	assert.ErrorContains(t, err, `layer "Conv_1": linear combination needs equal ranks, got 2 and 1`)
}

// singleEntry is a rank-1 1×n dense adapter whose delta is exactly v (B = [1], A = v, scale 1).
func singleEntry(name string, v ...float32) *Adapter {
	return &Adapter{Layers: []LayerAdapter{{Layer: name, Rank: 1, In: len(v), Out: 1, KH: 1, KW: 1, A: v, B: []float32{1}, Alpha: 1}}}
}

func TestCombineTaskArithmetic(t *testing.T) {
	// 1×4 deltas: every method's result is rank ≤ 1, so the final SVD is exact and the
	// element-wise rules can be checked by hand.
	x := singleEntry("d", 4, -1, 0.5, -3)
	y := singleEntry("d", -2, -2, 1, 1)
	z := singleEntry("d", 1, 3, -0.25, -1)
	in := []Weighted{{x, 1}, {y, 0.5}, {z, 2}}
	for _, tc := range []struct {
		method  CombineMethod
		density float64
		sign    string
		want    []float64
	}{
		// Trim to 2 of 4: x → [4 0 0 -3], y → [-2 -2 0 0], z → [1 3 0 0] (|1| = |-1|: the earlier wins).
		{CombineMagnitudePrune, 0.5, "", []float64{4 - 1 + 2, -1 + 6, 0, -3}},
		// Signs of the trimmed sum [3 1 0 -3] → [+ + + -]; means of the weighted agreeing values.
		{CombineTIES, 0.5, "", []float64{(4 + 2) / 2.0, 6, 0, -3}},
		// Frequency: column 1 has one - and one +, a tie, which elects +.
		{CombineTIES, 0.5, "frequency", []float64{(4 + 2) / 2.0, 6, 0, -3}},
		// Density 1 keeps everything: dare_linear is the weighted sum.
		{CombineDARELinear, 1, "", []float64{4 - 1 + 2, -1 - 1 + 6, 0.5 + 0.5 - 0.5, -3 + 0.5 - 2}},
		// Density 1 dare_ties: signs of the plain sum [+ + + -].
		{CombineDARETIES, 1, "", []float64{(4 + 2) / 2.0, 6, (0.5 + 0.5) / 2, (-3 - 2) / 2.0}},
	} {
		t.Run(string(tc.method)+tc.sign, func(t *testing.T) {
			got, err := Combine(in, tc.method, CombineOptions{Density: tc.density, MajoritySign: tc.sign})
			require.NoError(t, err)
			l := &got.Layers[0]
			assert.Equal(t, 1, l.Rank)
			requireClose64(t, tc.want, torchDelta(l, l.Scale()), 1e-6, string(tc.method))
		})
	}
}

func TestCombineDARESeeded(t *testing.T) {
	in := combineInputs()
	opts := CombineOptions{Density: 0.3, Seed: 7, Rank: 4}
	a, err := Combine(in, CombineDARETIES, opts)
	require.NoError(t, err)
	b, err := Combine(in, CombineDARETIES, opts)
	require.NoError(t, err)
	assert.Equal(t, a, b, "same seed, same result")
	opts.Seed = 8
	c, err := Combine(in, CombineDARETIES, opts)
	require.NoError(t, err)
	assert.NotEqual(t, a.Layers[0].A, c.Layers[0].A)
}

func TestCombineErrors(t *testing.T) {
	dora := testAdapter(44)
	dora.Layers[0].Magnitude = make([]float32, dora.Layers[0].Out)
	other := testAdapter(45)
	other.Layers[0] = randLayer(newRNG(1), "dense_1", 3, 5, 6, 1, 1)
	for _, tc := range []struct {
		name   string
		in     []Weighted
		method CombineMethod
		opts   CombineOptions
		want   string
	}{
		{"none", nil, CombineCat, CombineOptions{}, "no adapters"},
		{"method", []Weighted{{testAdapter(1), 1}}, "avg", CombineOptions{}, `unknown combine method "avg"`},
		{"density", []Weighted{{testAdapter(1), 1}}, CombineTIES, CombineOptions{}, "combine ties: density 0 is not in (0, 1]"},
		{"sign", []Weighted{{testAdapter(1), 1}}, CombineTIES, CombineOptions{Density: 1, MajoritySign: "max"}, `majority sign method "max"`},
		{"dora", []Weighted{{dora, 1}}, CombineCat, CombineOptions{}, "DoRA adapters cannot be combined"},
		{"shapes", []Weighted{{testAdapter(1), 1}, {other, 1}}, CombineCat, CombineOptions{}, `layer "dense_1": delta [6 5], another adapter has [6 12]`},
		{"weight", []Weighted{{testAdapter(1), math.Inf(1)}}, CombineCat, CombineOptions{}, "weight +Inf is not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Combine(tc.in, tc.method, tc.opts)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestPruneMagnitude(t *testing.T) {
	a := singleEntry("d", 1, -5, 3, 0.5, -2)
	orig := a.Clone()
	got, err := PruneMagnitude(a, 0.4)
	require.NoError(t, err)
	assert.Equal(t, orig, a, "PruneMagnitude must not modify its input")
	assert.Equal(t, []float32{0, -5, 3, 0, 0}, got.Layers[0].A)
	assert.Equal(t, []float32{0}, got.Layers[0].B, "⌊0.4·1⌋ = 0 entries of B survive")
	got, err = PruneMagnitude(a, 1)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	_, err = PruneMagnitude(a, 0)
	assert.ErrorContains(t, err, "density 0 is not in (0, 1]")
}

func TestPruneDARE(t *testing.T) {
	a := testAdapter(46)
	orig := a.Clone()
	got, err := PruneDARE(a, 0.25, 1)
	require.NoError(t, err)
	assert.Equal(t, orig, a, "PruneDARE must not modify its input")
	again, err := PruneDARE(a, 0.25, 1)
	require.NoError(t, err)
	assert.Equal(t, got, again, "same seed, same masks")
	kept, total := 0, 0
	for i := range got.Layers {
		for j, v := range got.Layers[i].A {
			total++
			if v != 0 {
				kept++
				assert.InDelta(t, 4*a.Layers[i].A[j], v, 1e-5, "kept entries are rescaled by 1/density")
			}
		}
	}
	assert.InDelta(t, 0.25, float64(kept)/float64(total), 0.08)
	same, err := PruneDARE(a, 1, 9)
	require.NoError(t, err)
	assert.Equal(t, a, same, "density 1 keeps everything")
}
