package lora_test

import (
	"fmt"

	"github.com/veil-ml/veil/pkg/lora"
)

func ExampleMerge() {
	// A 2→2 dense layer (Keras [in, out]) and a rank-1 adapter with alpha 2: scale 2.
	model := map[string]*lora.Kernel{
		"dense_1": {Shape: []int{2, 2}, Data: []float32{1, 0, 0, 1}},
	}
	a := &lora.Adapter{Name: "style", Layers: []lora.LayerAdapter{{
		Layer: "model.dense_1", // a PEFT module path resolves to dense_1
		Rank:  1, In: 2, Out: 2, KH: 1, KW: 1,
		A:     []float32{1, 0},   // [r, in]
		B:     []float32{0, 0.5}, // [out, r]
		Alpha: 2,
	}}}
	// ΔW (PyTorch [out, in]) = 2·B·A = [[0 0] [1 0]]; in Keras [in, out] it is [[0 1] [0 0]].
	if err := lora.Merge(model, []lora.Weighted{{Adapter: a, Weight: 0.5}}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(model["dense_1"].Data)
	// Output: [1 0.5 0 1]
}

func ExampleResize() {
	a := &lora.Adapter{Layers: []lora.LayerAdapter{{
		Layer: "dense_1", Rank: 2, In: 2, Out: 2, KH: 1, KW: 1,
		A: []float32{1, 0, 0, 1}, B: []float32{3, 0, 0, 0.01}, Alpha: 2,
	}}}
	small, reports, err := lora.Resize(a, lora.RankRule{Method: lora.RankSVFro, Param: 0.99})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := reports[0]
	fmt.Printf("%s: rank %d → %d, energy kept %.5f, scale %g\n", r.Layer, r.OldRank, r.NewRank, r.EnergyKept, small.Layers[0].Scale())
	// Output: dense_1: rank 2 → 1, energy kept 0.99999, scale 1
}
