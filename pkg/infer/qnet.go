package infer

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// QParams are the quantization parameters of an activation tensor: the
// real value of a stored q is Scale·(q − Zero), q in [0, Top()]. Zero is
// an integer so that real 0 (zero padding, ReLU's floor) is exact.
//
// A tensor is 8-bit (uint8 in [0, 255]) or, if Wide, 12-bit (uint16 in
// [0, 4095]): 16 times finer steps for the same range, which nsfwjs's
// MobileNetV2 needs to keep its answers (pkg/quantize/doc.go). Weights are
// int8 either way. 12 bits rather than 16: a 12-bit value less its zero
// point fits an int16 lane, so the SIMD kernels multiply as for 8 bits.
type QParams struct {
	Scale float32 // > 0
	Zero  int32   // [0, Top()]
	Wide  bool    // 12-bit
}

// Top is the largest stored value: 255, or 4095 if p.Wide.
func (p QParams) Top() int32 {
	if p.Wide {
		return 4095
	}
	return 255
}

// Real returns the real value of q.
func (p QParams) Real(q int32) float32 { return p.Scale * float32(q-p.Zero) }

// QTensor is one activation tensor of a QNet: its shape and quantization.
type QTensor struct {
	Shape Shape
	Q     QParams
}

// QOpKind says what a QOp computes.
type QOpKind int

const (
	QConv      QOpKind = iota // y = act(conv(x, W) + b); W int8 [kh, kw, in, out]
	QDepthwise                // y = act(depthwise(x, W) + b); W int8 [kh, kw, C]
	QDense                    // y = act(x·W + b); W int8 [in, out]; softmax only as the last op
	QAdd                      // y = x0 + x1
	QConcat                   // y = concat(x0, x1, ...) along channels
	QMaxPool                  // y = max over the window (same QParams as x)
	QAvgPool                  // y = rounded mean over the window's valid cells (same QParams as x)
)

var qopNames = [...]string{"conv", "depthwise", "dense", "add", "concat", "maxpool", "avgpool"}

func (k QOpKind) String() string {
	if k >= 0 && int(k) < len(qopNames) {
		return qopNames[k]
	}
	return fmt.Sprintf("QOpKind(%d)", int(k))
}

// ParseQOpKind is the inverse of QOpKind.String.
func ParseQOpKind(s string) (QOpKind, bool) {
	for i, n := range qopNames {
		if n == s {
			return QOpKind(i), true
		}
	}
	return 0, false
}

// ParseActivation is the inverse of Activation.String.
func ParseActivation(s string) (Activation, bool) {
	for i, n := range actNames {
		if n == s {
			return Activation(i), true
		}
	}
	return 0, false
}

// QOp is one step of a QNet. Weights are symmetric int8 with one scale per
// output channel (zero point 0, values in [-127, 127]); the bias is int32 at
// scale In.Scale·WScale[c], so acc[c] = Bias[c] + Σ (x − x.Zero)·W is the
// output channel c in units of In.Scale·WScale[c].
type QOp struct {
	Kind QOpKind
	Name string // source layer name
	In   []int  // input tensor ids
	Out  int    // output tensor id

	KH, KW, SH, SW int // window and strides (conv, depthwise, pools)
	Pad            Pad // zero padding (real 0) around the input
	Act            Activation

	Weights []int8    // conv [kh,kw,in,out]; depthwise [kh,kw,C]; dense [in,out]
	WScale  []float32 // [out]: real weight = WScale[c]·Weights[...c]
	Bias    []int32   // [out]
}

// Affine is y = x·Mul + Add on float32 values, rounded after each step.
type Affine struct{ Mul, Add float32 }

// QNet is an int8 network: the quantized form of a Net. Tensor 0 is the
// quantized S×S×3 input; the float input first goes through InputAffine
// (in order) and is then quantized with Tensors[0].Q. The last op is a
// Dense with Act == ActSoftmax whose int32 logits are dequantized and
// turned into float32 probabilities (tensor Output, QParams unused).
type QNet struct {
	Name        string
	InputSize   int      // S
	Classes     []string // output classes, in output order
	InputAffine []Affine
	Tensors     []QTensor // by id
	Ops         []QOp
	Output      int
}

