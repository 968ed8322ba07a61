package infer

import (
	"fmt"
	"runtime"
	"slices"
	"unsafe"
)

// Int8 runs a QNet with integer kernels. Buffers and requantization
// constants are planned once, in NewInt8; Run allocates nothing.
// An Int8 is not safe for concurrent use; make one per goroutine.
type Int8 struct {
	q     *QNet
	bufs  [][]uint8  // bufs[t] is 8-bit tensor t's storage (shared when lifetimes do not overlap)
	wide  [][]uint16 // the same for 12-bit tensors (QParams.Wide), in the same arena
	plans []qplan    // per op
	acc   []int32    // accumulator scratch, 2·max channels
	conv  *ConvScratch
	pair  []int64   // depthwise scratch, max channels
	tmp   []float64 // softmax scratch
	probs []float32 // output
	row   []float32 // one preprocessed input row, for RunRGB
	trace []int32   // RunTrace's copy of an op's output
}

// qplan holds the constants derived from one QOp.
type qplan struct {
	rq    *Requant    // conv, depthwise, hidden dense
	conv  *PackedConv // conv weights for ConvInt8; nil: Conv2DInt8Ref
	dw    bool        // depthwise runs DepthwiseInt8, not DepthwiseInt8Ref
	add   *AddRescale // add
	cat   []*Requant  // concat: per input, nil if copied
	catZ  []int32     // concat: input zero points
	cat8  [][]uint8   // concat: input buffers, if 8-bit
	cat16 [][]uint16  // concat: input buffers, if 12-bit
	catC  []int       // concat: input channels
	dense []int32     // dense accumulators
}

// Int8Weights is a QNet, validated, with its conv weights packed for
// ConvInt8 once for any number of Int8 runners to share. It keeps only what
// runners read: not the raw weights of the convs it packed, so a caller
// that then drops its QNet frees them (the wasm module does).
type Int8Weights struct {
	q    QNet          // a shallow copy of the QNet; Ops is its own
	conv []*PackedConv // per op; nil: not a conv, or one Conv2DInt8Ref runs
}

// PackInt8 validates q and packs its conv weights. It panics if q is
// invalid (models read by veilfile.Read are already validated). q is not
// changed.
func PackInt8(q *QNet) *Int8Weights { return packInt8(q, false) }

// packInt8 is PackInt8; with release the weights are its own: it packs
// each conv's weights into their own memory where they fit (packInPlace),
// else drops the raw weights from q as it goes and collects them once
// releaseGCBytes have piled up, so that the packed copy reuses their
// memory. Either way the peak holds one copy of the weights, not two (a
// heap that never shrinks, as in wasm, keeps that peak for good).
func packInt8(q *QNet, release bool) *Int8Weights {
	if err := q.Validate(); err != nil {
		panic("infer: PackInt8: " + err.Error())
	}
	w := &Int8Weights{q: *q, conv: make([]*PackedConv, len(q.Ops))}
	released := 0 // bytes of raw weights dropped since the last collection
	var scratch []int8
	if release {
		n := 0
		for _, op := range q.Ops {
			if op.Kind == QConv {
				n = max(n, len(op.Weights))
			}
		}
		scratch = make([]int8, n)
	}
	w.q.Ops = slices.Clone(q.Ops)
	for i := range w.q.Ops {
		op := &w.q.Ops[i]
		if op.Kind != QConv {
			continue
		}
		cin := q.Tensors[op.In[0]].Shape.C
		top := q.Tensors[op.In[0]].Q.Top()
		if release {
			if pc, ok := packInPlace(op.Weights, scratch, op.Bias, op.KH, op.KW, cin, len(op.Bias), top); ok {
				w.conv[i], op.Weights, q.Ops[i].Weights = pc, nil, nil
				continue
			}
		}
		if pc, ok := packConv(nil, op.Weights, op.Bias, op.KH, op.KW, cin, len(op.Bias), top); ok {
			w.conv[i] = pc
			op.Weights = nil
			if release {
				released += len(q.Ops[i].Weights)
				q.Ops[i].Weights = nil
				if released >= releaseGCBytes {
					runtime.GC()
					released = 0
				}
			}
		}
	}
	if release {
		scratch = nil
		runtime.GC() // the raw weights not yet collected, and scratch
	}
	return w
}

// releaseGCBytes is how much raw weight packInt8 releases between
// collections: a few per model (MobileNetV2 has 3.5 MB of weights).
const releaseGCBytes = 1 << 20

// NewInt8 validates q and plans its buffers: NewInt8Packed(PackInt8(q)).
func NewInt8(q *QNet) *Int8 { return NewInt8Packed(PackInt8(q)) }

