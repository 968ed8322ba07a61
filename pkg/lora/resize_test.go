package lora

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

// fullSVDValues returns the singular values of the dense delta, computed without the QR trick.
func fullSVDValues(t *testing.T, l *LayerAdapter) []float64 {
	var svd mat.SVD
	require.True(t, svd.Factorize(mat.NewDense(l.Out, l.Fan(), torchDelta(l, l.Scale())), mat.SVDNone))
	return svd.Values(nil)
}

func TestSingularValuesMatchFullSVD(t *testing.T) {
	rng := newRNG(30)
	for _, tc := range []struct {
		name                  string
		rank, in, out, kh, kw int
	}{
		{"dense", 6, 40, 30, 1, 1},
		{"conv", 5, 8, 16, 3, 3},
		{"rank above out (dense fallback)", 8, 20, 5, 1, 1},
		{"rank above fan (dense fallback)", 8, 3, 20, 1, 1},
		{"rank 1", 1, 9, 7, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := randLayer(rng, "x", tc.rank, tc.in, tc.out, tc.kh, tc.kw)
			got, err := l.SingularValues()
			require.NoError(t, err)
			want := fullSVDValues(t, &l)
			require.GreaterOrEqual(t, len(want), len(got))
			for i := range got {
				assert.InDelta(t, want[i], got[i], 1e-9*want[0], "σ_%d", i)
			}
			for _, s := range want[len(got):] {
				assert.InDelta(t, 0, s, 1e-9*want[0], "the dense delta has rank ≤ %d", len(got))
			}
		})
	}
}

func TestResizeReconstruction(t *testing.T) {
	rng := newRNG(31)
	for _, tc := range []struct {
		name                  string
		rank, in, out, kh, kw int
		k                     int
	}{
		{"dense 8→3", 8, 40, 30, 1, 1, 3},
		{"conv 6→2", 6, 8, 16, 3, 3, 2},
		{"keep all", 4, 10, 10, 1, 1, 4},
		{"grow is capped", 3, 10, 10, 1, 1, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := randLayer(rng, "x", tc.rank, tc.in, tc.out, tc.kh, tc.kw)
			a := &Adapter{Layers: []LayerAdapter{l}}
			orig := a.Clone()
			got, rep, err := Resize(a, RankRule{Method: RankFixed, Rank: tc.k})
			require.NoError(t, err)
			assert.Equal(t, orig, a, "Resize must not modify its input")
			k := min(tc.k, tc.rank)
			nl := &got.Layers[0]
			require.Equal(t, k, nl.Rank)
			assert.Equal(t, 1.0, nl.Scale(), "the scale is folded into the factors")

			s := fullSVDValues(t, &l)
			dropped, total := 0.0, 0.0
			for i, v := range s {
				total += v * v
				if i >= k {
					dropped += v * v // beyond the rank these are rounding noise
				}
			}
			want, gotD := torchDelta(&l, l.Scale()), torchDelta(nl, 1)
			errF := 0.0
			for i := range want {
				errF += (want[i] - gotD[i]) * (want[i] - gotD[i])
			}
			// ‖Δ − Δ_k‖²_F = Σ_{i>k} σ_i²; float32 factors add rounding of order 1e-7·‖Δ‖².
			assert.InDelta(t, dropped, errF, 1e-6*total)

			// In float64, before rounding the factors, the identity holds to 1e-6 of the dropped energy.
			f, err := deltaSVD(&l, l.Scale())
			require.NoError(t, err)
			var us, dk mat.Dense
			uk := f.u.Slice(0, l.Out, 0, k).(*mat.Dense)
			vk := f.v.Slice(0, l.Fan(), 0, k).(*mat.Dense)
			us.Mul(uk, mat.NewDiagDense(k, f.s[:k]))
			dk.Mul(&us, vk.T())
			exact := 0.0
			for i, x := range dk.RawMatrix().Data {
				exact += (want[i] - x) * (want[i] - x)
			}
			if dropped > 1e-20*total {
				assert.InDelta(t, 1, exact/dropped, 1e-6)
			} else {
				assert.Less(t, exact, 1e-18*total)
			}

			require.Len(t, rep, 1)
			assert.Equal(t, LayerReport{Layer: "x", OldRank: tc.rank, NewRank: k, MaxSV: rep[0].MaxSV, MinKeptSV: f.s[k-1],
				EnergyKept: rep[0].EnergyKept, RelError: rep[0].RelError}, rep[0])
			assert.InDelta(t, 1-dropped/total, rep[0].EnergyKept, 1e-9)
			assert.InDelta(t, math.Sqrt(dropped/total), rep[0].RelError, 1e-6)
			assert.InDelta(t, s[0], rep[0].MaxSV, 1e-9*s[0])
		})
	}
}