// ActBits returns the width of q's activations: 8 or 12 when every tensor
// has that width (QParams.Wide), 0 when they mix.
func (q *QNet) ActBits() int {
	wide := 0
	for _, t := range q.Tensors {
		if t.Q.Wide {
			wide++
		}
	}
	switch wide {
	case 0:
		return 8
	case len(q.Tensors):
		return 12
	}
	return 0
}

// Limits on what Validate accepts, so that a QNet read from an untrusted
// file cannot make NewInt8 allocate without bound.
const (
	MaxQInputSize    = 4096
	MaxQTensorElems  = 1 << 26 // one activation tensor
	MaxQTotalElems   = 1 << 28 // all activation tensors together
	MaxQOps          = 1 << 14
	MaxQWindow       = 64 // kernel and stride size
	maxMultiplierLog = 24 // requantization multipliers must lie in [2^-48, 2^24]
)

// Validate checks that q is a well-formed network the Int8 executor can run:
// tensor ids, topological order, shapes implied by each op's window and
// weights, weight/scale/bias lengths, finite positive scales, zero points in
// range and requantization multipliers in range. A QNet that passes never
// makes NewInt8 or Run panic.
func (q *QNet) Validate() error {
	if err := q.validate(); err != nil {
		return fmt.Errorf("infer: qnet %q: %w", q.Name, err)
	}
	return nil
}

func (q *QNet) validate() error {
	if q.InputSize < 1 || q.InputSize > MaxQInputSize {
		return fmt.Errorf("input size %d is outside [1, %d]", q.InputSize, MaxQInputSize)
	}
	if len(q.Tensors) < 2 || len(q.Tensors) > MaxQOps+1 {
		return fmt.Errorf("%d tensors", len(q.Tensors))
	}
	if len(q.Ops) < 1 || len(q.Ops) > MaxQOps {
		return fmt.Errorf("%d ops", len(q.Ops))
	}
	if len(q.InputAffine) > 16 {
		return fmt.Errorf("%d input affine steps", len(q.InputAffine))
	}
	for i, a := range q.InputAffine {
		if !finite32(a.Mul) || !finite32(a.Add) {
			return fmt.Errorf("input affine step %d is not finite", i)
		}
	}
	if s := q.Tensors[0].Shape; s != (Shape{q.InputSize, q.InputSize, 3}) {
		return fmt.Errorf("input tensor shape %v, want [%d %d 3]", s, q.InputSize, q.InputSize)
	}
	total := 0
	for i, t := range q.Tensors {
		s := t.Shape
		if s.H < 1 || s.W < 1 || s.C < 1 || s.H > MaxQTensorElems || s.W > MaxQTensorElems || s.C > MaxQTensorElems ||
			s.H*s.W > MaxQTensorElems || s.Size() > MaxQTensorElems {
			return fmt.Errorf("tensor %d: shape %v is invalid or larger than %d elements", i, s, MaxQTensorElems)
		}
		total += s.Size()
		if total > MaxQTotalElems {
			return fmt.Errorf("tensors hold more than %d elements", MaxQTotalElems)
		}
		if !validScale(t.Q.Scale) || t.Q.Zero < 0 || t.Q.Zero > t.Q.Top() {
			return fmt.Errorf("tensor %d: quantization scale %g zero %d is invalid", i, t.Q.Scale, t.Q.Zero)
		}
	}
	written := make([]bool, len(q.Tensors))
	written[0] = true
	for i := range q.Ops {
		op := &q.Ops[i]
		if err := q.validateOp(op, written); err != nil {
			return fmt.Errorf("op %d %q (%v): %w", i, op.Name, op.Kind, err)
		}
		written[op.Out] = true
		last := i == len(q.Ops)-1
		if (op.Act == ActSoftmax) != last {
			return fmt.Errorf("op %d %q: only the last op may (and must) be a softmax dense", i, op.Name)
		}
	}
	last := &q.Ops[len(q.Ops)-1]
	if last.Kind != QDense || last.Out != q.Output {
		return fmt.Errorf("the last op must be the dense writing the output tensor %d", q.Output)
	}
	if out := q.Tensors[q.Output].Shape; out != (Shape{1, 1, len(q.Classes)}) {
		return fmt.Errorf("output shape %v, want [1 1 %d] for %d classes", out, len(q.Classes), len(q.Classes))
	}
	return nil
}

