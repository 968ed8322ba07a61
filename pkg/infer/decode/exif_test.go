package decode

import (
	"encoding/binary"
	"image"
	"image/color"
	"testing"

	"github.com/stretchr/testify/require"
)

// tiffOrientation builds a minimal TIFF: header, IFD0 with an unrelated tag
// (ImageWidth) and Orientation, next-IFD offset 0.
func tiffOrientation(bo binary.ByteOrder, orientation uint16) []byte {
	b := make([]byte, 8+2+2*12+4)
	if bo == binary.LittleEndian {
		copy(b, "II")
	} else {
		copy(b, "MM")
	}
	bo.PutUint16(b[2:], 42)
	bo.PutUint32(b[4:], 8)
	bo.PutUint16(b[8:], 2)
	e := b[10:]
	bo.PutUint16(e[0:], 0x0100) // ImageWidth, LONG
	bo.PutUint16(e[2:], 4)
	bo.PutUint32(e[4:], 1)
	bo.PutUint32(e[8:], 64)
	e = b[22:]
	bo.PutUint16(e[0:], 0x0112) // Orientation, SHORT, count 1
	bo.PutUint16(e[2:], 3)
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], orientation)
	return b
}

// app1Exif wraps a TIFF structure into a JPEG APP1 Exif segment.
func app1Exif(tiff []byte) []byte {
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// spliceAfterSOI inserts a segment right after the JPEG SOI marker.
func spliceAfterSOI(jpg, seg []byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// quadrantJPEG is a 64x32 quality-100 JPEG with four flat 32x16 quadrants,
// aligned to 16x16 MCUs so the corners are clean.
func quadrantJPEG(t *testing.T) []byte {
	m := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			m.SetRGBA(x, y, quadrantColors[2*(y/16)+x/32])
		}
	}
	return encodeJPEG(t, m, 100)
}

// quadrantColors: stored top-left, top-right, bottom-left, bottom-right.
var quadrantColors = []color.RGBA{{220, 30, 30, 255}, {30, 200, 40, 255}, {30, 40, 210, 255}, {240, 240, 240, 255}}

// rotateIndependently applies orientation o with At-style lookups, written
// from the EXIF definition of where row 0 and column 0 are displayed.
func rotateIndependently(m *RGB, o int) *RGB {
	w, h := m.W, m.H
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := &RGB{W: ow, H: oh, Pix: make([]uint8, len(m.Pix))}
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			sx, sy := map[int][2]int{
				1: {x, y}, 2: {w - 1 - x, y}, 3: {w - 1 - x, h - 1 - y}, 4: {x, h - 1 - y},
				5: {y, x}, 6: {y, h - 1 - x}, 7: {w - 1 - y, h - 1 - x}, 8: {w - 1 - y, x},
			}[o][0], map[int][2]int{
				1: {x, y}, 2: {w - 1 - x, y}, 3: {w - 1 - x, h - 1 - y}, 4: {x, h - 1 - y},
				5: {y, x}, 6: {y, h - 1 - x}, 7: {w - 1 - y, h - 1 - x}, 8: {w - 1 - y, x},
			}[o][1]
			copy(out.Pix[out.PixOffset(x, y):][:3], m.Pix[m.PixOffset(sx, sy):][:3])
		}
	}
	return out
}

func TestDecodeEXIFOrientation(t *testing.T) {
	base := quadrantJPEG(t)
	upright := mustDecode(t, base)
	// Which stored quadrant (TL, TR, BL, BR = 0..3) shows at each upright
	// corner (TL, TR, BL, BR), from the EXIF 2.3 definitions.
	corners := map[int][4]int{
		1: {0, 1, 2, 3}, 2: {1, 0, 3, 2}, 3: {3, 2, 1, 0}, 4: {2, 3, 0, 1},
		5: {0, 2, 1, 3}, 6: {2, 0, 3, 1}, 7: {3, 1, 2, 0}, 8: {1, 3, 0, 2},
	}
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		for o := 1; o <= 8; o++ {
			t.Run(bo.String()+"/"+string(rune('0'+o)), func(t *testing.T) {
				data := spliceAfterSOI(base, app1Exif(tiffOrientation(bo, uint16(o))))
				cfg, err := DecodeConfig(data)
				require.NoError(t, err)
				wantW, wantH := 64, 32
				if o >= 5 {
					wantW, wantH = 32, 64
				}
				require.Equal(t, Config{Format: "jpeg", W: wantW, H: wantH, Orientation: o}, cfg)

				got := mustDecode(t, data)
				require.Equal(t, rotateIndependently(upright, o), got)
				for k, p := range [4][2]int{{0, 0}, {wantW - 1, 0}, {0, wantH - 1}, {wantW - 1, wantH - 1}} {
					c := quadrantColors[corners[o][k]]
					i := got.PixOffset(p[0], p[1])
					require.InDelta(t, int(c.R), int(got.Pix[i]), 4, "corner %d", k)
					require.InDelta(t, int(c.G), int(got.Pix[i+1]), 4, "corner %d", k)
					require.InDelta(t, int(c.B), int(got.Pix[i+2]), 4, "corner %d", k)
				}
			})
		}
	}
}

