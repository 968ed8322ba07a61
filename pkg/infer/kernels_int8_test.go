package infer

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// int8Tolerance is the error budget of an int8 kernel against the float
// reference run on the same (dequantized) inputs and weights: the output
// rounding (half a step) plus the bias rounding, in output steps.
const int8Tolerance = 0.5 + 1e-3

type qcase struct {
	name            string
	h, w, cin, cout int
	kh, kw, sh, sw  int
	pad             Pad
	act             Activation
}

var qcases = []qcase{
	{"1x1", 5, 7, 3, 17, 1, 1, 1, 1, Pad{}, ActLinear},
	{"3x3s2", 9, 8, 5, 7, 3, 3, 2, 2, Pad{0, 1, 0, 1}, ActReLU6},
	{"3x3same", 6, 6, 4, 33, 3, 3, 1, 1, Pad{1, 1, 1, 1}, ActReLU},
	{"5x1", 7, 3, 2, 3, 5, 1, 1, 1, Pad{2, 2, 0, 0}, ActLinear},
	{"1x7", 3, 9, 15, 1, 1, 7, 1, 1, Pad{0, 0, 3, 3}, ActReLU},
	{"odd", 1, 1, 31, 5, 1, 1, 1, 1, Pad{}, ActLinear},
}

// randQ returns a random quantized tensor and its dequantized copy.
func randQ(r *rand.Rand, n int, p QParams) ([]uint8, []float32) {
	q := make([]uint8, n)
	f := make([]float32, n)
	for i := range q {
		q[i] = uint8(r.IntN(256))
		f[i] = p.Real(int32(q[i]))
	}
	return q, f
}

// randW returns random int8 weights, per-channel scales and the real weights.
func randW(r *rand.Rand, n, cout int) ([]int8, []float32, []float32) {
	w := make([]int8, n)
	s := make([]float32, cout)
	f := make([]float32, n)
	for c := range s {
		s[c] = float32(math.Ldexp(1+r.Float64(), -r.IntN(8)-4))
	}
	for i := range w {
		w[i] = int8(r.IntN(255) - 127)
		f[i] = s[i%cout] * float32(w[i])
	}
	return w, s, f
}

func windowShape(c qcase) Shape {
	return Shape{convOutSize(c.h, c.kh, c.sh, c.pad.Top, c.pad.Bottom), convOutSize(c.w, c.kw, c.sw, c.pad.Left, c.pad.Right), c.cout}
}

// checkOut compares quantized outputs with the float reference, in steps.
func checkOut[T Activ](t *testing.T, got []T, want []float32, p QParams, act Activation, tol float64) {
	t.Helper()
	p.Wide = activTop[T]() == 4095
	lo, hi := actRange(p, act)
	worst := 0.0
	for i, v := range got {
		// The reference clamped to the representable range.
		ref := float64(want[i])/float64(p.Scale) + float64(p.Zero)
		ref = min(max(ref, float64(lo)), float64(hi))
		d := math.Abs(float64(v) - ref)
		worst = max(worst, d)
		if d > tol {
			t.Fatalf("element %d: got %d, reference %.4f (%.3f steps)", i, v, ref, d)
		}
	}
}

func TestConv2DInt8RefMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range qcases {
		t.Run(c.name, func(t *testing.T) {
			xs := Shape{c.h, c.w, c.cin}
			ys := windowShape(c)
			xp := QParams{Scale: 0.05, Zero: int32(r.IntN(256))}
			yp := QParams{Scale: 0.2, Zero: int32(r.IntN(256))}
			if c.act != ActLinear {
				yp.Zero = 0
			}
			xq, xf := randQ(r, xs.Size(), xp)
			wq, ws, wf := randW(r, c.kh*c.kw*c.cin*c.cout, c.cout)
			bias := make([]int32, c.cout)
			bf := make([]float32, c.cout)
			for i := range bias {
				bias[i] = int32(r.IntN(20001) - 10000)
				bf[i] = float32(float64(bias[i]) * float64(xp.Scale) * float64(ws[i]))
			}
			rq := NewRequant(xp.Scale, ws, yp, c.act)
			got := make([]uint8, ys.Size())
			Conv2DInt8Ref(got, ys, xq, xs, xp.Zero, wq, bias, c.kh, c.kw, c.sh, c.sw, c.pad, rq, make([]int32, c.cout))
			want := make([]float32, ys.Size())
			Conv2DRef(want, ys, xf, xs, wf, bf, c.kh, c.kw, c.sh, c.sw, c.pad, ActLinear, make([]float64, c.cout))
			checkOut(t, got, want, yp, c.act, int8Tolerance)
		})
	}
}

