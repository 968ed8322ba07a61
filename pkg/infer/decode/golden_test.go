package decode

import (
	"image"
	"testing"

	"github.com/stretchr/testify/require"
)

// Goldens from libjpeg-turbo's djpeg and libwebp's dwebp (testdata/gen.sh).
// jpegIDCTTolerance allows for Go's IDCT, which rounds differently from
// libjpeg-turbo's islow IDCT (±1 per Y, Cb or Cr sample, up to 3 after colour
// conversion); chroma upsampling and colour conversion are bit-exact.
// Go's own YCbCr conversion is up to 153 levels off on these files.
const jpegIDCTTolerance = 3

func TestDecodeMatchesLibjpegTurbo(t *testing.T) {
	for _, tc := range []struct{ file, golden string }{
		{"j420.jpg", "j420.ppm"},
		{"j422.jpg", "j422.ppm"},
		{"j440.jpg", "j440.ppm"},
		{"j444.jpg", "j444.ppm"},
		{"jgray.jpg", "jgray.pgm"},
		{"jprog.jpg", "jprog.ppm"},
		{"jrst.jpg", "jrst.ppm"},
		{"jtiny.jpg", "jtiny.ppm"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := mustDecode(t, readTestdata(t, tc.file))
			want := readPNM(t, tc.golden).rgb()
			d := maxDiff(t, got, want)
			t.Logf("max diff %d", d)
			require.LessOrEqual(t, d, jpegIDCTTolerance)
		})
	}
}

func TestDecodeWebPMatchesLibwebp(t *testing.T) {
	t.Run("lossy", func(t *testing.T) {
		got := mustDecode(t, readTestdata(t, "lossy.webp"))
		want := readPNM(t, "lossy.ppm").rgb()
		require.Equal(t, 0, maxDiff(t, got, want))
	})
	t.Run("lossy_alpha", func(t *testing.T) {
		got := mustDecode(t, readTestdata(t, "lossy_alpha.webp"))
		p := readPNM(t, "lossy_alpha.pam")
		require.Equal(t, 4, p.channels)
		m := image.NewNRGBA(image.Rect(0, 0, p.w, p.h))
		copy(m.Pix, p.pix)
		require.Equal(t, 0, maxDiff(t, got, nrgbaToExpected(m)))
	})
	for _, tc := range []struct{ file, png string }{
		{"lossless.webp", "src.png"},
		{"lossless_alpha.webp", "src_alpha.png"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := mustDecode(t, readTestdata(t, tc.file))
			want := mustDecode(t, readTestdata(t, tc.png))
			require.Equal(t, want, got)
		})
	}
}
