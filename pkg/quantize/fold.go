package quantize

import (
	"fmt"
	"math"
	"slices"

	"github.com/veil-ml/veil/pkg/infer"
)

// Fold returns a copy of net simplified for quantization, computing the same
// function up to float32 rounding:
//   - BatchNorm is folded into the conv, depthwise or dense op before it (FoldBatchNorm);
//   - an Activation is fused into the op before it (conv, depthwise, dense, add);
//   - ZeroPad is folded into the padding of the conv or depthwise after it;
//   - Reshape is dropped (a dense reads its input flattened).
//
// Every conv, depthwise and dense of the result has a bias. Affine ops are
// kept only at the very start (they become the QNet's input affine). net is
// not modified.
func Fold(net *infer.Net) (*infer.Net, error) {
	out := &infer.Net{Name: net.Name, InputSize: net.InputSize, Classes: slices.Clone(net.Classes), Shapes: slices.Clone(net.Shapes)}
	uses := make([]int, len(net.Shapes))
	for _, op := range net.Ops {
		for _, t := range op.In {
			uses[t]++
		}
	}
	uses[net.Output]++
	alias := make([]int, len(net.Shapes)) // original tensor -> tensor of out
	for i := range alias {
		alias[i] = i
	}
	producer := map[int]int{} // tensor of out -> index of the op writing it
	padded := map[int]struct {
		src int
		pad infer.Pad
	}{}
	inputChain := map[int]bool{0: true}
	for i := range net.Ops {
		op := net.Ops[i] // copy
		op.In = slices.Clone(op.In)
		for k, t := range op.In {
			op.In[k] = alias[t]
		}
		wrap := func(format string, args ...any) error {
			return fmt.Errorf("quantize: fold %s: op %d %q (%v): %s", net.Name, i, op.Name, op.Kind, fmt.Sprintf(format, args...))
		}
		sole := func() (*infer.Op, error) {
			p, ok := producer[op.In[0]]
			if !ok || uses[net.Ops[i].In[0]] != 1 {
				return nil, wrap("input is not the sole output of a foldable op")
			}
			return &out.Ops[p], nil
		}
		switch op.Kind {
		case infer.OpReshape:
			if net.Shapes[op.In[0]].Size() != net.Shapes[op.Out].Size() {
				return nil, wrap("reshape changes the size")
			}
			alias[op.Out] = op.In[0]
		case infer.OpBatchNorm:
			p, err := sole()
			if err != nil {
				return nil, err
			}
			if p.Act != infer.ActLinear {
				return nil, wrap("batch norm after an activation")
			}
			if err := FoldBatchNorm(p, &op, out.Shapes[p.Out].C); err != nil {
				return nil, wrap("%v", err)
			}
			alias[op.Out] = p.Out
		case infer.OpActivation:
			p, err := sole()
			if err != nil {
				return nil, err
			}
			if p.Act != infer.ActLinear || (op.Act == infer.ActSoftmax && p.Kind != infer.OpDense) ||
				(p.Kind != infer.OpConv2D && p.Kind != infer.OpDepthwise && p.Kind != infer.OpDense && p.Kind != infer.OpAdd) {
				return nil, wrap("cannot fuse %v into %v", op.Act, p.Kind)
			}
			p.Act = op.Act
			alias[op.Out] = p.Out
		case infer.OpZeroPad:
			if uses[net.Ops[i].Out] != 1 {
				return nil, wrap("zero padding read by %d ops", uses[net.Ops[i].Out])
			}
			padded[op.Out] = struct {
				src int
				pad infer.Pad
			}{op.In[0], op.Pad}
		case infer.OpAffine:
			if !inputChain[op.In[0]] || anyNonAffine(out.Ops) {
				return nil, wrap("affine is only supported on the input")
			}
			inputChain[op.Out] = true
			out.Ops = append(out.Ops, op)
			producer[op.Out] = len(out.Ops) - 1
		default:
			for k, t := range op.In {
				if pd, ok := padded[t]; ok {
					if (op.Kind != infer.OpConv2D && op.Kind != infer.OpDepthwise) || k != 0 {
						return nil, wrap("zero padding before %v", op.Kind)
					}
					op.In[k] = pd.src
					op.Pad.Top += pd.pad.Top
					op.Pad.Bottom += pd.pad.Bottom
					op.Pad.Left += pd.pad.Left
					op.Pad.Right += pd.pad.Right
				}
			}
			switch op.Kind {
			case infer.OpConv2D, infer.OpDepthwise, infer.OpDense:
				op.Weights = slices.Clone(op.Weights)
				if op.Bias == nil {
					op.Bias = make([]float32, out.Shapes[op.Out].C)
				} else {
					op.Bias = slices.Clone(op.Bias)
				}
			}
			out.Ops = append(out.Ops, op)
			producer[op.Out] = len(out.Ops) - 1
		}
	}
	out.Output = alias[net.Output]
	if _, ok := padded[out.Output]; ok {
		return nil, fmt.Errorf("quantize: fold %s: output is a zero padding", net.Name)
	}
	return out, nil
}

func anyNonAffine(ops []infer.Op) bool {
	for _, op := range ops {
		if op.Kind != infer.OpAffine {
			return true
		}
	}
	return false
}

// FoldBatchNorm folds the batch norm bn into the conv, depthwise or dense op
// before it, whose output has c channels:
//
//	f = γ/√(σ²+ε),  W'[..., c] = W[..., c]·f[c],  b'[c] = β[c] + (b[c] − μ[c])·f[c]
//
// op.Bias is created if nil. Arithmetic is float64, rounded once to float32.
func FoldBatchNorm(op *infer.Op, bn *infer.Op, c int) error {
	if op.Kind != infer.OpConv2D && op.Kind != infer.OpDepthwise && op.Kind != infer.OpDense {
		return fmt.Errorf("cannot fold batch norm %q into %v", bn.Name, op.Kind)
	}
	if len(bn.Mean) != c || len(bn.Var) != c || len(bn.Beta) != c || (bn.Gamma != nil && len(bn.Gamma) != c) || len(op.Weights)%c != 0 {
		return fmt.Errorf("batch norm %q has %d channels, %q has %d", bn.Name, len(bn.Mean), op.Name, c)
	}
	if op.Bias == nil {
		op.Bias = make([]float32, c)
	}
	f := make([]float64, c)
	for ch := range f {
		g := 1.0
		if bn.Gamma != nil {
			g = float64(bn.Gamma[ch])
		}
		f[ch] = g / math.Sqrt(float64(bn.Var[ch])+bn.Epsilon)
		op.Bias[ch] = float32(float64(bn.Beta[ch]) + (float64(op.Bias[ch])-float64(bn.Mean[ch]))*f[ch])
	}
	for i, w := range op.Weights {
		op.Weights[i] = float32(float64(w) * f[i%c])
	}
	return nil
}
