//go:build goexperiment.simd && amd64

package infer

import (
	"simd/archsimd"
	"unsafe"
)

// The AVX2 block kernel: rows of the window go in pairs, so that one
// VPMADDWD multiplies a pixel's two centred inputs (d, d′), broadcast as
// int16 pairs, by the pair's weights (w, w′) of 8 channels and adds the two
// products into each int32 lane. |d·w + d′·w′| ≤ 2·255·128, so the pair sum
// is exact, and the int32 sums wrap exactly like Conv2DInt8Ref's. Each
// window cell's Cin rows are paired on their own (an odd Cin pads the last
// pair with a zero row), so a pair never straddles two cells. Without AVX2
// the same layout is multiplied by scalar code.

const (
	convPixels = 4  // pixels per block
	convChans  = 16 // output channels per weight block
)

type convWeight = int16

// convPairLen is the int16s per row pair of a packed block: 16 channels ×
// (w, w′), channels 0–7 then 8–15.
const convPairLen = 2 * convChans

// packConvWeights lays out w (K, Cout), K = cells·Cin, as
// [ceil(Cout/16)][cells][ceil(Cin/2)][2][8][2]int16: per channel block, per
// cell, per row pair, two halves of 8 channels, each channel's (w, w′).
func packConvWeights(p []convWeight, w []int8, cells, cin, cout int) []convWeight {
	pairs := (cin + 1) / 2
	p = zeroed(p, packedConvLen(cells, cin, cout))
	for cell := range cells {
		for ci := range cin {
			row := w[(cell*cin+ci)*cout:][:cout]
			for co, v := range row {
				c := co % convChans
				i := ((co/convChans*cells+cell)*pairs+ci/2)*convPairLen + c/8*16 + c%8*2 + ci%2
				p[i] = int16(v)
			}
		}
	}
	return p
}

// packedConvLen is the length of packConvWeights's layout.
func packedConvLen(cells, cin, cout int) int {
	return (cout + convChans - 1) / convChans * cells * ((cin + 1) / 2) * convPairLen
}

// convRow is one gathered row pair of the window for a block of four
// pixels: its offset in a packed weight block and, per pixel, the centred
// inputs d (low 16 bits) and d′ (high 16 bits).
type convRow struct {
	off int
	d   [convPixels]int32
}

// gatherRows appends to rows[n:] the row pairs, with some input nonzero, of
// one window cell for four pixels whose inputs are r[0..3] (all of length
// Cin); off is the cell's first row. It returns the new row count.
func gatherRows[X Activ](rows []convRow, n, off int, r *[convPixels][]X, zx int32) int {
	cin := len(r[0])
	if cin == 0 {
		return n
	}
	pairs := (cin + 1) / 2
	base := off / cin * pairs * convPairLen
	var rr [convPixels][]X
	for j := range rr {
		rr[j] = r[j][:cin]
	}
	ci := 0
	if convAVX2 {
		if rb, ok := rowsAsBytes(&rr); ok {
			ci, n = gatherRows16(rows, n, base, *rb, zx)
		} else {
			ci, n = gatherRowsWide(rows, n, base, &rr, zx)
		}
	}
	for ; ci < cin; ci += 2 {
		var d [convPixels]int32
		any := int32(0)
		for j, rj := range rr {
			d0 := int32(rj[ci]) - zx
			d1 := int32(0)
			if ci+1 < cin {
				d1 = int32(rj[ci+1]) - zx
			}
			d[j] = int32(uint16(int16(d0))) | d1<<16
			any |= d[j]
		}
		if any == 0 {
			continue
		}
		rows[n] = convRow{base + ci/2*convPairLen, d}
		n++
	}
	return n
}

// gatherRows16 is gatherRows for the channels of rr in whole groups of 16,
// with AVX2: a pixel's 16 inputs widen to int16 and, less zx, are already
// 8 (d, d′) pairs. It returns the channels done and the new row count.
func gatherRows16(rows []convRow, n, base int, rr [convPixels][]uint8, zx int32) (int, int) {
	cin := len(rr[0])
	zv := archsimd.BroadcastInt16x16(int16(zx))
	var d [convPixels][8]int32
	ci := 0
	for ; ci+16 <= cin; ci += 16 {
		for j := range rr {
			v := archsimd.LoadUint8x16Array((*[16]uint8)(rr[j][ci:])).ExtendToUint16().AsInt16x16().Sub(zv)
			v.AsInt32x8().StoreArray(&d[j])
		}
		for k := range 8 {
			if d[0][k]|d[1][k]|d[2][k]|d[3][k] == 0 {
				continue
			}
			rows[n] = convRow{base + (ci/2+k)*convPairLen, [convPixels]int32{d[0][k], d[1][k], d[2][k], d[3][k]}}
			n++
		}
	}
	return ci, n
}

