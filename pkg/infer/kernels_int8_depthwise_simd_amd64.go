//go:build goexperiment.simd && amd64

package infer

import (
	"simd/archsimd"
	"unsafe"
)

// depthwiseChans is the channels per vector block of depthwiseVector.
const depthwiseChans = 16

var hasAVX2 = archsimd.X86.AVX2()

func depthwiseVectorOK() bool { return hasAVX2 }

// zeroPointRow is for the wasm kernel; AVX2's reads padding as a vector.
func zeroPointRow(scratch []int64, c int, zx uint8) []uint8 { return nil }

// depthwiseBlocksPair computes channels 0..c16−1 (whole blocks of 16) of
// pixels p and p+1 (np of them are real) from the window offsets offs.
func depthwiseBlocksPair(y []uint8, p, np, c16 int, x []uint8, offs *[2][depthwiseMaxTaps]int, taps int, zrow []uint8, zx uint8, w []int8, folded []int32, rq *Requant) {
	c := len(folded)
	var acc [2][depthwiseChans]int32
	for cb := 0; cb < c16; cb += depthwiseChans {
		depthwiseDot(&acc, x, offs[0][:taps], offs[1][:taps], zx, w, c, cb, (*[depthwiseChans]int32)(folded[cb:]))
		done := rq.applyRowsVector(y[p*c+cb:], c, unsafe.Slice(&acc[0][0], 2*depthwiseChans), depthwiseChans, np, depthwiseChans, cb)
		for j := 0; j < np && done < depthwiseChans; j++ {
			rq.applyRow(y[(p+j)*c+cb+done:], acc[j][done:], cb+done)
		}
	}
}

// depthwiseDot sets acc[j] to b plus the dot product over the window
// cells o0 (pixel 0) and o1 (pixel 1) of channels cb..cb+15, with AVX2:
// each product is exact in int16 (VPMULLW), then widened to int32 lanes.
func depthwiseDot(acc *[2][depthwiseChans]int32, x []uint8, o0, o1 []int, zx uint8, w []int8, c, cb int, b *[depthwiseChans]int32) {
	a00 := archsimd.LoadInt32x8Array((*[8]int32)(b[0:8]))
	a01 := archsimd.LoadInt32x8Array((*[8]int32)(b[8:16]))
	a10, a11 := a00, a01
	zv := archsimd.BroadcastUint8x16(zx).ExtendToUint16().AsInt16x16()
	o1 = o1[:len(o0)]
	for t, off := range o0 {
		wv := archsimd.LoadInt8x16Array((*[16]int8)(w[t*c+cb:])).ExtendToInt16()
		xv := zv
		if off >= 0 {
			xv = archsimd.LoadUint8x16Array((*[16]uint8)(x[off+cb:])).ExtendToUint16().AsInt16x16()
		}
		p := xv.Mul(wv)
		a00 = a00.Add(p.GetLo().ExtendToInt32())
		a01 = a01.Add(p.GetHi().ExtendToInt32())
		xv = zv
		if off := o1[t]; off >= 0 {
			xv = archsimd.LoadUint8x16Array((*[16]uint8)(x[off+cb:])).ExtendToUint16().AsInt16x16()
		}
		p = xv.Mul(wv)
		a10 = a10.Add(p.GetLo().ExtendToInt32())
		a11 = a11.Add(p.GetHi().ExtendToInt32())
	}
	a00.StoreArray((*[8]int32)(acc[0][0:8]))
	a01.StoreArray((*[8]int32)(acc[0][8:16]))
	a10.StoreArray((*[8]int32)(acc[1][0:8]))
	a11.StoreArray((*[8]int32)(acc[1][8:16]))
}
