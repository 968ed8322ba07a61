package lora

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

func checkDensity(density float64) error {
	if !(density > 0 && density <= 1) {
		return fmt.Errorf("lora: density %g is not in (0, 1]", density)
	}
	return nil
}

// PruneMagnitude returns a copy of a in which each layer's A and B, separately, keep only
// their ⌊density·len⌋ largest-magnitude entries (earlier entries win ties) and the rest are
// zero. Pruning the factors, as PEFT's non-SVD path does, keeps the rank and the file layout;
// to prune deltas use Combine with CombineMagnitudePrune.
func PruneMagnitude(a *Adapter, density float64) (*Adapter, error) {
	if err := checkDensity(density); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	out := a.Clone()
	for i := range out.Layers {
		l := &out.Layers[i]
		l.A = toFloat32(keepTopMagnitude(toFloat64(l.A), density))
		l.B = toFloat32(keepTopMagnitude(toFloat64(l.B), density))
	}
	return out, nil
}

// PruneDARE returns a copy of a in which every entry of each layer's A and B is dropped with
// probability 1−density and the kept entries are divided by density (DARE). The masks of A
// and B are independent, so the expected delta is unchanged. The result depends only on a,
// density and seed (PCG, drawn layer by layer, A then B, in storage order).
func PruneDARE(a *Adapter, density float64, seed uint64) (*Adapter, error) {
	if err := checkDensity(density); err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, dareStream))
	out := a.Clone()
	for i := range out.Layers {
		l := &out.Layers[i]
		l.A = toFloat32(dareDrop(toFloat64(l.A), density, rng))
		l.B = toFloat32(dareDrop(toFloat64(l.B), density, rng))
	}
	return out, nil
}

// dareStream is the second PCG word, fixed so a seed means the same masks everywhere.
const dareStream = 0x6461726521

// keepTopMagnitude zeroes all but the ⌊density·len(v)⌋ entries of largest |v|, in place.
func keepTopMagnitude(v []float64, density float64) []float64 {
	k := int(density * float64(len(v)))
	if k >= len(v) {
		return v
	}
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(v[b]), math.Abs(v[a])) })
	for _, i := range idx[k:] {
		v[i] = 0
	}
	return v
}

// dareDrop keeps each entry with probability density, rescaled by 1/density, in place.
func dareDrop(v []float64, density float64, rng *rand.Rand) []float64 {
	for i := range v {
		if rng.Float64() < density {
			v[i] /= density
		} else {
			v[i] = 0
		}
	}
	return v
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
