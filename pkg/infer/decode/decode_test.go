package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodePNG(t *testing.T) {
	opaque := testPattern(13, 7)
	withAlpha := testPattern(13, 7)
	for i := 3; i < len(withAlpha.Pix); i += 4 {
		withAlpha.Pix[i] = []uint8{0, 1, 77, 128, 254, 255}[(i/4)%6]
	}
	gray := image.NewGray(image.Rect(0, 0, 5, 3))
	gray16 := image.NewGray16(image.Rect(0, 0, 5, 3))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 5, 3))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, 5, 3))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 17)
	}
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(i*37 + 5)
	}
	for i := range rgba64.Pix {
		rgba64.Pix[i] = uint8(i*31 + 3)
		if i%8 >= 6 {
			rgba64.Pix[i] = 0xff // opaque: PNG RGB16
		}
	}
	for i := range nrgba64.Pix {
		nrgba64.Pix[i] = uint8(i*29 + 11)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{
		color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 128}, color.NRGBA{0, 0, 255, 0}, color.NRGBA{200, 100, 50, 255},
	})
	copy(pal.Pix, []uint8{0, 1, 2, 3, 3, 2, 1, 0})

	// want converts the source independently: high bytes, then the canvas rule.
	want := func(m image.Image) *RGB {
		b := m.Bounds()
		out := &RGB{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, b.Dx()*b.Dy()*3)}
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				c := color.NRGBA64Model.Convert(m.At(x, y)).(color.NRGBA64)
				a := uint8(c.A >> 8)
				i := out.PixOffset(x, y)
				out.Pix[i] = expectStraight(uint8(c.R>>8), a)
				out.Pix[i+1] = expectStraight(uint8(c.G>>8), a)
				out.Pix[i+2] = expectStraight(uint8(c.B>>8), a)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		img  image.Image
	}{
		{"rgb8", opaque},
		{"rgba8", withAlpha},
		{"gray8", gray},
		{"gray16", gray16},
		{"rgb16", rgba64},
		{"rgba16", nrgba64},
		{"palette_trns", pal},
		{"1x1", testPattern(1, 1)},
		{"1x10000", testPattern(1, 10000)},
		{"10000x1", testPattern(10000, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := encodePNG(t, tc.img)
			cfg, err := DecodeConfig(data)
			require.NoError(t, err)
			require.Equal(t, Config{Format: "png", W: tc.img.Bounds().Dx(), H: tc.img.Bounds().Dy(), Orientation: 1}, cfg)
			require.Equal(t, want(tc.img), mustDecode(t, data))
		})
	}
}

func TestDecodePNGAlphaRule(t *testing.T) {
	// One pixel per (colour, alpha); expectations written out from the rule.
	for _, tc := range []struct {
		c, a, want uint8
	}{
		{200, 0, 0},     // transparent reads back black
		{255, 0, 0},     //
		{200, 255, 200}, // opaque is unchanged
		{200, 128, 199}, // p = round(100.39) = 100, round(100·255/128) = 199
		{201, 128, 201}, // p = 101, round(201.23) = 201
		{255, 128, 255}, // p = 128, 255
		{1, 1, 0},       // p = round(0.004) = 0
		{255, 1, 255},   // p = 1, 255
		{100, 3, 85},    // p = round(1.18) = 1, round(85) = 85
		{17, 2, 0},      // p = round(0.13) = 0
	} {
		m := image.NewNRGBA(image.Rect(0, 0, 1, 1))
		m.SetNRGBA(0, 0, color.NRGBA{tc.c, tc.c, 0, tc.a})
		got := mustDecode(t, encodePNG(t, m))
		require.Equal(t, []uint8{tc.want, tc.want, 0}, got.Pix, "c=%d a=%d", tc.c, tc.a)
		require.Equal(t, tc.want, expectStraight(tc.c, tc.a))
	}
}

func TestAlphaTablesMatchFormula(t *testing.T) {
	for a := 0; a < 256; a++ {
		for c := 0; c < 256; c++ {
			require.Equal(t, expectStraight(uint8(c), uint8(a)), straightLUT[a<<8|c], "straight c=%d a=%d", c, a)
			want := uint8(0)
			if a > 0 {
				want = uint8(min(255, int(float64(c)*255/float64(a)+0.5)))
			}
			require.Equal(t, want, premulLUT[a<<8|c], "premultiplied p=%d a=%d", c, a)
		}
	}
}

func TestConvertGoImageTypes(t *testing.T) {
	// *image.RGBA is premultiplied: p = 64 at a = 128 reads back as 128.
	rgba := image.NewRGBA(image.Rect(0, 0, 2, 1))
	rgba.SetRGBA(0, 0, color.RGBA{64, 128, 0, 128})
	rgba.SetRGBA(1, 0, color.RGBA{9, 9, 9, 0}) // invalid premultiplied: still black
	require.Equal(t, []uint8{128, 255, 0, 0, 0, 0}, toRGB(rgba, false).Pix)

	// Generic path (no fast path for *image.Alpha16) agrees with the rule.
	a16 := image.NewAlpha16(image.Rect(0, 0, 1, 1))
	a16.SetAlpha16(0, 0, color.Alpha16{A: 0x8000})
	require.Equal(t, []uint8{255, 255, 255}, toRGB(a16, false).Pix)

	// A sub-image with a non-zero origin.
	sub := testPattern(6, 5).SubImage(image.Rect(2, 1, 5, 4)).(*image.NRGBA)
	require.Equal(t, nrgbaToExpected(sub), toRGB(sub, false))

	// CMYK uses Chromium's truncating formula on inverted samples.
	cmyk := image.NewCMYK(image.Rect(0, 0, 1, 1))
	cmyk.SetCMYK(0, 0, color.CMYK{C: 0, M: 128, Y: 255, K: 100})
	require.Equal(t, []uint8{155, 155 * 127 / 255, 0}, toRGB(cmyk, false).Pix)
}

