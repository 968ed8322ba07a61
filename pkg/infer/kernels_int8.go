package infer

import "math"

// The int8 kernels below define the integer arithmetic of a QNet. Activations
// are uint8 with a per-tensor zero point, weights int8 with zero point 0,
// accumulators int32, and every rescale is a fixed-point Multiplier, so the
// results are the same bits on every platform (amd64, arm64, js/wasm).
//
// Shapes are H×W×C for a batch of one, as in kernels_ref.go.

// Multiplier is a positive real factor m ≈ M·2^−S held in fixed point.
// M is in [2^30, 2^31) unless m is so small that S was capped at 62.
type Multiplier struct {
	M int64
	S uint // 1..62
}

// NewMultiplier returns the fixed-point form of m. It panics unless m is in
// [2^−48, 2^24] (QNet.Validate checks this for every derived multiplier).
func NewMultiplier(m float64) Multiplier {
	if !validMultiplier(m) {
		panic("infer: NewMultiplier: multiplier out of range")
	}
	frac, exp := math.Frexp(m) // m = frac·2^exp, frac in [0.5, 1)
	mant := int64(math.Round(math.Ldexp(frac, 31)))
	if mant == 1<<31 {
		mant, exp = 1<<30, exp+1
	}
	s := 31 - exp // m ≈ mant·2^-s
	if s > 62 {
		mant = int64(math.Round(math.Ldexp(float64(mant), 62-s)))
		s = 62
	}
	return Multiplier{M: mant, S: uint(s)}
}

// Apply returns round(x·m), rounding halves up. |x| must be below 2^32.
func (m Multiplier) Apply(x int64) int64 {
	// S is 1..62: the masks change nothing but tell the compiler that no
	// shift reaches 64, so it emits a bare shift without the checks for one.
	return (x*m.M + 1<<((m.S-1)&63)) >> (m.S & 63)
}

// accumulatorFits reports whether |bias[c]| + top·Σ|w[.., c]| < 2^31 for
// every output channel c (channel = index % len(bias), as in the conv,
// depthwise and dense layouts): then no input whose values less their zero
// point lie in [−top, top] takes an int32 accumulator (a SWAR lane in
// particular) out of int32. Otherwise it returns the first channel that
// could. |w| ≤ 128 bounds every channel at once; only past that are the
// channels summed.
func accumulatorFits(w []int8, bias []int32, top int32) (int, bool) {
	cout := len(bias)
	maxBias := int64(0)
	for _, b := range bias {
		maxBias = max(maxBias, int64(b), -int64(b))
	}
	if cout == 0 || maxBias+int64(top)*128*int64(len(w)/cout) < 1<<31 {
		return 0, true
	}
	sum := make([]int64, cout)
	for i, v := range w {
		a := int64(v) // -v overflows int8 for v = -128
		sum[i%cout] += max(a, -a)
	}
	for c, s := range sum {
		b := int64(bias[c])
		if max(b, -b)+int64(top)*s >= 1<<31 {
			return c, false
		}
	}
	return 0, true
}

// Activ is the storage of an activation tensor: uint8 for 8 bits, uint16
// holding [0, 4095] for 12 (QParams.Wide).
type Activ interface{ uint8 | uint16 }

// activTop is the largest value a tensor stored as T holds.
func activTop[T Activ]() int32 {
	var z T
	if _, ok := any(z).(uint8); ok {
		return 255
	}
	return 4095
}

// Requant maps int32 accumulators to stored activations:
// y = clamp(Zero + Mult[c]·acc, Lo, Hi). Lo and Hi fold the activation
// (ReLU, ReLU6) into the clamp.
type Requant struct {
	Mult   []Multiplier // one per output channel
	Zero   int32
	Lo, Hi int32 // 0 <= Lo <= Hi <= 255 (4095 in a 12-bit QNet)

	vec  requantVectors     // Mult for applyRowVector, made by NewRequant (may be empty)
	wvec requantWideVectors // the same for 12-bit outputs (applyRowsWide)
}

