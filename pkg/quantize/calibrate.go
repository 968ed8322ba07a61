package quantize

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Method chooses how an activation tensor's range is calibrated from the
// values observed on the calibration images.
type Method int

const (
	// MinMax takes the smallest and largest value seen.
	MinMax Method = iota
	// Percentile clips at the Options.Percentile-th percentile of the sampled
	// values (and at 100 − p for a negative lower end).
	Percentile
	// MSE picks, among clipping points from 30% to 100% of the observed
	// range, the one minimising the squared quantization error (clipping
	// plus rounding) over the sampled values.
	MSE
)

var methodNames = [...]string{"minmax", "percentile", "mse"}

func (m Method) String() string {
	if m >= 0 && int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// ParseMethod is the inverse of Method.String.
func ParseMethod(s string) (Method, error) {
	for i, n := range methodNames {
		if n == s {
			return Method(i), nil
		}
	}
	return 0, fmt.Errorf("quantize: unknown calibration method %q (want %s)", s, strings.Join(methodNames[:], ", "))
}

// Observer accumulates the values one activation tensor takes over the
// calibration images: the exact minimum and maximum, and a deterministic
// strided sample of at most n values per image for percentile and MSE.
type Observer struct {
	Min, Max float64
	Samples  []float32
	n        int
}

// NewObserver returns an observer keeping at most n samples per image.
func NewObserver(n int) *Observer {
	return &Observer{Min: math.Inf(1), Max: math.Inf(-1), n: n}
}

// Observe records the values v of one image; img varies the sample phase.
func (o *Observer) Observe(v []float32, img int) {
	for _, x := range v {
		o.Min = min(o.Min, float64(x))
		o.Max = max(o.Max, float64(x))
	}
	if o.n <= 0 || len(v) == 0 {
		return
	}
	stride := max(1, len(v)/o.n)
	for j := (img * 7919) % stride; j < len(v); j += stride {
		o.Samples = append(o.Samples, v[j])
	}
}

// Merge adds the observations of p to o.
func (o *Observer) Merge(p *Observer) {
	o.Min, o.Max = min(o.Min, p.Min), max(o.Max, p.Max)
	o.Samples = append(o.Samples, p.Samples...)
}

// Range returns the calibrated range [lo, hi] by method m; it always
// contains 0 (so zero padding and ReLU's floor are exact).
func (o *Observer) Range(m Method, percentile float64) (lo, hi float64) {
	lo, hi = min(o.Min, 0), max(o.Max, 0)
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || len(o.Samples) == 0 {
		return lo, hi
	}
	switch m {
	case Percentile:
		s := slices.Clone(o.Samples)
		slices.Sort(s)
		at := func(p float64) float64 {
			i := int(math.Round(p / 100 * float64(len(s)-1)))
			return float64(s[min(max(i, 0), len(s)-1)])
		}
		if hi > 0 {
			hi = max(at(percentile), 0)
		}
		if lo < 0 {
			lo = min(at(100-percentile), 0)
		}
	case MSE:
		bestErr, bestK := math.Inf(1), 100
		for k := 100; k >= 30; k -= 2 {
			f := float64(k) / 100
			if e := quantError(o.Samples, lo*f, hi*f); e < bestErr {
				bestErr, bestK = e, k
			}
		}
		f := float64(bestK) / 100
		lo, hi = lo*f, hi*f
	}
	if hi-lo < 1e-6 {
		hi = lo + 1e-6
	}
	return lo, hi
}

// quantError is Σ (x − dequant(quant(x)))² for the range [lo, hi].
func quantError(v []float32, lo, hi float64) float64 {
	p := params(lo, hi, false)
	s, z := float64(p.Scale), float64(p.Zero)
	var e float64
	for _, x := range v {
		q := min(max(math.Floor(float64(x)/s+0.5)+z, 0), 255)
		d := float64(x) - (q-z)*s
		e += d * d
	}
	return e
}
