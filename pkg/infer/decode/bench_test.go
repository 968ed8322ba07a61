package decode

import (
	"image"
	"image/color"
	"testing"
)

// benchmarkDecode decodes data repeatedly, reporting allocations.
func benchmarkDecode(b *testing.B, data []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// photo640 is a 640x480 picture with texture, for realistic entropy.
func photo640() *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x ^ y), uint8(x * y / 97), uint8(x + 3*y), uint8(255 - x%7)})
		}
	}
	return m
}

func BenchmarkDecodeJPEG640x480(b *testing.B) { benchmarkDecode(b, encodeJPEG(b, photo640(), 85)) }
func BenchmarkDecodePNG640x480(b *testing.B)  { benchmarkDecode(b, encodePNG(b, photo640())) }