func (r *Requant) apply(acc int32, c int) uint8 { return uint8(r.value(acc, c)) }

// value is the requantized accumulator of channel c, in [Lo, Hi].
func (r *Requant) value(acc int32, c int) int32 {
	v := int64(r.Zero) + r.Mult[c].Apply(int64(acc))
	return int32(min(max(v, int64(r.Lo)), int64(r.Hi)))
}

// applyRow requantizes acc[i] of channel c0+i into out[i], with the
// constants hoisted out of the loop (the fast kernels' inner step).
func (r *Requant) applyRow(out []uint8, acc []int32, c0 int) {
	mult := r.Mult[c0:][:len(acc)]
	out = out[:len(acc)]
	done := r.applyRowVector(out, acc, c0) // SIMD, where the build has it
	zero, lo, hi := int64(r.Zero), int64(r.Lo), int64(r.Hi)
	for i := done; i < len(mult); i++ {
		v := zero + mult[i].Apply(int64(acc[i]))
		out[i] = uint8(min(max(v, lo), hi))
	}
}

// applyRowVector requantizes the channels of acc (from channel c0) that the
// build's vector path takes into out, and returns how many it did (a prefix).
func (r *Requant) applyRowVector(out []uint8, acc []int32, c0 int) int {
	return r.applyRowsVector(out, 0, acc, 0, 1, min(len(acc), len(out)), c0)
}

// splitLanes unpacks two int32 lanes held as lo + hi·2^32 in one int64, as
// the SWAR kernels accumulate them.
func splitLanes(v int64) (lo, hi int32) {
	lo = int32(v)
	return lo, int32((v - int64(lo)) >> 32)
}

// NewRequant returns the requantization from accumulators at scale
// inScale·wScale[c] to a tensor with QParams out (8- or 12-bit, out.Wide),
// clamped for act. Each width gets its own vector constants.
func NewRequant(inScale float32, wScale []float32, out QParams, act Activation) *Requant {
	r := &Requant{Mult: make([]Multiplier, len(wScale)), Zero: out.Zero}
	for c, s := range wScale {
		r.Mult[c] = NewMultiplier(float64(inScale) * float64(s) / float64(out.Scale))
	}
	r.Lo, r.Hi = actRange(out, act)
	if out.Wide {
		r.wvec = newRequantWideVectors(r)
	} else {
		r.vec = newRequantVectors(r)
	}
	return r
}

// actRange is the quantized range [lo, hi] of an activation's output
// stored in [0, q.Top()].
func actRange(q QParams, act Activation) (lo, hi int32) {
	lo, hi = 0, q.Top()
	switch act {
	case ActReLU:
		lo = q.Zero
	case ActReLU6:
		lo = q.Zero
		six := int64(q.Zero) + int64(math.Floor(6/float64(q.Scale)+0.5))
		hi = int32(min(six, int64(q.Top())))
	}
	return lo, hi
}

// QuantizeInput quantizes float values after the affine steps aff (each as
// AffineRef, rounding between multiply and add; none for nil):
// y = clamp(round(x'/Scale) + Zero, 0, top), rounding halves up (top: 255
// for uint8, 4095 for uint16). The steps are applied value by value,
// without a float copy of the input.
//
//	x (n) float32 -> y (n) uint8 or uint16
func QuantizeInput[T Activ](y []T, x []float32, aff []Affine, q QParams) {
	if len(y) != len(x) {
		panic("infer: QuantizeInput: bad shapes")
	}
	s, zero, top := float64(q.Scale), float64(q.Zero), float64(activTop[T]())
	y = y[:len(x)]
	for i, v := range x {
		for _, a := range aff {
			v = float32(v*a.Mul) + a.Add // no FMA, as AffineRef
		}
		r := math.Floor(float64(v)/s+0.5) + zero
		// Comparisons, not min and max: those of floats are calls in Go's
		// wasm code, and they were half this loop's time there. A NaN
		// becomes 0.
		if !(r > 0) {
			r = 0
		}
		if r > top {
			r = top
		}
		y[i] = T(r)
	}
}

