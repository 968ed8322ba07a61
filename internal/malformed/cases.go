package malformed

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/veil-ml/veil/internal/imagebytes"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

// What veil must do with a case.
const (
	OK          = "ok"          // classify it
	Format      = "format"      // refuse it with a *decode.FormatError
	Unsupported = "unsupported" // refuse it with a *decode.UnsupportedError
	Limit       = "limit"       // refuse it with a *decode.LimitError
)

// Patterns match the message of each error kind as veil prints it (Go's
// error text, which tools/classify and the wasm API pass on). They are
// regular expressions in the syntax Go and JavaScript share.
var Patterns = map[string]string{
	Format:      `decode: (invalid (JPEG|PNG|GIF|WebP|image)|empty input|unknown format)`,
	Unsupported: `decode: unsupported `,
	Limit:       `decode: .*limit (is|of) \d+`,
}

// Case is one file of the table.
type Case struct {
	Name   string // also the file name without extension
	Ext    string // file extension with the dot, as the file would be named
	Expect string // OK, Format, Unsupported or Limit
	// SameAs names an OK case that this one must classify like: with
	// Tolerance 0 the probabilities are equal; otherwise the top class is
	// the same and each probability is within Tolerance.
	SameAs    string
	Tolerance float64
	About     string // what the case is, for people
	Big       bool   // larger than 1 MiB: left out of fuzz seeds

	make func() []byte
}

// File is the case's file name.
func (c Case) File() string { return c.Name + c.Ext }

// Data generates the case's bytes (the same on every call).
func (c Case) Data() []byte { return c.make() }

// Kind returns the kind of a decode error: Format, Unsupported or Limit,
// OK for nil, and "" for an error of no decode type. The outermost decode
// error decides, so a FormatError wrapping an UnsupportedError is Format.
func Kind(err error) string {
	var (
		fe *decode.FormatError
		ue *decode.UnsupportedError
		le *decode.LimitError
	)
	switch {
	case err == nil:
		return OK
	case errors.As(err, &fe): // first: a FormatError must not hide another kind
		return Format
	case errors.As(err, &ue):
		return Unsupported
	case errors.As(err, &le):
		return Limit
	}
	return ""
}

// exifTolerance bounds how far the probabilities of a rotated-and-EXIF-tagged
// JPEG may drift from the upright one: the pixels agree only up to JPEG's
// rounding, which differs with the block layout.
const exifTolerance = 0.02

