package malformed

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"

	"github.com/veil-ml/veil/internal/imagebytes"
)

// The standard library writes neither gray+alpha PNG, CMYK JPEG, EXIF nor
// WebP, so those few encoders are here, each as small as its case needs.

func encodePNG(m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic("malformed: " + err.Error())
	}
	return b.Bytes()
}

func encodeJPEG(m image.Image, quality int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: quality}); err != nil {
		panic("malformed: " + err.Error())
	}
	return b.Bytes()
}

func encodeGIF(g *gif.GIF) []byte {
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		panic("malformed: " + err.Error())
	}
	return b.Bytes()
}

// rawPNG writes a non-interlaced PNG of any colour type and bit depth from
// its unfiltered scanlines (rows of w samples, packed as the PNG stores them).
func rawPNG(w, h int, colorType, bitDepth byte, rows []byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, uint32(w))
	ihdr = binary.BigEndian.AppendUint32(ihdr, uint32(h))
	ihdr = append(ihdr, bitDepth, colorType, 0, 0, 0)
	stride := len(rows) / h
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	for y := 0; y < h; y++ {
		zw.Write([]byte{0}) // filter: none
		zw.Write(rows[y*stride : (y+1)*stride])
	}
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, imagebytes.PNGChunk("IHDR", ihdr)...)
	out = append(out, imagebytes.PNGChunk("IDAT", z.Bytes())...)
	return append(out, imagebytes.PNGChunk("IEND", nil)...)
}

// withEXIF inserts an APP1 Exif segment holding only the Orientation tag
// right after the JPEG's SOI marker. bigEndian picks the TIFF byte order.
func withEXIF(jpg []byte, orientation uint16, bigEndian bool) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	tiff := []byte("II*\x00")
	if bigEndian {
		bo, tiff = binary.BigEndian, []byte("MM\x00*")
	}
	tiff = bo.AppendUint32(tiff, 8)      // offset of IFD0
	tiff = bo.AppendUint16(tiff, 1)      // one entry
	tiff = bo.AppendUint16(tiff, 0x0112) // Orientation
	tiff = bo.AppendUint16(tiff, 3)      // SHORT
	tiff = bo.AppendUint32(tiff, 1)      // count
	tiff = bo.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0)       // value padding
	tiff = bo.AppendUint32(tiff, 0) // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xff, 0xe1}
	app1 = binary.BigEndian.AppendUint16(app1, uint16(len(seg)+2))
	app1 = append(app1, seg...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	return append(out, jpg[2:]...)
}

// storedForOrientation returns the image a camera would store so that
// applying EXIF orientation n gives up. It inverts the mapping documented in
// pkg/infer/decode: upright (x, y) comes from the stored pixel listed there.
func storedForOrientation(up *image.RGBA, n int) *image.RGBA {
	uw, uh := up.Rect.Dx(), up.Rect.Dy()
	sw, sh := uw, uh
	if n >= 5 {
		sw, sh = uh, uw
	}
	s := image.NewRGBA(image.Rect(0, 0, sw, sh))
	for y := 0; y < uh; y++ {
		for x := 0; x < uw; x++ {
			var sx, sy int
			switch n {
			case 1:
				sx, sy = x, y
			case 2:
				sx, sy = sw-1-x, y
			case 3:
				sx, sy = sw-1-x, sh-1-y
			case 4:
				sx, sy = x, sh-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, sh-1-x
			case 7:
				sx, sy = sw-1-y, sh-1-x
			case 8:
				sx, sy = sw-1-y, x
			}
			s.SetRGBA(sx, sy, up.RGBAAt(x, y))
		}
	}
	return s
}

// bitWriter packs bits least significant first (WebP) or most significant
// first (JPEG).
type bitWriter struct {
	out   []byte
	acc   uint64
	n     uint
	msb   bool
	stuff bool // JPEG: a 0x00 after every 0xFF byte of entropy-coded data
}

