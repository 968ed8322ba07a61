package safetensors_test

import (
	"fmt"

	"github.com/veil-ml/veil/pkg/safetensors"
)

func ExampleParse() {
	data, _ := safetensors.Encode(&safetensors.File{
		Metadata: map[string]string{"format": "pt"},
		Tensors: []safetensors.Tensor{
			safetensors.NewFloatTensor("dense_1.lora_A.weight", safetensors.F16, []int{2, 2}, []float32{1, 0.5, -1, 2}),
		},
	})
	f, err := safetensors.Parse(data, safetensors.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	t, _ := f.Tensor("dense_1.lora_A.weight")
	v, _ := t.Float32s()
	fmt.Println(t.DType, t.Shape, v, f.Metadata["format"])
	// Output: F16 [2 2] [1 0.5 -1 2] pt
}