func TestDepthwiseInt8RefMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range qcases {
		t.Run(c.name, func(t *testing.T) {
			c.cout = c.cin
			xs := Shape{c.h, c.w, c.cin}
			ys := windowShape(c)
			xp := QParams{Scale: 0.05, Zero: int32(r.IntN(256))}
			yp := QParams{Scale: 0.3, Zero: int32(r.IntN(256))}
			if c.act != ActLinear {
				yp.Zero = 0
			}
			xq, xf := randQ(r, xs.Size(), xp)
			wq, ws, wf := randW(r, c.kh*c.kw*c.cin, c.cin)
			bias := make([]int32, c.cin)
			bf := make([]float32, c.cin)
			for i := range bias {
				bias[i] = int32(r.IntN(2001) - 1000)
				bf[i] = float32(float64(bias[i]) * float64(xp.Scale) * float64(ws[i]))
			}
			rq := NewRequant(xp.Scale, ws, yp, c.act)
			got := make([]uint8, ys.Size())
			DepthwiseInt8Ref(got, ys, xq, xs, xp.Zero, wq, bias, c.kh, c.kw, c.sh, c.sw, c.pad, rq, make([]int32, c.cin))
			want := make([]float32, ys.Size())
			DepthwiseConv2DRef(want, ys, xf, xs, wf, bf, c.kh, c.kw, c.sh, c.sw, c.pad, ActLinear, make([]float64, c.cin))
			checkOut(t, got, want, yp, c.act, int8Tolerance)
		})
	}
}

func TestDenseInt8RefMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range [][2]int{{1, 1}, {3, 7}, {17, 5}, {33, 31}, {1280, 5}} {
		in, out := n[0], n[1]
		xp, yp := QParams{Scale: 0.02, Zero: 7}, QParams{Scale: 0.1, Zero: 100}
		xq, xf := randQ(r, in, xp)
		wq, ws, wf := randW(r, in*out, out)
		bias := make([]int32, out)
		bf := make([]float32, out)
		for i := range bias {
			bias[i] = int32(r.IntN(2001) - 1000)
			bf[i] = float32(float64(bias[i]) * float64(xp.Scale) * float64(ws[i]))
		}
		acc := make([]int32, out)
		DenseInt8Ref(acc, xq, xp.Zero, wq, bias)
		got := make([]uint8, out)
		RequantRef(got, acc, NewRequant(xp.Scale, ws, yp, ActLinear))
		want := make([]float32, out)
		DenseRef(want, xf, wf, bf, ActLinear, make([]float64, out))
		checkOut(t, got, want, yp, ActLinear, int8Tolerance)
		// Softmax head: dequantized logits, then softmax, vs the float softmax.
		probs := make([]float32, out)
		SoftmaxLogits(probs, acc, xp.Scale, ws, make([]float64, out))
		fp := make([]float32, out)
		SoftmaxRef(fp, want)
		for c := range fp {
			if math.Abs(float64(fp[c]-probs[c])) > 1e-5 {
				t.Fatalf("%dx%d softmax: %v, want %v", in, out, probs, fp)
			}
		}
	}
}

func TestAddInt8RefMatchesFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, act := range []Activation{ActLinear, ActReLU, ActReLU6} {
		ap, bp, yp := QParams{Scale: 0.03, Zero: 120}, QParams{Scale: 0.07, Zero: 3}, QParams{Scale: 0.05, Zero: 90}
		if act != ActLinear {
			yp.Zero = 0
		}
		aq, af := randQ(r, 301, ap)
		bq, bf := randQ(r, 301, bp)
		got := make([]uint8, 301)
		AddInt8Ref(got, aq, bq, NewAddRescale(ap, bp, yp, act))
		want := make([]float32, 301)
		AddRef(want, af, bf)
		checkOut(t, got, want, yp, act, int8Tolerance)
	}
}

