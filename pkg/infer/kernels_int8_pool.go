package infer

// poolVectorCells bounds the windows poolVector takes: an average's uint16
// lane sums 257 cells of 255 without overflow (poolVectorWide's uint32
// lanes, any number of 4095).
const poolVectorCells = 257

// PoolInt8 computes PoolInt8Ref with the same bits, walking the window
// cells in the outer loops so that the channel loop reads memory in order.
// Where the build has SIMD kernels (poolVector), whole groups of 16
// channels go through them and the rest through the loops here (12-bit
// activations: all of them).
//
//	x (H, W, C) uint8|uint16 -> y (OH, OW, C) of the same type
//
// sum is scratch of length C.
func PoolInt8[T Activ](y []T, ys Shape, x []T, xs Shape, kh, kw, sh, sw int, pad Pad, isMax bool, sum []int32) {
	c := xs.C
	if ys.C != c || len(y) < ys.Size() || len(x) < xs.Size() || len(sum) < c {
		panic("infer: PoolInt8: bad shapes")
	}
	var cells [poolVectorCells]int // offsets in x of the window's cells inside the input
	for oy := range ys.H {
		for ox := range ys.W {
			out := y[(oy*ys.W+ox)*c:][:c]
			n := 0
			for ky := range kh {
				iy := oy*sh + ky - pad.Top
				if iy < 0 || iy >= xs.H {
					continue
				}
				for kx := range kw {
					ix := ox*sw + kx - pad.Left
					if ix < 0 || ix >= xs.W {
						continue
					}
					if n < len(cells) {
						cells[n] = (iy*xs.W + ix) * c
					}
					n++
				}
			}
			done := 0
			if out8, ok := asBytes(out); ok && n <= len(cells) {
				x8, _ := asBytes(x)
				done = poolVector(out8, x8, cells[:n], isMax)
			} else if !ok && n <= len(cells) {
				done = poolVectorWide(asWide(out), asWide(x), cells[:n], isMax)
			}
			if done < c {
				poolChannels(out[done:], x, xs, oy*sh-pad.Top, ox*sw-pad.Left, kh, kw, done, isMax, sum[done:c])
			}
		}
	}
}

// poolChannels pools channels c0… of one output pixel whose window starts
// at input row iy0, column ix0.
func poolChannels[T Activ](out []T, x []T, xs Shape, iy0, ix0, kh, kw, c0 int, isMax bool, sum []int32) {
	c := xs.C
	clear(out)
	clear(sum)
	n := int32(0)
	for iy := max(iy0, 0); iy < min(iy0+kh, xs.H); iy++ {
		for ix := max(ix0, 0); ix < min(ix0+kw, xs.W); ix++ {
			row := x[(iy*xs.W+ix)*c+c0:][:len(out)]
			n++
			if isMax {
				for i, v := range row {
					out[i] = max(out[i], v)
				}
			} else {
				for i, v := range row {
					sum[i] += int32(v)
				}
			}
		}
	}
	if !isMax && n > 0 {
		r := reciprocal40(uint64(2 * n))
		for i, s := range sum {
			out[i] = avgRound[T](s, n, r)
		}
	}
}

// avgRound is PoolInt8Ref's (2s+n)/(2n) for a sum s of n cells, as a
// multiply by r = reciprocal40(2n): a = 2s+n ≤ 8191n (12-bit cells) and
// d = 2n give a·d < 2^40 for any window MaxQWindow allows (n ≤ 4096).
func avgRound[T Activ](s, n int32, r uint64) T { return T((uint64(2*s+n) * r) >> 40) }

// reciprocal40 returns ⌈2^40/d⌉: for a·d < 2^40, (a·r)>>40 is a/d exactly
// (the error a·(r−2^40/d)/2^40 < a/2^40 < 1/d cannot reach the next
// integer). A multiply instead of a divide per channel.
func reciprocal40(d uint64) uint64 { return (1<<40 + d - 1) / d }
