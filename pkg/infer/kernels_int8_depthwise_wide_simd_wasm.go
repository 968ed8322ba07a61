//go:build goexperiment.simd && wasm

package infer

import (
	"runtime"
	"simd/archsimd"
	"unsafe"
)

// depthwiseVectorWide computes DepthwiseInt8 on 12-bit activations with
// vectors of 8 channels, two output pixels at a time (one weight vector
// serves both). A product of a 12-bit input and an int8 weight needs 20
// bits, so the int16 lanes multiply into int32 lanes
// (i32x4.extmul_i16x8_s), and the int32 sums wrap exactly like
// DepthwiseInt8Ref's. folded is the bias with the zero point folded in
// (bias − zx·Σw), so the raw inputs go in and a padding cell reads as zx.
// The pixels' sums go to acc (2·C int32s) and from there through
// applyRowsWide; what it leaves, and channels past the last 8, go through
// the scalar loops.
func depthwiseVectorWide(y []uint16, ys Shape, x []uint16, xs Shape, zx int32, w []int8, folded []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, acc, scratch []int32) bool {
	taps := kh * kw
	if taps > depthwiseMaxTaps {
		return false
	}
	c := xs.C
	c8 := c &^ 7
	acc = acc[:2*c]
	w = w[:taps*c]
	folded = folded[:c]
	pixels := ys.H * ys.W
	// offs[j][t]: window cell t of pixel j is at x[offs[j][t]:], −1 for padding.
	var offs [2][depthwiseMaxTaps]int
	zrow := zeroRow16(scratch, c, zx) // a padding cell: c values of zx
	for p := 0; p < pixels; p += 2 {
		np := min(2, pixels-p)
		pairOffsets(&offs, p, ys, xs, kh, kw, sh, sw, pad)
		// Addresses of each cell's row for both pixels (padding: zrow), so
		// the inner loop loads without bounds checks: every offset was
		// checked against x above and every row holds c8 ≥ cb+8 values.
		var xa [2][depthwiseMaxTaps]unsafe.Pointer
		for j := range xa {
			for t, off := range offs[j][:taps] {
				xa[j][t] = unsafe.Pointer(unsafe.SliceData(zrow))
				if off >= 0 {
					_ = x[off+c-1]
					xa[j][t] = unsafe.Pointer(&x[off])
				}
			}
		}
		for cb := 0; cb < c8; cb += 8 {
			a0 := archsimd.LoadInt32x4Array((*[4]int32)(folded[cb:]))
			a1 := archsimd.LoadInt32x4Array((*[4]int32)(folded[cb+4:]))
			b0, b1 := a0, a1
			wp := unsafe.Pointer(&w[cb])
			for t := range taps {
				wv := archsimd.BroadcastUint64x2(*(*uint64)(unsafe.Add(wp, t*c))).ReshapeToUint8s().BitsToInt8().ExtendLo8ToInt16()
				xv := archsimd.LoadUint16x8Array((*[8]uint16)(unsafe.Add(xa[0][t], 2*cb))).BitsToInt16()
				a0 = a0.Add(xv.MulWidenLo(wv))
				a1 = a1.Add(xv.MulWidenHi(wv))
				xv = archsimd.LoadUint16x8Array((*[8]uint16)(unsafe.Add(xa[1][t], 2*cb))).BitsToInt16()
				b0 = b0.Add(xv.MulWidenLo(wv))
				b1 = b1.Add(xv.MulWidenHi(wv))
			}
			a0.StoreArray((*[4]int32)(acc[cb:]))
			a1.StoreArray((*[4]int32)(acc[cb+4:]))
			b0.StoreArray((*[4]int32)(acc[c+cb:]))
			b1.StoreArray((*[4]int32)(acc[c+cb+4:]))
		}
		runtime.KeepAlive(x)
		runtime.KeepAlive(zrow)
		depthwiseWideTail(y, p, np, c8, x, &offs, taps, zx, w, folded, rq, acc)
	}
	return true
}

// zeroRow16 fills scratch (at least c/2 int32s) with c uint16s of zx and
// returns them: the row a padding cell reads.
func zeroRow16(scratch []int32, c int, zx int32) []uint16 {
	_ = scratch[(c-1)/2]
	row := unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(scratch))), c)
	for i := range row {
		row[i] = uint16(zx)
	}
	return row
}
