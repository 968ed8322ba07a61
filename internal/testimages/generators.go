package testimages

// Pattern generators. Integer arithmetic only: see the package comment.

// clamp8 saturates v to [0, 255].
func clamp8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// mix64 is the SplitMix64 finaliser: a fixed bijective integer hash.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// Hash2 hashes a seed and a lattice point to 64 well-mixed bits: the
// platform-independent noise source of every generated image in veil.
func Hash2(seed uint64, x, y int) uint64 { return hash2(seed, x, y) }

func hash2(seed uint64, x, y int) uint64 {
	k := (uint64(uint32(x)) << 32) | uint64(uint32(y))
	return mix64(mix64(seed*0x9e3779b97f4a7c15) ^ k)
}

// isqrt returns floor(sqrt(n)) for n >= 0, by the bitwise method.
func isqrt(n int) int {
	if n < 2 {
		return n
	}
	m, r, bit := int64(n), int64(0), int64(1)<<62
	for bit > m {
		bit >>= 2
	}
	for bit != 0 {
		if m >= r+bit {
			m -= r + bit
			r = r>>1 + bit
		} else {
			r >>= 1
		}
		bit >>= 2
	}
	return int(r)
}

// fadeOne is the fixed-point 1.0 of fade.
const fadeOne = 4096

// fade maps f in [0, cell) to the smoothstep 3t²-2t³ of t = f/cell, scaled
// to [0, fadeOne]. int64 keeps 32-bit platforms exact too.
func fade(f, cell int) int64 {
	f64, c64 := int64(f), int64(cell)
	return f64 * f64 * (3*c64 - 2*f64) * fadeOne / (c64 * c64 * c64)
}

// valueNoise is smooth value noise in [0, 255]: hashed lattice values every
// cell pixels, smoothstep-interpolated between them. x, y >= 0.
func valueNoise(seed uint64, x, y, cell int) int {
	ix, fx := x/cell, x%cell
	iy, fy := y/cell, y%cell
	v00 := int64(hash2(seed, ix, iy) & 255)
	v10 := int64(hash2(seed, ix+1, iy) & 255)
	v01 := int64(hash2(seed, ix, iy+1) & 255)
	v11 := int64(hash2(seed, ix+1, iy+1) & 255)
	sx, sy := fade(fx, cell), fade(fy, cell)
	top := v00*(fadeOne-sx) + v10*sx
	bottom := v01*(fadeOne-sx) + v11*sx
	return int((top*(fadeOne-sy) + bottom*sy) / (fadeOne * fadeOne))
}

// fractal sums value-noise octaves from cell down to 2 pixels, each octave
// half the cell and half the weight of the previous one. Result in [0, 255].
func fractal(seed uint64, x, y, cell int) int {
	sum, weights, w := 0, 0, 256
	for c := cell; c >= 2 && w > 0; c /= 2 {
		sum += valueNoise(seed+uint64(c), x, y, c) * w
		weights += w
		w /= 2
	}
	return sum / weights
}

// lerp8 blends a to b by t/256, t in [0, 256].
func lerp8(a, b uint8, t int) uint8 {
	return uint8((int(a)*(256-t) + int(b)*t) / 256)
}

func flat(r, g, b uint8) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) { return r, g, b }
}

// refA is REFERENCE.md input A for model size s.
func refA(s int) rgbFunc {
	d := s - 1
	return func(x, y int) (uint8, uint8, uint8) {
		return clamp8(255 * x / d), clamp8(255 * y / d), clamp8(255 * (x + y) / (2 * d))
	}
}

// refB is REFERENCE.md input B: (5x + 3y + 80c + floor(xy/16)) mod 256.
func refB(x, y int) (uint8, uint8, uint8) {
	v := 5*x + 3*y + x*y/16
	return uint8(v), uint8(v + 80), uint8(v + 160)
}

func gradHorizontalGrey(w int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		v := uint8(255 * x / (w - 1))
		return v, v, v
	}
}

func gradVerticalColour(h int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		t := 256 * y / (h - 1)
		return lerp8(30, 250, t), lerp8(90, 160, t), lerp8(220, 40, t)
	}
}

func gradDiagonalRGB(w, h int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		u := 255 * x / max(w-1, 1)
		v := 255 * y / max(h-1, 1)
		return uint8(u), uint8(v), uint8(255 - (u+v)/2)
	}
}

func gradRadial(w, h int) rgbFunc {
	cx, cy := w/2, h/2
	maxD := isqrt(cx*cx + cy*cy)
	return func(x, y int) (uint8, uint8, uint8) {
		dx, dy := x-cx, y-cy
		t := 256 * isqrt(dx*dx+dy*dy) / maxD
		return lerp8(255, 20, t), lerp8(240, 40, t), lerp8(200, 90, t)
	}
}