func TestConcatInt8Ref(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	yp := QParams{Scale: 0.05, Zero: 10}
	ps := []QParams{yp, {Scale: 0.02, Zero: 0}, {Scale: 0.1, Zero: 200}}
	cs := []int{3, 1, 5}
	pixels := 7
	var xs [][]uint8
	var fs [][]float32
	var rs []*Requant
	var zs []int32
	for k, p := range ps {
		q, f := randQ(r, pixels*cs[k], p)
		xs, fs = append(xs, q), append(fs, f)
		zs = append(zs, p.Zero)
		if p == yp {
			rs = append(rs, nil)
		} else {
			rs = append(rs, &Requant{Mult: []Multiplier{NewMultiplier(float64(p.Scale) / float64(yp.Scale))}, Zero: yp.Zero, Lo: 0, Hi: 255})
		}
	}
	got := make([]uint8, pixels*9)
	ConcatInt8Ref(got, pixels, xs, cs, rs, zs)
	want := make([]float32, pixels*9)
	ConcatRef(want, pixels, fs, cs)
	checkOut(t, got, want, yp, ActLinear, int8Tolerance)
}

func TestPoolInt8Ref(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range qcases {
		for _, isMax := range []bool{true, false} {
			c.cout = c.cin
			xs, ys := Shape{c.h, c.w, c.cin}, windowShape(c)
			p := QParams{Scale: 0.1, Zero: int32(r.IntN(256))}
			xq, xf := randQ(r, xs.Size(), p)
			got := make([]uint8, ys.Size())
			PoolInt8Ref(got, ys, xq, xs, c.kh, c.kw, c.sh, c.sw, c.pad, isMax)
			want := make([]float32, ys.Size())
			PoolRef(want, ys, xf, xs, c.kh, c.kw, c.sh, c.sw, c.pad, isMax)
			tol := 0.5 + 1e-3 // rounded mean
			if isMax {
				tol = 1e-3 // exact
			}
			checkOut(t, got, want, p, ActLinear, tol)
		}
	}
}

func TestNewMultiplier(t *testing.T) {
	for _, m := range []float64{math.Ldexp(1, -48), 1e-9, 0.000123, 0.5, 0.75, 1, 1.5, 3.999, 1000, math.Ldexp(1, 24)} {
		q := NewMultiplier(m)
		if q.S < 1 || q.S > 62 || q.M < 0 || q.M >= 1<<31 {
			t.Fatalf("%g: %+v out of range", m, q)
		}
		got := math.Ldexp(float64(q.M), -int(q.S))
		if math.Abs(got-m) > m*1e-9 && m > 1e-12 {
			t.Fatalf("%g: fixed point %g", m, got)
		}
		for _, x := range []int64{0, 1, -1, 12345, -12345, 1 << 30, -(1 << 30)} {
			want := math.Floor(float64(x)*got + 0.5)
			if a := q.Apply(x); float64(a) != want {
				t.Fatalf("%g·%d = %d, want %g", m, x, a, want)
			}
		}
	}
}

func TestExpDet(t *testing.T) {
	for x := -745.0; x <= 709; x += 0.37 {
		got, want := ExpDet(x), math.Exp(x)
		if want > 1e-300 && math.Abs(got-want) > 4e-16*want {
			t.Fatalf("ExpDet(%g) = %g, math.Exp %g", x, got, want)
		}
	}
	if ExpDet(0) != 1 {
		t.Fatal("ExpDet(0) != 1")
	}
}

