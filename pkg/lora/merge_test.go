package lora

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testModel is a small model with nsfwjs-like layer names.
func testModel(seed uint64) map[string]*Kernel {
	rng := newRNG(seed)
	return map[string]*Kernel{
		"dense_1":                 kernelFor(rng, 12, 6),
		"dense_2":                 kernelFor(rng, 6, 5),
		"Conv_1":                  kernelFor(rng, 1, 1, 8, 12),
		"block_16_project":        kernelFor(rng, 3, 3, 4, 8),
		"expanded_conv_depthwise": {Shape: []int{3, 3, 4, 1}, Data: randSlice(rng, 36), Depthwise: true},
	}
}

func testAdapter(seed uint64) *Adapter {
	rng := newRNG(seed)
	return &Adapter{Layers: []LayerAdapter{
		randLayer(rng, "dense_1", 3, 12, 6, 1, 1),
		randLayer(rng, "Conv_1", 2, 8, 12, 1, 1),
		randLayer(rng, "block_16_project", 4, 4, 8, 3, 3),
	}}
}

func TestMergeMatchesNaive(t *testing.T) {
	dst := testModel(1)
	orig := cloneKernels(dst)
	a1, a2 := testAdapter(2), testAdapter(3)
	a2.Layers[0].Layer = "model.dense_1" // a PEFT module path
	a2.Layers[1].RSLoRA = true
	in := []Weighted{{a1, 0.7}, {a2, -0.3}}
	require.NoError(t, Merge(dst, in))
	for name, k := range orig {
		want := make([]float64, len(k.Data))
		for i, v := range k.Data {
			want[i] = float64(v)
		}
		for _, w := range in {
			for li := range w.Adapter.Layers {
				l := &w.Adapter.Layers[li]
				if r, _ := ResolveLayer(l.Layer, []string{name}); r != name {
					continue
				}
				for i, d := range naiveDelta(l, w.Weight*l.Scale()) {
					want[i] += d
				}
			}
		}
		requireClose(t, want, dst[name].Data, mergeTol, name)
	}
}

func TestMergeZeroIsBitIdentical(t *testing.T) {
	for _, tc := range []struct {
		name   string
		weight float64
		zeroB  bool
	}{
		{"weight 0", 0, false},
		{"B = 0", 1.5, true},
		{"weight 0 and B = 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := testModel(4)
			dst["dense_1"].Data[0] = float32(math.Copysign(0, -1)) // -0 must stay -0
			orig := cloneKernels(dst)
			a := testAdapter(5)
			if tc.zeroB {
				for i := range a.Layers {
					clear(a.Layers[i].B)
				}
			}
			require.NoError(t, Merge(dst, []Weighted{{a, tc.weight}}))
			requireBitIdentical(t, orig, dst)
		})
	}
}

func TestMergeDoRA(t *testing.T) {
	rng := newRNG(6)
	dst := testModel(7)
	orig := cloneKernels(dst)
	a := testAdapter(8)
	for i := range a.Layers {
		a.Layers[i].Magnitude = randSlice(rng, a.Layers[i].Out)
	}
	// Full strength: W' = m·V/‖V‖ per output channel, V = W + scale·B·A.
	full := cloneKernels(dst)
	require.NoError(t, Merge(full, []Weighted{{a, 1}}))
	half := cloneKernels(dst)
	require.NoError(t, Merge(half, []Weighted{{a, 0.5}}))
	for li := range a.Layers {
		l := &a.Layers[li]
		w := orig[l.Layer].Data
		v := naiveDelta(l, l.Scale())
		for i := range v {
			v[i] += float64(w[i])
		}
		norm := make([]float64, l.Out)
		for i, x := range v {
			norm[i%l.Out] += x * x
		}
		want := make([]float64, len(v))
		wantHalf := make([]float64, len(v))
		for i, x := range v {
			want[i] = float64(l.Magnitude[i%l.Out]) * x / math.Sqrt(norm[i%l.Out])
			wantHalf[i] = float64(w[i]) + 0.5*(want[i]-float64(w[i]))
		}
		requireClose(t, want, full[l.Layer].Data, mergeTol, l.Layer)
		requireClose(t, wantHalf, half[l.Layer].Data, mergeTol, l.Layer)
	}
	// Weight 0 leaves DoRA layers alone too.
	zero := cloneKernels(dst)
	require.NoError(t, Merge(zero, []Weighted{{a, 0}}))
	requireBitIdentical(t, orig, zero)
}

func TestMergeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a *Adapter)
		want string
	}{
		{"unknown layer", func(a *Adapter) { a.Layers[0].Layer = "dense_9" },
			`lora: layer "dense_9" is not in the model (similar: dense_1, dense_2, Conv_1)`},
		{"depthwise", func(a *Adapter) {
			a.Layers[2] = randLayer(newRNG(1), "expanded_conv_depthwise", 2, 4, 1, 3, 3)
		}, `lora: layer "expanded_conv_depthwise" is a depthwise (grouped) conv; LoRA cannot be merged into it`},
		{"shape", func(a *Adapter) {
			a.Layers[1] = randLayer(newRNG(1), "Conv_1", 2, 300, 1280, 1, 1)
			a.Layers[1].Conv = false // a Linear-shaped adapter reports [out in]
		},
			`lora: layer "Conv_1": weight shape [1 1 8 12], adapter delta [1280 300]`},
		{"conv shape", func(a *Adapter) { a.Layers[2] = randLayer(newRNG(1), "block_16_project", 2, 4, 8, 1, 3) },
			`lora: layer "block_16_project": weight shape [3 3 4 8], adapter delta [8 4 1 3]`},
		{"named adapter", func(a *Adapter) { a.Name = "style"; a.Layers[0].Layer = "nope" }, `lora: adapter "style": layer "nope" is not in the model`},
		{"two names one layer", func(a *Adapter) { a.Layers[1] = a.Layers[0].Clone(); a.Layers[1].Layer = "x.dense_1" },
			`lora: layers "dense_1" and "x.dense_1" both resolve to model layer "dense_1"`},
		{"invalid layer", func(a *Adapter) { a.Layers[0].B = a.Layers[0].B[:1] }, `lora: layer "dense_1": B has 1 values`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := testModel(9)
			orig := cloneKernels(dst)
			bad := testAdapter(10)
			tc.edit(bad)
			// The good adapter comes first: nothing may be applied before validation fails.
			err := Merge(dst, []Weighted{{testAdapter(11), 1}, {bad, 1}})
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error()[:min(len(err.Error()), len(tc.want))], "full error: %v", err)
			requireBitIdentical(t, orig, dst)
		})
	}
	err := Merge(testModel(1), []Weighted{{testAdapter(1), math.NaN()}})
	assert.ErrorContains(t, err, "weight NaN is not finite")
	err = Merge(testModel(1), []Weighted{{nil, 1}})
	assert.EqualError(t, err, "lora: adapters[0] is nil")
}

func TestResolveLayer(t *testing.T) {
	layers := []string{"dense_1", "dense_11", "Conv_1", "block_16_project", "block_16_project_BN", "a.b", "a_b"}
	for _, tc := range []struct {
		module, want, err string
	}{
		{"dense_1", "dense_1", ""},
		{"model.dense_1", "dense_1", ""},
		{"model/dense_11", "dense_11", ""},
		{"te_dense_1", "dense_1", ""},
		{"mobilenetv2_1.00_224.block_16_project", "block_16_project", ""},
		{"block_16_project_BN", "block_16_project_BN", ""},
		{"x_a.b", "", `matches both "a.b" and "a_b"`},
		{"dense_1x", "", `is not in the model (similar: dense_1, dense_11, Conv_1)`},
		{"conv_1", "", "is not in the model"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			got, err := ResolveLayer(tc.module, layers)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