func checker(cell int, a, b [3]uint8) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		if (x/cell+y/cell)%2 == 0 {
			return a[0], a[1], a[2]
		}
		return b[0], b[1], b[2]
	}
}

// stripes draws black/white stripes of the given width along the direction
// with integer normal (nx, ny).
func stripes(nx, ny, width int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		if ((nx*x+ny*y)/width)%2 == 0 {
			return 16, 16, 16
		}
		return 240, 240, 240
	}
}

// stripesRGB cycles red, green and blue vertical stripes of the given width.
func stripesRGB(width int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		switch (x / width) % 3 {
		case 0:
			return 230, 20, 20
		case 1:
			return 20, 200, 40
		default:
			return 30, 40, 220
		}
	}
}

func whiteNoise(seed uint64) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		h := hash2(seed, x, y)
		return uint8(h), uint8(h >> 8), uint8(h >> 16)
	}
}

// blockNoise is white noise constant over cell×cell blocks (JPEG-like blocks).
func blockNoise(seed uint64, cell int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		h := hash2(seed, x/cell, y/cell)
		return uint8(h), uint8(h >> 8), uint8(h >> 16)
	}
}

func valueNoiseColour(seed uint64, cell int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		return uint8(valueNoise(seed, x, y, cell)),
			uint8(valueNoise(seed+1, x, y, cell)),
			uint8(valueNoise(seed+2, x, y, cell))
	}
}

func fractalGrey(seed uint64, cell int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		v := uint8(fractal(seed, x, y, cell))
		return v, v, v
	}
}

// fractalColour tints a fractal luminance with a slow colour field.
func fractalColour(seed uint64, cell int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		l := fractal(seed, x, y, cell)
		tr := valueNoise(seed+11, x, y, 2*cell)
		tb := valueNoise(seed+12, x, y, 2*cell)
		return clamp8(l + (tr-128)/2), clamp8(l), clamp8(l + (tb-128)/2)
	}
}

// fractalLandscape is sky above a fractal horizon with textured ground.
func fractalLandscape(seed uint64, h int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		horizon := h/3 + (fractal(seed, x, 0, 256)-128)*h/400
		if y < horizon {
			t := 256 * y / max(horizon, 1)
			c := fractal(seed+1, x, y, 64)
			cloud := max(c-150, 0) * 2
			return clamp8(int(lerp8(70, 170, t)) + cloud), clamp8(int(lerp8(120, 200, t)) + cloud), clamp8(int(lerp8(210, 240, t)) + cloud)
		}
		g := fractal(seed+2, x, y, 32)
		return clamp8(40 + g/3), clamp8(70 + g/2), clamp8(20 + g/5)
	}
}

// blob is an ellipse with a smooth quadratic falloff.
type blob struct{ cx, cy, rx, ry int }

// weight returns 256 at the centre falling to 0 at the rim, squared for a
// softer edge.
func (b blob) weight(x, y int) int {
	dx, dy := int64(x-b.cx), int64(y-b.cy)
	rx2, ry2 := int64(b.rx*b.rx), int64(b.ry*b.ry)
	q := (dx*dx*ry2 + dy*dy*rx2) * 256 / (rx2 * ry2)
	if q >= 256 {
		return 0
	}
	w := int(256 - q)
	return w * w / 256
}

// randomBlobs places n blobs deterministically inside w×h.
func randomBlobs(seed uint64, w, h, n int) []blob {
	bs := make([]blob, n)
	for i := range bs {
		r := hash2(seed, i, 0)
		size := min(w, h)
		rx := size/6 + int(r%uint64(size/4+1))
		ry := size/6 + int((r>>16)%uint64(size/3+1))
		bs[i] = blob{
			cx: int((r >> 32) % uint64(w)),
			cy: int((r >> 48) % uint64(h)),
			rx: rx, ry: ry,
		}
	}
	if n == 1 {
		bs[0].cx, bs[0].cy = w/2, h/2
	}
	return bs
}

// skinBlobs draws skin-toned, softly shaded blobs over a muted background.
func skinBlobs(seed uint64, w, h, n int) rgbFunc {
	bs := randomBlobs(seed, w, h, n)
	return func(x, y int) (uint8, uint8, uint8) {
		wsum := 0
		for _, b := range bs {
			wsum += b.weight(x, y)
		}
		t := min(wsum*2, 256)
		shade := valueNoise(seed, x, y, 48) / 8
		br, bg, bb := clamp8(90+shade), clamp8(80+shade), clamp8(75+shade)
		sr, sg, sb := clamp8(200+shade), clamp8(150+shade), clamp8(125+shade)
		return lerp8(br, sr, t), lerp8(bg, sg, t), lerp8(bb, sb, t)
	}
}

