package decode

import "image"

// JPEG colour: libjpeg-turbo (used by Chromium and Firefox) upsamples chroma
// with its default "fancy" triangle filter and converts YCbCr to RGB with
// 16-bit fixed-point tables. Both are reproduced here bit for bit; Go's own
// YCbCr→RGB replicates chroma (nearest neighbour) and rounds differently.

// jdcolor.c tables, indexed by the 8-bit Cb or Cr sample.
var jpegCrR, jpegCbB, jpegCrG, jpegCbG = buildJPEGTables()

func buildJPEGTables() (crR, cbB, crG, cbG *[256]int32) {
	const (
		scaleBits = 16
		oneHalf   = 1 << (scaleBits - 1)
	)
	fix := func(x float64) int32 { return int32(x*(1<<scaleBits) + 0.5) }
	crR, cbB, crG, cbG = new([256]int32), new([256]int32), new([256]int32), new([256]int32)
	for i := range 256 {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + oneHalf) >> scaleBits
		cbB[i] = (fix(1.77200)*x + oneHalf) >> scaleBits
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + oneHalf
	}
	return
}

func clamp8(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// jpegYCC converts one full-range (JFIF) YCbCr sample as libjpeg-turbo does.
func jpegYCC(y, cb, cr uint8) (r, g, b uint8) {
	yy := int32(y)
	return clamp8(yy + jpegCrR[cr]), clamp8(yy + (jpegCbG[cb]+jpegCrG[cr])>>16), clamp8(yy + jpegCbB[cb])
}

// subsampling returns the horizontal and vertical chroma subsampling factors.
func subsampling(r image.YCbCrSubsampleRatio) (hs, vs int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 1, 1, true
	case image.YCbCrSubsampleRatio422:
		return 2, 1, true
	case image.YCbCrSubsampleRatio420:
		return 2, 2, true
	case image.YCbCrSubsampleRatio440:
		return 1, 2, true
	case image.YCbCrSubsampleRatio411:
		return 4, 1, true
	case image.YCbCrSubsampleRatio410:
		return 4, 2, true
	}
	return 0, 0, false
}

// chromaPlanesOK reports whether m has its origin at (0, 0) and planes long
// enough for cw×ch chroma samples, so the fast paths can index directly.
func chromaPlanesOK(m *image.YCbCr, w, h, cw, ch int) bool {
	return m.Rect.Min == (image.Point{}) && m.YStride >= w && m.CStride >= cw &&
		len(m.Y) >= (h-1)*m.YStride+w &&
		len(m.Cb) >= (ch-1)*m.CStride+cw && len(m.Cr) >= (ch-1)*m.CStride+cw
}

