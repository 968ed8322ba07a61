package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// CombineMethod names a way of combining adapters, after PEFT's add_weighted_adapter.
type CombineMethod string

const (
	CombineLinear         CombineMethod = "linear"
	CombineCat            CombineMethod = "cat"
	CombineSVD            CombineMethod = "svd"
	CombineTIES           CombineMethod = "ties"
	CombineDARELinear     CombineMethod = "dare_linear"
	CombineDARETIES       CombineMethod = "dare_ties"
	CombineMagnitudePrune CombineMethod = "magnitude_prune"
)

// CombineOptions tunes Combine. The zero value suits linear, cat and svd.
type CombineOptions struct {
	Name         string  // name of the result, "combined" if empty
	Rank         int     // target rank for the SVD-based methods; 0 means the largest input rank of each layer
	Density      float64 // kept fraction in (0, 1] for ties, dare_linear, dare_ties, magnitude_prune
	Seed         uint64  // random seed for dare_linear and dare_ties
	MajoritySign string  // ties sign election: "total" (default: sign of the sum) or "frequency" (sign count)
}

// combineInput is one adapter's update of a layer, with its weight.
type combineInput struct {
	l      *LayerAdapter
	weight float64
}

// Combine merges adapters into one new adapter; the inputs are not modified. Layers are
// matched by name, and a layer missing from an adapter counts as a zero update. With
// Δ_i = scale_i·B_i·A_i and weights w_i:
//
//	linear           A = Σ √|w_i·s_i|·A_i, B = Σ sign(w_i)·√|w_i·s_i|·B_i (PEFT; needs equal ranks;
//	                 the product has cross terms, it is not Σ w_i·Δ_i)
//	cat              A = [A_1; A_2; …], B = [w_1·s_1·B_1, w_2·s_2·B_2, …]: exactly Σ w_i·Δ_i, rank Σ r_i
//	svd              Σ w_i·Δ_i truncated to the target rank by SVD (via cat and the QR trick)
//	magnitude_prune  each Δ_i keeps its top density fraction by magnitude, then Σ w_i·Δ_i
//	ties             trim as magnitude_prune, elect each entry's sign from the trimmed Δ_i,
//	                 then average w_i·Δ_i over the adapters agreeing with it (disjoint mean)
//	dare_linear      each Δ_i entry kept with probability density and divided by it, then Σ w_i·Δ_i
//	dare_ties        the DARE drop, then sign election and disjoint mean as in ties
//
// The pruning methods work on full deltas in PyTorch layout, as PEFT's "*_svd" variants do,
// and are brought back to the target rank by a truncated SVD; pruning factors separately
// (see PruneMagnitude) depends on the arbitrary basis of A and B. Results have scale 1
// (α = rank, no rsLoRA). DoRA adapters cannot be combined.
func Combine(adapters []Weighted, method CombineMethod, opts CombineOptions) (*Adapter, error) {
	if len(adapters) == 0 {
		return nil, fmt.Errorf("lora: combine: no adapters")
	}
	switch method {
	case CombineLinear, CombineCat, CombineSVD:
	case CombineTIES, CombineDARELinear, CombineDARETIES, CombineMagnitudePrune:
		if !(opts.Density > 0 && opts.Density <= 1) {
			return nil, fmt.Errorf("lora: combine %s: density %g is not in (0, 1]", method, opts.Density)
		}
	default:
		return nil, fmt.Errorf("lora: unknown combine method %q (want linear, cat, svd, ties, dare_linear, dare_ties or magnitude_prune)", method)
	}
	switch opts.MajoritySign {
	case "", "total", "frequency":
	default:
		return nil, fmt.Errorf("lora: combine: majority sign method %q (want total or frequency)", opts.MajoritySign)
	}
	if opts.Rank < 0 {
		return nil, fmt.Errorf("lora: combine: negative target rank %d", opts.Rank)
	}
	byLayer := make(map[string][]combineInput)
	for ai, wa := range adapters {
		a := wa.Adapter
		if a == nil {
			return nil, fmt.Errorf("lora: adapters[%d] is nil", ai)
		}
		if math.IsNaN(wa.Weight) || math.IsInf(wa.Weight, 0) {
			return nil, a.wrap(fmt.Errorf("lora: weight %g is not finite", wa.Weight))
		}
		if err := a.Validate(); err != nil {
			return nil, err
		}
		for li := range a.Layers {
			l := &a.Layers[li]
			if l.Magnitude != nil {
				return nil, a.wrap(fmt.Errorf("lora: layer %q: DoRA adapters cannot be combined", l.Layer))
			}
			if prev := byLayer[l.Layer]; len(prev) > 0 {
				p := prev[0].l
				if p.In != l.In || p.Out != l.Out || p.KH != l.KH || p.KW != l.KW || p.Conv != l.Conv {
					return nil, a.wrap(fmt.Errorf("lora: layer %q: delta %v, another adapter has %v", l.Layer, l.torchShape(), p.torchShape()))
				}
				if method == CombineLinear && p.Rank != l.Rank {
					return nil, a.wrap(fmt.Errorf("lora: layer %q: linear combination needs equal ranks, got %d and %d (use cat or svd)", l.Layer, p.Rank, l.Rank))
				}
			}
			byLayer[l.Layer] = append(byLayer[l.Layer], combineInput{l, wa.Weight})
		}
	}
	names := make([]string, 0, len(byLayer))
	for n := range byLayer {
		names = append(names, n)
	}
	slices.Sort(names)

	name := opts.Name
	if name == "" {
		name = "combined"
	}
	out := &Adapter{Name: name}
	rng := rand.New(rand.NewPCG(opts.Seed, dareStream))
	for _, n := range names {
		in := byLayer[n]
		var l LayerAdapter
		var err error
		switch method {
		case CombineLinear:
			l = combineLinear(in)
		case CombineCat:
			l = combineCat(in)
		case CombineSVD:
			cat := combineCat(in)
			var f svdFactors
			if f, err = deltaSVD(&cat, 1); err == nil {
				l = truncated(&cat, f, targetRank(in, opts.Rank, len(f.s)))
			}
		default:
			l, err = combinePruned(in, method, opts, rng)
		}
		if err != nil {
			return nil, err
		}
		out.Layers = append(out.Layers, l)
	}
	return out, nil
}