func TestRankRuleChoose(t *testing.T) {
	s := []float64{10, 5, 2, 1, 0.5} // σ² = 100 25 4 1 0.25, Σσ² = 130.25, Σσ = 18.5
	for _, tc := range []struct {
		rule RankRule
		want int
	}{
		{RankRule{Method: RankFixed, Rank: 3}, 3},
		{RankRule{Method: RankFixed, Rank: 30}, 5},
		{RankRule{Method: RankSVRatio, Param: 4}, 2}, // σ > 2.5
		{RankRule{Method: RankSVRatio, Param: 5}, 2}, // σ > 2 (strict)
		{RankRule{Method: RankSVRatio, Param: 1}, 1}, // nothing exceeds σ_max: at least 1
		{RankRule{Method: RankSVRatio, Param: 100}, 5},
		{RankRule{Method: RankSVRatio, Param: 100, Rank: 3}, 3},
		{RankRule{Method: RankSVFro, Param: 0.9}, 2},  // 125/130.25 = 0.96
		{RankRule{Method: RankSVFro, Param: 0.97}, 3}, // 129/130.25 = 0.99
		{RankRule{Method: RankSVFro, Param: 1}, 5},
		{RankRule{Method: RankSVCumulative, Param: 0.8}, 2}, // 15/18.5 = 0.81
		{RankRule{Method: RankSVCumulative, Param: 0.9}, 3}, // 17/18.5 = 0.92
	} {
		require.NoError(t, tc.rule.validate())
		assert.Equal(t, tc.want, tc.rule.choose(s), "%+v", tc.rule)
	}
	assert.Equal(t, 1, RankRule{Method: RankSVRatio, Param: 10}.choose([]float64{0, 0}), "a zero delta keeps rank 1")
	for _, bad := range []RankRule{
		{Method: RankFixed}, {Method: RankSVRatio, Param: 0.5}, {Method: RankSVFro, Param: 0},
		{Method: RankSVCumulative, Param: 1.5}, {Method: "sv_max"}, {Method: RankSVFro, Param: 0.5, Rank: -1},
	} {
		assert.Error(t, bad.validate(), "%+v", bad)
	}
}

func TestResizeDynamic(t *testing.T) {
	// A rank-8 adapter whose delta has only 2 significant directions.
	rng := newRNG(32)
	l := randLayer(rng, "dense_1", 8, 30, 20, 1, 1)
	for q := 2; q < 8; q++ {
		for c := 0; c < l.Fan(); c++ {
			l.A[q*l.Fan()+c] *= 1e-4
		}
	}
	a := &Adapter{Layers: []LayerAdapter{l}}
	got, rep, err := Resize(a, RankRule{Method: RankSVFro, Param: 0.999})
	require.NoError(t, err)
	assert.Equal(t, 2, got.Layers[0].Rank)
	assert.Greater(t, rep[0].EnergyKept, 0.999)
	got, _, err = Resize(a, RankRule{Method: RankSVRatio, Param: 1000})
	require.NoError(t, err)
	assert.Equal(t, 2, got.Layers[0].Rank)
	_, _, err = Resize(a, RankRule{Method: "bogus"})
	assert.ErrorContains(t, err, `unknown rank method "bogus"`)
}

// benchmarkResize resizes one layer of the given shape from rank r to r/2.
func benchmarkResize(b *testing.B, r, in, out, k int) {
	l := randLayer(newRNG(1), "Conv_x", r, in, out, k, k)
	a := &Adapter{Layers: []LayerAdapter{l}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Resize(a, RankRule{Method: RankFixed, Rank: r / 2}); err != nil {
			b.Fatal(err)
		}
	}
}

// InceptionV3's largest 3×3 convs are 384→384; the QR trick keeps this far below a dense SVD.
func BenchmarkResizeConv3x3x384Rank16(b *testing.B)  { benchmarkResize(b, 16, 384, 384, 3) }
func BenchmarkResizeDense1280x256Rank8(b *testing.B) { benchmarkResize(b, 8, 1280, 256, 1) }
