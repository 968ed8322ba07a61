package infer

import "math"

// The reference kernels below define what each op computes. They are plain
// loops over NHWC float32 tensors, accumulate in float64 and round once per
// output, which keeps them within float32 rounding of TF.js. Faster kernels
// (the int8 path) are tested against them.
//
// Shapes are H×W×C for a batch of one; index (y, x, c) is (y*W+x)*C+c.

// Conv2DRef computes y = act(conv(x, w) + b).
//
//	x (H, W, Cin) * w (KH, KW, Cin, Cout) + b (Cout) -> y (OH, OW, Cout)
//
// acc is scratch of length Cout. b may be nil.
func Conv2DRef(y []float32, ys Shape, x []float32, xs Shape, w, b []float32, kh, kw, sh, sw int, pad Pad, act Activation, acc []float64) {
	cin, cout := xs.C, ys.C
	if len(w) != kh*kw*cin*cout || len(acc) < cout || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: Conv2DRef: bad shapes")
	}
	acc = acc[:cout]
	for oy := 0; oy < ys.H; oy++ {
		for ox := 0; ox < ys.W; ox++ {
			for c := range acc {
				acc[c] = 0
			}
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
					for ci, xv := range xrow {
						if xv == 0 {
							continue // ReLU leaves many zeros
						}
						xd := float64(xv)
						wrow := w[wbase+ci*cout:][:cout]
						for co, wv := range wrow {
							acc[co] += float64(xd * float64(wv))
						}
					}
				}
			}
			out := y[(oy*ys.W+ox)*cout:][:cout]
			for co := range out {
				v := acc[co]
				if b != nil {
					v += float64(b[co])
				}
				out[co] = activate(float32(v), act)
			}
		}
	}
}

// DepthwiseConv2DRef computes y = act(depthwise(x, w) + b), channel multiplier 1.
//
//	x (H, W, C) * w (KH, KW, C, 1) + b (C) -> y (OH, OW, C)
//
// acc is scratch of length C. b may be nil.
func DepthwiseConv2DRef(y []float32, ys Shape, x []float32, xs Shape, w, b []float32, kh, kw, sh, sw int, pad Pad, act Activation, acc []float64) {
	c := xs.C
	if ys.C != c || len(w) != kh*kw*c || len(acc) < c || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: DepthwiseConv2DRef: bad shapes")
	}
	acc = acc[:c]
	for oy := 0; oy < ys.H; oy++ {
		for ox := 0; ox < ys.W; ox++ {
			for i := range acc {
				acc[i] = 0
			}
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
					for i, xv := range xrow {
						acc[i] += float64(xv) * float64(wrow[i])
					}
				}
			}
			out := y[(oy*ys.W+ox)*c:][:c]
			for i := range out {
				v := acc[i]
				if b != nil {
					v += float64(b[i])
				}
				out[i] = activate(float32(v), act)
			}
		}
	}
}

// BatchNormRef computes y = (x − mean)·gamma/√(var+eps) + beta per channel,
// in the operation order of TF.js's batchNorm. gamma may be nil (scale 1).
//
//	x (H, W, C), mean/var/gamma/beta (C) -> y (H, W, C)
func BatchNormRef(y, x []float32, c int, mean, variance, gamma, beta []float32, eps float64) {
	if len(y) != len(x) || len(x)%c != 0 || len(mean) != c || len(variance) != c || len(beta) != c || (gamma != nil && len(gamma) != c) {
		panic("infer: BatchNormRef: bad shapes")
	}
	for i, xv := range x {
		ch := i % c
		g := 1.0
		if gamma != nil {
			g = float64(gamma[ch])
		}
		y[i] = float32(float64(beta[ch]) + (float64(xv)-float64(mean[ch]))*g/math.Sqrt(float64(variance[ch])+eps))
	}
}

// ActivateRef applies act elementwise (softmax: over the last axis of size c).
func ActivateRef(y, x []float32, c int, act Activation) {
	if act == ActSoftmax {
		for i := 0; i+c <= len(x); i += c {
			SoftmaxRef(y[i:i+c], x[i:i+c])
		}
		return
	}
	for i, v := range x {
		y[i] = activate(v, act)
	}
}