// portraitLike is a skin-toned head and shoulders on a blurred background.
func portraitLike(seed uint64, w, h int) rgbFunc {
	head := blob{cx: w / 2, cy: h * 3 / 8, rx: w / 5, ry: h / 6}
	body := blob{cx: w / 2, cy: h, rx: w / 2, ry: h * 3 / 8}
	hair := blob{cx: w / 2, cy: h*3/8 - h/20, rx: w/5 + w/40, ry: h/6 + h/30}
	return func(x, y int) (uint8, uint8, uint8) {
		bgv := fractal(seed, x, y, 128)
		r, g, b := clamp8(60+bgv/2), clamp8(80+bgv/3), clamp8(70+bgv/4)
		if t := hair.weight(x, y); t > 0 {
			t = min(t*4, 256)
			r, g, b = lerp8(r, 50, t), lerp8(g, 30, t), lerp8(b, 20, t)
		}
		shade := valueNoise(seed+1, x, y, 24) / 10
		for _, bl := range []blob{head, body} {
			if t := bl.weight(x, y); t > 0 {
				t = min(t*3, 256)
				r, g, b = lerp8(r, clamp8(205+shade), t), lerp8(g, clamp8(155+shade), t), lerp8(b, clamp8(130+shade), t)
			}
		}
		return r, g, b
	}
}

// woodRings draws concentric rings perturbed by value noise, in wood tones.
func woodRings(seed uint64, w, h int) rgbFunc {
	cx, cy := w/3, -h/2
	return func(x, y int) (uint8, uint8, uint8) {
		dx, dy := x-cx, (y-cy)*3
		d := isqrt(dx*dx+dy*dy) + valueNoise(seed, x, y, 32)/6
		ring := d % 24 // 0..23 within one ring
		t := ring * 256 / 24
		if t > 128 {
			t = 256 - t
		}
		t *= 2
		grain := int(hash2(seed, x/2, y) & 15)
		return clamp8(int(lerp8(170, 110, t)) + grain), clamp8(int(lerp8(120, 70, t)) + grain/2), clamp8(int(lerp8(70, 35, t)) + grain/4)
	}
}

// cartoonFace is a flat-shaded smiley with thick black outlines.
func cartoonFace(s int) rgbFunc {
	c := s / 2
	rFace := s * 3 / 8
	rEye := s / 16
	eyeY, eyeDX := c-s/10, s/7
	rMouth := s / 5
	lw := max(s/80, 1) // line width
	ring := func(dx, dy, r int) (inside, outline bool) {
		d := isqrt(dx*dx + dy*dy)
		return d < r-lw, d >= r-lw && d <= r+lw
	}
	return func(x, y int) (uint8, uint8, uint8) {
		for _, ex := range []int{c - eyeDX, c + eyeDX} {
			if in, line := ring(x-ex, y-eyeY, rEye); in || line {
				return 0, 0, 0
			}
		}
		if _, line := ring(x-c, y-c, rMouth); line && y > c+s/20 {
			return 0, 0, 0
		}
		in, line := ring(x-c, y-c, rFace)
		switch {
		case line:
			return 0, 0, 0
		case in:
			return 255, 214, 40
		}
		return 135, 206, 250
	}
}

// flatShapes draws rectangles and discs in saturated flat colours.
func flatShapes(seed uint64, w, h int) rgbFunc {
	type shape struct {
		disc           bool
		x0, y0, x1, y1 int
		r, g, b        uint8
	}
	shapes := make([]shape, 9)
	for i := range shapes {
		v := hash2(seed, i, 1)
		x0, y0 := int(v%uint64(w)), int((v>>16)%uint64(h))
		sz := min(w, h)/10 + int((v>>32)%uint64(min(w, h)/3))
		shapes[i] = shape{disc: v>>60&1 == 1, x0: x0, y0: y0, x1: x0 + sz, y1: y0 + sz,
			r: uint8(v >> 40), g: uint8(v >> 48), b: uint8(v >> 56)}
	}
	return func(x, y int) (uint8, uint8, uint8) {
		r, g, b := uint8(245), uint8(245), uint8(235)
		for _, s := range shapes {
			var in bool
			if s.disc {
				rad := (s.x1 - s.x0) / 2
				dx, dy := x-(s.x0+rad), y-(s.y0+rad)
				in = dx*dx+dy*dy <= rad*rad
			} else {
				in = x >= s.x0 && x < s.x1 && y >= s.y0 && y < s.y1
			}
			if in {
				r, g, b = s.r, s.g, s.b
			}
		}
		return r, g, b
	}
}

// largeTexture is a cheap 12 MP texture: one value-noise octave over a
// gradient with a little per-pixel grain.
func largeTexture(seed uint64, w, h int) rgbFunc {
	return func(x, y int) (uint8, uint8, uint8) {
		n := valueNoise(seed, x, y, 256)
		g := int(hash2(seed, x, y) & 31)
		return clamp8(n + 255*x/w/4 + g - 64), clamp8(n/2 + 255*y/h/2 + g - 16), clamp8(255 - n/2 + g - 64)
	}
}