// Conv2DInt8Ref computes a quantized convolution. Padding cells are real 0
// and contribute nothing.
//
//	x (H, W, Cin) uint8 or uint16 (zero point zx) * w (KH, KW, Cin, Cout) int8 + bias (Cout) int32
//	  -> acc (Cout) int32 -> y (OH, OW, Cout) uint8 or uint16 via rq
//
// acc is scratch of length Cout.
func Conv2DInt8Ref[X, Y Activ](y []Y, ys Shape, x []X, xs Shape, zx int32, w []int8, bias []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc []int32) {
	cin, cout := xs.C, ys.C
	if len(w) != kh*kw*cin*cout || len(bias) != cout || len(rq.Mult) != cout || len(acc) < cout || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: Conv2DInt8Ref: bad shapes")
	}
	acc = acc[:cout]
	for oy := 0; oy < ys.H; oy++ {
		for ox := 0; ox < ys.W; ox++ {
			copy(acc, bias)
			for ky := 0; ky < kh; ky++ {
				iy := oy*sh + ky - pad.Top
				if iy < 0 || iy >= xs.H {
					continue
				}
				for kx := 0; kx < kw; kx++ {
					ix := ox*sw + kx - pad.Left
					if ix < 0 || ix >= xs.W {
						continue
					}
					xrow := x[(iy*xs.W+ix)*cin:][:cin]
					wbase := (ky*kw + kx) * cin * cout
					for ci, xq := range xrow {
						xv := int32(xq) - zx
						if xv == 0 {
							continue
						}
						wrow := w[wbase+ci*cout:][:cout]
						for co, wv := range wrow {
							acc[co] += xv * int32(wv)
						}
					}
				}
			}
			out := y[(oy*ys.W+ox)*cout:][:cout]
			for co := range out {
				out[co] = Y(rq.value(acc[co], co))
			}
		}
	}
}

// DepthwiseInt8Ref computes a quantized depthwise convolution (multiplier 1).
//
//	x (H, W, C) uint8|uint16 (zero point zx) * w (KH, KW, C) int8 + bias (C) int32 -> y (OH, OW, C) uint8|uint16 via rq
//
// acc is scratch of length C.
func DepthwiseInt8Ref[X, Y Activ](y []Y, ys Shape, x []X, xs Shape, zx int32, w []int8, bias []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc []int32) {
	c := xs.C
	if ys.C != c || len(w) != kh*kw*c || len(bias) != c || len(rq.Mult) != c || len(acc) < c || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: DepthwiseInt8Ref: bad shapes")
	}
	acc = acc[:c]
	for oy := 0; oy < ys.H; oy++ {
		for ox := 0; ox < ys.W; ox++ {
			copy(acc, bias)
			for ky := 0; ky < kh; ky++ {
				iy := oy*sh + ky - pad.Top
				if iy < 0 || iy >= xs.H {
					continue
				}
				for kx := 0; kx < kw; kx++ {
					ix := ox*sw + kx - pad.Left
					if ix < 0 || ix >= xs.W {
						continue
					}
					xrow := x[(iy*xs.W+ix)*c:][:c]
					wrow := w[(ky*kw+kx)*c:][:c]
					for i, xq := range xrow {
						acc[i] += (int32(xq) - zx) * int32(wrow[i])
					}
				}
			}
			out := y[(oy*ys.W+ox)*c:][:c]
			for i := range out {
				out[i] = Y(rq.value(acc[i], i))
			}
		}
	}
}

