package infer

import "fmt"

// Float runs a Net in float32 with the reference kernels. Buffers are
// planned and allocated once, in NewFloat; Run allocates nothing.
// A Float is not safe for concurrent use; make one per goroutine.
type Float struct {
	net  *Net
	bufs [][]float32 // bufs[t] is tensor t's storage (shared between tensors whose lifetimes do not overlap)
	acc  []float64   // kernel scratch
}

// NewFloat plans the buffers of net.
func NewFloat(net *Net) *Float {
	sizes := make([]int, len(net.Shapes))
	for t, sh := range net.Shapes {
		sizes[t] = sh.Size()
	}
	f := &Float{net: net}
	f.bufs = planBuffers[float32](sizes, len(net.Ops), func(i int) ([]int, int, bool) {
		return net.Ops[i].In, net.Ops[i].Out, true
	})
	maxC := 0
	for _, sh := range net.Shapes {
		maxC = max(maxC, sh.C)
	}
	f.acc = make([]float64, maxC)
	return f
}

// Net returns the network f runs.
func (f *Float) Net() *Net { return f.net }

// Run computes the class probabilities for one preprocessed input of
// S×S×3 values in [0,1] (see Preprocess). The returned slice is owned by f
// and overwritten by the next Run.
func (f *Float) Run(input []float32) []float32 {
	n := f.net
	if len(input) != n.Shapes[0].Size() {
		panic(fmt.Sprintf("infer: Float.Run: input has %d values, want %d", len(input), n.Shapes[0].Size()))
	}
	copy(f.bufs[0], input)
	for i := range n.Ops {
		f.runOp(&n.Ops[i])
	}
	return f.bufs[n.Output]
}

func (f *Float) runOp(op *Op) {
	n := f.net
	y, ys := f.bufs[op.Out], n.Shapes[op.Out]
	x, xs := f.bufs[op.In[0]], n.Shapes[op.In[0]]
	switch op.Kind {
	case OpConv2D:
		Conv2DRef(y, ys, x, xs, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Act, f.acc)
	case OpDepthwise:
		DepthwiseConv2DRef(y, ys, x, xs, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Act, f.acc)
	case OpBatchNorm:
		BatchNormRef(y, x, xs.C, op.Mean, op.Var, op.Gamma, op.Beta, op.Epsilon)
	case OpActivation:
		ActivateRef(y, x, xs.C, op.Act)
	case OpAdd:
		AddRef(y, x, f.bufs[op.In[1]])
	case OpConcat:
		var ins [4][]float32
		var cs [4]int
		xsList, csList := ins[:0], cs[:0]
		for _, t := range op.In {
			xsList = append(xsList, f.bufs[t])
			csList = append(csList, n.Shapes[t].C)
		}
		ConcatRef(y, ys.H*ys.W, xsList, csList)
	case OpZeroPad:
		ZeroPadRef(y, ys, x, xs, op.Pad)
	case OpMaxPool, OpAvgPool:
		PoolRef(y, ys, x, xs, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Kind == OpMaxPool)
	case OpDense:
		DenseRef(y, x, op.Weights, op.Bias, op.Act, f.acc)
	case OpAffine:
		AffineRef(y, x, op.Mul, op.Add)
	case OpReshape:
		copy(y, x)
	default:
		panic(fmt.Sprintf("infer: op %q: unknown kind %v", op.Name, op.Kind))
	}
}