// jpegYCbCrToRGB converts m into dst (w·h·3 bytes) the way libjpeg-turbo's
// jdsample.c and jdcolor.c do. It returns false, writing nothing, for layouts
// it does not handle; the caller then uses the generic path.
func jpegYCbCrToRGB(dst []uint8, m *image.YCbCr) bool {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	hs, vs, ok := subsampling(m.SubsampleRatio)
	if !ok {
		return false
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs // libjpeg's downsampled_width/height
	if !chromaPlanesOK(m, w, h, cw, ch) {
		return false
	}
	cbRow := make([]uint8, cw*hs)
	crRow := make([]uint8, cw*hs)
	for y := 0; y < h; y++ {
		jpegUpsampleRow(cbRow, m.Cb, m.CStride, cw, ch, hs, vs, y)
		jpegUpsampleRow(crRow, m.Cr, m.CStride, cw, ch, hs, vs, y)
		yRow := m.Y[y*m.YStride:][:w]
		d := dst[y*w*3:][:w*3]
		for x, yv := range yRow {
			d[3*x], d[3*x+1], d[3*x+2] = jpegYCC(yv, cbRow[x], crRow[x])
		}
	}
	return true
}

// jpegUpsampleRow writes the chroma samples of output row y into out
// (cw·hs samples). The filters are libjpeg-turbo's: h2v1 and h2v2 "fancy"
// when the chroma is wider than 2 samples, h1v2 fancy always, and sample
// replication otherwise. Rows and columns past the edges repeat the edge.
func jpegUpsampleRow(out, plane []uint8, stride, cw, ch, hs, vs, y int) {
	cy := y / vs
	near := plane[cy*stride:][:cw]
	fancy := (hs == 2 && cw > 2) || (hs == 1 && vs == 2)
	if !fancy || (hs == 1 && vs == 1) {
		for x := range out {
			out[x] = near[x/hs]
		}
		return
	}
	if vs == 1 { // h2v1: 3/4 nearer + 1/4 further column
		for i := 0; i < cw; i++ {
			c3 := 3 * int(near[i])
			out[2*i] = uint8((c3 + int(near[max(i-1, 0)]) + 1) >> 2)
			out[2*i+1] = uint8((c3 + int(near[min(i+1, cw-1)]) + 2) >> 2)
		}
		return
	}
	// Vertical 3/4 nearer row + 1/4 the row above (even y) or below (odd y).
	fy, bias := cy-1, 1
	if y%2 == 1 {
		fy, bias = cy+1, 2
	}
	fy = min(max(fy, 0), ch-1)
	far := plane[fy*stride:][:cw]
	if hs == 1 { // h1v2
		for i := 0; i < cw; i++ {
			out[i] = uint8((3*int(near[i]) + int(far[i]) + bias) >> 2)
		}
		return
	}
	// h2v2: column sums, then 3/4 nearer + 1/4 further column, /16 overall.
	colsum := func(i int) int { return 3*int(near[i]) + int(far[i]) }
	last, this := colsum(0), colsum(0)
	for i := 0; i < cw; i++ {
		next := colsum(min(i+1, cw-1))
		out[2*i] = uint8((3*this + last + 8) >> 4)
		out[2*i+1] = uint8((3*this + next + 7) >> 4)
		last, this = this, next
	}
}

// WebP lossy colour: VP8 stores limited-range BT.601 YUV 4:2:0, which
// golang.org/x/image/webp returns as an *image.YCbCr that Go would convert as
// full-range JFIF (washed-out colours, golang/go#40173). Browsers use libwebp,
// whose default fancy upsampler and fixed-point conversion are reproduced
// here (src/dsp/upsampling.c, src/dsp/yuv.h).

func webpMultHi(v, coeff int) int { return (v * coeff) >> 8 }

func webpClip8(v int) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// webpYUV converts one limited-range YUV sample as libwebp's VP8YuvToRgb.
func webpYUV(y, u, v uint8) (r, g, b uint8) {
	yy := webpMultHi(int(y), 19077)
	return webpClip8(yy + webpMultHi(int(v), 26149) - 14234),
		webpClip8(yy - webpMultHi(int(u), 6419) - webpMultHi(int(v), 13320) + 8708),
		webpClip8(yy + webpMultHi(int(u), 33050) - 17685)
}

// webpYCbCrToRGB converts a 4:2:0 VP8 image into dst, applying the canvas
// alpha rule when alpha is not nil. It returns false for layouts it does not
// handle.
func webpYCbCrToRGB(dst []uint8, m *image.YCbCr, alpha []uint8, aStride int) bool {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	if m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return false
	}
	cw, ch := (w+1)/2, (h+1)/2
	if !chromaPlanesOK(m, w, h, cw, ch) || (alpha != nil && (aStride < w || len(alpha) < (h-1)*aStride+w)) {
		return false
	}
	uRow := make([]uint8, 2*cw)
	vRow := make([]uint8, 2*cw)
	for y := 0; y < h; y++ {
		// libwebp pairs output rows (2k-1, 2k) between chroma rows k-1 and k;
		// row 0, and the last row of an even height, use one chroma row.
		var nearY, farY int
		switch {
		case y == 0:
			nearY, farY = 0, 0
		case y%2 == 1:
			nearY, farY = (y-1)/2, min((y+1)/2, ch-1)
		default:
			nearY, farY = y/2, y/2-1
		}
		webpUpsampleRow(uRow[:w], m.Cb[nearY*m.CStride:][:cw], m.Cb[farY*m.CStride:][:cw])
		webpUpsampleRow(vRow[:w], m.Cr[nearY*m.CStride:][:cw], m.Cr[farY*m.CStride:][:cw])
		yRow := m.Y[y*m.YStride:][:w]
		d := dst[y*w*3:][:w*3]
		for x, yv := range yRow {
			r, g, b := webpYUV(yv, uRow[x], vRow[x])
			if alpha != nil {
				a := int(alpha[y*aStride+x]) << 8
				r, g, b = straightLUT[a|int(r)], straightLUT[a|int(g)], straightLUT[a|int(b)]
			}
			d[3*x], d[3*x+1], d[3*x+2] = r, g, b
		}
	}
	return true
}

// webpUpsampleRow is one output row of libwebp's UPSAMPLE_FUNC for one chroma
// plane: near is the chroma row weighted 3/4 vertically, far the other. out
// has the luma width.
func webpUpsampleRow(out, near, far []uint8) {
	n := len(out)
	out[0] = uint8((3*int(near[0]) + int(far[0]) + 2) >> 2)
	for x := 1; x <= (n-1)>>1; x++ {
		tl, t, l, u := int(near[x-1]), int(near[x]), int(far[x-1]), int(far[x])
		avg := tl + t + l + u + 8
		d12 := (avg + 2*(t+l)) >> 3
		d03 := (avg + 2*(tl+u)) >> 3
		out[2*x-1] = uint8((d12 + tl) >> 1)
		out[2*x] = uint8((d03 + t) >> 1)
	}
	if n&1 == 0 {
		last := (n - 1) >> 1
		out[n-1] = uint8((3*int(near[last]) + int(far[last]) + 2) >> 2)
	}
}