// DenseInt8Ref computes the accumulators of a quantized dense layer.
//
//	x (In) uint8|uint16 (zero point zx) · w (In, Out) int8 + bias (Out) int32 -> acc (Out) int32
func DenseInt8Ref[X Activ](acc []int32, x []X, zx int32, w []int8, bias []int32) {
	in, out := len(x), len(acc)
	if len(w) != in*out || len(bias) != out {
		panic("infer: DenseInt8Ref: bad shapes")
	}
	copy(acc, bias)
	for i, xq := range x {
		xv := int32(xq) - zx
		if xv == 0 {
			continue
		}
		wrow := w[i*out:][:out]
		for j, wv := range wrow {
			acc[j] += xv * int32(wv)
		}
	}
}

// RequantRef applies rq to accumulators: y[c] = clamp(Zero + Mult[c]·acc[c], Lo, Hi).
func RequantRef[Y Activ](y []Y, acc []int32, rq *Requant) {
	if len(y) != len(acc) || len(rq.Mult) != len(y) {
		panic("infer: RequantRef: bad shapes")
	}
	for c, a := range acc {
		y[c] = Y(rq.value(a, c))
	}
}

// Rescale maps a quantized tensor to another tensor's QParams:
// y = Zero + round(M·(x − xZero)), before clamping. Used by Add and Concat.
type Rescale struct {
	XZero int32
	M     int64 // fixed point with the shift S of the op
}

// AddRescale holds the fixed-point constants of a quantized Add:
//
//	y = clamp(Zero + ((x0 − z0)·M0 + (x1 − z1)·M1 + 2^(S−1)) >> S, Lo, Hi)
type AddRescale struct {
	In     [2]Rescale
	S      uint
	Zero   int32
	Lo, Hi int32
}

// NewAddRescale returns the constants to add tensors a and b into y, all
// of y's width.
func NewAddRescale(a, b, y QParams, act Activation) *AddRescale {
	ma, mb := float64(a.Scale)/float64(y.Scale), float64(b.Scale)/float64(y.Scale)
	_, exp := math.Frexp(max(ma, mb)) // largest multiplier < 2^exp
	s := 31 - exp                     // so M < 2^31
	r := &AddRescale{S: uint(min(max(s, 1), 62)), Zero: y.Zero}
	r.In[0] = Rescale{a.Zero, int64(math.Round(math.Ldexp(ma, int(r.S))))}
	r.In[1] = Rescale{b.Zero, int64(math.Round(math.Ldexp(mb, int(r.S))))}
	r.Lo, r.Hi = actRange(y, act)
	return r
}

// AddInt8Ref computes y = a + b on quantized tensors.
//
//	a (n), b (n) uint8|uint16 -> y (n) of the same type
func AddInt8Ref[T Activ](y, a, b []T, r *AddRescale) {
	if len(a) != len(y) || len(b) != len(y) {
		panic("infer: AddInt8Ref: bad shapes")
	}
	sh := r.S & 63 // 1..62; the mask drops the compiler's checks for shifts of 64 and more
	half := int64(1) << (sh - 1)
	for i := range y {
		v := (int64(a[i])-int64(r.In[0].XZero))*r.In[0].M + (int64(b[i])-int64(r.In[1].XZero))*r.In[1].M
		v = int64(r.Zero) + (v+half)>>sh
		y[i] = T(min(max(v, int64(r.Lo)), int64(r.Hi)))
	}
}