// Cases returns the table, in a fixed order.
func Cases() []Case {
	var cs []Case
	add := func(name, ext, expect, about string, make func() []byte) *Case {
		cs = append(cs, Case{Name: name, Ext: ext, Expect: expect, About: about, make: make})
		return &cs[len(cs)-1]
	}
	same := func(c *Case, as string, tol float64) { c.SameAs, c.Tolerance = as, tol }
	fixed := func(b []byte) func() []byte { return func() []byte { return bytes.Clone(b) } }
	cut := func(f func() []byte, frac float64) func() []byte {
		return func() []byte { b := f(); return b[:int(float64(len(b))*frac)] }
	}
	cutAt := func(f func() []byte, n int) func() []byte {
		return func() []byte { return f()[:n] }
	}

	pngRGB := func() []byte { return encodePNG(pattern(64, 48)) }
	jpegRGB := func() []byte { return encodeJPEG(pattern(64, 48), 90) }
	gifStill := func() []byte { return encodeGIF(animated(1)) }
	gifAnim := func() []byte { return encodeGIF(animated(3)) }
	webpSolid := func() []byte { return webpLossless(40, 30, color.NRGBA{30, 140, 90, 255}) }

	// Not images at all.
	add("empty", ".png", Format, "zero bytes", fixed(nil))
	add("random_bytes", ".jpg", Format, "4 KiB of seeded random bytes", func() []byte {
		r := rand.New(rand.NewPCG(8, 8))
		b := make([]byte, 4096)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	})
	add("html_error_page", ".png", Format, "an HTML error page saved as .png", fixed([]byte("<!doctype html><title>404 Not Found</title>\n")))
	add("bmp", ".png", Format, "a BMP file header: a format veil does not read", fixed([]byte("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00")))
	add("png_wrong_magic", ".png", Format, "a valid PNG with its first signature byte changed", func() []byte {
		b := pngRGB()
		b[0] = 0x88
		return b
	})
	add("jpeg_wrong_magic", ".jpg", Format, "a valid JPEG whose SOI is FF D9", func() []byte {
		b := jpegRGB()
		b[1] = 0xd9
		return b
	})

	// Truncated at each stage.
	add("png_truncated_signature", ".png", Format, "the first 5 bytes of a PNG", cutAt(pngRGB, 5))
	add("png_truncated_header", ".png", Format, "a PNG cut inside IHDR", cutAt(pngRGB, 20))
	add("png_truncated_data", ".png", Format, "a PNG cut halfway through IDAT", cut(pngRGB, 0.5))
	add("png_bad_crc", ".png", Format, "a PNG with one IDAT byte flipped (CRC mismatch)", func() []byte {
		b := pngRGB()
		b[len(b)/2] ^= 0x5a
		return b
	})
	add("jpeg_truncated_header", ".jpg", Format, "a JPEG cut inside its quantization tables", cutAt(jpegRGB, 30))
	add("jpeg_truncated_data", ".jpg", Format, "a JPEG cut halfway through the scan", cut(jpegRGB, 0.5))
	add("gif_truncated_header", ".gif", Format, "a GIF cut inside the screen descriptor", cutAt(gifStill, 9))
	add("gif_truncated_data", ".gif", Format, "a GIF cut halfway through the image data", cut(gifStill, 0.6))
	add("webp_truncated_header", ".webp", Format, "a WebP cut inside the RIFF header", cutAt(webpSolid, 10))
	add("webp_truncated_data", ".webp", Format, "a lossless WebP cut inside its prefix codes", func() []byte { return webpSolid()[:25] })

	// Unsupported but valid.
	add("jpeg_arithmetic", ".jpg", Unsupported, "an arithmetic-coded JPEG header (SOF9)", fixed(imagebytes.JPEGHeader(0xc9, 8, 32, 32)))
	add("jpeg_12bit", ".jpg", Unsupported, "a 12-bit extended JPEG header (SOF1)", fixed(imagebytes.JPEGHeader(0xc1, 12, 32, 32)))
	add("webp_animated", ".webp", Unsupported, "an animated WebP of two frames", func() []byte { return webpAnimated(24, 16) })

	// Decompression bombs and other limits: refused from the header.
	add("png_bomb_100000x100000", ".png", Limit, "a PNG header claiming 100000x100000 (10 Gpx)", fixed(imagebytes.PNGHeader(100000, 100000)))
	add("jpeg_bomb_65535x65535", ".jpg", Limit, "a JPEG header claiming 65535x65535", fixed(imagebytes.JPEGHeader(0xc0, 8, 65535, 65535)))
	add("gif_bomb_65535x65535", ".gif", Limit, "a GIF screen of 65535x65535", fixed(imagebytes.GIFHeader(65535, 65535)))
	add("png_width_20000", ".png", Limit, "a PNG header 20000 wide and 1 high (past 16384 a side)", fixed(imagebytes.PNGHeader(20000, 1)))
	big := add("oversized_file", ".png", Limit, "a valid PNG padded to one byte over the 64 MiB file limit", func() []byte {
		b := pngRGB()
		return append(b, make([]byte, decode.DefaultLimits.MaxBytes+1-int64(len(b)))...)
	})
	big.Big = true

	// Valid images of every awkward kind.
	add("png_rgb", ".png", OK, "an 8-bit RGB PNG, 64x48", pngRGB)
	same(add("png_trailing_junk", ".png", OK, "png_rgb followed by 1 KiB of junk", func() []byte {
		return append(pngRGB(), bytes.Repeat([]byte{0xde, 0xad}, 512)...)
	}), "png_rgb", 0)
	same(add("png_rgb16", ".png", OK, "a 16-bit RGB PNG whose high bytes are png_rgb", func() []byte {
		return encodePNG(widen16(pattern(64, 48)))
	}), "png_rgb", 0)
	same(add("png_palette", ".png", OK, "a palette PNG of png_palette_rgb's colours", func() []byte {
		return encodePNG(paletted(64, 48))
	}), "png_palette_rgb", 0)
	add("png_palette_rgb", ".png", OK, "the RGB PNG of png_palette's pixels", func() []byte {
		p := paletted(64, 48)
		m := image.NewRGBA(p.Rect)
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				m.Set(x, y, p.At(x, y))
			}
		}
		return encodePNG(m)
	})
	add("png_gray8", ".png", OK, "an 8-bit grayscale PNG", func() []byte { return encodePNG(gray(64, 48)) })
	same(add("png_gray16", ".png", OK, "a 16-bit grayscale PNG whose high bytes are png_gray8", func() []byte {
		g := gray(64, 48)
		m := image.NewGray16(g.Rect)
		for i, v := range g.Pix {
			m.Pix[2*i], m.Pix[2*i+1] = v, byte(i*37)
		}
		return encodePNG(m)
	}), "png_gray8", 0)
	same(add("png_gray_alpha", ".png", OK, "an 8-bit gray+alpha PNG (colour type 4), opaque, of png_gray8's pixels", func() []byte {
		g := gray(64, 48)
		rows := make([]byte, 0, 2*len(g.Pix))
		for _, v := range g.Pix {
			rows = append(rows, v, 255)
		}
		return rawPNG(64, 48, 4, 8, rows)
	}), "png_gray8", 0)
	same(add("png_gray_alpha16", ".png", OK, "a 16-bit gray+alpha PNG, opaque, high bytes of png_gray8", func() []byte {
		g := gray(64, 48)
		rows := make([]byte, 0, 4*len(g.Pix))
		for i, v := range g.Pix {
			rows = append(rows, v, byte(i), 255, 255)
		}
		return rawPNG(64, 48, 4, 16, rows)
	}), "png_gray8", 0)
	add("png_rgba_alpha", ".png", OK, "an RGBA PNG with alpha ramping from 0 to 255", func() []byte {
		p := pattern(64, 48)
		m := image.NewNRGBA(p.Rect)
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				c := p.RGBAAt(x, y)
				m.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, uint8(x * 255 / 63)})
			}
		}
		return encodePNG(m)
	})
	add("png_black", ".png", OK, "an opaque black PNG", func() []byte {
		m := image.NewRGBA(image.Rect(0, 0, 64, 48))
		for i := 3; i < len(m.Pix); i += 4 {
			m.Pix[i] = 255
		}
		return encodePNG(m)
	})
	same(add("png_transparent", ".png", OK, "a fully transparent PNG of coloured pixels: a canvas reads it as black", func() []byte {
		p := pattern(64, 48)
		m := image.NewNRGBA(p.Rect)
		for i := range m.Pix {
			if i%4 != 3 {
				m.Pix[i] = p.Pix[i]
			}
		}
		return encodePNG(m)
	}), "png_black", 0)
	add("png_1x1", ".png", OK, "a single pixel", func() []byte { return encodePNG(pattern(1, 1)) })
	add("png_1x10000", ".png", OK, "1 pixel wide, 10000 high", func() []byte { return encodePNG(pattern(1, 10000)) })
	add("png_10000x1", ".png", OK, "10000 pixels wide, 1 high", func() []byte { return encodePNG(pattern(10000, 1)) })
	add("png_2000x1500", ".png", OK, "a 3-megapixel PNG", func() []byte { return encodePNG(pattern(2000, 1500)) })
	add("jpeg_rgb", ".jpg", OK, "a YCbCr 4:2:0 JPEG, 64x48", jpegRGB)
	add("jpeg_gray", ".jpg", OK, "a grayscale JPEG", func() []byte { return encodeJPEG(gray(64, 48), 90) })
	add("jpeg_cmyk", ".jpg", OK, "an Adobe CMYK JPEG (four components, inverted samples)", func() []byte {
		return cmykJPEG(64, 48, cmykBlock)
	})
	for n := 1; n <= 8; n++ {
		c := add(fmt.Sprintf("jpeg_exif_%d", n), ".jpg", OK,
			fmt.Sprintf("jpeg_exif_1's picture stored for EXIF orientation %d (%s TIFF)", n, map[bool]string{true: "big-endian", false: "little-endian"}[n%2 == 0]),
			func() []byte {
				return withEXIF(encodeJPEG(storedForOrientation(pattern(96, 64), n), 95), uint16(n), n%2 == 0)
			})
		if n > 1 {
			same(c, "jpeg_exif_1", exifTolerance)
		}
	}
	add("gif_still", ".gif", OK, "a one-frame GIF: gif_animated's first frame", gifStill)
	same(add("gif_animated", ".gif", OK, "a three-frame animated GIF: only the first frame counts", gifAnim), "gif_still", 0)
	add("gif_frame_outside_screen", ".gif", Format, "a GIF whose first frame extends past its logical screen", func() []byte {
		g := animated(1)
		g.Config = image.Config{ColorModel: g.Image[0].Palette, Width: 64, Height: 48}
		b := encodeGIF(g)
		binary.LittleEndian.PutUint16(b[6:], 32) // shrink the screen under the frame
		return b
	})
	add("webp_lossless", ".webp", OK, "a lossless WebP of one colour", webpSolid)
	add("webp_lossless_alpha", ".webp", OK, "a lossless WebP, half transparent", func() []byte {
		return webpLossless(40, 30, color.NRGBA{200, 100, 50, 128})
	})
	return cs
}

