//go:build goexperiment.simd && amd64

package infer

import "simd/archsimd"

// depthwiseVectorWide computes DepthwiseInt8 on 12-bit activations with
// AVX2, 8 channels as int32 lanes, two output pixels at a time (one weight
// vector serves both): inputs widen from uint16 and weights from int8 to
// int32, VPMULLD multiplies, and the int32 sums wrap exactly like
// DepthwiseInt8Ref's. folded is the bias with the zero point folded in
// (bias − zx·Σw), so the raw inputs go in and a padding cell reads as zx.
// The pixels' sums go to acc (2·C int32s) and from there through
// applyRowsWide; channels past the last 8 are summed by the scalar loop.
func depthwiseVectorWide(y []uint16, ys Shape, x []uint16, xs Shape, zx int32, w []int8, folded []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc, _ []int32) bool {
	taps := kh * kw
	if taps > depthwiseMaxTaps || !hasAVX2 {
		return false
	}
	c := xs.C
	c8 := c &^ 7
	acc = acc[:2*c]
	w = w[:taps*c]
	folded = folded[:c]
	pixels := ys.H * ys.W
	var offs [2][depthwiseMaxTaps]int // window cell t of pixel j at x[offs[j][t]:], −1 for padding
	zv := archsimd.BroadcastInt32x8(zx)
	var w16 [16]int8
	for p := 0; p < pixels; p += 2 {
		np := min(2, pixels-p)
		pairOffsets(&offs, p, ys, xs, kh, kw, sh, sw, pad)
		o0, o1 := offs[0][:taps], offs[1][:taps]
		for cb := 0; cb < c8; cb += 8 {
			a := archsimd.LoadInt32x8Array((*[8]int32)(folded[cb:]))
			b := a
			for t, off := range o0 {
				*(*[8]int8)(w16[:8]) = *(*[8]int8)(w[t*c+cb:])
				wv := archsimd.LoadInt8x16Array(&w16).ExtendLo8ToInt32()
				xv := zv
				if off >= 0 {
					xv = archsimd.LoadUint16x8Array((*[8]uint16)(x[off+cb:])).AsInt16x8().ExtendToInt32()
				}
				a = a.Add(xv.Mul(wv))
				xv = zv
				if off := o1[t]; off >= 0 {
					xv = archsimd.LoadUint16x8Array((*[8]uint16)(x[off+cb:])).AsInt16x8().ExtendToInt32()
				}
				b = b.Add(xv.Mul(wv))
			}
			a.StoreArray((*[8]int32)(acc[cb:]))
			b.StoreArray((*[8]int32)(acc[c+cb:]))
		}
		depthwiseWideTail(y, p, np, c8, x, &offs, taps, zx, w, folded, rq, acc)
	}
	return true
}
