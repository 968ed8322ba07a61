//go:build goexperiment.simd && (wasm || amd64)

package infer

// depthwiseMaxTaps bounds the window depthwiseVector takes (KH·KW); larger
// windows take the scalar path.
const depthwiseMaxTaps = 64

// depthwiseVector computes DepthwiseInt8 with vectors of 16 channels, two
// output pixels at a time, and reports whether it did (false: no vector
// unit, or a window of more than depthwiseMaxTaps cells). folded is the bias
// with the zero point folded in, bias − zx·Σw, so the dot product runs on
// the raw uint8 inputs: a product x·w lies in [−32640, 32385] and is exact
// in int16, and the int32 sums wrap exactly like DepthwiseInt8Ref's. A
// padding cell reads as zx, which cancels its share of the fold.
func depthwiseVector(y []uint8, ys Shape, x []uint8, xs Shape, zx int32, w []int8, folded []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, scratch []int64) bool {
	taps := kh * kw
	if taps > depthwiseMaxTaps || !depthwiseVectorOK() {
		return false
	}
	c := xs.C
	c16 := c &^ (depthwiseChans - 1)
	pixels := ys.H * ys.W
	// offs[j][t] is the offset in x of window cell t of pixel j, −1 for padding.
	var offs [2][depthwiseMaxTaps]int
	zrow := zeroPointRow(scratch, c, uint8(zx))
	for p := 0; p < pixels; p += 2 {
		np := min(2, pixels-p)
		pairOffsets(&offs, p, ys, xs, kh, kw, sh, sw, pad)
		depthwiseBlocksPair(y, p, np, c16, x, &offs, taps, zrow, uint8(zx), w, folded, rq)
		// Channels past the last whole vector, one at a time.
		for j := range np {
			o := offs[j][:taps]
			out := y[(p+j)*c:][:c]
			for i := c16; i < c; i++ {
				a := folded[i]
				for t, off := range o {
					xv := zx
					if off >= 0 {
						xv = int32(x[off+i])
					}
					a += xv * int32(w[t*c+i])
				}
				out[i] = rq.apply(a, i)
			}
		}
	}
	return true
}

// pairOffsets sets offs[j][t] to the offset in x (shape xs) of window cell
// t of output pixel p+j, or −1 for a padding cell; a pixel past the last
// repeats the last.
func pairOffsets(offs *[2][depthwiseMaxTaps]int, p int, ys, xs Shape, kh, kw, sh, sw int, pad Pad) {
	pixels := ys.H * ys.W
	for j := range offs {
		q := min(p+j, pixels-1)
		oy, ox := q/ys.W, q%ys.W
		o := offs[j][:kh*kw]
		for ky := range kh {
			iy := oy*sh + ky - pad.Top
			for kx := range kw {
				ix := ox*sw + kx - pad.Left
				t := ky*kw + kx
				o[t] = -1
				if iy >= 0 && iy < xs.H && ix >= 0 && ix < xs.W {
					o[t] = (iy*xs.W + ix) * xs.C
				}
			}
		}
	}
}

// depthwiseWideTail sums channels c8… of np pixels (window offsets offs,
// padding reading zx) into acc[j·C+i], requantizes the pixels' sums into
// y from pixel p (applyRowsWide, then the scalar loop for what it leaves).
func depthwiseWideTail(y []uint16, p, np, c8 int, x []uint16, offs *[2][depthwiseMaxTaps]int, taps int, zx int32, w []int8, folded []int32, rq *Requant, acc []int32) {
	c := len(folded)
	for j := range np {
		o := offs[j][:taps]
		for i := c8; i < c; i++ {
			s := folded[i]
			for t, off := range o {
				xv := zx
				if off >= 0 {
					xv = int32(x[off+i])
				}
				s += xv * int32(w[t*c+i])
			}
			acc[j*c+i] = s
		}
	}
	out := y[p*c : (p+np)*c]
	done := rq.applyRowsWide(out, c, acc, c, np, c, 0)
	for j := range np {
		for i := done; i < c; i++ {
			out[j*c+i] = uint16(rq.value(acc[j*c+i], i))
		}
	}
}