// ByName returns the case with the given name.
func ByName(name string) (Case, bool) {
	for _, c := range Cases() {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// pattern is a w×h picture with smooth gradients and a dark disc off
// centre, so that flips and rotations of it differ.
func pattern(w, h int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := uint8(x * 255 / max(w-1, 1))
			g := uint8(y * 255 / max(h-1, 1))
			b := uint8(160)
			if dx, dy := x-w/4, y-h/3; dx*dx+dy*dy < (min(w, h)/4)*(min(w, h)/4) {
				r, g, b = r/4, g/4, 40
			}
			m.SetRGBA(x, y, color.RGBA{r, g, b, 255})
		}
	}
	return m
}

// gray is pattern's luma.
func gray(w, h int) *image.Gray {
	p := pattern(w, h)
	m := image.NewGray(p.Rect)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, p.At(x, y))
		}
	}
	return m
}

// widen16 returns m as 16-bit samples with m's bytes high and noise low.
func widen16(m *image.RGBA) *image.RGBA64 {
	out := image.NewRGBA64(m.Rect)
	for i, v := range m.Pix {
		out.Pix[2*i], out.Pix[2*i+1] = v, byte(i*131)
		if i%4 == 3 {
			out.Pix[2*i+1] = 0xff // opaque
		}
	}
	return out
}

