package lora

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veil-ml/veil/pkg/safetensors"
)

// requireSameDeltas checks that two adapters hold the same layers with the same scaled deltas.
func requireSameDeltas(t *testing.T, want, got *Adapter, layerName func(string) string) {
	t.Helper()
	require.Len(t, got.Layers, len(want.Layers))
	for i := range want.Layers {
		w := &want.Layers[i]
		g, ok := got.Layer(layerName(w.Layer))
		require.True(t, ok, "layer %q missing", w.Layer)
		assert.Equal(t, []int{w.Rank, w.In, w.Out, w.KH, w.KW}, []int{g.Rank, g.In, g.Out, g.KH, g.KW}, w.Layer)
		assert.Equal(t, w.Conv, g.Conv, w.Layer)
		assert.InDelta(t, w.Scale(), g.Scale(), 1e-6*w.Scale(), w.Layer)
		assert.Equal(t, w.A, g.A, w.Layer)
		assert.Equal(t, w.B, g.B, w.Layer)
		assert.Equal(t, w.Magnitude, g.Magnitude, w.Layer)
	}
}

func mixedAdapter() *Adapter {
	rng := newRNG(20)
	a := &Adapter{Layers: []LayerAdapter{
		randLayer(rng, "Conv_1", 4, 8, 12, 1, 1),
		randLayer(rng, "block_16_project", 2, 4, 8, 3, 3),
		randLayer(rng, "dense_1", 4, 12, 6, 1, 1),
		randLayer(rng, "dense_2", 8, 6, 5, 1, 1),
	}}
	for i := range a.Layers {
		a.Layers[i].Alpha = 8
	}
	a.Layers[1].Alpha = 3
	a.Layers[3].RSLoRA = true
	return a
}

func TestPEFTRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(a *Adapter)
	}{
		{"mixed ranks and alphas", func(a *Adapter) {}},
		{"rslora", func(a *Adapter) {
			a.UseRSLoRA = true
			for i := range a.Layers {
				a.Layers[i].RSLoRA = true
			}
		}},
		{"dora", func(a *Adapter) {
			rng := newRNG(3)
			for i := range a.Layers {
				a.Layers[i].Magnitude = randSlice(rng, a.Layers[i].Out)
			}
		}},
		{"module paths", func(a *Adapter) { a.Layers[0].Layer = "model.features.Conv_1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mixedAdapter()
			tc.edit(a)
			sortLayers(a.Layers)
			a.Metadata = map[string]string{"veil": "test"}
			dir := filepath.Join(t.TempDir(), "my_adapter")
			require.NoError(t, WritePEFT(dir, a))
			got, err := ReadPEFT(dir)
			require.NoError(t, err)
			assert.Equal(t, "my_adapter", got.Name)
			assert.Equal(t, "test", got.Metadata["veil"])
			requireSameDeltas(t, a, got, func(s string) string { return s })
		})
	}
}

func TestParsePEFTConfig(t *testing.T) {
	rng := newRNG(4)
	layers := []LayerAdapter{
		randLayer(rng, "dense_1", 4, 6, 3, 1, 1),
		randLayer(rng, "dense_2", 2, 3, 2, 1, 1),
		randLayer(rng, "Conv_1", 3, 2, 6, 1, 1),
	}
	weights := peftWeights(t, "base_model.model.model.", layers)
	for _, tc := range []struct {
		name   string
		config string
		scales map[string]float64
	}{
		{"defaults", `{}`, map[string]float64{"dense_1": 8.0 / 4, "dense_2": 8.0 / 2, "Conv_1": 8.0 / 3}},
		{"alpha", `{"r": 4, "lora_alpha": 16}`, map[string]float64{"dense_1": 4, "dense_2": 8, "Conv_1": 16.0 / 3}},
		{"rslora", `{"r": 4, "lora_alpha": 16, "use_rslora": true}`, map[string]float64{"dense_1": 8, "dense_2": 16 / 1.4142135623730951, "Conv_1": 16 / 1.7320508075688772}},
		{"patterns", `{"r": 4, "lora_alpha": 16, "rank_pattern": {"dense_2": 2, "Conv_1": 3}, "alpha_pattern": {"dense_[2-9]": 1, "model.Conv_1": 6, "dense_2": 100}}`,
			map[string]float64{"dense_1": 4, "dense_2": 0.5, "Conv_1": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParsePEFT([]byte(tc.config), weights)
			require.NoError(t, err)
			for name, s := range tc.scales {
				l, ok := a.Layer("model." + name)
				require.True(t, ok, name)
				assert.InDelta(t, s, l.Scale(), 1e-12, name)
			}
		})
	}
}

// peftWeights encodes layers as a PEFT adapter_model.safetensors with the given key prefix.
func peftWeights(t testing.TB, prefix string, layers []LayerAdapter) []byte {
	f := &safetensors.File{}
	for i := range layers {
		a, b := factorTensors(&layers[i], prefix+layers[i].Layer+".lora_A.weight", prefix+layers[i].Layer+".lora_B.weight")
		f.Tensors = append(f.Tensors, a, b)
	}
	data, err := safetensors.Encode(f)
	require.NoError(t, err)
	return data
}

