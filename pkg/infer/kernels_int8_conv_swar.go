//go:build !(goexperiment.simd && (wasm || amd64))

package infer

// The SWAR block kernel: two products per 64-bit multiply. Two pixels'
// centred inputs d0, d1 = x − zx (|d| ≤ 255, or 4095 with 12-bit
// activations) are packed into one int64 as
// d0 + d1·2^32, so (d0 + d1·2^32)·w = d0·w + (d1·w)·2^32 and one
// multiply-add advances both pixels' accumulators. Sums are exact modulo
// 2^64, and each 32-bit lane is recovered exactly because its true sum fits
// in int32 (PackConvInt8 checks the bound).

const (
	convPixels = 4 // pixels per block: two SWAR pairs
	convChans  = 4 // output channels per weight block
)

// convWeight holds the int8 weights of one row for convChans channels,
// channel j of the block in byte j.
type convWeight = uint32

// packConvWeights lays out w (K, Cout), K = cells·Cin, as
// [ceil(Cout/4)][K]convWeight.
func packConvWeights(p []convWeight, w []int8, cells, cin, cout int) []convWeight {
	k := cells * cin
	p = zeroed(p, packedConvLen(cells, cin, cout))
	for co := range cout {
		dst := p[co/convChans*k:][:k]
		shift := 8 * uint(co%convChans)
		for i := range dst {
			dst[i] |= uint32(uint8(w[i*cout+co])) << shift
		}
	}
	return p
}

// packedConvLen is the length of packConvWeights's layout.
func packedConvLen(cells, cin, cout int) int {
	return (cout + convChans - 1) / convChans * cells * cin
}

// convRow is one gathered row of the window for a block of four pixels:
// the packed inputs of pixels 0, 1 (a) and 2, 3 (b), and the row's index
// in a packed weight block.
type convRow struct {
	a, b int64
	off  int
}

// gatherRows appends to rows[n:] the nonzero rows of one window cell for
// four pixels whose inputs are r[0..3] (all of length Cin); off is the cell's
// first row. It returns the new row count.
func gatherRows[X Activ](rows []convRow, n, off int, r *[convPixels][]X, zx int32) int {
	r0, r1, r2, r3 := r[0], r[1][:len(r[0])], r[2][:len(r[0])], r[3][:len(r[0])]
	z := int64(zx)
	for ci := range r0 {
		a := int64(r0[ci]) - z + (int64(r1[ci])-z)<<32
		b := int64(r2[ci]) - z + (int64(r3[ci])-z)<<32
		if a|b == 0 {
			continue
		}
		rows[n] = convRow{a, b, off + ci}
		n++
	}
	return n
}

// convBlockRows multiplies the gathered rows of pixels p0..p0+np−1 by every
// packed weight block and requantizes into y.
func convBlockRows[Y Activ](y []Y, p0, np, cout int, rows []convRow, pw *PackedConv, rq *Requant) {
	k := len(pw.w) * convChans / len(pw.bias) // rows per block
	for cb := 0; cb*convChans < cout; cb++ {
		w := pw.w[cb*k : (cb+1)*k]
		b := pw.bias[cb*convChans:][:convChans]
		// Both lanes start at the bias.
		a0, a1, a2, a3 := int64(b[0])*(1+1<<32), int64(b[1])*(1+1<<32), int64(b[2])*(1+1<<32), int64(b[3])*(1+1<<32)
		a0, a1, a2, a3, b0, b1, b2, b3 := dotRows(rows, w, a0, a1, a2, a3, a0, a1, a2, a3)
		var acc [convPixels][convChans]int32
		for c, v := range [convChans]int64{a0, a1, a2, a3} {
			acc[0][c], acc[1][c] = splitLanes(v)
		}
		for c, v := range [convChans]int64{b0, b1, b2, b3} {
			acc[2][c], acc[3][c] = splitLanes(v)
		}
		requantBlock(y, p0, np, cout, cb, &acc, rq)
	}
}

// dotRows adds the gathered rows times one packed weight block (four
// channels, one uint32 per row) to the accumulators of pixel pairs a and b.
// It is a function of its own so that the loop has the registers to itself.
func dotRows(rows []convRow, w []uint32, a0, a1, a2, a3, b0, b1, b2, b3 int64) (_, _, _, _, _, _, _, _ int64) {
	for i := range rows {
		r := &rows[i]
		wr := w[r.off]
		ra, rb := r.a, r.b
		w0 := int64(int8(wr))
		a0 += ra * w0
		b0 += rb * w0
		w1 := int64(int8(wr >> 8))
		a1 += ra * w1
		b1 += rb * w1
		w2 := int64(int8(wr >> 16))
		a2 += ra * w2
		b2 += rb * w2
		w3 := int64(int32(wr) >> 24)
		a3 += ra * w3
		b3 += rb * w3
	}
	return a0, a1, a2, a3, b0, b1, b2, b3
}