// paletted is a w×h image of 16 colours, one of them half transparent.
func paletted(w, h int) *image.Paletted {
	pal := make(color.Palette, 16)
	for i := range pal {
		pal[i] = color.RGBA{uint8(i * 16), uint8(255 - i*16), uint8(i * 7), 255}
	}
	pal[5] = color.NRGBA{250, 10, 10, 128}
	m := image.NewPaletted(image.Rect(0, 0, w, h), pal)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetColorIndex(x, y, uint8((x/8+y/6)%16))
		}
	}
	return m
}

// animated is a GIF of n frames of 64x48, each a different pattern.
func animated(n int) *gif.GIF {
	g := &gif.GIF{}
	for f := 0; f < n; f++ {
		pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{255, 255, 255, 255}, color.RGBA{220, 60, 40, 255}, color.RGBA{40, 90, 220, 255}}
		m := image.NewPaletted(image.Rect(0, 0, 64, 48), pal)
		for y := 0; y < 48; y++ {
			for x := 0; x < 64; x++ {
				m.SetColorIndex(x, y, uint8((x/(4+f)+y/(3+f)+f)%4))
			}
		}
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 10)
	}
	return g
}

// cmykBlock is the (stored, Adobe-inverted) CMYK colour of 8×8 block (bx, by)
// of the jpeg_cmyk case.
func cmykBlock(bx, by int) [4]uint8 {
	return [4]uint8{uint8(255 - bx*30), uint8(255 - by*40), uint8(200 - bx*10), uint8(255 - (bx+by)*8)}
}

// Manifest is manifest.json: the kinds' message patterns and every case.
type Manifest struct {
	Patterns map[string]string `json:"patterns"`
	Cases    []ManifestCase    `json:"cases"`
}

// ManifestCase is one case in manifest.json.
type ManifestCase struct {
	Name      string  `json:"name"`
	File      string  `json:"file"`
	Expect    string  `json:"expect"`
	SameAs    string  `json:"same_as,omitempty"`
	Tolerance float64 `json:"tolerance,omitempty"`
	About     string  `json:"about"`
	Size      int     `json:"size"`
}

// WriteDir writes every case's file and manifest.json into dir, creating it.
// Files are written whole under a temporary name and renamed, so a reader
// never sees a partial file.
func WriteDir(dir string) (Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, err
	}
	m := Manifest{Patterns: Patterns}
	for _, c := range Cases() {
		data := c.Data()
		if err := writeFile(filepath.Join(dir, c.File()), data); err != nil {
			return Manifest{}, err
		}
		m.Cases = append(m.Cases, ManifestCase{Name: c.Name, File: c.File(), Expect: c.Expect, SameAs: c.SameAs, Tolerance: c.Tolerance, About: c.About, Size: len(data)})
	}
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, err
	}
	return m, writeFile(filepath.Join(dir, "manifest.json"), append(js, '\n'))
}

func writeFile(name string, data []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// Seeds returns the files of the small cases (up to 8 KiB), for fuzz
// targets that read images.
func Seeds() [][]byte {
	var out [][]byte
	for _, c := range Cases() {
		if c.Big {
			continue
		}
		if b := c.Data(); len(b) <= 8<<10 {
			out = append(out, b)
		}
	}
	return out
}
