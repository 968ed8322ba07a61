package infer

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"unsafe"
)

// convInt8Case is a random quantized convolution: input, weights, bias and
// requantization, with a fraction of the inputs at the zero point (as ReLU leaves them).
type convInt8Case struct {
	xs, ys         Shape
	kh, kw, sh, sw int
	pad            Pad
	zx             int32
	zx8            int32 // x's zero point (zx is x16's if wide)
	x              []uint8
	x16            []uint16 // 12-bit activations instead of x (wide)
	wide           bool
	w              []int8
	ws             []float32 // weight scales
	bias           []int32
	act            Activation
	zy             int32 // the output's zero point, as drawn (reduced to 8 bits where needed)
}

func newConvInt8Case(r *rand.Rand, h, w, cin, cout, kh, kw, sh, sw int, pad Pad, zeros float64) *convInt8Case {
	return newConvCase(r, h, w, cin, cout, kh, kw, sh, sw, pad, zeros, false)
}

// newConvCase is newConvInt8Case with 12-bit activations (uint16 in
// [0, 4095]) in and out if wide.
func newConvCase(r *rand.Rand, h, w, cin, cout, kh, kw, sh, sw int, pad Pad, zeros float64, wide bool) *convInt8Case {
	c := &convInt8Case{xs: Shape{h, w, cin}, kh: kh, kw: kw, sh: sh, sw: sw, pad: pad, wide: wide}
	c.ys = Shape{convOutSize(h, kh, sh, pad.Top, pad.Bottom), convOutSize(w, kw, sw, pad.Left, pad.Right), cout}
	xp := QParams{Scale: 0.05, Zero: int32(r.IntN(256))}
	yp := QParams{Scale: 0.2, Zero: int32(r.IntN(256))}
	c.zx, c.zx8 = xp.Zero, xp.Zero
	c.x, _ = randQ(r, c.xs.Size(), xp)
	for i := range c.x {
		if r.Float64() < zeros {
			c.x[i] = uint8(c.zx)
		}
	}
	var ws []float32
	c.w, ws, _ = randW(r, kh*kw*cin*cout, cout)
	c.ws = ws
	c.bias = make([]int32, cout)
	for i := range c.bias {
		c.bias[i] = int32(r.IntN(200001) - 100000)
	}
	c.act, c.zy = Activation(r.IntN(3)), yp.Zero
	if wide {
		xp.Zero, yp.Zero = int32(r.IntN(4096)), int32(r.IntN(4096))
		c.zx = xp.Zero
		c.x16 = make([]uint16, len(c.x))
		for i := range c.x16 {
			c.x16[i] = uint16(r.IntN(4096))
			if r.Float64() < zeros {
				c.x16[i] = uint16(c.zx)
			}
		}
		c.zy = yp.Zero
	}
	return c
}

// checkConvInt8 checks ConvInt8 against Conv2DInt8Ref on c, 8-bit in and
// out, or 12-bit if c.wide.
func checkConvInt8(t *testing.T, c *convInt8Case) {
	t.Helper()
	if c.wide {
		checkConvWidths[uint16, uint16](t, c)
		return
	}
	checkConvWidths[uint8, uint8](t, c)
}

func checkSame[T Activ](t *testing.T, c *convInt8Case, got, want []T) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v→%v %dx%d/%d,%d pad %v: element %d = %d, Conv2DInt8Ref gives %d", c.xs, c.ys, c.kh, c.kw, c.sh, c.sw, c.pad, i, got[i], want[i])
		}
	}
}

// convShapes are the awkward and the real: odd channel counts, pixel counts
// that are not a multiple of the block, strides 1 and 2, SAME and VALID
// padding, and InceptionV3's 1×N and N×1 windows.
var convShapes = []struct {
	h, w, cin, cout, kh, kw, sh, sw int
	pad                             Pad
}{
	{1, 1, 1, 1, 1, 1, 1, 1, Pad{}},
	{5, 7, 3, 17, 1, 1, 1, 1, Pad{}},
	{3, 3, 33, 31, 1, 1, 1, 1, Pad{}},
	// Cin in whole and partial groups of 16 (the AVX2 gather), with padding.
	{6, 5, 16, 20, 3, 3, 1, 1, Pad{1, 1, 1, 1}},
	{5, 4, 48, 17, 1, 1, 1, 1, Pad{}},
	{7, 7, 35, 24, 3, 3, 2, 2, Pad{0, 1, 0, 1}},
	{9, 8, 5, 7, 3, 3, 2, 2, Pad{0, 1, 0, 1}},
	{6, 6, 4, 33, 3, 3, 1, 1, Pad{1, 1, 1, 1}},
	{7, 5, 3, 15, 3, 3, 2, 2, Pad{}},
	{7, 3, 2, 3, 5, 1, 1, 1, Pad{2, 2, 0, 0}},
	{3, 9, 15, 1, 1, 7, 1, 1, Pad{0, 0, 3, 3}},
	{9, 4, 6, 5, 7, 1, 1, 1, Pad{3, 3, 0, 0}},
	{8, 8, 7, 9, 5, 5, 1, 1, Pad{2, 2, 2, 2}},
	{11, 11, 3, 8, 3, 3, 2, 2, Pad{}},
	{2, 3, 1, 2, 3, 3, 1, 2, Pad{1, 1, 1, 1}},
}

func TestConvInt8MatchesRef(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, s := range convShapes {
		for _, zeros := range []float64{0, 0.6, 1} {
			for _, wide := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d-%d_%dx%d_s%d%d_z%g_wide%v", s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh, s.sw, zeros, wide), func(t *testing.T) {
					checkConvInt8(t, newConvCase(r, s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh, s.sw, s.pad, zeros, wide))
				})
			}
		}
	}
}

