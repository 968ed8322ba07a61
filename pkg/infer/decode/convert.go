package decode

import (
	"image"
	"image/color"
)

// straightLUT[a<<8|c] is what a canvas returns for straight (non-premultiplied)
// colour c with alpha a: it stores p = round(c·a/255) and getImageData
// returns min(255, round(p·255/a)), alpha dropped; a = 0 gives 0.
var straightLUT = buildAlphaLUT(true)

// premulLUT[a<<8|p] is the same readback for an already premultiplied p.
var premulLUT = buildAlphaLUT(false)

func buildAlphaLUT(straight bool) *[256 * 256]uint8 {
	var t [256 * 256]uint8
	for a := 1; a < 256; a++ {
		for c := 0; c < 256; c++ {
			p := c
			if straight {
				p = (c*a + 127) / 255 // exact rounding: c·a/255 is never a half
			}
			t[a<<8|c] = uint8(min(255, (p*255+a/2)/a))
		}
	}
	return &t
}

// toRGB converts a decoded image to RGB. webpYUV selects libwebp's
// limited-range YUV conversion for *image.YCbCr and *image.NYCbCrA from
// golang.org/x/image/webp; otherwise YCbCr is JPEG (JFIF, libjpeg-turbo).
func toRGB(img image.Image, webpYUV bool) *RGB {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &RGB{W: w, H: h, Pix: make([]uint8, w*h*3)}
	dst := out.Pix
	switch m := img.(type) {
	case *image.YCbCr:
		if webpYUV {
			if webpYCbCrToRGB(dst, m, nil, 0) {
				return out
			}
		} else if jpegYCbCrToRGB(dst, m) {
			return out
		}
	case *image.NYCbCrA:
		if webpYUV && webpYCbCrToRGB(dst, &m.YCbCr, m.A, m.AStride) {
			return out
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			d := dst[y*w*3:]
			for x, v := range src {
				d[3*x], d[3*x+1], d[3*x+2] = v, v, v
			}
		}
		return out
	case *image.Gray16: // high byte, like libpng's png_set_strip_16
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:2*w]
			d := dst[y*w*3:]
			for x := 0; x < w; x++ {
				v := src[2*x]
				d[3*x], d[3*x+1], d[3*x+2] = v, v, v
			}
		}
		return out
	case *image.NRGBA:
		rgbaRows(dst, m.Pix, m.PixOffset(b.Min.X, b.Min.Y), m.Stride, w, h, 4, straightLUT)
		return out
	case *image.RGBA:
		rgbaRows(dst, m.Pix, m.PixOffset(b.Min.X, b.Min.Y), m.Stride, w, h, 4, premulLUT)
		return out
	case *image.NRGBA64: // big-endian: index 0, 2, 4, 6 are the high bytes
		rgbaRows(dst, m.Pix, m.PixOffset(b.Min.X, b.Min.Y), m.Stride, w, h, 8, straightLUT)
		return out
	case *image.CMYK:
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*w]
			d := dst[y*w*3:]
			for x := 0; x < w; x++ {
				d[3*x], d[3*x+1], d[3*x+2] = cmykToRGB(src[4*x], src[4*x+1], src[4*x+2], src[4*x+3])
			}
		}
		return out
	case *image.Paletted:
		lut := paletteLUT(m.Palette)
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:w]
			d := dst[y*w*3:]
			for x, idx := range src {
				copy(d[3*x:3*x+3], lut[3*int(idx):])
			}
		}
		return out
	}
	// Generic path: one interface call per pixel.
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			dst[i], dst[i+1], dst[i+2] = pixelRGB(img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// rgbaRows converts rows of 4-channel pixels of bpp bytes each (4 for 8-bit,
// 8 for 16-bit big-endian, of which the high bytes are used) through lut.
func rgbaRows(dst, pix []uint8, off, stride, w, h, bpp int, lut *[256 * 256]uint8) {
	c := bpp / 4 // byte distance between channels
	for y := 0; y < h; y++ {
		src := pix[off+y*stride:][:w*bpp]
		d := dst[y*w*3:][:w*3]
		for x := 0; x < w; x++ {
			s := src[x*bpp:][:bpp]
			a := int(s[3*c]) << 8
			d[3*x] = lut[a|int(s[0])]
			d[3*x+1] = lut[a|int(s[c])]
			d[3*x+2] = lut[a|int(s[2*c])]
		}
	}
}

// cmykToRGB converts Go's (non-inverted) CMYK as Chromium does for Adobe
// JPEGs: with inverted samples iX = 255-X, R = iC·iK/255, truncated.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	ik := 255 - uint32(k)
	return uint8((255 - uint32(c)) * ik / 255), uint8((255 - uint32(m)) * ik / 255), uint8((255 - uint32(y)) * ik / 255)
}

// paletteLUT returns 256 RGB triples; indices past the palette are black.
func paletteLUT(p color.Palette) *[256 * 3]uint8 {
	var lut [256 * 3]uint8
	for i, c := range p {
		if i >= 256 {
			break
		}
		if c == nil {
			continue
		}
		lut[3*i], lut[3*i+1], lut[3*i+2] = pixelRGB(c)
	}
	return &lut
}

// pixelRGB converts one colour with the canvas alpha rule.
func pixelRGB(c color.Color) (r, g, b uint8) {
	switch c := c.(type) {
	case color.NRGBA:
		a := int(c.A) << 8
		return straightLUT[a|int(c.R)], straightLUT[a|int(c.G)], straightLUT[a|int(c.B)]
	case color.RGBA:
		a := int(c.A) << 8
		return premulLUT[a|int(c.R)], premulLUT[a|int(c.G)], premulLUT[a|int(c.B)]
	case color.Gray:
		return c.Y, c.Y, c.Y
	case color.Gray16:
		v := uint8(c.Y >> 8)
		return v, v, v
	case color.YCbCr:
		return jpegYCC(c.Y, c.Cb, c.Cr)
	case color.CMYK:
		return cmykToRGB(c.C, c.M, c.Y, c.K)
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	a := int(n.A>>8) << 8
	return straightLUT[a|int(n.R>>8)], straightLUT[a|int(n.G>>8)], straightLUT[a|int(n.B>>8)]
}

// gifToRGB places a GIF's first frame on its w×h logical screen. Pixels the
// frame does not cover, and transparent pixels, read back as black.
func gifToRGB(p *image.Paletted, w, h int) *RGB {
	out := &RGB{W: w, H: h, Pix: make([]uint8, w*h*3)}
	lut := paletteLUT(p.Palette)
	r := p.Rect
	fw := r.Dx()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := p.Pix[p.PixOffset(r.Min.X, y):][:fw]
		d := out.Pix[(y*w+r.Min.X)*3:]
		for x, idx := range src {
			copy(d[3*x:3*x+3], lut[3*int(idx):])
		}
	}
	return out
}
