package quantize

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/veil-ml/veil/pkg/infer"
)

// DefaultMethod is the calibration method Quantize uses unless told
// otherwise, chosen by measured fidelity (see doc.go).
const DefaultMethod = MinMax

// Options tune Quantize. The zero value is usable.
type Options struct {
	Method          Method  // activation range calibration; zero value MinMax
	Percentile      float64 // for Percentile; 0 means 99.99
	SamplesPerImage int     // values sampled per tensor per image; 0 means 4096
	Workers         int     // parallel forward passes; 0 means runtime.NumCPU()
	Nearest         bool    // round weights to nearest instead of GPTQ (see gptq.go)
	Equalize        bool    // cross-layer equalization first (see equalize.go)
	SQNRImages      int     // images used for per-layer output SQNR; 0 means 4, negative none
	// ActBits is the activations' width, 12 (0 means DefaultActBits) or 8
	// (see infer.QParams.Wide and doc.go): 12-bit activations get ranges
	// widened by WideRange, and the weights keep the grid they came on.
	ActBits int
	// WideRange widens the calibrated ranges of 12-bit activations; 0
	// means DefaultWideRange.
	WideRange float64
	// Mixed, with ActBits 12, gives 8 bits to the outputs of ReLU and
	// ReLU6 layers (and the pools and concats of them), over their
	// calibrated ranges, and keeps 12 bits for the input and the linear
	// outputs: MobileNetV2Mid's bottlenecks and adds, small tensors, keep
	// 12 bits, its large expanded tensors take 8 (doc.go).
	Mixed bool
	// Progress, if set, is called as work completes (from one goroutine at a time).
	Progress func(stage string, done, total int)
}

