package infer

import "math"

// Preprocess writes the model input for an RGB image exactly as nsfwjs
// builds it: pixels divided by 255 (float32), then, only if the image is
// not already S×S, tf.image.resizeBilinear to S×S with alignCorners=true:
// no half-pixel centres, no crop, aspect ratio not kept.
//
//	pix (h, w, 3) uint8 -> dst (s, s, 3) float32 in [0, 1]
//
// The arithmetic follows TF.js's CPU kernel step by step in float64 and
// rounds to float32 once per value, so the result is bit-identical to it.
func Preprocess(dst []float32, pix []uint8, w, h, s int) {
	if w <= 0 || h <= 0 || len(pix) < w*h*3 || len(dst) < s*s*3 {
		panic("infer: Preprocess: bad shapes")
	}
	preprocessRows(dst, pixRows(pix, w), w, h, s)
}

// preprocessRows is Preprocess reading the image through rows.
func preprocessRows(dst []float32, rows RowSource, w, h, s int) {
	for r := range s {
		preprocessRow(dst[r*s*3:][:s*3], rows, w, h, s, r)
	}
}

// pixRows returns row y (w·3 bytes) of an RGB image held whole, as a
// RowSource.
func pixRows(pix []uint8, w int) RowSource {
	return func(y int) []uint8 { return pix[y*w*3:][:w*3] }
}

// RowSource returns row y of an RGB image (w·3 bytes), for preprocessing
// an image without holding it whole (Int8.LoadRGB). The row may live in a
// buffer the source reuses, but must stay as it is until the source has
// been called twice more: bilinear resizing reads two rows at once.
type RowSource func(y int) []uint8

// preprocessRow writes row r of Preprocess's output (S×3 values) into dst,
// so that a caller can use each row as it is made (Int8.RunRGB quantizes it)
// without holding the whole float image. It reads the one or two source
// rows it needs through rows.
func preprocessRow(dst []float32, rows RowSource, w, h, s, r int) {
	norm := func(v uint8) float64 { return float64(float32(float64(v) / 255)) }
	if w == s && h == s {
		for i, v := range rows(r)[:s*3] {
			dst[i] = float32(norm(v))
		}
		return
	}
	// alignCorners maps output corners onto input corners.
	rowRatio := float64(h-1) / float64(s-1)
	colRatio := float64(w-1) / float64(s-1)
	if s == 1 {
		rowRatio, colRatio = float64(h), float64(w)
	}
	fr := rowRatio * float64(r)
	r0 := max(0, int(math.Floor(fr)))
	rf := fr - float64(r0)
	r1 := min(h-1, int(math.Ceil(fr)))
	top := rows(r0)[:w*3]
	bot := rows(r1)[:w*3]
	o := 0
	for c := 0; c < s; c++ {
		fc := colRatio * float64(c)
		c0 := max(0, int(math.Floor(fc)))
		cf := fc - float64(c0)
		c1 := min(w-1, int(math.Ceil(fc)))
		l, rt := c0*3, c1*3
		for d := 0; d < 3; d++ {
			t := norm(top[l+d]) + (norm(top[rt+d])-norm(top[l+d]))*cf
			b := norm(bot[l+d]) + (norm(bot[rt+d])-norm(bot[l+d]))*cf
			dst[o] = float32(t + (b-t)*rf)
			o++
		}
	}
}
