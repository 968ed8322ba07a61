package infer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func checkPoolInt8(t *testing.T, r *rand.Rand, h, w, c, kh, kw, sh, sw int, pad Pad, isMax bool) {
	t.Helper()
	xs := Shape{h, w, c}
	ys := Shape{convOutSize(h, kh, sh, pad.Top, pad.Bottom), convOutSize(w, kw, sw, pad.Left, pad.Right), c}
	x, _ := randQ(r, xs.Size(), QParams{Scale: 0.1, Zero: 0})
	want := make([]uint8, ys.Size())
	PoolInt8Ref(want, ys, x, xs, kh, kw, sh, sw, pad, isMax)
	got := make([]uint8, ys.Size())
	PoolInt8(got, ys, x, xs, kh, kw, sh, sw, pad, isMax, make([]int32, c))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v→%v %dx%d/%d,%d pad %v max %v: element %d = %d, PoolInt8Ref gives %d", xs, ys, kh, kw, sh, sw, pad, isMax, i, got[i], want[i])
		}
	}
	// The same window on 12-bit activations.
	x16 := make([]uint16, len(x))
	for i := range x16 {
		x16[i] = uint16(r.IntN(4096))
	}
	want16 := make([]uint16, ys.Size())
	PoolInt8Ref(want16, ys, x16, xs, kh, kw, sh, sw, pad, isMax)
	got16 := make([]uint16, ys.Size())
	PoolInt8(got16, ys, x16, xs, kh, kw, sh, sw, pad, isMax, make([]int32, c))
	for i := range want16 {
		if got16[i] != want16[i] {
			t.Fatalf("12-bit %v→%v %dx%d/%d,%d pad %v max %v: element %d = %d, PoolInt8Ref gives %d", xs, ys, kh, kw, sh, sw, pad, isMax, i, got16[i], want16[i])
		}
	}
}

func TestPoolInt8MatchesRef(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, s := range convShapes {
		for _, isMax := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dx%dx%d_%dx%d_s%d%d_max%v", s.h, s.w, s.cin, s.kh, s.kw, s.sh, s.sw, isMax), func(t *testing.T) {
				checkPoolInt8(t, r, s.h, s.w, s.cin, s.kh, s.kw, s.sh, s.sw, s.pad, isMax)
			})
		}
	}
}

func FuzzPoolInt8(f *testing.F) {
	f.Add(uint64(1), uint8(7), uint8(9), uint8(5), uint8(3), uint8(3), uint8(1), uint8(5), true)
	f.Add(uint64(2), uint8(8), uint8(8), uint8(17), uint8(8), uint8(8), uint8(3), uint8(0), false)
	f.Fuzz(func(t *testing.T, seed uint64, h, w, c, kh, kw, stride, pad uint8, isMax bool) {
		r := rand.New(rand.NewPCG(seed, 0))
		kh, kw = kh%8+1, kw%8+1
		sh, sw := int(stride%3)+1, int(stride/3%3)+1
		// Padding smaller than the window, so no window is all padding.
		p := Pad{int(pad%4) % int(kh), int(pad/4%4) % int(kh), int(pad/16%4) % int(kw), int(pad/64%4) % int(kw)}
		hh, ww := int(h%14)+1, int(w%14)+1
		if hh+p.Top+p.Bottom < int(kh) || ww+p.Left+p.Right < int(kw) {
			return
		}
		checkPoolInt8(t, r, hh, ww, int(c%40)+1, int(kh), int(kw), sh, sw, p, isMax)
	})
}

// TestPoolAverageDivision checks PoolInt8's multiply for (2s+n)/(2n): every
// sum of up to 81 cells (a 9×9 window), and random sums up to the largest
// window (64×64).
func TestPoolAverageDivision(t *testing.T) {
	check := func(n, s int32) {
		if got, want := avgRound[uint8](s, n, reciprocal40(uint64(2*n))), uint8((2*s+n)/(2*n)); got != want {
			t.Fatalf("n %d, s %d: %d, want %d", n, s, got, want)
		}
	}
	for n := int32(1); n <= 81; n++ {
		for s := int32(0); s <= 255*n; s++ {
			check(n, s)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		n := 1 + rng.Int32N(64*64)
		check(n, rng.Int32N(255*n+1))
		check(n, 255*n)
		// 12-bit cells.
		s := rng.Int32N(4095*n + 1)
		if got, want := avgRound[uint16](s, n, reciprocal40(uint64(2*n))), uint16((2*s+n)/(2*n)); got != want {
			t.Fatalf("12-bit: n %d, s %d: %d, want %d", n, s, got, want)
		}
	}
}

// TestPoolInt8LargeWindows checks windows at and past poolVectorCells on
// inputs of 255 (the largest sums) and random ones.
func TestPoolInt8LargeWindows(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, k := range [][2]int{{16, 16}, {16, 17}, {64, 5}} {
		for _, isMax := range []bool{false, true} {
			xs := Shape{k[0] + 2, k[1] + 1, 35}
			ys := Shape{convOutSize(xs.H, k[0], 1, 0, 0), convOutSize(xs.W, k[1], 1, 0, 0), xs.C}
			for _, full := range []bool{true, false} {
				x := make([]uint8, xs.Size())
				for i := range x {
					x[i] = 255
					if !full {
						x[i] = uint8(r.IntN(256))
					}
				}
				want, got := make([]uint8, ys.Size()), make([]uint8, ys.Size())
				PoolInt8Ref(want, ys, x, xs, k[0], k[1], 1, 1, Pad{}, isMax)
				PoolInt8(got, ys, x, xs, k[0], k[1], 1, 1, Pad{}, isMax, make([]int32, xs.C))
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%dx%d max %v full %v: element %d = %d, PoolInt8Ref gives %d", k[0], k[1], isMax, full, i, got[i], want[i])
					}
				}
			}
		}
	}
}
