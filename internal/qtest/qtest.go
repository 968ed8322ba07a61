// Package qtest builds small deterministic networks for the tests of the
// int8 path: a float infer.Net using every op kind a QNet has, and its
// quantized form.
package qtest

import (
	"math/rand/v2"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/quantize"
)

// TinyNet returns a float net on an s×s×3 input (s ≥ 8) with a conv, batch
// norm, ReLU6, zero pad, depthwise, pointwise conv, residual add, max and
// average pools, concat, flatten and two dense layers, with weights drawn
// from seed.
func TinyNet(seed uint64, s int) *infer.Net {
	r := rand.New(rand.NewPCG(seed, 0x7e57))
	n := &infer.Net{Name: "tiny", InputSize: s, Classes: []string{"a", "b", "c"}, Shapes: []infer.Shape{{H: s, W: s, C: 3}}}
	rnd := func(k int, sc float64) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = float32(r.NormFloat64() * sc)
		}
		return v
	}
	pos := func(k int) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = float32(0.5 + r.Float64())
		}
		return v
	}
	emit := func(op infer.Op, out infer.Shape) int {
		n.Shapes = append(n.Shapes, out)
		op.Out = len(n.Shapes) - 1
		n.Ops = append(n.Ops, op)
		return op.Out
	}
	h := (s + 1) / 2
	t := emit(infer.Op{Kind: infer.OpZeroPad, Name: "pad", In: []int{0}, Pad: infer.Pad{Bottom: 1, Right: 1}}, infer.Shape{H: s + 1, W: s + 1, C: 3})
	t = emit(infer.Op{Kind: infer.OpConv2D, Name: "conv1", In: []int{t}, KH: 3, KW: 3, SH: 2, SW: 2, Weights: rnd(3*3*3*8, 0.3)}, infer.Shape{H: h, W: h, C: 8})
	t = emit(infer.Op{Kind: infer.OpBatchNorm, Name: "bn1", In: []int{t}, Mean: rnd(8, 0.1), Var: pos(8), Gamma: pos(8), Beta: rnd(8, 0.2), Epsilon: 1e-3}, infer.Shape{H: h, W: h, C: 8})
	a := emit(infer.Op{Kind: infer.OpActivation, Name: "relu1", In: []int{t}, Act: infer.ActReLU6}, infer.Shape{H: h, W: h, C: 8})
	t = emit(infer.Op{Kind: infer.OpDepthwise, Name: "dw", In: []int{a}, KH: 3, KW: 3, SH: 1, SW: 1, Pad: infer.Pad{Top: 1, Bottom: 1, Left: 1, Right: 1}, Weights: rnd(9*8, 0.5), Bias: rnd(8, 0.1), Act: infer.ActReLU}, infer.Shape{H: h, W: h, C: 8})
	t = emit(infer.Op{Kind: infer.OpConv2D, Name: "pw", In: []int{t}, KH: 1, KW: 1, SH: 1, SW: 1, Weights: rnd(8*8, 0.4), Bias: rnd(8, 0.1)}, infer.Shape{H: h, W: h, C: 8})
	t = emit(infer.Op{Kind: infer.OpAdd, Name: "add", In: []int{t, a}}, infer.Shape{H: h, W: h, C: 8})
	m := emit(infer.Op{Kind: infer.OpMaxPool, Name: "maxpool", In: []int{t}, KH: 3, KW: 3, SH: 1, SW: 1, Pad: infer.Pad{Top: 1, Bottom: 1, Left: 1, Right: 1}}, infer.Shape{H: h, W: h, C: 8})
	b := emit(infer.Op{Kind: infer.OpConv2D, Name: "branch", In: []int{t}, KH: 1, KW: 3, SH: 1, SW: 1, Pad: infer.Pad{Left: 1, Right: 1}, Weights: rnd(3*8*4, 0.3), Bias: rnd(4, 0.1), Act: infer.ActReLU}, infer.Shape{H: h, W: h, C: 4})
	t = emit(infer.Op{Kind: infer.OpConcat, Name: "concat", In: []int{m, b}}, infer.Shape{H: h, W: h, C: 12})
	t = emit(infer.Op{Kind: infer.OpAvgPool, Name: "avgpool", In: []int{t}, KH: h, KW: h, SH: h, SW: h}, infer.Shape{H: 1, W: 1, C: 12})
	t = emit(infer.Op{Kind: infer.OpReshape, Name: "flatten", In: []int{t}}, infer.Shape{H: 1, W: 1, C: 12})
	t = emit(infer.Op{Kind: infer.OpDense, Name: "fc1", In: []int{t}, Weights: rnd(12*6, 0.5), Bias: rnd(6, 0.1), Act: infer.ActReLU}, infer.Shape{H: 1, W: 1, C: 6})
	t = emit(infer.Op{Kind: infer.OpDense, Name: "fc2", In: []int{t}, Weights: rnd(6*3, 0.8), Bias: rnd(3, 0.1), Act: infer.ActSoftmax}, infer.Shape{H: 1, W: 1, C: 3})
	n.Output = t
	return n
}

// Input returns a deterministic preprocessed input for an s×s net.
func Input(seed uint64, s int) []float32 {
	r := rand.New(rand.NewPCG(seed, 0x1a9e))
	x := make([]float32, s*s*3)
	for i := range x {
		x[i] = float32(r.IntN(256)) / 255
	}
	return x
}

// TinyQNet quantizes TinyNet(seed, s) on a few Input images.
func TinyQNet(seed uint64, s int) *infer.QNet { return TinyQNetBits(seed, s, 8) }

// TinyQNetBits is TinyQNet with activations of bits: 8, 12, or 0 for a
// mix of the two (quantize.Options.Mixed; as infer.QNet.ActBits says).
func TinyQNetBits(seed uint64, s, bits int) *infer.QNet {
	var calib [][]float32
	for i := range 4 {
		calib = append(calib, Input(seed+uint64(i), s))
	}
	o := quantize.Options{Workers: 1, SQNRImages: -1, ActBits: bits}
	if bits == 0 {
		o.ActBits, o.Mixed = 12, true
	}
	q, _, err := quantize.Quantize(TinyNet(seed, s), calib, o)
	if err != nil {
		panic("qtest: " + err.Error())
	}
	return q
}