func TestDecodeJPEG(t *testing.T) {
	src := testPattern(40, 24)
	gray := image.NewGray(image.Rect(0, 0, 40, 24))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i % 40 * 6)
	}
	t.Run("color", func(t *testing.T) {
		got := mustDecode(t, encodeJPEG(t, src, 100))
		require.LessOrEqual(t, maxDiff(t, got, nrgbaToExpected(src)), 12)
	})
	t.Run("gray", func(t *testing.T) {
		data := encodeJPEG(t, gray, 100)
		got := mustDecode(t, data)
		for i := 0; i < len(got.Pix); i += 3 {
			require.Equal(t, got.Pix[i], got.Pix[i+1])
			require.Equal(t, got.Pix[i], got.Pix[i+2])
			require.InDelta(t, int(gray.Pix[i/3]), int(got.Pix[i]), 2)
		}
	})
	t.Run("cmyk", func(t *testing.T) {
		got := mustDecode(t, readTestdata(t, "jcmyk.jpg"))
		want := mustDecode(t, readTestdata(t, "src.png"))
		d := maxDiff(t, got, want)
		t.Logf("max diff %d", d)
		require.LessOrEqual(t, d, cmykTolerance)
	})
}

// cmykTolerance covers ImageMagick's RGB→CMYK, JPEG loss on four channels and
// the truncating CMYK→RGB conversion.
const cmykTolerance = 20

func TestDecodeGIF(t *testing.T) {
	pal := color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 0, 255}, color.RGBA{0, 0, 0, 0}, color.RGBA{255, 255, 255, 255}}
	t.Run("single_frame", func(t *testing.T) {
		m := image.NewPaletted(image.Rect(0, 0, 3, 2), pal)
		copy(m.Pix, []uint8{0, 1, 3, 3, 1, 0})
		got := mustDecode(t, encodeGIF(t, m))
		require.Equal(t, &RGB{W: 3, H: 2, Pix: []uint8{
			10, 20, 30, 200, 100, 0, 255, 255, 255,
			255, 255, 255, 200, 100, 0, 10, 20, 30,
		}}, got)
	})
	t.Run("transparent_and_offset_frame", func(t *testing.T) {
		// Frame (1,1)-(3,2) on a 3x2 screen: uncovered and transparent are black.
		m := image.NewPaletted(image.Rect(1, 1, 3, 2), pal)
		copy(m.Pix, []uint8{2, 1})
		var b bytes.Buffer
		require.NoError(t, gif.EncodeAll(&b, &gif.GIF{
			Image: []*image.Paletted{m}, Delay: []int{0},
			Config: image.Config{ColorModel: pal, Width: 3, Height: 2},
		}))
		got := mustDecode(t, b.Bytes())
		require.Equal(t, &RGB{W: 3, H: 2, Pix: []uint8{
			0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 200, 100, 0,
		}}, got)
	})
	t.Run("animated_first_frame", func(t *testing.T) {
		f1 := image.NewPaletted(image.Rect(0, 0, 2, 2), pal)
		f2 := image.NewPaletted(image.Rect(0, 0, 2, 2), pal)
		for i := range f1.Pix {
			f1.Pix[i], f2.Pix[i] = 1, 3
		}
		var b bytes.Buffer
		require.NoError(t, gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{f1, f2}, Delay: []int{10, 10}}))
		got := mustDecode(t, b.Bytes())
		require.Equal(t, bytes.Repeat([]uint8{200, 100, 0}, 4), got.Pix)
	})
	t.Run("huge_screen_small_frame", func(t *testing.T) {
		// 4000x1 screen, 1x1 frame: within limits, mostly black.
		data := encodeGIF(t, image.NewPaletted(image.Rect(0, 0, 1, 1), pal))
		binary.LittleEndian.PutUint16(data[6:], 4000)
		got := mustDecode(t, data)
		require.Equal(t, 4000, got.W)
		require.Equal(t, []uint8{10, 20, 30, 0, 0, 0}, got.Pix[:6])
	})
}

func TestDecodeWebPAnimatedIsUnsupported(t *testing.T) {
	data := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	_, err := Decode(data, Limits{})
	var ue *UnsupportedError
	require.True(t, errors.As(err, &ue), "got %v", err)
	require.Contains(t, err.Error(), "animated WebP")
}

func TestDecodeDoesNotModifyInput(t *testing.T) {
	data := readTestdata(t, "j420.jpg")
	orig := bytes.Clone(data)
	mustDecode(t, data)
	require.Equal(t, orig, data)
}
