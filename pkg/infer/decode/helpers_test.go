package decode

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// readTestdata returns a file from testdata.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// pnm is a decoded binary PNM (P5 gray, P6 RGB, or P7 RGB_ALPHA).
type pnm struct {
	w, h, channels int
	pix            []uint8
}

// readPNM parses the PNM files that djpeg and dwebp write.
func readPNM(t testing.TB, name string) pnm {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(readTestdata(t, name)))
	var magic string
	_, err := fmt.Fscan(r, &magic)
	require.NoError(t, err)
	var p pnm
	switch magic {
	case "P5", "P6":
		var maxv int
		_, err = fmt.Fscan(r, &p.w, &p.h, &maxv)
		require.NoError(t, err)
		require.Equal(t, 255, maxv)
		_, err = r.ReadByte() // single whitespace before the data
		require.NoError(t, err)
		p.channels = 1
		if magic == "P6" {
			p.channels = 3
		}
	case "P7": // WIDTH w HEIGHT h DEPTH 4 MAXVAL 255 TUPLTYPE RGB_ALPHA ENDHDR
		for {
			var key string
			_, err = fmt.Fscan(r, &key)
			require.NoError(t, err)
			if key == "ENDHDR" {
				_, err = r.ReadByte()
				require.NoError(t, err)
				break
			}
			var val string
			_, err = fmt.Fscan(r, &val)
			require.NoError(t, err)
			switch key {
			case "WIDTH":
				fmt.Sscan(val, &p.w)
			case "HEIGHT":
				fmt.Sscan(val, &p.h)
			case "DEPTH":
				fmt.Sscan(val, &p.channels)
			}
		}
	default:
		t.Fatalf("%s: unknown PNM magic %q", name, magic)
	}
	p.pix = make([]uint8, p.w*p.h*p.channels)
	_, err = r.Read(p.pix[:0])
	require.NoError(t, err)
	n := 0
	for n < len(p.pix) {
		k, err := r.Read(p.pix[n:])
		require.NoError(t, err)
		n += k
	}
	return p
}

// rgb returns p as RGB (gray replicated, alpha dropped as-is).
func (p pnm) rgb() *RGB {
	out := &RGB{W: p.w, H: p.h, Pix: make([]uint8, p.w*p.h*3)}
	for i := 0; i < p.w*p.h; i++ {
		s := p.pix[i*p.channels:]
		if p.channels == 1 {
			out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = s[0], s[0], s[0]
		} else {
			copy(out.Pix[3*i:3*i+3], s[:3])
		}
	}
	return out
}

// maxDiff returns the largest channel difference between two same-sized images.
func maxDiff(t testing.TB, a, b *RGB) int {
	t.Helper()
	require.Equal(t, a.W, b.W, "width")
	require.Equal(t, a.H, b.H, "height")
	require.Len(t, a.Pix, len(b.Pix))
	d := 0
	for i := range a.Pix {
		d = max(d, absDiff(a.Pix[i], b.Pix[i]))
	}
	return d
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// expectStraight is the canvas readback of straight colour c at alpha a, from
// the formula in doc.go (computed independently of the lookup tables).
func expectStraight(c, a uint8) uint8 {
	if a == 0 {
		return 0
	}
	p := int(float64(c)*float64(a)/255 + 0.5)
	v := int(float64(p)*255/float64(a) + 0.5)
	return uint8(min(v, 255))
}

// nrgbaToExpected applies the canvas rule to every pixel of m.
func nrgbaToExpected(m *image.NRGBA) *RGB {
	b := m.Bounds()
	out := &RGB{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, b.Dx()*b.Dy()*3)}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			c := m.NRGBAAt(b.Min.X+x, b.Min.Y+y)
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2] = expectStraight(c.R, c.A), expectStraight(c.G, c.A), expectStraight(c.B, c.A)
		}
	}
	return out
}

// testPattern is a deterministic w×h picture with smooth and sharp parts.
func testPattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / max(w-1, 1)), uint8(y * 255 / max(h-1, 1)), uint8((x + y) * 255 / max(w+h-2, 1)), 255})
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, m))
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, jpeg.Encode(&b, m, &jpeg.Options{Quality: quality}))
	return b.Bytes()
}

func encodeGIF(t testing.TB, m *image.Paletted) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, gif.Encode(&b, m, nil))
	return b.Bytes()
}

func mustDecode(t testing.TB, data []byte) *RGB {
	t.Helper()
	m, err := Decode(data, Limits{})
	require.NoError(t, err)
	require.Len(t, m.Pix, m.W*m.H*3)
	return m
}
