//go:build goexperiment.simd && wasm

package infer

import (
	"simd/archsimd"
	"unsafe"
)

// The wasm SIMD128 block kernel (dotPairs, kernels_int8_conv_wasm.s) works
// on pairs of window rows: i32x4.dot_i16x8_s multiplies eight int16 lanes
// and adds adjacent products, so with weights laid out as (row 2j, row
// 2j+1) side by side per channel and a pixel's two inputs splatted as one
// int32, one instruction does two rows × four channels. Products are at
// most 255·128 in magnitude, so int16 inputs are exact, and the int32 sums
// wrap exactly like Conv2DInt8Ref's. Go 1.27's simd package has no dot
// product for wasm, hence the assembly.

const (
	convPixels = 2  // pixels per block
	convChans  = 16 // output channels per weight block
)

type convWeight = int8

// packConvWeights lays out w (K, Cout), K = cells·Cin, as
// [ceil(Cout/16)][cells][ceil(Cin/2)][16][2]int8: per block of 16 output
// channels, each pair of rows (2j, 2j+1) of a cell is 32 bytes holding
// channel by channel the two rows' weights side by side. An odd Cin is
// padded with a zero row, so pairs never span two cells.
func packConvWeights(p []convWeight, w []int8, cells, cin, cout int) []convWeight {
	hp := (cin + 1) / 2
	blk := cells * hp * 2 * convChans
	p = zeroed(p, packedConvLen(cells, cin, cout))
	for cell := range cells {
		for ci := range cin {
			at := (cell*hp+ci/2)*2*convChans + ci%2
			for co, v := range w[(cell*cin+ci)*cout:][:cout] {
				p[co/convChans*blk+at+co%convChans*2] = v
			}
		}
	}
	return p
}

// packedConvLen is the length of packConvWeights's layout.
func packedConvLen(cells, cin, cout int) int {
	return (cout + convChans - 1) / convChans * cells * ((cin + 1) / 2) * 2 * convChans
}

// convRow is one gathered pair of window rows for a block of two pixels:
// the pair's byte offset in a packed weight block and, per pixel, its two
// centred inputs as the low and high int16 of one int32. The layout is
// read by dotPairs.
type convRow struct {
	off    int32
	d0, d1 int32
}

// gatherRows appends to rows[n:] the row pairs with a nonzero input of one
// window cell for two pixels whose inputs are r[0], r[1] (of length Cin);
// off is the cell's first row. It returns the new row count.
func gatherRows[X Activ](rows []convRow, n, off int, r *[convPixels][]X, zx int32) int {
	r0, r1 := r[0], r[1][:len(r[0])]
	cin := len(r0)
	pair := off / cin * ((cin + 1) / 2)
	ci := 0
	if rb, ok := rowsAsBytes(r); ok {
		ci, n, pair = gatherRows16(rows, n, pair, rb[0], rb[1][:cin], zx)
	} else {
		ci, n, pair = gatherRowsWide(rows, n, pair, r0, r1, zx)
	}
	for ; ci < cin; ci, pair = ci+2, pair+1 {
		a0, a1 := int32(r0[ci])-zx, int32(r1[ci])-zx
		var b0, b1 int32
		if ci+1 < cin {
			b0, b1 = int32(r0[ci+1])-zx, int32(r1[ci+1])-zx
		}
		if a0|a1|b0|b1 == 0 {
			continue
		}
		rows[n] = convRow{int32(pair * 2 * convChans), a0&0xffff | b0<<16, a1&0xffff | b1<<16}
		n++
	}
	return n
}

// gatherRows16 is gatherRows for the channels in whole groups of 16: a
// pixel's 16 inputs widen to uint16 and, less zx, are already 8 (a, b)
// pairs. It returns the channels done, the row count and the next pair.
func gatherRows16(rows []convRow, n, pair int, r0, r1 []uint8, zx int32) (int, int, int) {
	zv := archsimd.BroadcastUint16x8(uint16(zx))
	var d0, d1 [8]uint32
	ci := 0
	for ; ci+16 <= len(r0); ci += 16 {
		v0 := archsimd.LoadUint8x16Array((*[16]uint8)(r0[ci:]))
		v1 := archsimd.LoadUint8x16Array((*[16]uint8)(r1[ci:]))
		v0.ExtendLo8ToUint16().Sub(zv).ReshapeToUint32s().StoreArray((*[4]uint32)(d0[0:4]))
		v0.ExtendHi8ToUint16().Sub(zv).ReshapeToUint32s().StoreArray((*[4]uint32)(d0[4:8]))
		v1.ExtendLo8ToUint16().Sub(zv).ReshapeToUint32s().StoreArray((*[4]uint32)(d1[0:4]))
		v1.ExtendHi8ToUint16().Sub(zv).ReshapeToUint32s().StoreArray((*[4]uint32)(d1[4:8]))
		for k := range 8 {
			if d0[k]|d1[k] == 0 {
				continue
			}
			rows[n] = convRow{int32((pair + k) * 2 * convChans), int32(d0[k]), int32(d1[k])}
			n++
		}
		pair += 8
	}
	return ci, n, pair
}

