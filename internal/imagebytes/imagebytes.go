// Package imagebytes writes the bytes of image file headers by hand: the
// frames a decoder reads before any pixel, claiming whatever size a test
// needs, for the decode limit tests and the malformed-input table.
package imagebytes

import (
	"encoding/binary"
	"hash/crc32"
)

// PNGChunk is one PNG chunk: length, type, data, CRC of type and data.
func PNGChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// PNGHeader is a PNG signature, an IHDR claiming w×h RGB 8-bit and IEND:
// everything a header reader needs, no pixel data.
func PNGHeader(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, PNGChunk("IHDR", ihdr)...)
	return append(out, PNGChunk("IEND", nil)...)
}

// JPEGHeader is SOI, a frame header (marker sof: 0xC0 baseline, 0xC9
// arithmetic, ...) claiming w×h at the given sample precision with three
// components (4:2:0), a scan header with no data, and EOI. Go's
// DecodeConfig reads up to SOS when there is no JFIF segment, to learn the
// colour model.
func JPEGHeader(sof, precision byte, w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, sof, 0, 17, precision}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	b = append(b, 0xff, 0xda, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 0x3f, 0)
	return append(b, 0xff, 0xd9)
}

// GIFHeader is a GIF89a logical screen of w×h with no colour table and no
// image, then the trailer.
func GIFHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, 0x3b)
}
