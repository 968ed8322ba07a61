package lora

import (
	"fmt"
	"strings"

	"github.com/veil-ml/veil/pkg/safetensors"
)

// factorPair is the A/B (down/up) tensors of one module, as found in a file.
type factorPair struct {
	a, b, mag, alpha *safetensors.Tensor
}

// rejectOtherDecompositions fails on LoHa/LoKr tensor names.
func rejectOtherDecompositions(name string) error {
	for _, p := range strings.Split(name, ".") {
		if strings.HasPrefix(p, "hada_") || strings.HasPrefix(p, "lokr_") {
			return fmt.Errorf("lora: LoHa/LoKr adapters are not supported (tensor %q)", name)
		}
	}
	return nil
}

// layerFromFactors builds a LayerAdapter from A [r,in(,kh,kw)] and B [out,r(,1,1)] tensors.
func layerFromFactors(layer string, a, b *safetensors.Tensor) (LayerAdapter, error) {
	l := LayerAdapter{Layer: layer}
	if a == nil || b == nil {
		have, miss := "A", "B"
		if a == nil {
			have, miss = "B", "A"
		}
		return l, fmt.Errorf("lora: layer %q: has lora %s but no lora %s", layer, have, miss)
	}
	as, bs := a.Shape, b.Shape
	switch {
	case len(as) == 2 && len(bs) == 2:
		l.Rank, l.In, l.KH, l.KW, l.Out = as[0], as[1], 1, 1, bs[0]
	case len(as) == 4 && len(bs) == 4 && bs[2] == 1 && bs[3] == 1:
		l.Conv = true
		l.Rank, l.In, l.KH, l.KW, l.Out = as[0], as[1], as[2], as[3], bs[0]
	default:
		return l, fmt.Errorf("lora: layer %q: A shape %v and B shape %v are neither [r in]/[out r] nor [r in kh kw]/[out r 1 1]", layer, as, bs)
	}
	if bs[1] != l.Rank {
		return l, fmt.Errorf("lora: layer %q: A shape %v has rank %d, B shape %v has rank %d", layer, as, l.Rank, bs, bs[1])
	}
	var err error
	if l.A, err = a.Float32s(); err != nil {
		return l, fmt.Errorf("lora: layer %q: %w", layer, err)
	}
	if l.B, err = b.Float32s(); err != nil {
		return l, fmt.Errorf("lora: layer %q: %w", layer, err)
	}
	return l, nil
}

// scalarValue reads a one-element float tensor.
func scalarValue(t *safetensors.Tensor) (float64, error) {
	v, err := t.Float32s()
	if err != nil {
		return 0, fmt.Errorf("lora: %w", err)
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("lora: tensor %q: shape %v, want a scalar", t.Name, t.Shape)
	}
	return float64(v[0]), nil
}

// factorTensors returns A and B of l as F32 tensors in PyTorch shape.
func factorTensors(l *LayerAdapter, aName, bName string) (safetensors.Tensor, safetensors.Tensor) {
	as, bs := []int{l.Rank, l.In}, []int{l.Out, l.Rank}
	if l.Conv {
		as, bs = []int{l.Rank, l.In, l.KH, l.KW}, []int{l.Out, l.Rank, 1, 1}
	}
	return safetensors.NewFloatTensor(aName, safetensors.F32, as, l.A),
		safetensors.NewFloatTensor(bName, safetensors.F32, bs, l.B)
}

func copyMetadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
