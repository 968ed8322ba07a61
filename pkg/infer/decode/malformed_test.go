package decode

import (
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireTypedError checks that err is one of this package's error types and
// carries the "decode: " prefix.
func requireTypedError(t testing.TB, err error) {
	t.Helper()
	var (
		fe *FormatError
		ue *UnsupportedError
		le *LimitError
	)
	require.True(t, errors.As(err, &fe) || errors.As(err, &ue) || errors.As(err, &le), "untyped error %T: %v", err, err)
	require.True(t, strings.HasPrefix(err.Error(), "decode: "), "message %q", err.Error())
}

// checkDecode decodes data and requires either a typed error or an image
// consistent with DecodeConfig. It never tolerates a panic.
func checkDecode(t testing.TB, data []byte, lim Limits) {
	t.Helper()
	m, err := Decode(data, lim)
	if err != nil {
		require.Nil(t, m)
		requireTypedError(t, err)
		return
	}
	cfg, err := DecodeConfig(data)
	require.NoError(t, err)
	require.Equal(t, cfg.W, m.W)
	require.Equal(t, cfg.H, m.H)
	require.Len(t, m.Pix, m.W*m.H*3)
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		data     []byte
		contains string
	}{
		{"nil", nil, "decode: empty input (0 bytes)"},
		{"empty", []byte{}, "decode: empty input (0 bytes)"},
		{"html", []byte("<html><body>"), `first bytes 3c 68 74 6d 6c 3e 3c 62 ("<html><b") are not a JPEG, PNG, GIF or WebP signature`},
		{"one_byte", []byte{0x42}, "unknown format"},
		{"bmp", []byte("BM\x00\x00\x00\x00"), "not a JPEG, PNG, GIF or WebP"},
		{"png_truncated_signature", []byte("\x89PNG"), "decode: invalid PNG: truncated signature (4 bytes)"},
		{"jpeg_truncated_signature", []byte{0xff, 0xd8}, "decode: invalid JPEG: truncated signature"},
		{"gif_truncated_signature", []byte("GIF8"), "decode: invalid GIF: truncated signature"},
		{"riff_not_webp", []byte("RIFF\x10\x00\x00\x00WAVEfmt "), "unknown format"},
		{"riff_short", []byte("RIFF\x10\x00"), "decode: invalid WebP: truncated RIFF header"},
		{"png_signature_only", []byte("\x89PNG\r\n\x1a\n"), "decode: invalid PNG: truncated data"},
		{"jpeg_soi_only", []byte{0xff, 0xd8, 0xff, 0xd9}, "decode: invalid JPEG"},
		{"gif_zero_screen", gifHeader(0, 0), "decode: invalid GIF: image has zero size 0x0"},
		{"png_zero_width", pngHeader(0, 5), "decode: invalid PNG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.data, Limits{})
			require.Nil(t, m)
			requireTypedError(t, err)
			require.Contains(t, err.Error(), tc.contains)
			var fe *FormatError
			require.ErrorAs(t, err, &fe)
			_, err = DecodeConfig(tc.data)
			require.Error(t, err)
		})
	}
}

// smallImages returns one small valid file per format and flavour.
func smallImages(t testing.TB) map[string][]byte {
	pal := image.NewPaletted(image.Rect(0, 0, 5, 4), color.Palette{color.Black, color.White, color.RGBA{255, 0, 0, 255}, color.Transparent})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 4)
	}
	return map[string][]byte{
		"png":          encodePNG(t, testPattern(5, 4)),
		"png_palette":  encodePNG(t, pal),
		"jpeg":         encodeJPEG(t, testPattern(9, 7), 75),
		"jpeg_prog":    readTestdata(t, "jprog.jpg"),
		"gif":          encodeGIF(t, pal),
		"webp_lossy":   readTestdata(t, "lossy_alpha.webp"),
		"webp_lossles": readTestdata(t, "lossless_alpha.webp"),
	}
}

func TestDecodeEveryTruncation(t *testing.T) {
	for name, data := range smallImages(t) {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(data); n++ {
				checkDecode(t, data[:n], Limits{})
			}
			checkDecode(t, append(data, 0xde, 0xad), Limits{}) // trailing junk
		})
	}
}

func TestDecodeRandomInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t.Run("random_bytes", func(t *testing.T) {
		for i := 0; i < 200; i++ {
			b := make([]byte, rng.IntN(300))
			for j := range b {
				b[j] = byte(rng.UintN(256))
			}
			checkDecode(t, b, Limits{})
		}
	})
	for name, data := range smallImages(t) {
		t.Run("corrupt_"+name, func(t *testing.T) {
			for i := 0; i < 300; i++ {
				b := append([]byte{}, data...)
				for k := 1 + rng.IntN(4); k > 0; k-- {
					b[rng.IntN(len(b))] = byte(rng.UintN(256))
				}
				checkDecode(t, b, Limits{MaxPixels: 1 << 20})
			}
		})
	}
}

func TestFormatErrorUnwrap(t *testing.T) {
	_, err := Decode([]byte("\x89PNG\r\n\x1a\n"), Limits{})
	var fe *FormatError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "png", fe.Format)
	require.NotNil(t, errors.Unwrap(err))
}
