package decode

import (
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/veil-ml/veil/internal/imagebytes"
)

// Headers claiming a size, no pixels (package imagebytes).
var (
	pngHeader = imagebytes.PNGHeader
	gifHeader = imagebytes.GIFHeader
)

// jpegHeader is a baseline 8-bit JPEG header (imagebytes.JPEGHeader).
func jpegHeader(w, h uint16) []byte { return imagebytes.JPEGHeader(0xc0, 8, w, h) }

// webpVP8XHeader is a RIFF/WEBP file with only a VP8X chunk for a w×h canvas.
func webpVP8XHeader(w, h uint32) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00")
	b = append(b, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestLimits(t *testing.T) {
	small := encodePNG(t, testPattern(20, 10))
	for _, tc := range []struct {
		name    string
		data    []byte
		lim     Limits
		want    LimitError
		message string
	}{
		{"png_100000x100000", pngHeader(100000, 100000), Limits{},
			LimitError{Limit: "pixels", Value: 10_000_000_000, Max: 50_000_000, W: 100000, H: 100000},
			"decode: image is 100000x100000 (10000000000 pixels), limit is 50000000 pixels"},
		{"jpeg_65535x65535", jpegHeader(65535, 65535), Limits{},
			LimitError{Limit: "pixels", Value: 65535 * 65535, Max: 50_000_000, W: 65535, H: 65535},
			"decode: image is 65535x65535 (4294836225 pixels), limit is 50000000 pixels"},
		{"gif_65535x65535", gifHeader(65535, 65535), Limits{},
			LimitError{Limit: "pixels", Value: 65535 * 65535, Max: 50_000_000, W: 65535, H: 65535}, ""},
		{"webp_16384x16384", webpVP8XHeader(16384, 16384), Limits{},
			LimitError{Limit: "pixels", Value: 16384 * 16384, Max: 50_000_000, W: 16384, H: 16384}, ""},
		{"png_width_20000", pngHeader(20000, 1), Limits{},
			LimitError{Limit: "width", Value: 20000, Max: 16384, W: 20000, H: 1},
			"decode: image is 20000x1, width 20000 exceeds the limit of 16384"},
		{"jpeg_height_20000", jpegHeader(1, 20000), Limits{},
			LimitError{Limit: "height", Value: 20000, Max: 16384, W: 1, H: 20000}, ""},
		{"file_size", small, Limits{MaxBytes: 100},
			LimitError{Limit: "bytes", Value: int64(len(small)), Max: 100}, ""},
		{"custom_pixels", small, Limits{MaxPixels: 199},
			LimitError{Limit: "pixels", Value: 200, Max: 199, W: 20, H: 10}, ""},
		{"custom_width", small, Limits{MaxWidth: 19},
			LimitError{Limit: "width", Value: 20, Max: 19, W: 20, H: 10}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.data, tc.lim)
			require.Nil(t, m)
			var le *LimitError
			require.True(t, errors.As(err, &le), "got %v", err)
			require.Equal(t, tc.want, *le)
			if tc.message != "" {
				require.EqualError(t, err, tc.message)
			}
		})
	}
}

func TestLimitsRefuseWithoutAllocating(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"png", pngHeader(100000, 100000)},
		{"jpeg", jpegHeader(65535, 65535)},
		{"gif", gifHeader(65535, 65535)},
		{"webp", webpVP8XHeader(40000, 40000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const runs = 20
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			allocs := testing.AllocsPerRun(runs, func() {
				_, err := Decode(tc.data, Limits{})
				var le *LimitError
				require.ErrorAs(t, err, &le)
			})
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / (runs + 1)
			t.Logf("%v allocs, %d bytes per refused decode", allocs, perRun)
			require.LessOrEqual(t, allocs, 30.0)
			require.Less(t, perRun, uint64(128<<10))
		})
	}
}

func TestDefaultLimits(t *testing.T) {
	l := Limits{}.orDefaults()
	require.Equal(t, DefaultLimits, l)
	require.NoError(t, l.check(4000, 3000))
	require.NoError(t, l.check(1, 16384))
	require.NoError(t, l.check(16384, 3000))
	require.Error(t, l.check(16385, 1))
	require.Error(t, l.check(8000, 8000))
	// Negative fields also take the defaults.
	require.Equal(t, DefaultLimits, Limits{MaxBytes: -1, MaxWidth: -1, MaxHeight: -1, MaxPixels: -1}.orDefaults())
}

func TestJPEGScanLimit(t *testing.T) {
	// A progressive-looking stream with too many (empty) scans is refused
	// before decoding. The scan headers are junk; only markers are counted.
	b := jpegHeader(16, 16)
	b = b[:len(b)-2]
	for i := 1; i <= maxJPEGScans; i++ {
		b = append(b, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0, 0x00, 0xff, 0x00)
	}
	b = append(b, 0xff, 0xd9)
	_, err := Decode(b, Limits{})
	var le *LimitError
	require.True(t, errors.As(err, &le), "got %v", err)
	require.Equal(t, "scans", le.Limit)
	require.Equal(t, 1, jpegScanCount(readTestdata(t, "j420.jpg")))
	require.Greater(t, jpegScanCount(readTestdata(t, "jprog.jpg")), 5)
}