// TestRequantApplyRow checks applyRow (SIMD where the build has it) against
// apply, element by element, over the whole range of multipliers, extreme
// accumulators, and rows that start and end off a group of 8 channels.
func TestRequantApplyRow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 300 {
		cout := 1 + r.IntN(40)
		w := make([]float32, cout)
		for c := range w {
			w[c] = float32(math.Ldexp(1+r.Float64(), -48+r.IntN(72))) // the valid range, [2^-48, 2^24]
		}
		zero := int32(r.IntN(256))
		q := NewRequant(1, w, QParams{Scale: 1, Zero: zero}, Activation(r.IntN(3)))
		acc := make([]int32, cout)
		for i := range acc {
			switch r.IntN(4) {
			case 0:
				acc[i] = math.MinInt32 + int32(r.IntN(2))
			case 1:
				acc[i] = math.MaxInt32 - int32(r.IntN(2))
			default:
				acc[i] = int32(r.Uint32()) >> r.IntN(31)
			}
		}
		c0 := r.IntN(cout) &^ 7
		if r.IntN(4) == 0 {
			c0 = r.IntN(cout)
		}
		out := make([]uint8, cout-c0)
		q.applyRow(out, acc[c0:], c0)
		for i, got := range out {
			if want := q.apply(acc[c0+i], c0+i); got != want {
				t.Fatalf("trial %d: channel %d, acc %d, %+v: applyRow %d, apply %d", trial, c0+i, acc[c0+i], q.Mult[c0+i], got, want)
			}
		}
	}
}

// TestRequantApplyRowTypical is TestRequantApplyRow for the multipliers
// models have (below 1, a few octaves apart within a layer), which the
// wasm SIMD path takes, with accumulators at and around where the output
// saturates and at the int32 extremes, one and two rows at a time.
func TestRequantApplyRowTypical(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for trial := range 200 {
		cout := 16 * (1 + r.IntN(4))
		if r.IntN(4) == 0 {
			cout += r.IntN(16)
		}
		e := -1 - r.IntN(16) // the layer's octave (models: about 2^-8 to 2^-14)
		w := make([]float32, cout)
		for c := range w {
			w[c] = float32(math.Ldexp(1+r.Float64(), e-r.IntN(4)))
		}
		addOutliers(r, w)
		q := NewRequant(1, w, QParams{Scale: 1, Zero: int32(r.IntN(256))}, Activation(r.IntN(3)))
		if v := vectorRequantChannels(q); v >= 0 && v != cout {
			t.Fatalf("trial %d: the vector path takes %d of %d channels", trial, v, cout)
		}
		const np = 2
		acc := make([]int32, np*cout)
		for i := range acc {
			m := float64(w[i%cout])
			switch k := r.IntN(6); k {
			case 0:
				acc[i] = []int32{math.MinInt32, math.MaxInt32, 0, 1, -1}[r.IntN(5)]
			case 1, 2: // where the output saturates: |acc·m| near 256
				x := float64(r.IntN(600)-300) / m
				acc[i] = int32(max(min(x, math.MaxInt32), math.MinInt32)) + int32(r.IntN(5)-2)
			default:
				acc[i] = int32(r.Uint32()) >> r.IntN(31)
			}
		}
		// Two rows at once (the conv kernel's call), then one (depthwise's).
		out := make([]uint8, np*cout)
		done := q.applyRowsVector(out, cout, acc, cout, np, cout, 0)
		for j := range np {
			q.applyRow(out[j*cout+done:(j+1)*cout], acc[j*cout+done:(j+1)*cout], done)
		}
		for i, got := range out {
			if want := q.apply(acc[i], i%cout); got != want {
				t.Fatalf("trial %d: row %d channel %d, acc %d, %+v, zero %d [%d, %d]: got %d, want %d", trial, i/cout, i%cout, acc[i], q.Mult[i%cout], q.Zero, q.Lo, q.Hi, got, want)
			}
		}
		row := make([]uint8, cout)
		q.applyRow(row, acc[:cout], 0)
		for i, got := range row {
			if want := q.apply(acc[i], i); got != want {
				t.Fatalf("trial %d: applyRow channel %d, acc %d: got %d, want %d", trial, i, acc[i], got, want)
			}
		}
	}
}