func finite32(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// validScale bounds scales well inside float32's normal range, so every
// derived multiplier is a normal float64.
func validScale(s float32) bool { return s >= 1e-12 && s <= 1e12 }

// validateOp checks one op against the tensors written before it. Its
// checks per kind of op are functions of their own, and so are its loops:
// a browser optimizes a wasm function once it has run enough, counted by
// its size at every loop iteration, and one large function with loops was
// optimized during every load, at 54 ms of compilation in Node (see "Cold
// start" in wasm/doc.go).
func (q *QNet) validateOp(op *QOp, written []bool) error {
	if op.Out <= 0 || op.Out >= len(q.Tensors) || written[op.Out] {
		return fmt.Errorf("output tensor %d is out of range or written twice", op.Out)
	}
	nIn := 1
	switch op.Kind {
	case QAdd:
		nIn = 2
	case QConcat:
		if len(op.In) < 1 || len(op.In) > 64 {
			return fmt.Errorf("%d inputs", len(op.In))
		}
		nIn = len(op.In)
	}
	if len(op.In) != nIn {
		return fmt.Errorf("%d inputs, want %d", len(op.In), nIn)
	}
	if k := notComputed(op.In, written); k >= 0 {
		return fmt.Errorf("input tensor %d is out of range or not yet computed", op.In[k])
	}
	if op.Act < ActLinear || op.Act > ActSoftmax || (op.Act == ActSoftmax && op.Kind != QDense) {
		return fmt.Errorf("activation %v is not allowed here", op.Act)
	}
	xs, ys := q.Tensors[op.In[0]].Shape, q.Tensors[op.Out].Shape
	hasWeights := op.Kind == QConv || op.Kind == QDepthwise || op.Kind == QDense
	if !hasWeights && (op.Weights != nil || op.WScale != nil || op.Bias != nil) {
		return errors.New("has weights but takes none")
	}
	if (hasWeights && op.Kind != QDense) || op.Kind == QMaxPool || op.Kind == QAvgPool {
		if err := checkWindow(op, xs, ys); err != nil {
			return err
		}
	}
	switch op.Kind {
	case QConv, QDepthwise, QDense:
		return q.validateWeights(op)
	case QAdd, QConcat:
		return q.validateJoin(op)
	case QMaxPool, QAvgPool:
		if ys.C != xs.C || q.Tensors[op.In[0]].Q != q.Tensors[op.Out].Q {
			return errors.New("pool must keep channels and quantization")
		}
		return nil
	}
	return errors.New("unknown op kind")
}

// notComputed returns the index in in of the first tensor id that is out
// of range or not yet written, or -1.
func notComputed(in []int, written []bool) int {
	for k, t := range in {
		if t < 0 || t >= len(written) || !written[t] {
			return k
		}
	}
	return -1
}

// validateWeights checks a conv's, depthwise conv's or dense layer's
// weights, scales and biases against its tensors.
func (q *QNet) validateWeights(op *QOp) error {
	xs, ys := q.Tensors[op.In[0]].Shape, q.Tensors[op.Out].Shape
	xq, yq := q.Tensors[op.In[0]].Q, q.Tensors[op.Out].Q
	var nw, cout int
	switch op.Kind {
	case QConv:
		cout = ys.C
		nw = op.KH * op.KW * xs.C * cout
	case QDepthwise:
		if ys.C != xs.C {
			return fmt.Errorf("depthwise maps %d channels to %d", xs.C, ys.C)
		}
		cout = ys.C
		nw = op.KH * op.KW * cout
	case QDense:
		if ys.H != 1 || ys.W != 1 {
			return fmt.Errorf("dense output shape %v, want [1 1 C]", ys)
		}
		cout = ys.C
		nw = xs.Size() * cout
	}
	if nw > MaxQTensorElems {
		return fmt.Errorf("%d weights", nw)
	}
	if len(op.Weights) != nw || len(op.WScale) != cout || len(op.Bias) != cout {
		return fmt.Errorf("weights %d, scales %d, biases %d; want %d, %d, %d", len(op.Weights), len(op.WScale), len(op.Bias), nw, cout, cout)
	}
	// bytes.IndexByte has an assembly loop on every target; slices.Index
	// on int8s is Go code, which a browser first runs unoptimized.
	if k := bytes.IndexByte(int8Bytes(op.Weights), 0x80); k >= 0 {
		return fmt.Errorf("weight %d is -128, outside the symmetric range [-127, 127]", k)
	}
	if xq.Wide {
		if c, ok := accumulatorFits(op.Weights, op.Bias, xq.Top()); !ok {
			return fmt.Errorf("channel %d could overflow its int32 accumulator on 12-bit inputs", c)
		}
	}
	if c, scale := badChannelScale(op.WScale, xq.Scale, yq.Scale, op.Act != ActSoftmax); scale {
		return fmt.Errorf("weight scale %g of channel %d is invalid", op.WScale[c], c)
	} else if c >= 0 {
		return fmt.Errorf("requantization multiplier of channel %d is out of range", c)
	}
	return nil
}

// validateJoin checks an add's or a concat's inputs against its output.
func (q *QNet) validateJoin(op *QOp) error {
	ys, yq := q.Tensors[op.Out].Shape, q.Tensors[op.Out].Q
	if op.Kind == QAdd {
		if xs := q.Tensors[op.In[0]].Shape; q.Tensors[op.In[1]].Shape != xs || ys != xs {
			return fmt.Errorf("adds %v and %v into %v", xs, q.Tensors[op.In[1]].Shape, ys)
		}
	}
	c := 0
	for _, t := range op.In {
		s, tq := q.Tensors[t].Shape, q.Tensors[t].Q
		if op.Kind == QConcat && (s.H != ys.H || s.W != ys.W) {
			return fmt.Errorf("input %d shape %v does not match output %v", t, s, ys)
		}
		c += s.C
		if tq.Wide != yq.Wide {
			return fmt.Errorf("input %d differs in width (8 or 12 bits) from the output", t)
		}
		if !validMultiplier(float64(tq.Scale) / float64(yq.Scale)) {
			return fmt.Errorf("input %d rescale is out of range", t)
		}
	}
	if op.Kind == QConcat && c != ys.C {
		return fmt.Errorf("inputs have %d channels, output %d", c, ys.C)
	}
	return nil
}

// checkWindow checks a window op's geometry against its input and output shapes.
func checkWindow(op *QOp, xs, ys Shape) error {
	if op.KH < 1 || op.KW < 1 || op.SH < 1 || op.SW < 1 || op.KH > MaxQWindow || op.KW > MaxQWindow || op.SH > MaxQWindow || op.SW > MaxQWindow {
		return fmt.Errorf("window %dx%d stride %dx%d is invalid", op.KH, op.KW, op.SH, op.SW)
	}
	p := op.Pad
	if p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0 || p.Top >= op.KH || p.Bottom >= op.KH || p.Left >= op.KW || p.Right >= op.KW {
		return fmt.Errorf("padding %v does not fit window %dx%d", p, op.KH, op.KW)
	}
	if xs.H+p.Top+p.Bottom < op.KH || xs.W+p.Left+p.Right < op.KW {
		return fmt.Errorf("window %dx%d does not fit input %v", op.KH, op.KW, xs)
	}
	oh, ow := convOutSize(xs.H, op.KH, op.SH, p.Top, p.Bottom), convOutSize(xs.W, op.KW, op.SW, p.Left, p.Right)
	if ys.H != oh || ys.W != ow {
		return fmt.Errorf("output shape %v, window gives [%d %d]", ys, oh, ow)
	}
	return nil
}

// badChannelScale returns the first channel whose weight scale is invalid
// (scale true), or whose requantization multiplier xScale·ws[c]/yScale is
// out of range when requant is set, or -1.
func badChannelScale(ws []float32, xScale, yScale float32, requant bool) (c int, scale bool) {
	for c, s := range ws {
		if !validScale(s) {
			return c, true
		}
		if requant && !validMultiplier(float64(xScale)*float64(s)/float64(yScale)) {
			return c, false
		}
	}
	return -1, false
}

// int8Bytes is w's memory as bytes (-128 is 0x80).
func int8Bytes(w []int8) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), len(w))
}

func validMultiplier(m float64) bool {
	return m >= math.Ldexp(1, -2*maxMultiplierLog) && m <= math.Ldexp(1, maxMultiplierLog)
}

// WeightBytes returns the bytes of the int8 weights, float32 scales and
// int32 biases of q (what the model file stores, before compression).
func (q *QNet) WeightBytes() int {
	n := 0
	for i := range q.Ops {
		op := &q.Ops[i]
		n += len(op.Weights) + 4*len(op.WScale) + 4*len(op.Bias)
	}
	return n
}
