package decode

import "encoding/binary"

// JPEG marker codes used by the segment walker.
const (
	markerSOI  = 0xd8
	markerEOI  = 0xd9
	markerSOS  = 0xda
	markerAPP1 = 0xe1
	markerTEM  = 0x01
	markerRST0 = 0xd0
	markerRST7 = 0xd7
)

// jpegSegments calls fn for each marker segment after SOI, with the marker
// code and the segment payload (without the length field), until fn returns
// false, the data ends, or the structure is malformed. At SOS, the payload is
// the scan header and the walk skips the entropy-coded data that follows.
// Every index is bounds-checked: the input is untrusted.
func jpegSegments(data []byte, fn func(marker byte, payload []byte) bool) {
	if len(data) < 2 || data[0] != 0xff || data[1] != markerSOI {
		return
	}
	i := 2
	for i < len(data) {
		if data[i] != 0xff {
			return
		}
		for i < len(data) && data[i] == 0xff { // fill bytes
			i++
		}
		if i >= len(data) {
			return
		}
		marker := data[i]
		i++
		switch {
		case marker == markerEOI:
			return
		case marker == markerTEM || (marker >= markerRST0 && marker <= markerRST7) || marker == markerSOI:
			continue // no length field
		}
		if i+2 > len(data) {
			return
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 || i+n > len(data) {
			return
		}
		if !fn(marker, data[i+2:i+n]) {
			return
		}
		i += n
		if marker == markerSOS {
			i = skipEntropyCoded(data, i)
		}
	}
}

// skipEntropyCoded returns the index of the first marker at or after i that
// ends entropy-coded data: 0xFF followed by a byte that is neither a stuffed
// zero nor a restart marker.
func skipEntropyCoded(data []byte, i int) int {
	for i+1 < len(data) {
		if data[i] != 0xff {
			i++
			continue
		}
		next := data[i+1]
		if next == 0x00 || (next >= markerRST0 && next <= markerRST7) || next == 0xff {
			i++
			continue
		}
		return i
	}
	return len(data)
}

// jpegScanCount returns the number of SOS markers in a JPEG.
func jpegScanCount(data []byte) int {
	n := 0
	jpegSegments(data, func(marker byte, _ []byte) bool {
		if marker == markerSOS {
			n++
		}
		return n <= maxJPEGScans // enough to refuse; stop walking
	})
	return n
}

// jpegOrientation returns the EXIF orientation (1..8) from the first APP1
// Exif segment before the first scan, as browsers read it. Absent, malformed
// or out-of-range orientation gives 1: bad metadata never fails a decode.
func jpegOrientation(data []byte) int {
	o := 1
	jpegSegments(data, func(marker byte, payload []byte) bool {
		if marker == markerSOS {
			return false
		}
		if marker == markerAPP1 && len(payload) >= 6 && string(payload[:6]) == "Exif\x00\x00" {
			o = exifOrientation(payload[6:])
			return false
		}
		return true
	})
	return o
}

// exifOrientation reads tag 0x0112 (Orientation, SHORT, count 1) from IFD0 of
// a TIFF structure, in either byte order. It returns 1 on any inconsistency.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 1
	}
	// uint64 arithmetic: offsets are attacker-controlled 32-bit values.
	size := uint64(len(tiff))
	ifd := uint64(bo.Uint32(tiff[4:]))
	if ifd+2 > size {
		return 1
	}
	count := uint64(bo.Uint16(tiff[ifd:]))
	for k := uint64(0); k < count; k++ {
		e := ifd + 2 + 12*k
		if e+12 > size {
			return 1
		}
		if bo.Uint16(tiff[e:]) != 0x0112 {
			continue
		}
		typ, n := bo.Uint16(tiff[e+2:]), bo.Uint32(tiff[e+4:])
		if typ != 3 || n != 1 {
			return 1
		}
		if v := int(bo.Uint16(tiff[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 1
	}
	return 1
}

// checkWebPFeatures refuses WebP features that golang.org/x/image/webp cannot
// decode, with a clearer error than its generic "invalid format".
func checkWebPFeatures(data []byte) error {
	const animationFlag = 0x02
	if len(data) >= 21 && string(data[12:16]) == "VP8X" && data[20]&animationFlag != 0 {
		return &UnsupportedError{Format: "webp", Msg: "animated WebP (only still images are supported)"}
	}
	return nil
}
