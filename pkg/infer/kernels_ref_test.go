package infer

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hand-checked cases for each reference kernel.

func TestConv2DRef(t *testing.T) {
	// 3x3 input, 1 channel in, 2 out, 2x2 kernel, stride 1, valid.
	x := []float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}
	// w [kh, kw, in, out]: out0 sums the window, out1 takes top-left minus bottom-right.
	w := []float32{
		1, 1, // ky0 kx0
		1, 0, // ky0 kx1
		1, 0, // ky1 kx0
		1, -1, // ky1 kx1
	}
	y := make([]float32, 2*2*2)
	Conv2DRef(y, Shape{2, 2, 2}, x, Shape{3, 3, 1}, w, []float32{0, 0.5}, 2, 2, 1, 1, Pad{}, ActLinear, make([]float64, 2))
	assert.Equal(t, []float32{12, -3.5, 16, -3.5, 24, -3.5, 28, -3.5}, y)

	// SAME padding, stride 2: 3x3 -> 2x2 with pad bottom/right 1 (TF rule).
	top, bottom := samePad(3, 2, 2)
	assert.Equal(t, [2]int{0, 1}, [2]int{top, bottom})
	y = make([]float32, 2*2*2)
	Conv2DRef(y, Shape{2, 2, 2}, x, Shape{3, 3, 1}, w, nil, 2, 2, 2, 2, Pad{0, 1, 0, 1}, ActReLU, make([]float64, 2))
	// (0,0): window 1 2 4 5 -> 12, 1-5=-4 -> relu 0; (0,1): 3,0,6,0 -> 9, 3 ; (1,0): 7 8 0 0 -> 15, 7; (1,1): 9 -> 9, 9
	assert.Equal(t, []float32{12, 0, 9, 3, 15, 7, 9, 9}, y)
}

func TestConv2DRefOneBySeven(t *testing.T) {
	// 1x7 kernel over a 1x7 row with SAME padding: centre output sees all taps.
	x := []float32{1, 2, 3, 4, 5, 6, 7}
	w := []float32{1, 1, 1, 1, 1, 1, 1}
	l, r := samePad(7, 7, 1)
	y := make([]float32, 7)
	Conv2DRef(y, Shape{1, 7, 1}, x, Shape{1, 7, 1}, w, nil, 1, 7, 1, 1, Pad{0, 0, l, r}, ActLinear, make([]float64, 1))
	assert.Equal(t, []float32{10, 15, 21, 28, 27, 25, 22}, y)
}

func TestDepthwiseConv2DRef(t *testing.T) {
	// 2x2 input, 2 channels; 2x2 kernel per channel.
	x := []float32{1, 10, 2, 20, 3, 30, 4, 40}
	w := []float32{1, 0, 1, 0, 1, 0, 1, 1} // channel 0 sums, channel 1 picks bottom-right
	y := make([]float32, 2)
	DepthwiseConv2DRef(y, Shape{1, 1, 2}, x, Shape{2, 2, 2}, w, []float32{0, 1}, 2, 2, 1, 1, Pad{}, ActReLU6, make([]float64, 2))
	assert.Equal(t, []float32{6, 6}, y) // 10 clipped to 6; 40+1 clipped to 6
}

func TestBatchNormRef(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	y := make([]float32, 4)
	BatchNormRef(y, x, 2, []float32{1, 2}, []float32{4 - 1e-3, 1 - 1e-3}, []float32{2, 1}, []float32{0.5, -1}, 1e-3)
	// c0: (1-1)*2/2+0.5 = 0.5, (3-1)*2/2+0.5 = 2.5; c1: (2-2)/1-1 = -1, (4-2)/1-1 = 1
	assert.InDeltaSlice(t, []float32{0.5, -1, 2.5, 1}, y, 1e-6)
	BatchNormRef(y, x, 2, []float32{0, 0}, []float32{1, 1}, nil, []float32{0, 0}, 0) // no gamma = 1
	assert.Equal(t, x, y)
}

func TestPoolRef(t *testing.T) {
	x := []float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}
	y := make([]float32, 4)
	PoolRef(y, Shape{2, 2, 1}, x, Shape{3, 3, 1}, 2, 2, 1, 1, Pad{}, true)
	assert.Equal(t, []float32{5, 6, 8, 9}, y)
	// 3x3 SAME average: corners average 4 valid cells, edges 6, centre 9.
	y = make([]float32, 9)
	PoolRef(y, Shape{3, 3, 1}, x, Shape{3, 3, 1}, 3, 3, 1, 1, Pad{1, 1, 1, 1}, false)
	assert.InDeltaSlice(t, []float32{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}, y, 1e-6)
}

func TestDenseAndSoftmax(t *testing.T) {
	y := make([]float32, 2)
	DenseRef(y, []float32{1, 2, 3}, []float32{1, 0, 0, 1, 1, 1}, []float32{0, -10}, ActReLU, make([]float64, 2))
	assert.Equal(t, []float32{4, 0}, y) // [1+3, 2+3-10 -> 0]
	DenseRef(y, []float32{1, 2, 3}, []float32{1, 0, 0, 1, 1, 1}, nil, ActSoftmax, make([]float64, 2))
	e := math.Exp(-1)
	assert.InDeltaSlice(t, []float32{float32(e / (1 + e)), float32(1 / (1 + e))}, y, 1e-7)
}

func TestConcatZeroPadAddAffine(t *testing.T) {
	y := make([]float32, 6)
	ConcatRef(y, 2, [][]float32{{1, 2}, {3, 4, 5, 6}}, []int{1, 2})
	assert.Equal(t, []float32{1, 3, 4, 2, 5, 6}, y)

	p := make([]float32, 3*3)
	ZeroPadRef(p, Shape{3, 3, 1}, []float32{1, 2, 3, 4}, Shape{2, 2, 1}, Pad{0, 1, 0, 1})
	assert.Equal(t, []float32{1, 2, 0, 3, 4, 0, 0, 0, 0}, p)

	a := make([]float32, 2)
	AddRef(a, []float32{1, 2}, []float32{3, 4})
	assert.Equal(t, []float32{4, 6}, a)
	AffineRef(a, []float32{0, 1}, 2, -1)
	assert.Equal(t, []float32{-1, 1}, a)
}

func TestPreprocess(t *testing.T) {
	// Same size: only /255.
	pix := []uint8{0, 51, 255}
	dst := make([]float32, 3)
	Preprocess(dst, pix, 1, 1, 1)
	assert.Equal(t, []float32{0, 0.2, 1}, dst)

	// 2x1 -> 3x3 with alignCorners: corners copy, middle column averages.
	pix = []uint8{0, 0, 0, 255, 255, 255}
	dst = make([]float32, 27)
	Preprocess(dst, pix, 2, 1, 3)
	for r := 0; r < 3; r++ {
		assert.Equal(t, []float32{0, 0, 0, 0.5, 0.5, 0.5, 1, 1, 1}, dst[r*9:(r+1)*9], "row %d", r)
	}
	require.Panics(t, func() { Preprocess(dst, pix, 3, 1, 3) })
}

func TestTopK(t *testing.T) {
	p := TopK([]float32{0.1, 0.5, 0.1, 0.3}, []string{"a", "b", "c", "d"}, 3)
	assert.Equal(t, []Prediction{{"b", 0.5}, {"d", 0.3}, {"a", 0.1}}, p)
}
