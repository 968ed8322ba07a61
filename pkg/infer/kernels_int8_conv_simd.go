//go:build goexperiment.simd && wasm

package infer

import "simd/archsimd"

// The wasm SIMD128 block kernel: 16 output channels of int8 weights are
// widened to two i16x8 vectors once per row and multiplied by each pixel's
// broadcast input with i32x4.extmul_{low,high}_i16x8_s into four i32x4
// accumulators per pixel. Products are at most 255·127 in magnitude, so
// i16 inputs are exact, and i32 sums wrap exactly like Conv2DInt8Ref's.

const (
	convPixels = 2  // pixels per block
	convChans  = 16 // output channels per weight block: one v128 of int8
)

type convWeight = int8

// packConvWeights lays out w (K, Cout), K = cells·Cin, as
// [ceil(Cout/16)][K][16]int8.
func packConvWeights(w []int8, cells, cin, cout int) []convWeight {
	k := cells * cin
	nb := (cout + convChans - 1) / convChans
	p := make([]convWeight, nb*k*convChans)
	for i := range k {
		for co, v := range w[i*cout:][:cout] {
			p[(co/convChans*k+i)*convChans+co%convChans] = v
		}
	}
	return p
}

// convRow is one gathered row of the window for a block of two pixels: its
// offset in a packed weight block and the two centred inputs.
type convRow struct {
	off    int32
	d0, d1 int16
}

// gatherRows appends to rows[n:] the nonzero rows of one window cell for
// two pixels whose inputs are r[0], r[1] (of length Cin); off is the cell's
// first row. It returns the new row count.
func gatherRows(rows []convRow, n, off int, r [convPixels][]uint8, zx int32) int {
	r0, r1 := r[0], r[1][:len(r[0])]
	for ci := range r0 {
		d0, d1 := int32(r0[ci])-zx, int32(r1[ci])-zx
		if d0|d1 == 0 {
			continue
		}
		rows[n] = convRow{int32((off + ci) * convChans), int16(d0), int16(d1)}
		n++
	}
	return n
}

// convBlockRows multiplies the gathered rows of pixels p0..p0+np−1 by every
// packed weight block and requantizes into y.
func convBlockRows(y []uint8, p0, np, cout int, rows []convRow, pw *PackedConv, rq *Requant) {
	blk := len(pw.w) / len(pw.bias) * convChans // bytes per weight block
	var acc [convPixels][convChans]int32
	for cb := 0; cb*convChans < cout; cb++ {
		dotRows(&acc, rows, pw.w[cb*blk:(cb+1)*blk], (*[convChans]int32)(pw.bias[cb*convChans:]))
		for j := range np {
			out := y[(p0+j)*cout:][:cout]
			a := &acc[j]
			for c := range min(convChans, cout-cb*convChans) {
				co := cb*convChans + c
				m := rq.Mult[co]
				q := int64(rq.Zero) + (int64(a[c])*m.M+1<<(m.S-1))>>m.S
				out[co] = uint8(min(max(q, int64(rq.Lo)), int64(rq.Hi)))
			}
		}
	}
}

// dotRows sets acc[p] to bias plus the gathered rows times one packed
// weight block, for both pixels.
func dotRows(acc *[convPixels][convChans]int32, rows []convRow, w []int8, bias *[convChans]int32) {
	p00 := archsimd.LoadInt32x4Array((*[4]int32)(bias[0:4]))
	p01 := archsimd.LoadInt32x4Array((*[4]int32)(bias[4:8]))
	p02 := archsimd.LoadInt32x4Array((*[4]int32)(bias[8:12]))
	p03 := archsimd.LoadInt32x4Array((*[4]int32)(bias[12:16]))
	p10, p11, p12, p13 := p00, p01, p02, p03
	for i := range rows {
		r := &rows[i]
		wv := archsimd.LoadInt8x16Array((*[16]int8)(w[r.off:]))
		lo, hi := wv.ExtendLo8ToInt16(), wv.ExtendHi8ToInt16()
		d := archsimd.BroadcastInt16x8(r.d0)
		p00 = p00.Add(lo.MulWidenLo(d))
		p01 = p01.Add(lo.MulWidenHi(d))
		p02 = p02.Add(hi.MulWidenLo(d))
		p03 = p03.Add(hi.MulWidenHi(d))
		d = archsimd.BroadcastInt16x8(r.d1)
		p10 = p10.Add(lo.MulWidenLo(d))
		p11 = p11.Add(lo.MulWidenHi(d))
		p12 = p12.Add(hi.MulWidenLo(d))
		p13 = p13.Add(hi.MulWidenHi(d))
	}
	p00.StoreArray((*[4]int32)(acc[0][0:4]))
	p01.StoreArray((*[4]int32)(acc[0][4:8]))
	p02.StoreArray((*[4]int32)(acc[0][8:12]))
	p03.StoreArray((*[4]int32)(acc[0][12:16]))
	p10.StoreArray((*[4]int32)(acc[1][0:4]))
	p11.StoreArray((*[4]int32)(acc[1][4:8]))
	p12.StoreArray((*[4]int32)(acc[1][8:12]))
	p13.StoreArray((*[4]int32)(acc[1][12:16]))
}
