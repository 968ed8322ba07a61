//go:build goexperiment.simd && wasm

package infer

import "simd/archsimd"

// depthwiseChans is the channels per vector block of depthwiseVector.
const depthwiseChans = 16

func depthwiseVectorOK() bool { return true }

// depthwiseDot sets acc[j] to b plus the dot product over the window
// cells o0 (pixel 0) and o1 (pixel 1) of channels cb..cb+15, in i32x4
// lanes via i32x4.extmul_{low,high}_i16x8_s.
func depthwiseDot(acc *[2][depthwiseChans]int32, x []uint8, o0, o1 []int, zx uint8, w []int8, c, cb int, b *[depthwiseChans]int32) {
	a00 := archsimd.LoadInt32x4Array((*[4]int32)(b[0:4]))
	a01 := archsimd.LoadInt32x4Array((*[4]int32)(b[4:8]))
	a02 := archsimd.LoadInt32x4Array((*[4]int32)(b[8:12]))
	a03 := archsimd.LoadInt32x4Array((*[4]int32)(b[12:16]))
	a10, a11, a12, a13 := a00, a01, a02, a03
	zv := archsimd.BroadcastUint8x16(zx)
	o1 = o1[:len(o0)]
	for t, off := range o0 {
		wv := archsimd.LoadInt8x16Array((*[16]int8)(w[t*c+cb:]))
		wl, wh := wv.ExtendLo8ToInt16(), wv.ExtendHi8ToInt16()
		xv := zv
		if off >= 0 {
			xv = archsimd.LoadUint8x16Array((*[16]uint8)(x[off+cb:]))
		}
		xl, xh := xv.ExtendLo8ToUint16().BitsToInt16(), xv.ExtendHi8ToUint16().BitsToInt16()
		a00 = a00.Add(xl.MulWidenLo(wl))
		a01 = a01.Add(xl.MulWidenHi(wl))
		a02 = a02.Add(xh.MulWidenLo(wh))
		a03 = a03.Add(xh.MulWidenHi(wh))
		xv = zv
		if off := o1[t]; off >= 0 {
			xv = archsimd.LoadUint8x16Array((*[16]uint8)(x[off+cb:]))
		}
		xl, xh = xv.ExtendLo8ToUint16().BitsToInt16(), xv.ExtendHi8ToUint16().BitsToInt16()
		a10 = a10.Add(xl.MulWidenLo(wl))
		a11 = a11.Add(xl.MulWidenHi(wl))
		a12 = a12.Add(xh.MulWidenLo(wh))
		a13 = a13.Add(xh.MulWidenHi(wh))
	}
	a00.StoreArray((*[4]int32)(acc[0][0:4]))
	a01.StoreArray((*[4]int32)(acc[0][4:8]))
	a02.StoreArray((*[4]int32)(acc[0][8:12]))
	a03.StoreArray((*[4]int32)(acc[0][12:16]))
	a10.StoreArray((*[4]int32)(acc[1][0:4]))
	a11.StoreArray((*[4]int32)(acc[1][4:8]))
	a12.StoreArray((*[4]int32)(acc[1][8:12]))
	a13.StoreArray((*[4]int32)(acc[1][12:16]))
}
