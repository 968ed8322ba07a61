package quantize

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/veil-ml/veil/pkg/infer"
)

// Rounding the weights to the nearest int8 value is optimal for each weight
// alone but not for the layer's output: nsfwjs's MobileNetV2 loses most of
// its int8 fidelity to weight rounding in its first depthwise layer, whose
// 3×3 kernels nearly cancel on flat regions. GPTQ (Frantar et al., 2022,
// "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
// Transformers", after Optimal Brain Quantization) instead rounds one input
// weight at a time and spreads its error over the weights not yet rounded,
// weighted by the inverse of H = E[x·xᵀ] over the layer's input patches on
// the calibration images, so the error of W·x, not of W, is minimised.
// Scales are unchanged (max|w|/127 per output channel); only the rounding
// differs, so the file format and the engine are untouched.

// patchStats accumulates H = Σ x·xᵀ over input patches for one layer: one
// d×d matrix (conv and dense, d = kh·kw·cin) or one kh·kw square per
// channel (depthwise, whose output channel c sees only input channel c).
type patchStats struct {
	op    *infer.Op
	d     int       // patch length
	mats  int       // 1, or C for depthwise
	h     []float64 // mats × d × d, upper triangle filled
	patch []float64 // scratch
}

// maxPatchesPerImage bounds the patches sampled from one image per layer,
// so large early feature maps do not dominate the cost.
const maxPatchesPerImage = 1024

func newPatchStats(op *infer.Op, xs infer.Shape) *patchStats {
	s := &patchStats{op: op, mats: 1}
	switch op.Kind {
	case infer.OpConv2D:
		s.d = op.KH * op.KW * xs.C
	case infer.OpDepthwise:
		s.d, s.mats = op.KH*op.KW, xs.C
	case infer.OpDense:
		s.d = xs.Size()
	}
	s.h = make([]float64, s.mats*s.d*s.d)
	s.patch = make([]float64, s.d*s.mats) // depthwise gathers all channels' cells
	return s
}

// add accumulates the patches of input x (shape xs) for output shape ys;
// img varies which output pixels are sampled.
func (s *patchStats) add(x []float32, xs, ys infer.Shape, img int) {
	op := s.op
	if op.Kind == infer.OpDense {
		for i, v := range x[:s.d] {
			s.patch[i] = float64(v)
		}
		s.accumulate(0, s.patch[:s.d])
		return
	}
	pixels := ys.H * ys.W
	stride := max(1, pixels/maxPatchesPerImage)
	for p := (img * 7919) % stride; p < pixels; p += stride {
		oy, ox := p/ys.W, p%ys.W
		// Gather the patch in the weight layout [ky, kx, ci]; padding is 0.
		k := 0
		for ky := 0; ky < op.KH; ky++ {
			iy := oy*op.SH + ky - op.Pad.Top
			for kx := 0; kx < op.KW; kx++ {
				ix := ox*op.SW + kx - op.Pad.Left
				inside := iy >= 0 && iy < xs.H && ix >= 0 && ix < xs.W
				for ci := 0; ci < xs.C; ci++ {
					v := 0.0
					if inside {
						v = float64(x[(iy*xs.W+ix)*xs.C+ci])
					}
					s.patch[k] = v
					k++
				}
			}
		}
		if op.Kind == infer.OpDepthwise {
			// Patch element (cell, c) belongs to channel c's matrix.
			cells := op.KH * op.KW
			for c := 0; c < xs.C; c++ {
				var v [64]float64
				for j := 0; j < cells; j++ {
					v[j] = s.patch[j*xs.C+c]
				}
				s.accumulate(c, v[:cells])
			}
		} else {
			s.accumulate(0, s.patch[:s.d])
		}
	}
}

// accumulate adds v·vᵀ (upper triangle) to matrix m; zeros, which ReLU
// leaves many of, are skipped.
func (s *patchStats) accumulate(m int, v []float64) {
	d := s.d
	h := s.h[m*d*d:][:d*d]
	for a, va := range v {
		if va == 0 {
			continue
		}
		row := h[a*d+a : a*d+d]
		for j, vb := range v[a:] {
			row[j] += va * vb
		}
	}
}

