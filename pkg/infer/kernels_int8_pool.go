package infer

// PoolInt8 computes PoolInt8Ref with the same bits, walking the window
// cells in the outer loops so that the channel loop reads memory in order.
//
//	x (H, W, C) uint8 -> y (OH, OW, C) uint8
//
// sum is scratch of length C.
func PoolInt8(y []uint8, ys Shape, x []uint8, xs Shape, kh, kw, sh, sw int, pad Pad, isMax bool, sum []int32) {
	c := xs.C
	if ys.C != c || len(y) < ys.Size() || len(x) < xs.Size() || len(sum) < c {
		panic("infer: PoolInt8: bad shapes")
	}
	sum = sum[:c]
	for oy := range ys.H {
		for ox := range ys.W {
			out := y[(oy*ys.W+ox)*c:][:c]
			clear(out)
			clear(sum)
			n := int32(0)
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
					row := x[(iy*xs.W+ix)*c:][:c]
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
				// (2s+n)/(2n) as a multiply: a = 2s+n ≤ 511n and d = 2n
				// give a·d < 2^40 for any window MaxQWindow allows.
				r := reciprocal40(uint64(2 * n))
				for i, s := range sum {
					out[i] = uint8((uint64(2*s+n) * r) >> 40)
				}
			}
		}
	}
}

// reciprocal40 returns ⌈2^40/d⌉: for a·d < 2^40, (a·r)>>40 is a/d exactly
// (the error a·(r−2^40/d)/2^40 < a/2^40 < 1/d cannot reach the next
// integer). A multiply instead of a divide per channel.
func reciprocal40(d uint64) uint64 { return (1<<40 + d - 1) / d }