// gatherRowsWide is gatherRows16 for 12-bit inputs (X uint16).
func gatherRowsWide[X Activ](rows []convRow, n, base int, rr *[convPixels][]X, zx int32) (int, int) {
	cin := len(rr[0])
	zv := archsimd.BroadcastInt16x16(int16(zx))
	var d [convPixels][8]int32
	ci := 0
	for ; ci+16 <= cin; ci += 16 {
		for j := range rr {
			v := archsimd.LoadInt16x16Array((*[16]int16)(unsafe.Pointer(&rr[j][ci]))).Sub(zv)
			v.AsInt32x8().StoreArray(&d[j])
		}
		for k := range 8 {
			if d[0][k]|d[1][k]|d[2][k]|d[3][k] == 0 {
				continue
			}
			rows[n] = convRow{base + (ci/2+k)*convPairLen, [convPixels]int32{d[0][k], d[1][k], d[2][k], d[3][k]}}
			n++
		}
	}
	return ci, n
}

var convAVX2 = archsimd.X86.AVX2()

// convBlockRows multiplies the gathered rows of pixels p0..p0+np−1 by every
// packed weight block and requantizes into y.
func convBlockRows[Y Activ](y []Y, p0, np, cout int, rows []convRow, pw *PackedConv, rq *Requant) {
	blk := len(pw.w) / (len(pw.bias) / convChans) // int16s per weight block
	var acc [convPixels][convChans]int32
	for cb := 0; cb*convChans < cout; cb++ {
		w := pw.w[cb*blk : (cb+1)*blk]
		b := (*[convChans]int32)(pw.bias[cb*convChans:])
		if convAVX2 {
			dotRows(&acc, rows, w, b)
		} else {
			dotRowsScalar(&acc, rows, w, b)
		}
		requantBlock(y, p0, np, cout, cb, &acc, rq)
	}
}

// dotRows sets acc[p] to bias plus the gathered row pairs times one packed
// weight block, for the four pixels, with VPMADDWD.
func dotRows(acc *[convPixels][convChans]int32, rows []convRow, w []int16, bias *[convChans]int32) {
	p00 := archsimd.LoadInt32x8Array((*[8]int32)(bias[0:8]))
	p01 := archsimd.LoadInt32x8Array((*[8]int32)(bias[8:16]))
	p10, p11, p20, p21, p30, p31 := p00, p01, p00, p01, p00, p01
	for i := range rows {
		r := &rows[i]
		wp := (*[convPairLen]int16)(w[r.off:])
		w0 := archsimd.LoadInt16x16Array((*[16]int16)(wp[0:16]))
		w1 := archsimd.LoadInt16x16Array((*[16]int16)(wp[16:32]))
		d := archsimd.BroadcastInt32x8(r.d[0]).AsInt16x16()
		p00 = p00.Add(w0.DotProductPairs(d))
		p01 = p01.Add(w1.DotProductPairs(d))
		d = archsimd.BroadcastInt32x8(r.d[1]).AsInt16x16()
		p10 = p10.Add(w0.DotProductPairs(d))
		p11 = p11.Add(w1.DotProductPairs(d))
		d = archsimd.BroadcastInt32x8(r.d[2]).AsInt16x16()
		p20 = p20.Add(w0.DotProductPairs(d))
		p21 = p21.Add(w1.DotProductPairs(d))
		d = archsimd.BroadcastInt32x8(r.d[3]).AsInt16x16()
		p30 = p30.Add(w0.DotProductPairs(d))
		p31 = p31.Add(w1.DotProductPairs(d))
	}
	p00.StoreArray((*[8]int32)(acc[0][0:8]))
	p01.StoreArray((*[8]int32)(acc[0][8:16]))
	p10.StoreArray((*[8]int32)(acc[1][0:8]))
	p11.StoreArray((*[8]int32)(acc[1][8:16]))
	p20.StoreArray((*[8]int32)(acc[2][0:8]))
	p21.StoreArray((*[8]int32)(acc[2][8:16]))
	p30.StoreArray((*[8]int32)(acc[3][0:8]))
	p31.StoreArray((*[8]int32)(acc[3][8:16]))
}

// dotRowsScalar is dotRows without AVX2.
func dotRowsScalar(acc *[convPixels][convChans]int32, rows []convRow, w []int16, bias *[convChans]int32) {
	for j := range acc {
		acc[j] = *bias
	}
	for i := range rows {
		r := &rows[i]
		wp := (*[convPairLen]int16)(w[r.off:])
		for j, dd := range r.d {
			d0, d1 := int32(int16(dd)), dd>>16
			a := &acc[j]
			for c := range a {
				k := c/8*16 + c%8*2
				a[c] += d0*int32(wp[k]) + d1*int32(wp[k+1])
			}
		}
	}
}