// NewInt8Packed plans a runner's buffers for weights packed by PackInt8.
func NewInt8Packed(w *Int8Weights) *Int8 {
	q := &w.q
	// One arena of bytes for both widths: a 12-bit tensor takes two bytes
	// a value, and every size is rounded up to 16 bytes, so every tensor
	// starts 16-byte aligned and a uint16 view of its bytes is aligned.
	sizes := make([]int, len(q.Tensors))
	maxC := 0
	for t, tq := range q.Tensors {
		sizes[t] = tq.Shape.Size()
		if tq.Q.Wide {
			sizes[t] *= 2
		}
		sizes[t] = (sizes[t] + 15) &^ 15
		maxC = max(maxC, tq.Shape.C)
	}
	e := &Int8{q: q, plans: make([]qplan, len(q.Ops))}
	// A softmax dense writes the float probabilities, not a tensor.
	uses := func(i int) ([]int, int, bool) {
		op := &q.Ops[i]
		return op.In, op.Out, op.Kind != QDense || op.Act != ActSoftmax
	}
	arena := planBuffers[uint8](sizes, len(q.Ops), uses)
	e.bufs, e.wide = make([][]uint8, len(q.Tensors)), make([][]uint16, len(q.Tensors))
	for t, b := range arena {
		n := q.Tensors[t].Shape.Size()
		switch {
		case len(b) == 0: // no buffer
		case q.Tensors[t].Q.Wide:
			e.wide[t] = unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), n)
		default:
			e.bufs[t] = b[:n:n]
		}
	}
	e.acc = make([]int32, 2*maxC)
	e.pair = make([]int64, maxC)
	maxK := 0
	for i := range q.Ops {
		e.plan(i)
		e.plans[i].conv = w.conv[i]
		if op := &q.Ops[i]; op.Kind == QConv {
			maxK = max(maxK, op.KH*op.KW*q.Tensors[op.In[0]].Shape.C)
		}
	}
	e.conv = NewConvScratch(maxK, maxC)
	out := q.Tensors[q.Output].Shape.C
	e.probs = make([]float32, out)
	e.tmp = make([]float64, out)
	e.row = make([]float32, q.InputSize*3)
	return e
}

func (e *Int8) plan(i int) {
	q := e.q
	op := &q.Ops[i]
	p := &e.plans[i]
	xq, yq := q.Tensors[op.In[0]].Q, q.Tensors[op.Out].Q
	switch op.Kind {
	case QConv:
		p.rq = NewRequant(xq.Scale, op.WScale, yq, op.Act)
	case QDepthwise:
		p.rq = NewRequant(xq.Scale, op.WScale, yq, op.Act)
		p.dw = DepthwiseFits(op.Weights, op.Bias, xq.Top())
	case QDense:
		p.dense = make([]int32, len(op.Bias))
		if op.Act != ActSoftmax {
			p.rq = NewRequant(xq.Scale, op.WScale, yq, op.Act)
		}
	case QAdd:
		p.add = NewAddRescale(xq, q.Tensors[op.In[1]].Q, yq, op.Act)
	case QConcat:
		for _, t := range op.In {
			tq := q.Tensors[t].Q
			var r *Requant
			if tq != yq {
				r = &Requant{Mult: []Multiplier{NewMultiplier(float64(tq.Scale) / float64(yq.Scale))}, Zero: yq.Zero, Lo: 0, Hi: yq.Top()}
			}
			p.cat = append(p.cat, r)
			p.catZ = append(p.catZ, tq.Zero)
			p.catC = append(p.catC, q.Tensors[t].Shape.C)
			if yq.Wide { // Validate: every input has the output's width
				p.cat16 = append(p.cat16, e.wide[t])
			} else {
				p.cat8 = append(p.cat8, e.bufs[t])
			}
		}
	}
}

// Run computes the class probabilities for one preprocessed input of
// S×S×3 values in [0,1] (see Preprocess). The returned slice is owned by e
// and overwritten by the next Run.
func (e *Int8) Run(input []float32) []float32 { return e.RunTrace(input, nil) }

// RunTrace is Run calling trace(i, y) after op i with its quantized output
// as stored (not called for the final softmax dense). y is valid only
// during the call.
func (e *Int8) RunTrace(input []float32, trace func(op int, y []int32)) []float32 {
	q := e.q
	if n := q.Tensors[0].Shape.Size(); len(input) != n {
		panic(fmt.Sprintf("infer: Int8.Run: input has %d values, want %d", len(input), n))
	}
	e.quantizeInput(0, input)
	return e.runOps(trace)
}

// RunRGB is Run on an 8-bit RGB image of w×h pixels (pix[(y*w+x)*3+c]),
// preprocessed as Preprocess does but one row at a time, each row
// quantized into the input tensor as it is made: the same result as
// Run(Preprocess(…)) without holding the float image (0.6 MB at 224×224).
func (e *Int8) RunRGB(pix []uint8, w, h int) []float32 {
	if w <= 0 || h <= 0 || len(pix) < w*h*3 {
		panic(fmt.Sprintf("infer: Int8.RunRGB: %dx%d image with %d bytes", w, h, len(pix)))
	}
	e.LoadRGB(w, h, pixRows(pix, w))
	return e.RunLoaded()
}