func TestEXIFAfterJFIFAndOtherSegments(t *testing.T) {
	base := quadrantJPEG(t)
	// Go's encoder writes no APP0; add JFIF and a comment before the Exif.
	jfif := []byte{0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	com := []byte{0xff, 0xfe, 0, 5, 'h', 'i', '!'}
	seg := append(append(append([]byte{}, jfif...), com...), app1Exif(tiffOrientation(binary.BigEndian, 6))...)
	require.Equal(t, 6, jpegOrientation(spliceAfterSOI(base, seg)))
	// XMP in APP1 is not Exif; the Exif after it still counts.
	xmp := []byte{0xff, 0xe1, 0, 8, 'h', 't', 't', 'p', ':', '/'}
	require.Equal(t, 8, jpegOrientation(spliceAfterSOI(base, append(xmp, app1Exif(tiffOrientation(binary.LittleEndian, 8))...))))
	// An Exif segment after the first scan is ignored, as browsers do.
	require.Equal(t, 1, jpegOrientation(append(base[:len(base)-2], append(app1Exif(tiffOrientation(binary.LittleEndian, 6)), 0xff, 0xd9)...)))
}

func TestMalformedEXIFIgnored(t *testing.T) {
	good := tiffOrientation(binary.LittleEndian, 6)
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	for _, tc := range []struct {
		name string
		tiff []byte
	}{
		{"empty", nil},
		{"short_header", good[:7]},
		{"bad_byte_order", mod(func(b []byte) []byte { copy(b, "IM"); return b })},
		{"bad_magic", mod(func(b []byte) []byte { b[2] = 43; return b })},
		{"ifd_offset_past_end", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1<<31); return b })},
		{"ifd_offset_max", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 0xffffffff); return b })},
		{"entry_count_past_end", mod(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[8:], 0xffff); b[22] = 0; return b })},
		{"truncated_entry", good[:30]},
		{"wrong_type", mod(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[24:], 4); return b })},
		{"wrong_count", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[26:], 2); return b })},
		{"value_0", tiffOrientation(binary.LittleEndian, 0)},
		{"value_9", tiffOrientation(binary.LittleEndian, 9)},
		{"value_big", tiffOrientation(binary.BigEndian, 0x0600)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, 1, exifOrientation(tc.tiff))
			data := spliceAfterSOI(quadrantJPEG(t), app1Exif(tc.tiff))
			got := mustDecode(t, data)
			require.Equal(t, 64, got.W)
		})
	}
	t.Run("segment_length_past_end", func(t *testing.T) {
		data := []byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x', 'i', 'f', 0, 0}
		require.Equal(t, 1, jpegOrientation(data))
	})
	t.Run("segment_length_too_small", func(t *testing.T) {
		require.Equal(t, 1, jpegOrientation([]byte{0xff, 0xd8, 0xff, 0xe1, 0x00, 0x01}))
	})
}

func TestApplyOrientationInverse(t *testing.T) {
	// Awkward sizes, every orientation, against the independent lookup.
	for _, sz := range [][2]int{{1, 1}, {1, 3}, {3, 1}, {2, 2}, {5, 3}, {4, 7}} {
		for o := 1; o <= 8; o++ {
			m := &RGB{W: sz[0], H: sz[1], Pix: make([]uint8, sz[0]*sz[1]*3)}
			for i := range m.Pix {
				m.Pix[i] = uint8(i)
			}
			want := rotateIndependently(m, o)
			require.Equal(t, want, applyOrientation(m, o), "size %v orientation %d", sz, o)
		}
	}
}
