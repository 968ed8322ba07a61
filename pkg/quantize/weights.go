package quantize

import (
	"math"

	"github.com/veil-ml/veil/pkg/infer"
)

// QuantizePerChannel quantizes w symmetrically to int8 with one scale per
// output channel; channel c holds the elements i with i % cout == c (the
// last axis of the Keras layouts [kh,kw,in,out], [kh,kw,C,1] and [in,out]):
//
//	scale[c] = max|w[.., c]| / 127,  q = round(w / scale[c]) in [−127, 127]
//
// A channel of zeros gets scale 1e−9 (any positive scale represents it).
// It returns the quantized weights, the scales and the SQNR in dB
// (10·log10 Σw² / Σ(w − q·scale)²; +Inf when exact).
func QuantizePerChannel(w []float32, cout int) (q []int8, scale []float32, sqnr float64) {
	return quantizePerChannel(w, cout, nil, false)
}

// quantizePerChannel is QuantizePerChannel with a lower bound on each
// scale; with grid, a channel whose weights lie on a grid of at most 255
// steps keeps it (gridLevels).
func quantizePerChannel(w []float32, cout int, minScale []float64, grid bool) (q []int8, scale []float32, sqnr float64) {
	if cout <= 0 || len(w)%cout != 0 {
		panic("quantize: QuantizePerChannel: weights do not divide into channels")
	}
	maxAbs := make([]float64, cout)
	for i, v := range w {
		maxAbs[i%cout] = max(maxAbs[i%cout], math.Abs(float64(v)))
	}
	levels := make([]int, cout)
	if grid {
		levels = gridLevels(w, cout, maxAbs)
	}
	scale = make([]float32, cout)
	for c, m := range maxAbs {
		s := m / 127
		if levels[c] > 0 {
			s = m / float64(levels[c])
		}
		if minScale != nil {
			s = max(s, minScale[c])
		}
		scale[c] = float32(s)
		if scale[c] == 0 {
			scale[c] = 1e-9
		}
	}
	q = make([]int8, len(w))
	for i, v := range w {
		q[i] = int8(min(max(math.Round(float64(v)/float64(scale[i%cout])), -127), 127))
	}
	return q, scale, weightSQNR(w, q, scale)
}

// gridTolerance is how far from its grid point (in steps) a weight may be
// and still count as on the grid: float32 rounding of the dequantization
// and BatchNorm folding moves a weight by ~1e-5 steps, a weight off the
// grid is off by ~0.25 steps on average.
const gridTolerance = 1e-3

// gridLevels finds, per output channel, weights that are already integers
// times a step: nsfwjs's weights are stored as uint8 per tensor
// (w = min + q·scale, with 0 on the grid), and folding BatchNorm scales a
// whole output channel, so most channels' weights are k·step with |k| ≤ 127
// and int8 holds them exactly with scale = step (where max|w|/127 would
// round them all again). levels[c] is the largest K ≤ 127 with every
// weight of channel c within gridTolerance of a multiple of maxAbs[c]/K,
// or 0 if there is none (the channel spans more than 255 steps, or its
// weights were merged with an adapter or equalized and lie on no grid).
func gridLevels(w []float32, cout int, maxAbs []float64) []int {
	levels := make([]int, cout)
	for c, m := range maxAbs {
		if m == 0 {
			continue
		}
	next:
		for k := 127; k >= 1; k-- {
			inv := float64(k) / m
			for i := c; i < len(w); i += cout {
				r := float64(w[i]) * inv
				if math.Abs(r-math.Round(r)) > gridTolerance {
					continue next
				}
			}
			levels[c] = k
			break
		}
	}
	return levels
}

// maxBias bounds |int32 bias| so that accumulations cannot overflow.
const maxBias = 1 << 26

// QuantizeLayer quantizes a layer's weights per output channel
// (QuantizePerChannel; with grid, channels already on a grid keep it, see
// gridLevels) and its bias to int32 at scale inScale·wScale[c]. A channel
// whose bias would exceed ±2^26 at that scale (a dead channel: zero
// weights, nonzero bias) gets a larger weight scale instead.
func QuantizeLayer(w, b []float32, cout int, inScale float32, grid bool) (q []int8, wScale []float32, bias []int32, sqnr float64) {
	minScale := make([]float64, cout)
	for c, v := range b {
		minScale[c] = math.Abs(float64(v)) / (float64(inScale) * maxBias)
	}
	q, wScale, sqnr = quantizePerChannel(w, cout, minScale, grid)
	return q, wScale, QuantizeBias(b, inScale, wScale), sqnr
}

// QuantizeBias returns round(b[c] / (inScale·wScale[c])), saturated to int32.
func QuantizeBias(b []float32, inScale float32, wScale []float32) []int32 {
	q := make([]int32, len(b))
	for c, v := range b {
		r := math.Round(float64(v) / (float64(inScale) * float64(wScale[c])))
		q[c] = int32(min(max(r, math.MinInt32), math.MaxInt32))
	}
	return q
}

// params returns asymmetric parameters covering [lo, hi] (lo ≤ 0 ≤ hi)
// on 8 bits, or 12 if wide.
func params(lo, hi float64, wide bool) infer.QParams {
	p := infer.QParams{Wide: wide}
	top := float64(p.Top())
	s := (hi - lo) / top
	p.Scale, p.Zero = float32(s), int32(min(max(math.Round(-lo/s), 0), top))
	return p
}

func sqnrDB(sig, noise float64) float64 {
	if noise == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(sig/noise)
}

// weightSQNR is the SQNR in dB of int8 weights q at per-channel scales
// (channel = index % len(scale)) against the float weights w.
func weightSQNR(w []float32, q []int8, scale []float32) float64 {
	var sig, noise float64
	for i, v := range w {
		d := float64(v) - float64(q[i])*float64(scale[i%len(scale)])
		sig += float64(v) * float64(v)
		noise += d * d
	}
	return sqnrDB(sig, noise)
}