// LoadRGB preprocesses a w×h RGB image read row by row from rows into the
// quantized input, for RunLoaded: the image need not be held whole (the
// wasm module reads a canvas's rows from JavaScript as it goes).
func (e *Int8) LoadRGB(w, h int, rows RowSource) {
	q := e.q
	s := q.InputSize
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("infer: Int8.LoadRGB: %dx%d image", w, h))
	}
	for r := range s {
		preprocessRow(e.row, rows, w, h, s, r)
		e.quantizeInput(r*s*3, e.row)
	}
}

// quantizeInput quantizes x into the input tensor from value off on.
func (e *Int8) quantizeInput(off int, x []float32) {
	q := e.q
	if q.Tensors[0].Q.Wide {
		QuantizeInput(e.wide[0][off:][:len(x)], x, q.InputAffine, q.Tensors[0].Q)
	} else {
		QuantizeInput(e.bufs[0][off:][:len(x)], x, q.InputAffine, q.Tensors[0].Q)
	}
}

// RunLoaded runs the network on the input LoadRGB made.
func (e *Int8) RunLoaded() []float32 { return e.runOps(nil) }

// runOps runs every op on the quantized input in e.bufs[0] (e.wide[0]).
func (e *Int8) runOps(trace func(op int, y []int32)) []float32 {
	q := e.q
	for i := range q.Ops {
		op := &q.Ops[i]
		xw, yw := q.Tensors[op.In[0]].Q.Wide, q.Tensors[op.Out].Q.Wide
		switch {
		case !xw && !yw:
			runOp(e, e.bufs, e.bufs, i, trace)
		case xw && yw:
			runOp(e, e.wide, e.wide, i, trace)
		case xw:
			runOp(e, e.wide, e.bufs, i, trace)
		default:
			runOp(e, e.bufs, e.wide, i, trace)
		}
	}
	return e.probs
}

// runOp runs op i, reading X and writing Y tensors (8-bit: e.bufs; 12-bit:
// e.wide). Convs, depthwise convs and dense layers may change width;
// Validate keeps adds, concats and pools to one.
func runOp[X, Y Activ](e *Int8, xbufs [][]X, ybufs [][]Y, i int, trace func(op int, y []int32)) {
	q := e.q
	op := &q.Ops[i]
	p := &e.plans[i]
	y, ys := ybufs[op.Out], q.Tensors[op.Out].Shape
	x, xt := xbufs[op.In[0]], q.Tensors[op.In[0]]
	xs := xt.Shape
	switch op.Kind {
	case QConv:
		if p.conv != nil {
			ConvInt8(y, ys, x, xs, xt.Q.Zero, p.conv, op.SH, op.SW, op.Pad, p.rq, e.conv)
		} else {
			Conv2DInt8Ref(y, ys, x, xs, xt.Q.Zero, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, p.rq, e.acc)
		}
	case QDepthwise:
		if p.dw {
			DepthwiseInt8(y, ys, x, xs, xt.Q.Zero, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, p.rq, e.acc, e.pair)
		} else {
			DepthwiseInt8Ref(y, ys, x, xs, xt.Q.Zero, op.Weights, op.Bias, op.KH, op.KW, op.SH, op.SW, op.Pad, p.rq, e.acc)
		}
	case QDense:
		DenseInt8Ref(p.dense, x[:xs.Size()], xt.Q.Zero, op.Weights, op.Bias)
		if op.Act == ActSoftmax {
			SoftmaxLogits(e.probs, p.dense, xt.Q.Scale, op.WScale, e.tmp)
			return
		}
		RequantRef(y, p.dense, p.rq)
	case QAdd:
		AddInt8Ref(y, sameWidth[Y](x), ybufs[op.In[1]], p.add)
	case QConcat:
		if q.Tensors[op.Out].Q.Wide {
			ConcatInt8Ref(sameWidth[uint16](y), ys.H*ys.W, p.cat16, p.catC, p.cat, p.catZ)
		} else {
			ConcatInt8Ref(sameWidth[uint8](y), ys.H*ys.W, p.cat8, p.catC, p.cat, p.catZ)
		}
	case QMaxPool, QAvgPool:
		PoolInt8(y, ys, sameWidth[Y](x), xs, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Kind == QMaxPool, e.acc)
	default:
		panic(fmt.Sprintf("infer: op %q: unknown kind %v", op.Name, op.Kind))
	}
	if trace != nil {
		if e.trace == nil {
			n := 0
			for _, t := range q.Tensors {
				n = max(n, t.Shape.Size())
			}
			e.trace = make([]int32, n)
		}
		v := e.trace[:len(y)]
		for k, yk := range y {
			v[k] = int32(yk)
		}
		trace(i, v)
	}
}

// sameWidth returns x as []T for an op Validate keeps to one width (X is
// then T): Go's generics cannot say so.
func sameWidth[T Activ, X Activ](x []X) []T {
	t, ok := any(x).([]T)
	if !ok {
		panic("infer: an add, concat or pool mixes 8- and 12-bit tensors")
	}
	return t
}