func TestPackConvInt8Bound(t *testing.T) {
	w := []int8{127, -127}
	if _, ok := PackConvInt8(w, []int32{1<<31 - 1 - 2*255*127}, 1, 1, 2, 1); !ok {
		t.Fatal("bound at the limit refused")
	}
	if _, ok := PackConvInt8(w, []int32{1<<31 - 2*255*127}, 1, 1, 2, 1); ok {
		t.Fatal("bound past the limit accepted")
	}
	// -128 counts as 128, not as -128.
	if _, ok := PackConvInt8([]int8{-128, -128}, []int32{1<<31 - 1 - 2*255*127}, 1, 1, 2, 1); ok {
		t.Fatal("bound past the limit with -128 weights accepted")
	}
}

func FuzzConvInt8(f *testing.F) {
	f.Add(uint64(1), uint8(5), uint8(7), uint8(3), uint8(17), uint8(3), uint8(3), uint8(2), uint8(1), uint8(0))
	f.Add(uint64(2), uint8(9), uint8(3), uint8(15), uint8(1), uint8(1), uint8(7), uint8(1), uint8(3), uint8(128))
	f.Fuzz(func(t *testing.T, seed uint64, h, w, cin, cout, kh, kw, stride, pad, zeros uint8) {
		r := rand.New(rand.NewPCG(seed, 0))
		kh, kw = kh%7+1, kw%7+1
		sh, sw := int(stride%2)+1, int(stride/2%2)+1
		p := Pad{int(pad % 4), int(pad / 4 % 4), int(pad / 16 % 4), int(pad / 64 % 4)}
		hh, ww := int(h%12)+1, int(w%12)+1
		if hh+p.Top+p.Bottom < int(kh) || ww+p.Left+p.Right < int(kw) {
			return
		}
		checkConvInt8(t, newConvCase(r, hh, ww, int(cin%40)+1, int(cout%40)+1, int(kh), int(kw), sh, sw, p, float64(zeros)/255, seed%2 == 1))
	})
}

// BenchmarkConvInt8 times layers shaped like MobileNetV2's and InceptionV3's.
func BenchmarkConvInt8(b *testing.B) {
	for _, s := range []struct {
		name                        string
		h, w, cin, cout, kh, kw, st int
		pad                         Pad
		zeros                       float64
	}{
		{"stem224", 224, 224, 3, 32, 3, 3, 2, Pad{0, 1, 0, 1}, 0},
		{"stem224as1x1", 112, 112, 27, 32, 1, 1, 1, Pad{}, 0}, // the same work, im2col'd
		{"expand28", 28, 28, 32, 192, 1, 1, 1, Pad{}, 0},
		{"project14", 14, 14, 384, 64, 1, 1, 1, Pad{}, 0.3},
		{"incep3x3", 35, 35, 64, 96, 3, 3, 1, Pad{1, 1, 1, 1}, 0.5},
	} {
		b.Run(s.name, func(b *testing.B) {
			c := newConvInt8Case(rand.New(rand.NewPCG(1, 1)), s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.st, s.st, s.pad, s.zeros)
			pw, _ := PackConvInt8(c.w, c.bias, c.kh, c.kw, c.xs.C, c.ys.C)
			_, _, rq := widthCase[uint8, uint8](c)
			y := make([]uint8, c.ys.Size())
			scr := NewConvScratch(c.kh*c.kw*c.xs.C, c.xs.C)
			b.ReportAllocs()
			for b.Loop() {
				ConvInt8(y, c.ys, c.x, c.xs, c.zx, pw, s.st, s.st, c.pad, rq, scr)
			}
			macs := float64(c.ys.H*c.ys.W) * float64(len(c.w))
			b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// TestPackInPlace checks that packing conv weights into their own memory
// gives what PackConvInt8 gives, and leaves the weights as they were where
// the layout does not fit (as for the AVX2 build's int16 layout).
func TestPackInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	inPlace := 0
	for _, s := range [][4]int{{1, 1, 32, 64}, {1, 1, 33, 64}, {1, 1, 32, 40}, {1, 1, 2, 16}, {3, 3, 3, 32}, {3, 3, 16, 16}, {1, 7, 48, 48}, {3, 3, 5, 7}} {
		kh, kw, cin, cout := s[0], s[1], s[2], s[3]
		w, _, _ := randW(r, kh*kw*cin*cout, cout)
		bias := make([]int32, cout)
		for i := range bias {
			bias[i] = int32(r.IntN(2001) - 1000)
		}
		want, _ := PackConvInt8(w, bias, kh, kw, cin, cout)
		own := make([]int8, len(w)) // no spare capacity, as veilfile's buffers
		copy(own, w)
		scratch := make([]int8, len(w)+3)
		got, ok := packInPlace(own, scratch, bias, kh, kw, cin, cout, 255)
		if !ok {
			if !slices.Equal(own, w) {
				t.Fatalf("%v: not packed in place, but the weights changed", s)
			}
			continue
		}
		inPlace++
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%v: packed in place differs from PackConvInt8", s)
		}
		if unsafe.Pointer(unsafe.SliceData(got.w)) != unsafe.Pointer(unsafe.SliceData(own)) {
			t.Fatalf("%v: packed into new memory", s)
		}
	}
	// The byte-sized layouts (wasm SIMD; SWAR packs 4 bytes as a uint32)
	// fit in place for most shapes; AVX2's int16 layout never does.
	if size := unsafe.Sizeof(convWeight(0)); size != 2 && inPlace == 0 {
		t.Errorf("no shape packed in place (convWeight is %d bytes)", size)
	}
}