func (w *bitWriter) write(v uint64, bits uint) {
	if w.msb {
		w.acc = w.acc<<bits | v&(1<<bits-1)
		w.n += bits
		for w.n >= 8 {
			b := byte(w.acc >> (w.n - 8))
			w.out = append(w.out, b)
			if w.stuff && b == 0xff {
				w.out = append(w.out, 0)
			}
			w.n -= 8
		}
		return
	}
	w.acc |= (v & (1<<bits - 1)) << w.n
	w.n += bits
	for w.n >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// flush pads the last byte: with 1 bits for JPEG, 0 bits for WebP.
func (w *bitWriter) flush() []byte {
	if w.n > 0 {
		if w.msb {
			w.write(1<<(8-w.n)-1, 8-w.n)
		} else {
			w.write(0, 8-w.n)
		}
	}
	return w.out
}

// cmykJPEG writes a baseline Adobe CMYK JPEG (four components, no chroma
// subsampling, APP14 transform 0) whose every 8×8 block is one flat colour:
// only DC coefficients are coded, so no DCT is needed. Samples are stored
// Adobe-inverted, as Photoshop writes them. w and h are multiples of 8.
func cmykJPEG(w, h int, block func(bx, by int) [4]uint8) []byte {
	b := []byte{0xff, 0xd8}
	// APP14 Adobe: version 100, flags 0, transform 0 (CMYK, no YCC).
	b = append(b, 0xff, 0xee, 0, 14)
	b = append(b, "Adobe\x00\x64\x00\x00\x00\x00\x00"...)
	// DQT: table 0, all ones, so a DC coefficient is 8×(sample−128) exactly.
	b = append(b, 0xff, 0xdb, 0, 67, 0)
	b = append(b, bytes.Repeat([]byte{1}, 64)...)
	// SOF0: 8-bit, h×w, 4 components 1..4 at 1×1 sampling, table 0.
	b = append(b, 0xff, 0xc0, 0, 20, 8)
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = append(b, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0)
	// DHT: DC table 0 is the standard luminance DC table (Annex K.3); AC
	// table 0 has two 2-bit codes, EOB (0x00) = 00 and an unused 0x01.
	dcBits := []byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	dcVals := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	acBits := []byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	acVals := []byte{0x00, 0x01}
	dht := []byte{0x00}
	dht = append(append(dht, dcBits...), dcVals...)
	dht = append(append(append(dht, 0x10), acBits...), acVals...)
	b = append(b, 0xff, 0xc4)
	b = binary.BigEndian.AppendUint16(b, uint16(len(dht)+2))
	b = append(b, dht...)
	// SOS: all four components, tables 0/0, spectral 0..63.
	b = append(b, 0xff, 0xda, 0, 14, 4, 1, 0, 2, 0, 3, 0, 4, 0, 0, 63, 0)

	// Canonical codes of the DC table, by category.
	var dcCode [12]uint16
	var dcLen [12]uint
	code, k := uint16(0), 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < int(dcBits[l-1]); i++ {
			dcCode[dcVals[k]], dcLen[dcVals[k]] = code, uint(l)
			code++
			k++
		}
		code <<= 1
	}
	bw := &bitWriter{msb: true, stuff: true}
	var pred [4]int
	for by := 0; by < h/8; by++ {
		for bx := 0; bx < w/8; bx++ {
			c := block(bx, by)
			for comp := 0; comp < 4; comp++ {
				dc := 8 * (int(c[comp]) - 128)
				diff := dc - pred[comp]
				pred[comp] = dc
				cat, mag := 0, diff
				if mag < 0 {
					mag = -mag
				}
				for mag>>cat != 0 {
					cat++
				}
				bw.write(uint64(dcCode[cat]), dcLen[cat])
				if cat > 0 {
					v := diff
					if diff < 0 {
						v = diff + 1<<cat - 1
					}
					bw.write(uint64(v), uint(cat))
				}
				bw.write(0, 2) // EOB: every AC coefficient is zero
			}
		}
	}
	b = append(b, bw.flush()...)
	return append(b, 0xff, 0xd9)
}

// riff wraps chunks into a RIFF/WEBP file.
func riff(chunks ...[]byte) []byte {
	body := []byte("WEBP")
	for _, c := range chunks {
		body = append(body, c...)
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(len(body)))
	return append(out, body...)
}

// riffChunk is one RIFF chunk, padded to an even size.
func riffChunk(typ string, data []byte) []byte {
	b := append([]byte(typ), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// vp8lSolid is the VP8L (lossless WebP) bitstream of a w×h image of one
// colour: no transforms, no colour cache, and five one-symbol prefix codes,
// so that every pixel takes zero bits.
func vp8lSolid(w, h int, c color.NRGBA) []byte {
	bw := &bitWriter{}
	bw.write(0x2f, 8) // signature
	bw.write(uint64(w-1), 14)
	bw.write(uint64(h-1), 14)
	alpha := uint64(0)
	if c.A != 255 {
		alpha = 1
	}
	bw.write(alpha, 1)
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	// Green, red, blue, alpha, distance: simple codes with one 8-bit symbol.
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(uint64(sym), 8)
	}
	return bw.flush()
}

// webpLossless is a complete lossless WebP file of one colour.
func webpLossless(w, h int, c color.NRGBA) []byte {
	return riff(riffChunk("VP8L", vp8lSolid(w, h, c)))
}

// webpAnimated is an animated WebP (VP8X with the animation flag, ANIM, and
// two ANMF frames of one colour each) of w×h.
func webpAnimated(w, h int) []byte {
	vp8x := []byte{0x02 | 0x10, 0, 0, 0} // animation, alpha
	vp8x = append(vp8x, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	anim := []byte{0, 0, 0, 0, 0, 0} // background colour, loop forever
	frame := func(c color.NRGBA) []byte {
		f := []byte{0, 0, 0, 0, 0, 0} // X/2, Y/2 offsets
		f = append(f, byte(w-1), byte((w-1)>>8), byte((w-1)>>16), byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
		f = append(f, 100, 0, 0, 0) // 100 ms, no blend, no dispose
		return riffChunk("ANMF", append(f, riffChunk("VP8L", vp8lSolid(w, h, c))...))
	}
	return riff(riffChunk("VP8X", vp8x), riffChunk("ANIM", anim),
		frame(color.NRGBA{200, 40, 40, 255}), frame(color.NRGBA{40, 40, 200, 255}))
}