// collectPatchStats runs the folded net on calib and returns H for every
// conv, depthwise and dense op from first on, indexed by op (nil for others).
func collectPatchStats(net *infer.Net, first int, calib [][]float32, o *Options) []*patchStats {
	stats := make([]*patchStats, len(net.Ops))
	var layers []int
	for i := first; i < len(net.Ops); i++ {
		op := &net.Ops[i]
		if op.Kind == infer.OpConv2D || op.Kind == infer.OpDepthwise || op.Kind == infer.OpDense {
			stats[i] = newPatchStats(op, net.Shapes[op.In[0]])
			layers = append(layers, i)
		}
	}
	r := newFloatRunner(net)
	for img, x := range calib {
		r.run(x)
		// Layers own their matrices, so they accumulate in parallel.
		parallel(len(layers), o.Workers, func(_, k int) {
			i := layers[k]
			op := &net.Ops[i]
			stats[i].add(r.bufs[op.In[0]], net.Shapes[op.In[0]], net.Shapes[op.Out], img)
		})
		if o.Progress != nil {
			o.Progress("gptq statistics", img+1, len(calib))
		}
	}
	return stats
}

// gptqDamp is the fraction of H's mean diagonal added to its diagonal, so
// that it is invertible and the updates stay small (the paper's 1%).
const gptqDamp = 0.01

// gptqRound quantizes w (d rows × cout columns, row-major: the Keras
// layouts with the output channel last) with the given per-column scales,
// using H (d×d, upper triangle) of the layer input. It returns the int8
// weights, or an error if H cannot be factored.
func gptqRound(w []float32, d, cout int, scale []float32, h []float64) ([]int8, error) {
	diag := func(a int) float64 { return h[a*d+a] }
	hs := mat.NewSymDense(d, nil)
	var meanDiag float64
	for a := 0; a < d; a++ {
		meanDiag += diag(a)
	}
	meanDiag /= float64(d)
	if meanDiag == 0 {
		meanDiag = 1
	}
	work := make([]float64, len(w))
	for i, v := range w {
		work[i] = float64(v)
	}
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			hs.SetSym(i, j, h[i*d+j])
		}
		if diag(i) == 0 {
			// An input that is always 0: its weights never matter.
			hs.SetSym(i, i, 1)
		}
		hs.SetSym(i, i, hs.At(i, i)+gptqDamp*meanDiag)
	}
	var chol mat.Cholesky
	if !chol.Factorize(hs) {
		return nil, fmt.Errorf("H is not positive definite")
	}
	var inv mat.SymDense
	if err := chol.InverseTo(&inv); err != nil {
		return nil, err
	}
	var cinv mat.Cholesky
	if !cinv.Factorize(&inv) {
		return nil, fmt.Errorf("H⁻¹ is not positive definite")
	}
	var u mat.TriDense
	cinv.UTo(&u) // H⁻¹ = UᵀU
	q := make([]int8, len(w))
	errRow := make([]float64, cout)
	for i := 0; i < d; i++ {
		uii := u.At(i, i)
		row := work[i*cout:][:cout]
		dst := q[i*cout:][:cout]
		for c, v := range row {
			s := float64(scale[c])
			r := min(max(math.Round(v/s), -127), 127)
			dst[c] = int8(r)
			errRow[c] = (v - r*s) / uii
		}
		for j := i + 1; j < d; j++ {
			uij := u.At(i, j)
			if uij == 0 {
				continue
			}
			next := work[j*cout:][:cout]
			for c, e := range errRow {
				next[c] -= e * uij
			}
		}
	}
	return q, nil
}

// gptqLayer rounds one layer's weights with its statistics; depthwise
// layers round each channel with its own matrix.
func gptqLayer(op *infer.Op, cout int, scale []float32, st *patchStats) ([]int8, error) {
	if op.Kind != infer.OpDepthwise {
		return gptqRound(op.Weights, st.d, cout, scale, st.h)
	}
	cells := st.d
	q := make([]int8, len(op.Weights))
	col := make([]float32, cells)
	for c := 0; c < cout; c++ {
		for j := 0; j < cells; j++ {
			col[j] = op.Weights[j*cout+c]
		}
		qc, err := gptqRound(col, cells, 1, scale[c:c+1], st.h[c*cells*cells:][:cells*cells])
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", c, err)
		}
		for j := 0; j < cells; j++ {
			q[j*cout+c] = qc[j]
		}
	}
	return q, nil
}
