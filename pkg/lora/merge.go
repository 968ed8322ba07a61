package lora

import (
	"fmt"
	"math"
	"slices"
)

// Weighted is an adapter with the strength it is applied at.
type Weighted struct {
	Adapter *Adapter
	Weight  float64
}

// mergeJob is one validated layer update.
type mergeJob struct {
	l      *LayerAdapter
	k      *Kernel
	weight float64
}

// Merge adds the adapters to the kernels in dst, in order:
//
//	LoRA:  W' = W + weight·scale·B·A
//	DoRA:  W' = W + weight·(D − W),  D = m·V/‖V‖ per output channel, V = W + scale·B·A
//
// (with weight 1 DoRA gives exactly PEFT's merge, D). Adapter layers are matched to dst keys by
// ResolveLayer. Merge first checks every layer of every adapter — known layer, not depthwise,
// shapes equal, values finite — and returns an error without modifying dst if any fails.
// Elements whose delta is zero are left untouched, so weight 0 or B = 0 keeps a LoRA
// layer bit-identical. A DoRA channel whose V is all zero is set to zero.
func Merge(dst map[string]*Kernel, adapters []Weighted) error {
	names := make([]string, 0, len(dst))
	for n := range dst {
		names = append(names, n)
	}
	slices.Sort(names)
	var jobs []mergeJob
	for ai, wa := range adapters {
		a := wa.Adapter
		if a == nil {
			return fmt.Errorf("lora: adapters[%d] is nil", ai)
		}
		if math.IsNaN(wa.Weight) || math.IsInf(wa.Weight, 0) {
			return a.wrap(fmt.Errorf("lora: weight %g is not finite", wa.Weight))
		}
		target := make(map[string]string, len(a.Layers))
		for li := range a.Layers {
			l := &a.Layers[li]
			if err := l.Validate(); err != nil {
				return a.wrap(err)
			}
			name, err := ResolveLayer(l.Layer, names)
			if err != nil {
				return a.wrap(err)
			}
			if prev, dup := target[name]; dup {
				return a.wrap(fmt.Errorf("lora: layers %q and %q both resolve to model layer %q", prev, l.Layer, name))
			}
			target[name] = l.Layer
			k := dst[name]
			if err := checkTarget(name, k, l); err != nil {
				return a.wrap(err)
			}
			jobs = append(jobs, mergeJob{l, k, wa.Weight})
		}
	}
	for _, j := range jobs {
		if j.weight == 0 {
			continue
		}
		if j.l.Magnitude != nil {
			mergeDoRA(j.k.Data, j.l, j.weight)
		} else {
			mergeLoRA(j.k.Data, j.l, j.weight)
		}
	}
	return nil
}

// checkTarget checks that the adapter l can be added to kernel k of model layer name.
func checkTarget(name string, k *Kernel, l *LayerAdapter) error {
	if k == nil {
		return fmt.Errorf("lora: layer %q: kernel is nil", name)
	}
	if k.Depthwise {
		return fmt.Errorf("lora: layer %q is a depthwise (grouped) conv; LoRA cannot be merged into it", name)
	}
	var ok bool
	switch len(k.Shape) {
	case 2:
		ok = l.KH == 1 && l.KW == 1 && k.Shape[0] == l.In && k.Shape[1] == l.Out
	case 4:
		ok = k.Shape[0] == l.KH && k.Shape[1] == l.KW && k.Shape[2] == l.In && k.Shape[3] == l.Out
	}
	if !ok {
		return fmt.Errorf("lora: layer %q: weight shape %v, adapter delta %v", name, k.Shape, l.torchShape())
	}
	if n, _ := mulLimit(k.Shape...); n != len(k.Data) {
		return fmt.Errorf("lora: layer %q: weight shape %v needs %d values, kernel has %d", name, k.Shape, n, len(k.Data))
	}
	return nil
}

func mergeLoRA(w []float32, l *LayerAdapter, weight float64) {
	if allZero(l.B) || allZero(l.A) {
		return
	}
	for i, d := range l.deltaKeras(weight * l.Scale()) {
		if d != 0 {
			w[i] = float32(float64(w[i]) + d)
		}
	}
}

func mergeDoRA(w []float32, l *LayerAdapter, weight float64) {
	v := l.deltaKeras(l.Scale())
	for i := range v {
		v[i] += float64(w[i])
	}
	// Keras layout: output channel o is the column v[p·Out + o].
	norm := make([]float64, l.Out)
	for p := 0; p < len(v); p += l.Out {
		for o, x := range v[p : p+l.Out] {
			norm[o] += x * x
		}
	}
	for o := range norm {
		if norm[o] > 0 {
			norm[o] = float64(l.Magnitude[o]) / math.Sqrt(norm[o])
		}
	}
	for i := range v {
		d := v[i] * norm[i%l.Out]
		if weight == 1 {
			w[i] = float32(d)
		} else {
			w[i] = float32(float64(w[i]) + weight*(d-float64(w[i])))
		}
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}