// gatherRowsWide is gatherRows16 for 12-bit inputs (X uint16): 8 inputs,
// less zx, are 4 (a, b) pairs.
func gatherRowsWide[X Activ](rows []convRow, n, pair int, r0, r1 []X, zx int32) (int, int, int) {
	zv := archsimd.BroadcastUint16x8(uint16(zx))
	var d0, d1 [4]uint32
	ci := 0
	for ; ci+8 <= len(r0); ci += 8 {
		archsimd.LoadUint16x8Array((*[8]uint16)(unsafe.Pointer(&r0[ci]))).Sub(zv).ReshapeToUint32s().StoreArray(&d0)
		archsimd.LoadUint16x8Array((*[8]uint16)(unsafe.Pointer(&r1[ci]))).Sub(zv).ReshapeToUint32s().StoreArray(&d1)
		for k := range 4 {
			if d0[k]|d1[k] == 0 {
				continue
			}
			rows[n] = convRow{int32((pair + k) * 2 * convChans), int32(d0[k]), int32(d1[k])}
			n++
		}
		pair += 4
	}
	return ci, n, pair
}

// convBlockRows multiplies the gathered rows of pixels p0..p0+np−1 by every
// packed weight block and requantizes into y.
func convBlockRows[Y Activ](y []Y, p0, np, cout int, rows []convRow, pw *PackedConv, rq *Requant) {
	yb := unsafe.Slice((*uint8)(unsafe.Pointer(unsafe.SliceData(y))), len(y)*int(unsafe.Sizeof(y[0]))) // y's bytes, either width
	wide, size := 0, 1
	if _, bytes := asBytes(y); !bytes {
		wide, size = 1, 2
	}
	blk := len(pw.w) / len(pw.bias) * convChans // bytes per weight block
	var acc [convPixels][convChans]int32
	var tail [convPixels][2 * convChans]uint8 // a partial last block's outputs, either width
	for cb := 0; cb*convChans < cout; cb++ {
		c0 := cb * convChans
		w := pw.w[cb*blk : (cb+1)*blk]
		bias := (*[convChans]int32)(pw.bias[c0:])
		k := rq.vectorBlock(c0, cout)
		if wide == 1 {
			k = (*requantConsts)(unsafe.Pointer(rq.wideBlock(c0, cout))) // the first 216 bytes as requantConsts
		}
		if k == nil {
			dotPairs(&acc, unsafe.SliceData(rows), len(rows), unsafe.SliceData(w), bias, nil, nil, nil, 0)
			requantBlock(y, p0, np, cout, cb, &acc, rq)
			continue
		}
		// The vector requantization writes the block itself: into y, or,
		// for a partial last block (whole blocks would run into the next
		// pixel), into tail and then its real lanes into y.
		n := min(convChans, cout-c0)
		y0, y1 := &tail[0][0], &tail[1][0]
		if n == convChans {
			y0 = &yb[(p0*cout+c0)*size]
			if np > 1 {
				y1 = &yb[((p0+1)*cout+c0)*size]
			}
			_ = yb[((p0+np-1)*cout+c0+convChans)*size-1]
		}
		dotPairs(&acc, unsafe.SliceData(rows), len(rows), unsafe.SliceData(w), bias, k, y0, y1, wide)
		if n < convChans {
			for j := range np {
				copy(yb[((p0+j)*cout+c0)*size:][:n*size], tail[j][:n*size])
			}
		}
	}
}

// dotPairs sets acc[p] to bias plus the n row pairs at rows times one packed
// weight block w, for both pixels. Every rows[i].off+32 must be within the
// block: the assembly does not check. With k not nil it requantizes them
// instead (k from Requant.vectorBlock) into the 16 bytes at y0 and, unless
// y1 is nil, at y1; with wide 1, k is from Requant.wideBlock and y0, y1
// point at 16 uint16s.
//
//go:noescape
func dotPairs(acc *[convPixels][convChans]int32, rows *convRow, n int, w *int8, bias *[convChans]int32, k *requantConsts, y0, y1 *uint8, wide int)
