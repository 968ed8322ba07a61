package quantize

import (
	"fmt"

	"github.com/veil-ml/veil/pkg/infer"
)

// floatRunner runs a folded Net with the float reference kernels and keeps
// every tensor of the last run (no buffer sharing), so calibration and the
// report can read any of them.
type floatRunner struct {
	net  *infer.Net
	bufs [][]float32 // by tensor id; nil for tensors no op writes
	acc  []float64
}

func newFloatRunner(net *infer.Net) *floatRunner {
	r := &floatRunner{net: net, bufs: make([][]float32, len(net.Shapes))}
	r.bufs[0] = make([]float32, net.Shapes[0].Size())
	maxC := 0
	for _, op := range net.Ops {
		s := net.Shapes[op.Out]
		r.bufs[op.Out] = make([]float32, s.Size())
		maxC = max(maxC, s.C)
	}
	r.acc = make([]float64, maxC)
	return r
}

// run computes every tensor for one preprocessed input.
func (r *floatRunner) run(input []float32) {
	n := r.net
	copy(r.bufs[0], input)
	for i := range n.Ops {
		op := &n.Ops[i]
		y, ys := r.bufs[op.Out], n.Shapes[op.Out]
		x, xs := r.bufs[op.In[0]], n.Shapes[op.In[0]]
		switch op.Kind {
		case infer.OpConv2D:
			infer.Conv2DRef(y, ys, x, xs, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Act, r.acc)
		case infer.OpDepthwise:
			infer.DepthwiseConv2DRef(y, ys, x, xs, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Act, r.acc)
		case infer.OpDense:
			infer.DenseRef(y, x, op.Weights, op.Bias, op.Act, r.acc)
		case infer.OpAdd:
			infer.AddRef(y, x, r.bufs[op.In[1]])
			infer.ActivateRef(y, y, ys.C, op.Act)
		case infer.OpConcat:
			xsl := make([][]float32, len(op.In))
			cs := make([]int, len(op.In))
			for k, t := range op.In {
				xsl[k], cs[k] = r.bufs[t], n.Shapes[t].C
			}
			infer.ConcatRef(y, ys.H*ys.W, xsl, cs)
		case infer.OpMaxPool, infer.OpAvgPool:
			infer.PoolRef(y, ys, x, xs, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Kind == infer.OpMaxPool)
		case infer.OpAffine:
			infer.AffineRef(y, x, op.Mul, op.Add)
		default:
			panic(fmt.Sprintf("quantize: op %q: %v is not in a folded net", op.Name, op.Kind))
		}
	}
}
