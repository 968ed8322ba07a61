// Package demoimages generates the deterministic synthetic images of veil's LoRA
// demonstration: families of textures that the stock nsfwjs MobileNetV2 gets wrong,
// and control families it already classifies in a stable way.
//
// Every image is 8-bit RGB, row-major, interleaved (Pix[(y*W+x)*3+c]). An image depends
// only on its family, seed and size: lattice values come from an integer hash, and the
// per-image parameters from a PCG stream seeded by the seed.
package demoimages

import (
	"math"
	"math/rand/v2"

	"github.com/veil-ml/veil/internal/testimages"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

// Image is an 8-bit RGB image, as decode returns them.
type Image = decode.RGB

// Family is a kind of generated image.
type Family struct {
	Name     string
	Generate func(seed uint64, size int) *Image
}

// Fractal is low-contrast multi-octave value noise with a coarse lattice (64 to 128
// pixels), grey or softly tinted: a cloudy abstract texture. The stock MobileNetV2
// calls nearly all of them Porn (0.6 to 0.9); they are Neutral.
var Fractal = Family{"fractal", fractalImage}

// Problems lists families the stock MobileNetV2 often gets wrong: Fractal, wood
// grain and pink/peach noise (each called Porn about a third to a half of the time).
var Problems = []Family{Fractal, {"wood", woodImage}, {"peach", peachImage}}

// Controls are families unrelated to Fractal that the stock model answers in a
// stable way (mostly Neutral or Drawing): landscapes, flat shapes, stripes,
// checkers, gradients, block noise, a cartoon face, text-like marks and smooth
// skin-toned gradients.
var Controls = []Family{
	{"landscape", landscapeImage},
	{"shapes", shapesImage},
	{"stripes", stripesImage},
	{"checker", checkerImage},
	{"gradient", gradientImage},
	{"blocks", blocksImage},
	{"cartoon", cartoonImage},
	{"marks", marksImage},
	{"skin", skinImage},
}

// Generate returns n images of family f with seeds first, first+1, ….
func Generate(f Family, first uint64, n, size int) []*Image {
	out := make([]*Image, n)
	for i := range out {
		out[i] = f.Generate(first+uint64(i), size)
	}
	return out
}

func newImage(size int, px func(x, y int) (r, g, b float64)) *Image {
	im := &Image{W: size, H: size, Pix: make([]uint8, size*size*3)}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			r, g, b := px(x, y)
			o := (y*size + x) * 3
			im.Pix[o], im.Pix[o+1], im.Pix[o+2] = to8(r), to8(g), to8(b)
		}
	}
	return im
}

// to8 maps [0, 1] to [0, 255], saturating.
func to8(v float64) uint8 {
	v = math.Round(v * 255)
	if v < 0 || v != v {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func rng(seed uint64, salt uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, salt)) }

// lattice is a hashed value in [0, 1) at integer point (x, y).
func lattice(seed uint64, x, y int) float64 {
	return float64(testimages.Hash2(seed, x, y)>>11) / (1 << 53)
}

// noise is smooth value noise in [0, 1) with lattice spacing cell pixels.
func noise(seed uint64, x, y, cell float64) float64 {
	fx, fy := x/cell, y/cell
	ix, iy := math.Floor(fx), math.Floor(fy)
	tx, ty := fx-ix, fy-iy
	sx, sy := tx*tx*(3-2*tx), ty*ty*(3-2*ty)
	i, j := int(ix), int(iy)
	a := lattice(seed, i, j) + (lattice(seed, i+1, j)-lattice(seed, i, j))*sx
	b := lattice(seed, i, j+1) + (lattice(seed, i+1, j+1)-lattice(seed, i, j+1))*sx
	return a + (b-a)*sy
}

// fbm sums octaves of noise from cell down to 2 pixels with the given gain, in [0, 1).
func fbm(seed uint64, x, y, cell, gain float64) float64 {
	sum, norm, w := 0.0, 0.0, 1.0
	for c := cell; c >= 2; c /= 2 {
		sum += w * noise(seed+uint64(c*7), x, y, c)
		norm += w
		w *= gain
	}
	return sum / norm
}

func lerp(a, b, t float64) float64 { return a + (b-a)*t }

