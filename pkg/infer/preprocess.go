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
	for r := range s {
		preprocessRow(dst[r*s*3:][:s*3], pix, w, h, s, r)
	}
}

// preprocessRow writes row r of Preprocess's output (S×3 values) into dst,
// so that a caller can use each row as it is made (Int8.RunRGB quantizes it)
// without holding the whole float image.
func preprocessRow(dst []float32, pix []uint8, w, h, s, r int) {
	norm := func(i int) float64 { return float64(float32(float64(pix[i]) / 255)) }
	if w == s && h == s {
		for i := range dst[:s*3] {
			dst[i] = float32(norm(r*s*3 + i))
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
	o := 0
	for c := 0; c < s; c++ {
		fc := colRatio * float64(c)
		c0 := max(0, int(math.Floor(fc)))
		cf := fc - float64(c0)
		c1 := min(w-1, int(math.Ceil(fc)))
		tl, tr := (r0*w+c0)*3, (r0*w+c1)*3
		bl, br := (r1*w+c0)*3, (r1*w+c1)*3
		for d := 0; d < 3; d++ {
			top := norm(tl+d) + (norm(tr+d)-norm(tl+d))*cf
			bottom := norm(bl+d) + (norm(br+d)-norm(bl+d))*cf
			dst[o] = float32(top + (bottom-top)*rf)
			o++
		}
	}
}
