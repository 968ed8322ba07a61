package infer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkDepthwiseInt8 checks DepthwiseInt8 against DepthwiseInt8Ref on a
// random case, 8-bit in and out and 12-bit in and out.
func checkDepthwiseInt8(t *testing.T, r *rand.Rand, h, w, c, kh, kw, sh, sw int, pad Pad, zeros float64) {
	t.Helper()
	checkDepthwiseWidths[uint8, uint8](t, newConvCase(r, h, w, c, c, kh, kw, sh, sw, pad, zeros, false))
	checkDepthwiseWidths[uint16, uint16](t, newConvCase(r, h, w, c, c, kh, kw, sh, sw, pad, zeros, true))
}

func TestDepthwiseInt8MatchesRef(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, s := range convShapes {
		for _, zeros := range []float64{0, 0.6} {
			t.Run(fmt.Sprintf("%dx%dx%d_%dx%d_s%d%d_z%g", s.h, s.w, s.cin, s.kh, s.kw, s.sh, s.sw, zeros), func(t *testing.T) {
				checkDepthwiseInt8(t, r, s.h, s.w, s.cin, s.kh, s.kw, s.sh, s.sw, s.pad, zeros)
			})
		}
	}
}

// TestDepthwiseInt8Wide covers the vector blocks of 16 channels: whole
// blocks, a tail, borders on every side, strides 1 and 2.
func TestDepthwiseInt8Wide(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, s := range []struct {
		h, w, c, kh, kw, sh, sw int
		pad                     Pad
	}{
		{7, 7, 48, 3, 3, 1, 1, Pad{1, 1, 1, 1}},
		{8, 9, 37, 3, 3, 2, 2, Pad{0, 1, 0, 1}},
		{5, 6, 16, 3, 3, 1, 1, Pad{}},
		{4, 5, 33, 5, 5, 1, 2, Pad{2, 2, 2, 2}},
		{1, 1, 17, 1, 1, 1, 1, Pad{}},
	} {
		for _, zeros := range []float64{0, 0.6} {
			t.Run(fmt.Sprintf("%dx%dx%d_%dx%d_s%d%d_z%g", s.h, s.w, s.c, s.kh, s.kw, s.sh, s.sw, zeros), func(t *testing.T) {
				checkDepthwiseInt8(t, r, s.h, s.w, s.c, s.kh, s.kw, s.sh, s.sw, s.pad, zeros)
			})
		}
	}
}

func TestDepthwiseFits(t *testing.T) {
	w := []int8{127, -127} // 1×2 window, one channel
	if !DepthwiseFits(w, []int32{1<<31 - 1 - 2*255*127}, 255) {
		t.Fatal("bound at the limit refused")
	}
	if DepthwiseFits(w, []int32{-(1<<31 - 2*255*127)}, 255) {
		t.Fatal("bound past the limit accepted")
	}
}

func FuzzDepthwiseInt8(f *testing.F) {
	f.Add(uint64(1), uint8(7), uint8(9), uint8(5), uint8(3), uint8(3), uint8(1), uint8(5))
	f.Add(uint64(2), uint8(4), uint8(11), uint8(17), uint8(1), uint8(7), uint8(2), uint8(0))
	f.Fuzz(func(t *testing.T, seed uint64, h, w, c, kh, kw, stride, pad uint8) {
		r := rand.New(rand.NewPCG(seed, 0))
		kh, kw = kh%7+1, kw%7+1
		sh, sw := int(stride%2)+1, int(stride/2%2)+1
		p := Pad{int(pad % 4), int(pad / 4 % 4), int(pad / 16 % 4), int(pad / 64 % 4)}
		hh, ww := int(h%14)+1, int(w%14)+1
		if hh+p.Top+p.Bottom < int(kh) || ww+p.Left+p.Right < int(kw) {
			return
		}
		checkDepthwiseInt8(t, r, hh, ww, int(c%40)+1, int(kh), int(kw), sh, sw, p, float64(stride)/255)
	})
}

// TestDepthwiseInt8ScalarBlock gives the middle block of 16 channels
// multipliers of 1 or more, which the vector requantization leaves to the
// scalar loop (newRequantConsts), between two blocks it takes.
func TestDepthwiseInt8ScalarBlock(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, odd := range []bool{false, true} { // an odd pixel count ends on a single pixel
		cc := newConvInt8Case(r, 5, 5, 48, 48, 3, 3, 1, 1, Pad{1, 1, 1, 1}, 0.3)
		if odd {
			cc = newConvInt8Case(r, 5, 5, 48, 48, 3, 3, 2, 2, Pad{1, 1, 1, 1}, 0.3)
		}
		cc.w = cc.w[:9*48]
		ws := make([]float32, 48)
		for c := range ws {
			ws[c] = 1.0 / 64
			if c >= 16 && c < 32 {
				ws[c] = 8 // multiplier 0.05·8/0.2 = 2
			}
		}
		rq := NewRequant(0.05, ws, QParams{Scale: 0.2, Zero: 100}, ActLinear)
		want := make([]uint8, cc.ys.Size())
		DepthwiseInt8Ref(want, cc.ys, cc.x, cc.xs, cc.zx, cc.w, cc.bias, 3, 3, cc.sh, cc.sw, cc.pad, rq, make([]int32, 48))
		got := make([]uint8, cc.ys.Size())
		DepthwiseInt8(got, cc.ys, cc.x, cc.xs, cc.zx, cc.w, cc.bias, 3, 3, cc.sh, cc.sw, cc.pad, rq, make([]int32, 96), make([]int64, 48))
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("odd=%v: element %d (channel %d) = %d, DepthwiseInt8Ref gives %d", odd, i, i%48, got[i], want[i])
			}
		}
	}
}