// addOutliers gives, in a third of the calls, up to four channels of one
// block of 16 the multipliers that make the wasm SIMD path leave that block
// to the scalar loop or patch it: tiny ones, as nearly dead channels have
// (MobileNetV2Mid's first layers), and ones of 1 or more.
func addOutliers(r *rand.Rand, w []float32) {
	if r.IntN(3) != 0 {
		return
	}
	b := 16 * r.IntN((len(w)+15)/16)
	for range 1 + r.IntN(4) {
		c := min(b+r.IntN(16), len(w)-1)
		w[c] = float32(math.Ldexp(1+r.Float64(), -48+r.IntN(18)))
		if r.IntN(4) == 0 {
			w[c] = float32(math.Ldexp(1+r.Float64(), r.IntN(4)))
		}
	}
}

// TestRequantWideTypical is TestRequantApplyRowTypical for 12-bit outputs
// (applyRowsWide, the wasm SIMD path's; elsewhere it does none), with
// accumulators around where 4096 levels saturate.
func TestRequantWideTypical(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	vector, built := 0, false
	for trial := range 200 {
		cout := 16 * (1 + r.IntN(4))
		if r.IntN(4) == 0 {
			cout += r.IntN(16)
		}
		e := -1 - r.IntN(16)
		w := make([]float32, cout)
		for c := range w {
			w[c] = float32(math.Ldexp(1+r.Float64(), e-r.IntN(4)))
		}
		addOutliers(r, w)
		q := NewRequant(1, w, QParams{Scale: 1, Zero: int32(r.IntN(4096)), Wide: true}, Activation(r.IntN(3)))
		if v := vectorRequantChannels(q); v >= 0 && v != cout {
			t.Fatalf("trial %d: the vector path takes %d of %d channels", trial, v, cout)
		}
		if v := reflect.ValueOf(q.wvec); v.Kind() == reflect.Slice && v.Len() > 0 {
			built = true // this build (and CPU) has the vector path
		}
		const np = 2
		acc := make([]int32, np*cout)
		for i := range acc {
			m := float64(w[i%cout])
			switch k := r.IntN(6); k {
			case 0:
				acc[i] = []int32{math.MinInt32, math.MaxInt32, 0, 1, -1}[r.IntN(5)]
			case 1, 2: // where the output saturates: |acc·m| near 4096
				x := float64(r.IntN(9000)-4500) / m
				acc[i] = int32(max(min(x, math.MaxInt32), math.MinInt32)) + int32(r.IntN(5)-2)
			default:
				acc[i] = int32(r.Uint32()) >> r.IntN(31)
			}
		}
		out := make([]uint16, np*cout)
		done := q.applyRowsWide(out, cout, acc, cout, np, cout, 0)
		vector += done
		for j := range np {
			for c := done; c < cout; c++ {
				out[j*cout+c] = uint16(q.value(acc[j*cout+c], c))
			}
		}
		for i, got := range out {
			if want := q.value(acc[i], i%cout); int32(got) != want {
				t.Fatalf("trial %d: row %d channel %d, acc %d, %+v, zero %d [%d, %d]: got %d, want %d", trial, i/cout, i%cout, acc[i], q.Mult[i%cout], q.Zero, q.Lo, q.Hi, got, want)
			}
		}
	}
	t.Logf("the vector path took %d channels", vector)
	if built && vector == 0 {
		t.Fatal("the build has a vector path for 12-bit outputs, but it took no channel")
	}
}

// TestQuantizeInputAffine checks QuantizeInput with affine steps against the
// steps applied one by one with AffineRef and then QuantizeInput without.
func TestQuantizeInputAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 999)
	for i := range x {
		x[i] = r.Float32()
	}
	aff := []Affine{{Mul: 2, Add: -1}, {Mul: 127.5, Add: 0.3}}
	q := QParams{Scale: 1.01, Zero: 128}
	tmp := append([]float32(nil), x...)
	for _, a := range aff {
		AffineRef(tmp, tmp, a.Mul, a.Add)
	}
	want, got := make([]uint8, len(x)), make([]uint8, len(x))
	QuantizeInput(want, tmp, nil, q)
	QuantizeInput(got, x, aff, q)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("value %d (%g): fused %d, step by step %d", i, x[i], got[i], want[i])
		}
	}
}
