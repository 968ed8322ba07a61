package infer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The convs of a mixed-width QNet change width: MobileNetV2Mid's expanding
// 1×1 convs read 12 bits and write 8, its projecting ones read 8 and write
// 12. checkConvWidths and checkDepthwiseWidths run a case at any pairing
// of widths through the fast kernels and the reference ones.

// widthCase is a conv case's input of width X with the requantization to
// width Y: scales 16 times finer for 12 bits, as quantize makes them.
func widthCase[X, Y Activ](c *convInt8Case) (x []X, zx int32, rq *Requant) {
	xScale, yp := float32(0.05), QParams{Scale: 0.2, Zero: c.zy % (activTop[Y]() + 1), Wide: activTop[Y]() == 4095}
	switch v := any(&x).(type) {
	case *[]uint8:
		*v, zx = c.x, c.zx8
	case *[]uint16:
		*v, zx = c.x16, c.zx
		xScale /= 16
	}
	if yp.Wide {
		yp.Scale /= 16
	}
	return x, zx, NewRequant(xScale, c.ws, yp, c.act)
}

func checkConvWidths[X, Y Activ](t *testing.T, c *convInt8Case) {
	t.Helper()
	x, zx, rq := widthCase[X, Y](c)
	want := make([]Y, c.ys.Size())
	Conv2DInt8Ref(want, c.ys, x, c.xs, zx, c.w, c.bias, c.kh, c.kw, c.sh, c.sw, c.pad, rq, make([]int32, c.ys.C))
	pw, ok := packConv(nil, c.w, c.bias, c.kh, c.kw, c.xs.C, c.ys.C, activTop[X]())
	if !ok {
		t.Fatal("accumulator bound exceeded")
	}
	got := make([]Y, c.ys.Size())
	ConvInt8(got, c.ys, x, c.xs, zx, pw, c.sh, c.sw, c.pad, rq, NewConvScratch(c.kh*c.kw*c.xs.C, c.xs.C))
	checkSame(t, c, got, want)
}

func checkDepthwiseWidths[X, Y Activ](t *testing.T, c *convInt8Case) {
	t.Helper()
	x, zx, rq := widthCase[X, Y](c)
	w, ch := c.w[:c.kh*c.kw*c.xs.C], c.xs.C
	want := make([]Y, c.ys.Size())
	DepthwiseInt8Ref(want, c.ys, x, c.xs, zx, w, c.bias, c.kh, c.kw, c.sh, c.sw, c.pad, rq, make([]int32, ch))
	if !DepthwiseFits(w, c.bias, activTop[X]()) {
		t.Fatal("accumulator bound exceeded")
	}
	got := make([]Y, c.ys.Size())
	DepthwiseInt8(got, c.ys, x, c.xs, zx, w, c.bias, c.kh, c.kw, c.sh, c.sw, c.pad, rq, make([]int32, 2*ch), make([]int64, ch))
	checkSame(t, c, got, want)
}

func TestConvInt8MixedWidths(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, s := range convShapes {
		for _, zeros := range []float64{0, 0.5} {
			t.Run(fmt.Sprintf("%dx%dx%d-%d_%dx%d_s%d%d_z%g", s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh, s.sw, zeros), func(t *testing.T) {
				c := newConvCase(r, s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh, s.sw, s.pad, zeros, true)
				checkConvWidths[uint8, uint16](t, c)
				checkConvWidths[uint16, uint8](t, c)
			})
		}
	}
}

func TestDepthwiseInt8MixedWidths(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, s := range convShapes {
		for _, zeros := range []float64{0, 0.5} {
			t.Run(fmt.Sprintf("%dx%dx%d_%dx%d_s%d%d_z%g", s.h, s.w, s.cin, s.kh, s.kw, s.sh, s.sw, zeros), func(t *testing.T) {
				c := newConvCase(r, s.h, s.w, s.cin, s.cin, s.kh, s.kw, s.sh, s.sw, s.pad, zeros, true)
				checkDepthwiseWidths[uint8, uint16](t, c)
				checkDepthwiseWidths[uint16, uint8](t, c)
			})
		}
	}
}