// targetRank is the requested rank, or the largest input rank, capped at the available n.
func targetRank(in []combineInput, want, n int) int {
	if want == 0 {
		for _, c := range in {
			want = max(want, c.l.Rank)
		}
	}
	return max(1, min(want, n))
}

// newCombined returns a layer shaped like in[0] with rank r, zero factors and scale 1.
func newCombined(in []combineInput, r int) LayerAdapter {
	p := in[0].l
	return LayerAdapter{
		Layer: p.Layer, Rank: r, In: p.In, Out: p.Out, KH: p.KH, KW: p.KW, Conv: p.Conv,
		A: make([]float32, r*p.Fan()), B: make([]float32, p.Out*r), Alpha: float64(r),
	}
}

func combineLinear(in []combineInput) LayerAdapter {
	r := in[0].l.Rank
	l := newCombined(in, r)
	a, b := make([]float64, len(l.A)), make([]float64, len(l.B))
	for _, c := range in {
		ws := c.weight * c.l.Scale()
		f := math.Sqrt(math.Abs(ws))
		for i, v := range c.l.A {
			a[i] += f * float64(v)
		}
		f = math.Copysign(f, ws)
		for i, v := range c.l.B {
			b[i] += f * float64(v)
		}
	}
	l.A, l.B = toFloat32(a), toFloat32(b)
	return l
}

func combineCat(in []combineInput) LayerAdapter {
	total := 0
	for _, c := range in {
		total += c.l.Rank
	}
	l := newCombined(in, total)
	n, off := l.Fan(), 0
	for _, c := range in {
		r, ws := c.l.Rank, c.weight*c.l.Scale()
		copy(l.A[off*n:], c.l.A)
		for o := 0; o < l.Out; o++ {
			for q := 0; q < r; q++ {
				l.B[o*total+off+q] = float32(ws * float64(c.l.B[o*r+q]))
			}
		}
		off += r
	}
	return l
}

// combinePruned runs the delta-level task arithmetic methods and truncates back to low rank.
func combinePruned(in []combineInput, method CombineMethod, opts CombineOptions, rng *rand.Rand) (LayerAdapter, error) {
	p := in[0].l
	n := p.Out * p.Fan()
	deltas := make([][]float64, len(in))
	for i, c := range in {
		var d mat.Dense
		d.Mul(mat.NewDense(p.Out, c.l.Rank, toFloat64(c.l.B)), mat.NewDense(c.l.Rank, p.Fan(), toFloat64(c.l.A)))
		d.Scale(c.l.Scale(), &d)
		deltas[i] = d.RawMatrix().Data
		switch method {
		case CombineTIES, CombineMagnitudePrune:
			keepTopMagnitude(deltas[i], opts.Density)
		case CombineDARELinear, CombineDARETIES:
			dareDrop(deltas[i], opts.Density, rng)
		}
	}
	mixed := make([]float64, n)
	switch method {
	case CombineMagnitudePrune, CombineDARELinear:
		for i, d := range deltas {
			for j, v := range d {
				mixed[j] += in[i].weight * v
			}
		}
	case CombineTIES, CombineDARETIES:
		for j := range mixed {
			elect := 0.0
			for _, d := range deltas {
				if opts.MajoritySign == "frequency" {
					elect += sign(d[j])
				} else {
					elect += d[j]
				}
			}
			major := 1.0
			if elect < 0 {
				major = -1
			}
			sum, count := 0.0, 0
			for i, d := range deltas {
				if sign(d[j]) == major {
					sum += in[i].weight * d[j]
					count++
				}
			}
			if count > 0 {
				mixed[j] = sum / float64(count)
			}
		}
	}
	f, err := denseSVD(p.Layer, mat.NewDense(p.Out, p.Fan(), mixed))
	if err != nil {
		return LayerAdapter{}, err
	}
	l := newCombined(in, 1)
	return truncated(&l, f, targetRank(in, opts.Rank, len(f.s))), nil
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}
