package infer

import "unsafe"

// DepthwiseInt8 computes DepthwiseInt8Ref with the same bits. With
// GOEXPERIMENT=simd on wasm and on amd64 with AVX2 it runs depthwiseVector
// (kernels_int8_depthwise_simd.go). Otherwise pixels whose
// window lies inside x are done in pairs along the row, two products per
// 64-bit multiply: with the zero point folded into the bias,
// acc = bias − zx·Σw + Σ x·w, and x ≥ 0, so x0 + x1·2^32 times w advances
// both pixels at once. Each 32-bit lane is exact because its true sum fits
// in int32 (DepthwiseFits). Border pixels take the reference path. 12-bit
// activations (uint16) take depthwiseVectorWide in the wasm SIMD build and
// the pairs path elsewhere: the 8-bit vector kernels multiply in int16,
// which holds x·w only for 8-bit x.
//
//	x (H, W, C) uint8|uint16 (zero point zx) * w (KH, KW, C) int8 + bias (C) int32 -> y (OH, OW, C) uint8|uint16 via rq
//
// acc and pair are scratch of length 2·C and C.
func DepthwiseInt8[X, Y Activ](y []Y, ys Shape, x []X, xs Shape, zx int32, w []int8, bias []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc []int32, pair []int64) {
	c := xs.C
	if ys.C != c || len(w) != kh*kw*c || len(bias) != c || len(rq.Mult) != c || len(acc) < 2*c || len(pair) < c || len(y) < ys.Size() || len(x) < xs.Size() {
		panic("infer: DepthwiseInt8: bad shapes")
	}
	folded := acc[c : 2*c]
	copy(folded, bias)
	for t := range kh * kw {
		for i, v := range w[t*c:][:c] {
			folded[i] -= zx * int32(v)
		}
	}
	y8, ok8 := asBytes(y)
	x8, _ := asBytes(x)
	if ok8 && activTop[X]() == 255 && depthwiseVector(y8, ys, x8, xs, zx, w, folded, kh, kw, sh, sw, pad, rq, pair) {
		return
	}
	if !ok8 && activTop[X]() == 4095 && depthwiseVectorWide(asWide(y), ys, asWide(x), xs, zx, w, folded, kh, kw, sh, sw, pad, rq, unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(pair))), 2*c), acc[:c]) {
		return
	}
	// Output columns [ox0, ox1) and rows [oy0, oy1) have their window inside x.
	ox0, ox1 := interiorRange(xs.W, ys.W, kw, sw, pad.Left)
	oy0, oy1 := interiorRange(xs.H, ys.H, kh, sh, pad.Top)
	for oy := range ys.H {
		if oy < oy0 || oy >= oy1 {
			for ox := range ys.W {
				depthwisePixel(y, ys, x, xs, zx, w, bias, kh, kw, sh, sw, pad, rq, acc[:c], oy, ox)
			}
			continue
		}
		for ox := range ox0 {
			depthwisePixel(y, ys, x, xs, zx, w, bias, kh, kw, sh, sw, pad, rq, acc[:c], oy, ox)
		}
		ox := ox0
		for ; ox+1 < ox1; ox += 2 {
			depthwisePair(y, ys, x, xs, w, folded, kh, kw, sh, sw, pad, rq, pair, oy, ox)
		}
		for ; ox < ys.W; ox++ {
			depthwisePixel(y, ys, x, xs, zx, w, bias, kh, kw, sh, sw, pad, rq, acc[:c], oy, ox)
		}
	}
}

// DepthwiseFits reports whether DepthwiseInt8 is exact for these weights on
// inputs in [0, top] (accumulatorFits).
func DepthwiseFits(w []int8, bias []int32, top int32) bool {
	_, ok := accumulatorFits(w, bias, top)
	return ok
}

// interiorRange returns the output positions [lo, hi) along one axis whose
// window of k cells at stride s lies inside the n input cells.
func interiorRange(n, out, k, s, padBefore int) (lo, hi int) {
	lo = min((padBefore+s-1)/s, out)
	hi = lo
	for hi < out && hi*s-padBefore+k <= n {
		hi++
	}
	return lo, hi
}

// depthwisePair computes output pixels (oy, ox) and (oy, ox+1), both with
// their window inside x; folded is the bias with the zero point folded in.
func depthwisePair[X, Y Activ](y []Y, ys Shape, x []X, xs Shape, w []int8, folded []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc []int64, oy, ox int) {
	c := xs.C
	acc = acc[:c]
	for i, b := range folded[:c] {
		acc[i] = int64(b) * (1 + 1<<32)
	}
	for ky := range kh {
		iy := oy*sh + ky - pad.Top
		for kx := range kw {
			ix := ox*sw + kx - pad.Left
			x0 := x[(iy*xs.W+ix)*c:][:c]
			x1 := x[(iy*xs.W+ix+sw)*c:][:c]
			wt := w[(ky*kw+kx)*c:][:c]
			a := acc[:c]
			for i := range a {
				a[i] += (int64(x0[i]) | int64(x1[i])<<32) * int64(wt[i])
			}
		}
	}
	out0 := y[(oy*ys.W+ox)*c:][:c]
	out1 := y[(oy*ys.W+ox+1)*c:][:c]
	for i, v := range acc[:c] {
		a0, a1 := splitLanes(v)
		out0[i] = Y(rq.value(a0, i))
		out1[i] = Y(rq.value(a1, i))
	}
}

// depthwisePixel computes output pixel (oy, ox) as DepthwiseInt8Ref does.
func depthwisePixel[X, Y Activ](y []Y, ys Shape, x []X, xs Shape, zx int32, w []int8, bias []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc []int32, oy, ox int) {
	c := xs.C
	copy(acc, bias)
	for ky := range kh {
		iy := oy*sh + ky - pad.Top
		if iy < 0 || iy >= xs.H {
			continue
		}
		for kx := range kw {
			ix := ox*sw + kx - pad.Left
			if ix < 0 || ix >= xs.W {
				continue
			}
			xrow := x[(iy*xs.W+ix)*c:][:c]
			wrow := w[(ky*kw+kx)*c:][:c]
			a := acc[:c]
			for i, xq := range xrow {
				a[i] += (int32(xq) - zx) * int32(wrow[i])
			}
		}
	}
	out := y[(oy*ys.W+ox)*c:][:c]
	for i := range out {
		out[i] = Y(rq.value(acc[i], i))
	}
}