func fractalImage(seed uint64, size int) *Image {
	r := rng(seed, 1)
	cell := []float64{64, 96, 128}[r.IntN(3)]
	contrast := 0.8 + 0.4*r.Float64()
	tint := r.IntN(2) == 0
	return newImage(size, func(x, y int) (float64, float64, float64) {
		l := (fbm(seed, float64(x), float64(y), cell, 0.5)-0.5)*contrast + 0.5
		if !tint {
			return l, l, l
		}
		cr := noise(seed+11, float64(x), float64(y), 2*cell) - 0.5
		cb := noise(seed+12, float64(x), float64(y), 2*cell) - 0.5
		return l + cr/2, l, l + cb/2
	})
}

// skinImage is a smooth skin-toned gradient with soft shading.
func skinImage(seed uint64, size int) *Image {
	r := rng(seed, 2)
	base := [3]float64{0.75 + 0.2*r.Float64(), 0.55 + 0.15*r.Float64(), 0.45 + 0.15*r.Float64()}
	dark := 0.5 + 0.3*r.Float64()
	ang := r.Float64() * 2 * math.Pi
	cell := 64 + 64*r.Float64()
	return newImage(size, func(x, y int) (float64, float64, float64) {
		u := (float64(x)*math.Cos(ang) + float64(y)*math.Sin(ang)) / float64(size)
		s := lerp(1, dark, 0.5+0.5*math.Sin(u*3)) * (0.85 + 0.3*fbm(seed, float64(x), float64(y), cell, 0.4))
		return base[0] * s, base[1] * s, base[2] * s
	})
}

// woodImage is wood grain: noisy stretched rings.
func woodImage(seed uint64, size int) *Image {
	r := rng(seed, 3)
	cx, cy := r.Float64()*float64(size), -float64(size)*(0.3+r.Float64())
	freq := 0.08 + 0.1*r.Float64()
	light := [3]float64{0.72 + 0.15*r.Float64(), 0.5 + 0.12*r.Float64(), 0.3 + 0.1*r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		dx, dy := float64(x)-cx, (float64(y)-cy)*3
		d := math.Hypot(dx, dy) + 20*fbm(seed, float64(x), float64(y), 32, 0.5)
		t := 0.5 + 0.5*math.Sin(d*freq)
		t = math.Pow(t, 3)
		g := 0.05 * lattice(seed+5, x/2, y)
		s := lerp(1, 0.6, t)
		return light[0]*s + g, light[1]*s + g/2, light[2]*s + g/4
	})
}

// peachImage is a pink/peach fractal texture.
func peachImage(seed uint64, size int) *Image {
	r := rng(seed, 4)
	cell := []float64{16, 32, 64}[r.IntN(3)]
	base := [3]float64{0.85 + 0.1*r.Float64(), 0.55 + 0.15*r.Float64(), 0.5 + 0.15*r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		s := 0.6 + 0.6*fbm(seed, float64(x), float64(y), cell, 0.55)
		return base[0] * s, base[1] * s, base[2] * s
	})
}

func landscapeImage(seed uint64, size int) *Image {
	r := rng(seed, 20)
	hz := float64(size) * (0.25 + 0.3*r.Float64())
	sky := [3]float64{0.3 + 0.2*r.Float64(), 0.5 + 0.2*r.Float64(), 0.85 + 0.1*r.Float64()}
	ground := [3]float64{0.15 + 0.2*r.Float64(), 0.3 + 0.2*r.Float64(), 0.1 + 0.1*r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		h := hz + (fbm(seed, float64(x), 0, 128, 0.5)-0.5)*float64(size)*0.3
		if float64(y) < h {
			t := float64(y) / h
			c := math.Max(fbm(seed+1, float64(x), float64(y), 64, 0.5)-0.55, 0) * 2
			return lerp(sky[0], 0.9, t*0.5) + c, lerp(sky[1], 0.9, t*0.5) + c, sky[2] + c
		}
		g := fbm(seed+2, float64(x), float64(y), 32, 0.5)
		return ground[0] + g*0.3, ground[1] + g*0.4, ground[2] + g*0.2
	})
}