func (o *Options) defaults() {
	if o.Percentile == 0 {
		o.Percentile = 99.99
	}
	if o.SamplesPerImage == 0 {
		o.SamplesPerImage = 4096
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.SQNRImages == 0 {
		o.SQNRImages = 4
	}
	if o.ActBits == 0 {
		o.ActBits = DefaultActBits
	}
	if o.WideRange == 0 {
		o.WideRange = DefaultWideRange
	}
}

// DefaultActBits is the activations' width unless Options say otherwise:
// 12 bits keep nsfwjs's answers (doc.go).
const DefaultActBits = 12

// DefaultWideRange widens the calibrated ranges of 12-bit activations:
// test images go past the calibration images' ranges, and clipping them
// cost more than the coarser steps (MobileNetV2 against nsfwjs, simulated:
// max |Δp| 0.107 at ×1, 0.022 at ×2, 0.037 at ×4; doc.go).
const DefaultWideRange = 2

// Quantize turns a float Net into an int8 QNet: Fold (BatchNorm, ZeroPad,
// activations), calibrate activation ranges on calib (preprocessed S×S×3
// inputs in [0,1], as given to infer.Float.Run), quantize weights per
// output channel (QuantizePerChannel) and biases to int32, then measure the
// result against the float net on the same images. net is not modified.
func Quantize(net *infer.Net, calib [][]float32, opts Options) (*infer.QNet, *Report, error) {
	opts.defaults()
	if opts.ActBits != 8 && opts.ActBits != 12 {
		return nil, nil, fmt.Errorf("quantize: %s: activations of %d bits (want 8 or 12)", net.Name, opts.ActBits)
	}
	if opts.Mixed && opts.ActBits != 12 {
		return nil, nil, fmt.Errorf("quantize: %s: mixed activation widths need ActBits 12", net.Name)
	}
	if len(calib) == 0 {
		return nil, nil, fmt.Errorf("quantize: %s: no calibration images", net.Name)
	}
	for i, x := range calib {
		if len(x) != net.Shapes[0].Size() {
			return nil, nil, fmt.Errorf("quantize: %s: calibration input %d has %d values, want %d", net.Name, i, len(x), net.Shapes[0].Size())
		}
	}
	folded, err := Fold(net)
	if err != nil {
		return nil, nil, err
	}
	if opts.Equalize {
		equalize(folded, firstNonAffine(folded), calib, &opts)
	}
	obs, floatProbs := calibrate(folded, calib, &opts)
	b := newBuilder(folded, obs, &opts)
	if !opts.Nearest {
		b.stats = collectPatchStats(folded, firstNonAffine(folded), calib, &opts)
	}
	q, err := b.build()
	if err != nil {
		return nil, nil, err
	}
	rep := b.evaluate(q, calib, floatProbs)
	return q, rep, nil
}

// parallel calls f(worker, i) for i in [0, n) on up to workers goroutines.
func parallel(n, workers int, f func(worker, i int)) {
	workers = min(workers, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(w, i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// calibrate runs the folded net on every input, observing every tensor.
// The result does not depend on scheduling: observations are merged in
// image order.
func calibrate(net *infer.Net, calib [][]float32, o *Options) ([]*Observer, [][]float32) {
	perImage := make([][]*Observer, len(calib))
	probs := make([][]float32, len(calib))
	runners := make([]*floatRunner, o.Workers)
	var mu sync.Mutex
	done := 0
	parallel(len(calib), o.Workers, func(w, i int) {
		if runners[w] == nil {
			runners[w] = newFloatRunner(net)
		}
		r := runners[w]
		r.run(calib[i])
		obs := make([]*Observer, len(net.Shapes))
		for t, v := range r.bufs {
			if v != nil {
				obs[t] = NewObserver(o.SamplesPerImage)
				obs[t].Observe(v, i)
			}
		}
		perImage[i] = obs
		probs[i] = append([]float32(nil), r.bufs[net.Output]...)
		mu.Lock()
		done++
		if o.Progress != nil {
			o.Progress("calibrate", done, len(calib))
		}
		mu.Unlock()
	})
	merged := make([]*Observer, len(net.Shapes))
	for _, obs := range perImage {
		for t, ob := range obs {
			if ob == nil {
				continue
			}
			if merged[t] == nil {
				merged[t] = NewObserver(o.SamplesPerImage)
			}
			merged[t].Merge(ob)
		}
	}
	return merged, probs
}

// builder maps a folded Net onto a QNet.
type builder struct {
	net     *infer.Net
	obs     []*Observer
	opts    *Options
	qp      map[int]infer.QParams // folded tensor -> params
	first   int                   // first non-affine op
	qid     map[int]int           // folded tensor -> QNet tensor
	ftensor []int                 // QNet op -> folded tensor it writes
	layers  []LayerReport
	stats   []*patchStats // per folded op, for GPTQ rounding; nil: nearest
}

// firstNonAffine is the index of the first op that is not a leading affine
// (those run in float before the input is quantized).
func firstNonAffine(n *infer.Net) int {
	i := 0
	for i < len(n.Ops) && n.Ops[i].Kind == infer.OpAffine {
		i++
	}
	return i
}

func newBuilder(net *infer.Net, obs []*Observer, o *Options) *builder {
	return &builder{net: net, obs: obs, opts: o, qp: map[int]infer.QParams{}, qid: map[int]int{}}
}

func (b *builder) build() (*infer.QNet, error) {
	n := b.net
	q := &infer.QNet{Name: n.Name, InputSize: n.InputSize, Classes: append([]string(nil), n.Classes...)}
	// Leading affine ops run in float before the input is quantized.
	in := 0
	lo, hi := 0.0, 1.0
	for b.first < len(n.Ops) && n.Ops[b.first].Kind == infer.OpAffine {
		op := &n.Ops[b.first]
		q.InputAffine = append(q.InputAffine, infer.Affine{Mul: op.Mul, Add: op.Add})
		lo, hi = float64(float32(float32(lo)*op.Mul)+op.Add), float64(float32(float32(hi)*op.Mul)+op.Add)
		lo, hi = min(lo, hi), max(lo, hi)
		in = op.Out
		b.first++
	}
	wide := b.opts.ActBits == 12
	b.qp[in] = inputParams(min(lo, 0), max(hi, 0), wide)
	b.qid[in] = 0
	q.Tensors = append(q.Tensors, infer.QTensor{Shape: n.Shapes[in], Q: b.qp[in]})
	ops := n.Ops[b.first:]
	uses := map[int]int{}
	producer := map[int]*infer.Op{}
	for i := range ops {
		for _, t := range ops[i].In {
			uses[t]++
		}
		producer[ops[i].Out] = &ops[i]
	}
	var wideOut map[int]bool
	if b.opts.Mixed {
		wideOut = mixedWidths(ops, in)
	}
	// Activation parameters.
	for i := range ops {
		op := &ops[i]
		switch {
		case op.Kind == infer.OpAffine:
			return nil, fmt.Errorf("quantize: %s: op %q: affine after the input", n.Name, op.Name)
		case op.Kind == infer.OpMaxPool || op.Kind == infer.OpAvgPool:
			b.qp[op.Out] = b.qp[op.In[0]]
		case op.Act == infer.ActSoftmax:
			b.qp[op.Out] = infer.QParams{Scale: 1, Zero: 0, Wide: wide} // unused: the probabilities are float
		default:
			lo, hi := b.obs[op.Out].Range(b.opts.Method, b.opts.Percentile)
			w := wide
			if b.opts.Mixed {
				w = wideOut[op.Out]
			}
			if w {
				lo, hi = lo*b.opts.WideRange, hi*b.opts.WideRange
				if op.Act == infer.ActReLU6 {
					hi = min(hi, 6) // the most ReLU6 gives
				}
			}
			b.qp[op.Out] = params(lo, hi, w)
		}
		// Concat inputs written only for the concat share its parameters, so
		// the concat is a copy (TFLite does the same).
		if op.Kind == infer.OpConcat {
			for _, t := range op.In {
				if p := producer[t]; p != nil && uses[t] == 1 && (p.Kind == infer.OpConv2D || p.Kind == infer.OpDepthwise || p.Kind == infer.OpAdd) {
					b.qp[t] = b.qp[op.Out]
				}
			}
		}
	}
	for i := range ops {
		b.qid[ops[i].Out] = len(q.Tensors)
		q.Tensors = append(q.Tensors, infer.QTensor{Shape: n.Shapes[ops[i].Out]})
		b.ftensor = append(b.ftensor, ops[i].Out)
	}
	for t, id := range b.qid {
		q.Tensors[id].Q = b.qp[t]
	}
	for i := range ops {
		op := &ops[i]
		qo := infer.QOp{Name: op.Name, Out: b.qid[op.Out], KH: op.KH, KW: op.KW, SH: op.SH, SW: op.SW, Pad: op.Pad, Act: op.Act}
		for _, t := range op.In {
			id, ok := b.qid[t]
			if !ok {
				return nil, fmt.Errorf("quantize: %s: op %q reads tensor %d before it is written", n.Name, op.Name, t)
			}
			qo.In = append(qo.In, id)
		}
		lr := LayerReport{Name: op.Name, WeightSQNR: DB(math.NaN())}
		switch op.Kind {
		case infer.OpConv2D, infer.OpDepthwise, infer.OpDense:
			qo.Kind = map[infer.OpKind]infer.QOpKind{infer.OpConv2D: infer.QConv, infer.OpDepthwise: infer.QDepthwise, infer.OpDense: infer.QDense}[op.Kind]
			cout := n.Shapes[op.Out].C
			var sq float64
			qo.Weights, qo.WScale, qo.Bias, sq = QuantizeLayer(op.Weights, op.Bias, cout, b.qp[op.In[0]].Scale, wide)
			if b.stats != nil && b.stats[b.first+i] != nil {
				w, err := gptqLayer(op, cout, qo.WScale, b.stats[b.first+i])
				if err != nil {
					return nil, fmt.Errorf("quantize: %s: op %q: GPTQ: %w", n.Name, op.Name, err)
				}
				qo.Weights, sq = w, weightSQNR(op.Weights, w, qo.WScale)
			}
			lr.WeightSQNR = DB(sq)
		case infer.OpAdd:
			qo.Kind = infer.QAdd
		case infer.OpConcat:
			qo.Kind = infer.QConcat
		case infer.OpMaxPool:
			qo.Kind = infer.QMaxPool
		case infer.OpAvgPool:
			qo.Kind = infer.QAvgPool
		default:
			return nil, fmt.Errorf("quantize: %s: op %q: %v has no int8 form", n.Name, op.Name, op.Kind)
		}
		lr.Kind = qo.Kind.String()
		lr.Bytes = len(qo.Weights) + 4*len(qo.WScale) + 4*len(qo.Bias)
		b.layers = append(b.layers, lr)
		q.Ops = append(q.Ops, qo)
	}
	q.Output = b.qid[n.Output]
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	return q, nil
}

// mixedWidths says which tensors Options.Mixed gives 12 bits: all but the
// outputs of ReLU and ReLU6 layers, except that the tensors an add, a
// concat or a pool joins must share one width (the kernels read and write
// one), 12 if any of them has it. in is the input tensor.
func mixedWidths(ops []infer.Op, in int) map[int]bool {
	// Union-find over the tensors the joining ops tie together.
	parent := map[int]int{}
	var root func(t int) int
	root = func(t int) int {
		if p, ok := parent[t]; ok && p != t {
			parent[t] = root(p)
			return parent[t]
		}
		return t
	}
	wide := map[int]bool{in: true}
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case infer.OpAdd, infer.OpConcat, infer.OpMaxPool, infer.OpAvgPool:
			for _, t := range op.In {
				parent[root(t)] = root(op.Out)
			}
		default:
			wide[op.Out] = op.Act != infer.ActReLU && op.Act != infer.ActReLU6
		}
	}
	classWide := map[int]bool{}
	for t, w := range wide {
		if w {
			classWide[root(t)] = true
		}
	}
	out := map[int]bool{in: true}
	for i := range ops {
		out[ops[i].Out] = classWide[root(ops[i].Out)]
	}
	return out
}

// inputParams quantizes the (known) input range [lo, hi] on top steps
// (255, or 4095 if wide), or on top−1 when top would put real 0 between two codes
// (e.g. [−1, 1]), so that the input is not shifted by half a step.
func inputParams(lo, hi float64, wide bool) infer.QParams {
	p := params(lo, hi, wide)
	z := -lo / float64(p.Scale)
	if math.Abs(z-math.Round(z)) > 1e-3 {
		s := (hi - lo) / float64(p.Top()-1)
		p = infer.QParams{Scale: float32(s), Zero: int32(math.Round(-lo / s)), Wide: wide}
	}
	return p
}
