//go:build goexperiment.simd && wasm

package infer

import (
	"runtime"
	"unsafe"
)

// depthwiseChans is the channels per vector block of depthwiseVector.
const depthwiseChans = 16

func depthwiseVectorOK() bool { return true }

// zeroPointRow returns c bytes of zx in scratch's memory: the row that
// depthwiseBlocks reads for a padding cell.
func zeroPointRow(scratch []int64, c int, zx uint8) []uint8 {
	row := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(scratch))), 8*len(scratch))[:c]
	for i := range row {
		row[i] = zx
	}
	return row
}

// depthwiseBlocksPair computes channels 0..c16−1 (whole blocks of 16) of
// pixels p and p+1 (np of them are real) from the window offsets offs, a
// padding cell (−1) reading zrow: one depthwiseBlocks call for every block
// the vector requantization takes.
func depthwiseBlocksPair(y []uint8, p, np, c16 int, x []uint8, offs *[2][depthwiseMaxTaps]int, taps int, zrow []uint8, zx uint8, w []int8, folded []int32, rq *Requant) {
	c := len(folded)
	nb := c16 / depthwiseChans
	if nb == 0 {
		return
	}
	// What depthwiseBlocks reads and writes must lie inside the slices.
	_ = y[(p+np-1)*c+c16-1]
	_ = w[(taps-1)*c+c16-1]
	_ = zrow[c16-1]
	_ = rq.vec[nb-1]
	var addrs [2][depthwiseMaxTaps]uintptr
	xa, za := uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(unsafe.SliceData(zrow)))
	for j := range addrs {
		for t, o := range offs[j][:taps] {
			addrs[j][t] = za
			if o >= 0 {
				_ = x[o+c16-1]
				addrs[j][t] = xa + uintptr(o)
			}
		}
	}
	var y1 *uint8
	if np == 2 {
		y1 = &y[(p+1)*c]
	}
	var acc [2][depthwiseChans]int32
	for b := 0; b < nb; b++ {
		if b = depthwiseBlocks(&addrs, taps, &w[0], c, &folded[0], &rq.vec[0], b, nb, &y[p*c], y1, &acc); b == nb {
			break
		}
		for j := range np { // block b is left to the scalar requantization
			rq.applyRow(y[(p+j)*c+b*depthwiseChans:], acc[j][:], b*depthwiseChans)
		}
	}
	runtime.KeepAlive(x)
	runtime.KeepAlive(zrow)
}

// depthwiseBlocks is the wasm SIMD128 kernel (kernels_int8_depthwise_wasm.s).
//
//go:noescape
func depthwiseBlocks(addrs *[2][depthwiseMaxTaps]uintptr, taps int, w *int8, c int, folded *int32, vec *requantConsts, b, nb int, y0, y1 *uint8, acc *[2][depthwiseChans]int32) int