// ConcatInt8Ref concatenates quantized tensors along channels, rescaling
// input k with rs[k] (nil: same QParams as y, copied).
//
//	xs[k] (H, W, C_k) -> y (H, W, ΣC_k)
func ConcatInt8Ref[T Activ](y []T, pixels int, xs [][]T, cs []int, rs []*Requant, xzero []int32) {
	ctot := 0
	for _, c := range cs {
		ctot += c
	}
	if len(y) != pixels*ctot || len(xs) != len(cs) || len(rs) != len(cs) || len(xzero) != len(cs) {
		panic("infer: ConcatInt8Ref: bad shapes")
	}
	off := 0
	for k, x := range xs {
		c := cs[k]
		if len(x) != pixels*c {
			panic("infer: ConcatInt8Ref: bad shapes")
		}
		for p := 0; p < pixels; p++ {
			dst := y[p*ctot+off:][:c]
			src := x[p*c:][:c]
			if rs[k] == nil {
				copy(dst, src)
				continue
			}
			for i, v := range src {
				dst[i] = T(rs[k].value(int32(v)-xzero[k], 0))
			}
		}
		off += c
	}
}

// PoolInt8Ref computes a max or average pool on a quantized tensor; y has
// the QParams of x. The average is over the window cells inside x (the
// TensorFlow SAME rule), rounded half up: (2·Σq + n) / 2n.
//
//	x (H, W, C) uint8|uint16 -> y (OH, OW, C) of the same type
func PoolInt8Ref[T Activ](y []T, ys Shape, x []T, xs Shape, kh, kw, sh, sw int, pad Pad, isMax bool) {
	c := xs.C
	if ys.C != c || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: PoolInt8Ref: bad shapes")
	}
	for oy := 0; oy < ys.H; oy++ {
		for ox := 0; ox < ys.W; ox++ {
			out := y[(oy*ys.W+ox)*c:][:c]
			for ch := range out {
				var sum int32
				var best T
				n := int32(0)
				for ky := 0; ky < kh; ky++ {
					iy := oy*sh + ky - pad.Top
					if iy < 0 || iy >= xs.H {
						continue
					}
					for kx := 0; kx < kw; kx++ {
						ix := ox*sw + kx - pad.Left
						if ix < 0 || ix >= xs.W {
							continue
						}
						v := x[(iy*xs.W+ix)*c+ch]
						sum += int32(v)
						best = max(best, v)
						n++
					}
				}
				if isMax {
					out[ch] = best
				} else {
					out[ch] = T((2*sum + n) / (2 * n))
				}
			}
		}
	}
}

// SoftmaxLogits turns int32 logits at scale inScale·wScale[c] into float32
// probabilities, in float64 with ExpDet so the bits are the same everywhere.
//
//	acc (n) int32 -> y (n) float32
func SoftmaxLogits(y []float32, acc []int32, inScale float32, wScale []float32, tmp []float64) {
	if len(y) != len(acc) || len(wScale) != len(acc) || len(tmp) < len(acc) {
		panic("infer: SoftmaxLogits: bad shapes")
	}
	tmp = tmp[:len(acc)]
	m := math.Inf(-1)
	for c, a := range acc {
		tmp[c] = float64(a) * float64(float64(inScale)*float64(wScale[c]))
		m = max(m, tmp[c])
	}
	var sum float64
	for c := range tmp {
		tmp[c] = ExpDet(tmp[c] - m)
		sum += tmp[c]
	}
	for c := range y {
		y[c] = float32(tmp[c] / sum)
	}
}

// ExpDet returns e^x computed with float64 +, −, × and exact scaling only,
// so it gives the same bits on every platform (math.Exp uses assembly on
// some). Accurate to a few ulp; x ≤ 0 is the intended range (softmax).
func ExpDet(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return x
	case x > 709:
		return math.Inf(1)
	case x < -745:
		return 0
	}
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
	)
	// x = k·ln2 + r, |r| ≤ ln2/2.
	k := math.Floor(float64(x*(1/math.Ln2)) + 0.5)
	r := float64(x-float64(k*ln2Hi)) - float64(k*ln2Lo)
	// Taylor series of e^r to degree 13 (error < 1e-17 for |r| ≤ 0.35), Horner form.
	p := 1.0 / 6227020800
	for _, c := range [...]float64{1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1} {
		p = float64(p*r) + c
	}
	return math.Ldexp(p, int(k))
}