func activate(v float32, act Activation) float32 {
	switch act {
	case ActReLU:
		return max(v, 0)
	case ActReLU6:
		return min(max(v, 0), 6)
	}
	return v
}

// SoftmaxRef computes y = exp(x − max x) / Σ exp(x − max x).
func SoftmaxRef(y, x []float32) {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, float64(v))
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v) - m)
		y[i] = float32(e)
		sum += e
	}
	for i := range y {
		y[i] = float32(float64(y[i]) / sum)
	}
}

// AddRef computes y = a + b elementwise.
func AddRef(y, a, b []float32) {
	if len(a) != len(y) || len(b) != len(y) {
		panic("infer: AddRef: bad shapes")
	}
	for i := range y {
		y[i] = a[i] + b[i]
	}
}

// ConcatRef concatenates inputs along the channel axis.
//
//	xs[k] (H, W, C_k) -> y (H, W, ΣC_k)
func ConcatRef(y []float32, pixels int, xs [][]float32, cs []int) {
	ctot := 0
	for _, c := range cs {
		ctot += c
	}
	if len(y) != pixels*ctot {
		panic("infer: ConcatRef: bad shapes")
	}
	for p := 0; p < pixels; p++ {
		off := p * ctot
		for k, x := range xs {
			c := cs[k]
			copy(y[off:off+c], x[p*c:(p+1)*c])
			off += c
		}
	}
}

// ZeroPadRef pads x with zeros.
//
//	x (H, W, C) -> y (H+Top+Bottom, W+Left+Right, C)
func ZeroPadRef(y []float32, ys Shape, x []float32, xs Shape, pad Pad) {
	clear(y[:ys.Size()])
	c := xs.C
	for iy := 0; iy < xs.H; iy++ {
		dst := y[((iy+pad.Top)*ys.W+pad.Left)*c:]
		copy(dst[:xs.W*c], x[iy*xs.W*c:(iy+1)*xs.W*c])
	}
}

// PoolRef computes a max or average pool. Average pools divide by the number
// of window cells inside the input (TensorFlow's SAME padding rule).
//
//	x (H, W, C) -> y (OH, OW, C)
func PoolRef(y []float32, ys Shape, x []float32, xs Shape, kh, kw, sh, sw int, pad Pad, isMax bool) {
	c := xs.C
	for oy := 0; oy < ys.H; oy++ {
		for ox := 0; ox < ys.W; ox++ {
			out := y[(oy*ys.W+ox)*c:][:c]
			for ch := 0; ch < c; ch++ {
				var sum float64
				best := math.Inf(-1)
				n := 0
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
						v := float64(x[(iy*xs.W+ix)*c+ch])
						sum += v
						best = max(best, v)
						n++
					}
				}
				if isMax {
					out[ch] = float32(best)
				} else {
					out[ch] = float32(sum / float64(n))
				}
			}
		}
	}
}

// DenseRef computes y = act(x·w + b).
//
//	x (In) · w (In, Out) + b (Out) -> y (Out)
//
// acc is scratch of length Out. b may be nil.
func DenseRef(y, x, w, b []float32, act Activation, acc []float64) {
	in, out := len(x), len(y)
	if len(w) != in*out || len(acc) < out {
		panic("infer: DenseRef: bad shapes")
	}
	acc = acc[:out]
	clear(acc)
	for i, xv := range x {
		if xv == 0 {
			continue
		}
		wrow := w[i*out:][:out]
		for j, wv := range wrow {
			acc[j] += float64(xv) * float64(wv)
		}
	}
	for j := range y {
		v := acc[j]
		if b != nil {
			v += float64(b[j])
		}
		y[j] = float32(v)
	}
	if act == ActSoftmax {
		SoftmaxRef(y, y)
		return
	}
	for j := range y {
		y[j] = activate(y[j], act)
	}
}

// AffineRef computes y = x·mul + add, rounding to float32 after each step as
// TF.js does when the two are separate ops.
func AffineRef(y, x []float32, mul, add float32) {
	for i, v := range x {
		y[i] = float32(v*mul) + add // no FMA: TF.js rounds between the two
	}
}
