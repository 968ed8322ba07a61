package infer

import "fmt"

// OpKind says what an Op computes.
type OpKind int

const (
	OpConv2D     OpKind = iota // y = act(conv(x, W) + b); W [kh, kw, in, out]
	OpDepthwise                // y = act(depthwise(x, W) + b); W [kh, kw, C, 1]
	OpBatchNorm                // y = (x - mean)·gamma/√(var+eps) + beta, per channel
	OpActivation               // y = act(x)
	OpAdd                      // y = x0 + x1
	OpConcat                   // y = concat(x0, x1, ...) along channels
	OpZeroPad                  // y = x padded with zeros
	OpMaxPool                  // y = max over a window
	OpAvgPool                  // y = mean over the window's valid cells
	OpDense                    // y = act(x·W + b); W [in, out]
	OpAffine                   // y = x·Mul + Add (scalars)
	OpReshape                  // y = x with another shape (Flatten, Squeeze)
)

var opNames = [...]string{"Conv2D", "DepthwiseConv2D", "BatchNorm", "Activation", "Add", "Concat", "ZeroPad", "MaxPool", "AvgPool", "Dense", "Affine", "Reshape"}

func (k OpKind) String() string {
	if int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Activation is an elementwise function applied after an op.
type Activation int

const (
	ActLinear Activation = iota
	ActReLU
	ActReLU6
	ActSoftmax // over the channel axis
)

var actNames = [...]string{"linear", "relu", "relu6", "softmax"}

func (a Activation) String() string {
	if int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Shape is the shape of one activation tensor of a batch of one: H×W×C, NHWC.
// Vectors (after Flatten) are 1×1×C.
type Shape struct{ H, W, C int }

// Size is the number of elements.
func (s Shape) Size() int { return s.H * s.W * s.C }

func (s Shape) String() string { return fmt.Sprintf("[%d %d %d]", s.H, s.W, s.C) }

// Pad is the zero padding on each side of a window op, in pixels.
type Pad struct{ Top, Bottom, Left, Right int }

// Op is one step of a network: it reads the tensors In and writes Out.
// Weight tensors are in TF.js (Keras) layout, float32.
type Op struct {
	Kind OpKind
	Name string // layer or node name in the source model
	In   []int  // input tensor ids
	Out  int    // output tensor id

	KH, KW, SH, SW int // window size and strides (conv, pool)
	Pad            Pad // explicit padding (conv, pool, zero pad)
	Act            Activation

	Weights []float32 // conv [kh,kw,in,out]; depthwise [kh,kw,C,1]; dense [in,out]
	Bias    []float32 // [out], nil for none

	// Batch norm parameters, [C] each; Gamma is nil when the layer has no scale.
	Mean, Var, Gamma, Beta []float32
	Epsilon                float64

	// Affine scalars.
	Mul, Add float32
}

// Net is an executable network: ops in execution order over numbered tensors.
// Tensor 0 is the input, an S×S×3 image scaled to [0,1].
type Net struct {
	Name      string
	InputSize int      // S: the model's square input size
	Classes   []string // output classes, in output order
	Shapes    []Shape  // shape of each tensor, by id
	Ops       []Op
	Output    int // id of the output tensor (probabilities)
}

// MACs returns the multiply-accumulates of one forward pass.
func (n *Net) MACs() int64 {
	var t int64
	for i := range n.Ops {
		op := &n.Ops[i]
		out := n.Shapes[op.Out]
		switch op.Kind {
		case OpConv2D:
			in := n.Shapes[op.In[0]]
			t += int64(out.Size()) * int64(op.KH*op.KW*in.C)
		case OpDepthwise:
			t += int64(out.Size()) * int64(op.KH*op.KW)
		case OpDense:
			t += int64(len(op.Weights))
		}
	}
	return t
}

// convOutSize is the output length of a window op over n input cells.
func convOutSize(n, k, stride, padBefore, padAfter int) int {
	return (n+padBefore+padAfter-k)/stride + 1
}

// samePad returns TensorFlow's SAME padding for one axis: the output has
// ceil(n/stride) cells and the odd pixel of padding goes after.
func samePad(n, k, stride int) (before, after int) {
	out := (n + stride - 1) / stride
	total := max((out-1)*stride+k-n, 0)
	return total / 2, total - total/2
}
