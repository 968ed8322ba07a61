// Package calibset generates veil's built-in calibration images: a fixed,
// deterministic set of synthetic pictures (gradients, value-noise "photos",
// skin-toned shapes, stripes, flat colours, line drawings, landscapes)
// whose activations span the ranges real images reach, so int8 ranges can
// be calibrated without shipping or downloading photos.
//
// The images are not the conformance images of internal/testimages (which
// the fidelity of the int8 models is measured on); calibrating on the test
// set would overstate fidelity. Generators use integer arithmetic only, so
// every image is bit-identical on every platform.
//
// Pixels are 8-bit RGB, row-major, interleaved: Pix[(y*W+x)*3+c].
package calibset

import "fmt"

// Image is one calibration image.
type Image struct {
	Name string
	W, H int
	Pix  []uint8 // len W*H*3
}

// DefaultCount is the number of images Images returns with n <= 0.
const DefaultCount = 32

// Images returns the first n calibration images (DefaultCount if n <= 0).
// The sequence is fixed: image i is the same for every n > i.
func Images(n int) []*Image {
	if n <= 0 {
		n = DefaultCount
	}
	out := make([]*Image, n)
	for i := range out {
		out[i] = generate(i)
	}
	return out
}

type painter func(x, y int) (r, g, b int)

var kinds = []struct {
	name string
	make func(seed uint64, w, h int) painter
}{
	{"skin", skin},
	{"photo", photo},
	{"gradient", gradient},
	{"drawing", drawing},
	{"landscape", landscape},
	{"portrait", portrait},
	{"stripes", stripes},
	{"flat", flat},
}

// sizes cycles through shapes, including non-square ones (which exercise
// the resize in preprocessing).
var sizes = [][2]int{{256, 256}, {320, 240}, {224, 300}, {299, 299}, {400, 280}, {180, 240}}

func generate(i int) *Image {
	k := kinds[i%len(kinds)]
	wh := sizes[(i/len(kinds)+i)%len(sizes)]
	w, h := wh[0], wh[1]
	seed := uint64(0x5eed0000) + uint64(i)*0x9e3779b97f4a7c15
	p := k.make(seed, w, h)
	img := &Image{Name: fmt.Sprintf("calib_%02d_%s_%dx%d", i, k.name, w, h), W: w, H: h, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b := p(x, y)
			o := (y*w + x) * 3
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = clamp(r), clamp(g), clamp(b)
		}
	}
	return img
}

func clamp(v int) uint8 { return uint8(min(max(v, 0), 255)) }