func TestKohyaRoundTrip(t *testing.T) {
	a := mixedAdapter()
	a.Layers[0].Layer = "model/Conv_1"
	sortLayers(a.Layers)
	path := filepath.Join(t.TempDir(), "style.safetensors")
	require.NoError(t, WriteKohya(path, a))
	got, err := ReadKohya(path)
	require.NoError(t, err)
	assert.Equal(t, "style", got.Name)
	requireSameDeltas(t, a, got, underscored)
	_, ok := got.Layer("model_Conv_1")
	assert.True(t, ok, "kohya names use _ for . and /")

	// Missing alpha means alpha = rank, scale 1.
	f := &safetensors.File{}
	down, up := factorTensors(&a.Layers[0], "lora_dense_1.lora_down.weight", "lora_dense_1.lora_up.weight")
	f.Tensors = append(f.Tensors, down, up)
	data, err := safetensors.Encode(f)
	require.NoError(t, err)
	b, err := ParseKohya(data)
	require.NoError(t, err)
	assert.Equal(t, 1.0, b.Layers[0].Scale())
	assert.Equal(t, "dense_1", b.Layers[0].Layer)
}

func TestReadRejects(t *testing.T) {
	tensor := func(name string, shape ...int) safetensors.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return safetensors.NewFloatTensor(name, safetensors.F16, shape, make([]float32, n))
	}
	file := func(ts ...safetensors.Tensor) []byte {
		b, err := safetensors.Encode(&safetensors.File{Tensors: ts})
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name string
		peft bool
		cfg  string
		data []byte
		want string
	}{
		{"peft loha", true, `{}`, file(tensor("base_model.model.dense_1.hada_w1_a", 2, 2)), "LoHa/LoKr adapters are not supported"},
		{"peft loha type", true, `{"peft_type": "LOHA"}`, file(), "LoHa/LoKr adapters are not supported"},
		{"peft other type", true, `{"peft_type": "IA3"}`, file(), `peft_type "IA3" is not supported`},
		{"kohya lokr", false, "", file(tensor("lora_dense_1.lokr_w1", 2, 2)), "LoHa/LoKr adapters are not supported"},
		{"kohya loha", false, "", file(tensor("lora_dense_1.hada_w2_b", 2, 2)), "LoHa/LoKr adapters are not supported"},
		{"kohya lora_mid", false, "", file(tensor("lora_c.lora_mid.weight", 2, 2, 3, 3)), "lora_mid"},
		{"kohya dora_scale", false, "", file(tensor("lora_c.dora_scale", 1, 2)), "dora_scale"},
		{"kohya unknown", false, "", file(tensor("lora_c.diff", 2)), `tensor "lora_c.diff" is not a lora_down`},
		{"missing B", true, `{}`, file(tensor("base_model.model.dense_1.lora_A.weight", 2, 3)), `layer "dense_1": has lora A but no lora B`},
		{"rank mismatch", true, `{}`, file(tensor("base_model.model.d.lora_A.weight", 2, 3), tensor("base_model.model.d.lora_B.weight", 4, 3)), `A shape [2 3] has rank 2, B shape [4 3] has rank 3`},
		{"3-D", true, `{}`, file(tensor("base_model.model.d.lora_A.weight", 2, 3, 1), tensor("base_model.model.d.lora_B.weight", 4, 2, 1)), "neither"},
		{"bias", true, `{}`, file(tensor("base_model.model.d.lora_B.bias", 2)), "LoRA bias"},
		{"dora without flag", true, `{}`, file(tensor("base_model.model.d.lora_A.weight", 1, 2), tensor("base_model.model.d.lora_B.weight", 2, 1), tensor("base_model.model.d.lora_magnitude_vector", 2)), "use_dora is false"},
		{"dora missing", true, `{"use_dora": true}`, file(tensor("base_model.model.d.lora_A.weight", 1, 2), tensor("base_model.model.d.lora_B.weight", 2, 1)), "lora_magnitude_vector is missing"},
		{"dora size", true, `{"use_dora": true}`, file(tensor("base_model.model.d.lora_A.weight", 1, 2), tensor("base_model.model.d.lora_B.weight", 2, 1), tensor("base_model.model.d.lora_magnitude_vector", 3)), "want 2 values"},
		{"int tensor", true, `{}`, file(safetensors.Tensor{Name: "base_model.model.d.lora_A.weight", DType: safetensors.I8, Shape: []int{1, 1}, Data: []byte{1}}, tensor("base_model.model.d.lora_B.weight", 1, 1)), "not a floating-point type"},
		{"bad config", true, `{"r": "x"}`, file(), "adapter_config.json"},
		{"bad safetensors", true, `{}`, []byte("nope"), "adapter_model.safetensors"},
		{"empty rank", true, `{}`, file(tensor("base_model.model.d.lora_A.weight", 0, 2), tensor("base_model.model.d.lora_B.weight", 2, 0)), "all must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.peft {
				_, err = ParsePEFT([]byte(tc.cfg), tc.data)
			} else {
				_, err = ParseKohya(tc.data)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := ReadPEFT(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestWriteRejects(t *testing.T) {
	a := mixedAdapter()
	a.Layers[0].Magnitude = make([]float32, a.Layers[0].Out)
	_, err := EncodeKohya(a)
	assert.ErrorContains(t, err, "kohya format cannot hold DoRA")
	_, _, err = EncodePEFT(a)
	assert.ErrorContains(t, err, "DoRA and plain LoRA")

	b := mixedAdapter()
	b.Layers[1].Layer = "Conv.1"
	b.Layers[0].Layer = "Conv_1"
	_, err = EncodeKohya(b)
	assert.ErrorContains(t, err, `both become kohya module "lora_Conv_1"`)
}