func shapesImage(seed uint64, size int) *Image {
	r := rng(seed, 21)
	type shape struct {
		disc    bool
		x, y, s float64
		c       [3]float64
	}
	shapes := make([]shape, 4+r.IntN(8))
	for i := range shapes {
		shapes[i] = shape{r.IntN(2) == 0, r.Float64() * float64(size), r.Float64() * float64(size),
			float64(size) * (0.05 + 0.25*r.Float64()), [3]float64{r.Float64(), r.Float64(), r.Float64()}}
	}
	bg := 0.85 + 0.15*r.Float64()
	return newImage(size, func(x, y int) (float64, float64, float64) {
		c := [3]float64{bg, bg, bg * 0.95}
		for _, s := range shapes {
			dx, dy := float64(x)-s.x, float64(y)-s.y
			if (s.disc && dx*dx+dy*dy < s.s*s.s) || (!s.disc && math.Abs(dx) < s.s && math.Abs(dy) < s.s) {
				c = s.c
			}
		}
		return c[0], c[1], c[2]
	})
}

func stripesImage(seed uint64, size int) *Image {
	r := rng(seed, 22)
	ang := r.Float64() * math.Pi
	width := 4 + 20*r.Float64()
	a := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	b := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		u := float64(x)*math.Cos(ang) + float64(y)*math.Sin(ang)
		if int(math.Floor(u/width))%2 == 0 {
			return a[0], a[1], a[2]
		}
		return b[0], b[1], b[2]
	})
}

func checkerImage(seed uint64, size int) *Image {
	r := rng(seed, 23)
	cell := 8 + r.IntN(40)
	a := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	b := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		if (x/cell+y/cell)%2 == 0 {
			return a[0], a[1], a[2]
		}
		return b[0], b[1], b[2]
	})
}

func gradientImage(seed uint64, size int) *Image {
	r := rng(seed, 24)
	ang := r.Float64() * 2 * math.Pi
	a := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	b := [3]float64{r.Float64(), r.Float64(), r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		u := 0.5 + ((float64(x)/float64(size)-0.5)*math.Cos(ang) + (float64(y)/float64(size)-0.5)*math.Sin(ang))
		return lerp(a[0], b[0], u), lerp(a[1], b[1], u), lerp(a[2], b[2], u)
	})
}

func blocksImage(seed uint64, size int) *Image {
	r := rng(seed, 25)
	cell := 6 + r.IntN(24)
	return newImage(size, func(x, y int) (float64, float64, float64) {
		return lattice(seed, x/cell, y/cell), lattice(seed+1, x/cell, y/cell), lattice(seed+2, x/cell, y/cell)
	})
}

func cartoonImage(seed uint64, size int) *Image {
	r := rng(seed, 26)
	s := float64(size)
	cx, cy := s*(0.4+0.2*r.Float64()), s*(0.4+0.2*r.Float64())
	rad := s * (0.25 + 0.12*r.Float64())
	face := [3]float64{0.9 + 0.1*r.Float64(), 0.75 + 0.2*r.Float64(), 0.1 + 0.3*r.Float64()}
	bg := [3]float64{0.3 + 0.6*r.Float64(), 0.3 + 0.6*r.Float64(), 0.3 + 0.6*r.Float64()}
	return newImage(size, func(x, y int) (float64, float64, float64) {
		dx, dy := float64(x)-cx, float64(y)-cy
		d := math.Hypot(dx, dy)
		line := rad * 0.06
		switch {
		case math.Abs(d-rad) < line:
			return 0, 0, 0
		case d < rad:
			for _, ex := range []float64{-0.35, 0.35} {
				if math.Hypot(dx-ex*rad, dy+0.25*rad) < rad*0.12 {
					return 0, 0, 0
				}
			}
			if dy > 0.2*rad && math.Abs(math.Hypot(dx, dy-0.05*rad)-0.55*rad) < line {
				return 0, 0, 0
			}
			return face[0], face[1], face[2]
		}
		return bg[0], bg[1], bg[2]
	})
}

// marksImage is dark glyph-like strokes on paper, like a page of text.
func marksImage(seed uint64, size int) *Image {
	r := rng(seed, 27)
	line := 10 + r.IntN(14)
	glyph := 5 + r.IntN(6)
	ink := 0.05 + 0.3*r.Float64()
	return newImage(size, func(x, y int) (float64, float64, float64) {
		row, in := y/line, y%line
		if in < line/4 || in > line*3/4 || x < size/12 || x > size*11/12 {
			return 0.97, 0.96, 0.92
		}
		g := x / glyph
		if lattice(seed, g, row) < 0.15 { // space between words
			return 0.97, 0.96, 0.92
		}
		if lattice(seed+1, x, y) < 0.45 {
			return ink, ink, ink
		}
		return 0.97, 0.96, 0.92
	})
}