// hash is splitmix64 of seed and two coordinates.
func hash(seed uint64, x, y int) uint64 {
	z := seed + uint64(x)*0x9e3779b97f4a7c15 + uint64(y)*0xc2b2ae3d27d4eb4f
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rnd returns a value in [0, n) from the seed and an index.
func rnd(seed uint64, i, n int) int { return int(hash(seed, i, -1) % uint64(n)) }

// noise is smooth value noise in [0, 256) with the given cell size (pixels),
// interpolated with a smoothstep in 1/256 fixed point.
func noise(seed uint64, x, y, cell int) int {
	cx, cy := x/cell, y/cell
	fx, fy := (x%cell)*256/cell, (y%cell)*256/cell
	fx = fx * fx * (768 - 2*fx) >> 16 // smoothstep, 0..256
	fy = fy * fy * (768 - 2*fy) >> 16
	v := func(i, j int) int { return int(hash(seed, i, j) & 255) }
	top := v(cx, cy)*(256-fx) + v(cx+1, cy)*fx
	bot := v(cx, cy+1)*(256-fx) + v(cx+1, cy+1)*fx
	return (top*(256-fy) + bot*fy) >> 16
}

// fractal sums four octaves of noise, in [0, 256).
func fractal(seed uint64, x, y, cell int) int {
	s, wsum := 0, 0
	for o, wt := 0, 8; o < 4 && cell >= 1; o, wt, cell = o+1, wt/2, cell/2 {
		s += noise(seed+uint64(o), x, y, cell) * wt
		wsum += wt
	}
	return s / wsum
}

// skinTones are RGB skin colours from light to dark.
var skinTones = [][3]int{{255, 224, 196}, {241, 194, 160}, {224, 172, 130}, {198, 134, 99}, {161, 102, 70}, {114, 70, 45}, {232, 190, 172}}

// ellipse returns 256 inside, fading to 0 over `soft` pixels outside.
func ellipse(x, y, cx, cy, rx, ry, soft int) int {
	dx, dy := (x-cx)*256/max(rx, 1), (y-cy)*256/max(ry, 1)
	d2 := dx*dx + dy*dy // 65536 on the edge
	if d2 <= 65536 {
		return 256
	}
	d := isqrt(d2) - 256 // distance outside in 1/256 of the radius
	f := 256 - d*min(rx, ry)/max(soft, 1)
	return min(max(f, 0), 256)
}

func isqrt(n int) int {
	if n <= 0 {
		return 0
	}
	x := n
	y := (x + 1) / 2
	for y < x {
		x, y = y, (y+n/y)/2
	}
	return x
}

func mix(a, b, t int) int { return (a*(256-t) + b*t) >> 8 }

// skin draws shaded skin-toned ellipses over a textured background.
func skin(seed uint64, w, h int) painter {
	n := 2 + rnd(seed, 0, 4)
	type blob struct {
		cx, cy, rx, ry int
		tone           [3]int
	}
	blobs := make([]blob, n)
	for i := range blobs {
		blobs[i] = blob{rnd(seed, 10+i, w), rnd(seed, 20+i, h), w/6 + rnd(seed, 30+i, w/3), h/6 + rnd(seed, 40+i, h/3), skinTones[rnd(seed, 50+i, len(skinTones))]}
	}
	bg := [3]int{rnd(seed, 1, 256), rnd(seed, 2, 256), rnd(seed, 3, 256)}
	return func(x, y int) (int, int, int) {
		t := fractal(seed, x, y, 32)
		c := [3]int{bg[0]*3/4 + t/4, bg[1]*3/4 + t/4, bg[2]*3/4 + t/4}
		for _, b := range blobs {
			a := ellipse(x, y, b.cx, b.cy, b.rx, b.ry, 12)
			if a == 0 {
				continue
			}
			shade := 200 + ((x-b.cx)*-40/max(b.rx, 1) + (y-b.cy)*-30/max(b.ry, 1)) + fractal(seed+7, x, y, 8)/8
			for k := range c {
				c[k] = mix(c[k], b.tone[k]*shade/232, a)
			}
		}
		return c[0], c[1], c[2]
	}
}

// photo is colour value noise with a random tint, like an out-of-focus photo.
func photo(seed uint64, w, h int) painter {
	cell := 16 << rnd(seed, 0, 3)
	tint := [3]int{160 + rnd(seed, 1, 96), 160 + rnd(seed, 2, 96), 160 + rnd(seed, 3, 96)}
	return func(x, y int) (int, int, int) {
		return fractal(seed, x, y, cell) * tint[0] / 200, fractal(seed+100, x, y, cell) * tint[1] / 200, fractal(seed+200, x, y, cell) * tint[2] / 200
	}
}

// gradient is a linear blend of two colours along a random direction, with film grain.
func gradient(seed uint64, w, h int) painter {
	a := [3]int{rnd(seed, 1, 256), rnd(seed, 2, 256), rnd(seed, 3, 256)}
	b := [3]int{rnd(seed, 4, 256), rnd(seed, 5, 256), rnd(seed, 6, 256)}
	dx, dy := rnd(seed, 7, 9)-4, rnd(seed, 8, 9)-4
	if dx == 0 && dy == 0 {
		dx = 1
	}
	span := max(abs(dx)*w+abs(dy)*h, 1)
	return func(x, y int) (int, int, int) {
		p := dx*x + dy*y
		if dx < 0 {
			p -= dx * w
		}
		if dy < 0 {
			p -= dy * h
		}
		t := p * 256 / span
		g := int(hash(seed, x, y)%9) - 4
		return mix(a[0], b[0], t) + g, mix(a[1], b[1], t) + g, mix(a[2], b[2], t) + g
	}
}

func abs(v int) int { return max(v, -v) }

// drawing is flat-shaded shapes with dark outlines on paper, like a cartoon.
func drawing(seed uint64, w, h int) painter {
	n := 3 + rnd(seed, 0, 5)
	type shape struct {
		cx, cy, rx, ry int
		c              [3]int
	}
	shapes := make([]shape, n)
	for i := range shapes {
		c := [3]int{rnd(seed, 60+i, 256), rnd(seed, 70+i, 256), rnd(seed, 80+i, 256)}
		if i%2 == 0 {
			c = skinTones[rnd(seed, 90+i, len(skinTones))]
		}
		shapes[i] = shape{rnd(seed, 10+i, w), rnd(seed, 20+i, h), 10 + rnd(seed, 30+i, w/3), 10 + rnd(seed, 40+i, h/3), c}
	}
	return func(x, y int) (int, int, int) {
		c := [3]int{250, 248, 240}
		for _, s := range shapes {
			dx, dy := (x-s.cx)*256/s.rx, (y-s.cy)*256/s.ry
			d2 := dx*dx + dy*dy
			switch {
			case d2 <= 60000:
				c = s.c
			case d2 <= 72000:
				c = [3]int{20, 20, 25}
			}
		}
		return c[0], c[1], c[2]
	}
}

// landscape is a sky gradient over noisy ground with a wavy horizon.
func landscape(seed uint64, w, h int) painter {
	horizon := h/3 + rnd(seed, 0, h/3)
	ground := [3]int{60 + rnd(seed, 1, 80), 80 + rnd(seed, 2, 100), 30 + rnd(seed, 3, 60)}
	return func(x, y int) (int, int, int) {
		hy := horizon + (noise(seed, x, 0, 64)-128)*h/1024
		if y < hy {
			t := y * 256 / max(hy, 1)
			return mix(70, 200, t), mix(120, 220, t), mix(230, 250, t)
		}
		n := fractal(seed+1, x, y, 32)
		return ground[0] * (128 + n) / 256, ground[1] * (128 + n) / 256, ground[2] * (128 + n) / 256
	}
}

// portrait is a face-like skin ellipse with dark hair on a blurred background.
func portrait(seed uint64, w, h int) painter {
	tone := skinTones[rnd(seed, 0, len(skinTones))]
	hair := [3]int{20 + rnd(seed, 1, 80), 15 + rnd(seed, 2, 50), 10 + rnd(seed, 3, 40)}
	cx, cy, rx, ry := w/2+rnd(seed, 4, w/8)-w/16, h/2, w/5, h/4
	return func(x, y int) (int, int, int) {
		b := fractal(seed, x, y, 48)
		c := [3]int{b * 3 / 4, b * 2 / 3, b / 2}
		if a := ellipse(x, y, cx, cy-ry/3, rx*6/5, ry, 10); a > 0 {
			c = [3]int{mix(c[0], hair[0], a), mix(c[1], hair[1], a), mix(c[2], hair[2], a)}
		}
		if a := ellipse(x, y, cx, cy, rx, ry, 6); a > 0 {
			sh := 220 + (cx-x)*30/max(rx, 1)
			c = [3]int{mix(c[0], tone[0]*sh/220, a), mix(c[1], tone[1]*sh/220, a), mix(c[2], tone[2]*sh/220, a)}
		}
		if a := ellipse(x, y*1, cx, cy+ry*2, rx*2, ry, 8); a > 0 { // shoulders
			c = [3]int{mix(c[0], tone[0]*9/10, a), mix(c[1], tone[1]*9/10, a), mix(c[2], tone[2]*9/10, a)}
		}
		return c[0], c[1], c[2]
	}
}

// stripes are coloured bands or checks of random width and orientation.
func stripes(seed uint64, w, h int) painter {
	width := 2 + rnd(seed, 0, 30)
	a := [3]int{rnd(seed, 1, 256), rnd(seed, 2, 256), rnd(seed, 3, 256)}
	b := [3]int{rnd(seed, 4, 256), rnd(seed, 5, 256), rnd(seed, 6, 256)}
	mode := rnd(seed, 7, 3)
	return func(x, y int) (int, int, int) {
		var on bool
		switch mode {
		case 0:
			on = (x/width)%2 == 0
		case 1:
			on = ((x+y)/width)%2 == 0
		default:
			on = (x/width+y/width)%2 == 0
		}
		if on {
			return a[0], a[1], a[2]
		}
		return b[0], b[1], b[2]
	}
}

// flat is a single colour with faint noise.
func flat(seed uint64, w, h int) painter {
	c := [3]int{rnd(seed, 1, 256), rnd(seed, 2, 256), rnd(seed, 3, 256)}
	return func(x, y int) (int, int, int) {
		g := int(hash(seed, x, y)%5) - 2
		return c[0] + g, c[1] + g, c[2] + g
	}
}
