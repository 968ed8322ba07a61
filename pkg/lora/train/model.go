package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/lora"
)

// Layer is one head layer in float64: the frozen dense weights and, if
// Rank > 0, the LoRA factors being trained.
type Layer struct {
	Name    string
	In, Out int
	W       []float64 // [In, Out], frozen
	Bias    []float64 // [Out], zeros if the layer has none
	Act     infer.Activation

	Rank  int
	Alpha float64
	A     []float64 // [Rank, In]
	B     []float64 // [Out, Rank]
}

// Scale is alpha/rank.
func (l *Layer) Scale() float64 { return l.Alpha / float64(l.Rank) }

// Model is a head, and optionally a Stem, with LoRA factors on some of its layers.
type Model struct {
	Stem   *Stem // nil: samples hold the head's input
	Layers []Layer
}

// Tail is the trainable end of a network: an optional Stem and the head.
type Tail struct {
	Head  []infer.HeadLayer
	Stem  *Stem // frozen (Rank 0); nil for none
	Input int   // tensor id, in the Net, of what samples hold: the stem's or the head's input
}

// Net returns the part of net (or of a merged copy of it) that maps a
// sample's input to the probabilities.
func (t Tail) Net(net *infer.Net) (*infer.Net, error) { return net.Slice(t.Input, net.Output) }

// NewModel copies the tail into float64 and adds LoRA factors of the given
// rank and alpha to the layers named in targets (all layers and the stem if
// targets is empty): A uniform in ±1/√In from rng, B zero. It fails on an
// unknown target name.
func NewModel(tail Tail, targets []string, rank int, alpha float64, rng *rand.Rand) (*Model, error) {
	if rank < 1 {
		return nil, fmt.Errorf("train: rank %d: must be at least 1", rank)
	}
	want := map[string]bool{}
	for _, t := range targets {
		want[t] = true
	}
	m := &Model{}
	if tail.Stem != nil {
		m.Stem = tail.Stem.clone()
		m.Stem.Rank, m.Stem.A, m.Stem.B = 0, nil, nil
		if len(targets) == 0 || want[m.Stem.Name] {
			delete(want, m.Stem.Name)
			st := m.Stem
			st.Rank, st.Alpha = rank, alpha
			st.A = make([]float64, rank*st.In)
			bound := 1 / math.Sqrt(float64(st.In))
			for i := range st.A {
				st.A[i] = bound * (2*rng.Float64() - 1)
			}
			st.B = make([]float64, st.Out*rank)
		}
	}
	for _, h := range tail.Head {
		l := Layer{Name: h.Name, In: h.In, Out: h.Out, Act: h.Act, W: make([]float64, len(h.Weights)), Bias: make([]float64, h.Out)}
		for i, v := range h.Weights {
			l.W[i] = float64(v)
		}
		for i, v := range h.Bias {
			l.Bias[i] = float64(v)
		}
		if len(targets) == 0 || want[h.Name] {
			delete(want, h.Name)
			l.Rank, l.Alpha = rank, alpha
			l.A = make([]float64, rank*l.In)
			bound := 1 / math.Sqrt(float64(l.In))
			for i := range l.A {
				l.A[i] = bound * (2*rng.Float64() - 1)
			}
			l.B = make([]float64, l.Out*rank)
		}
		m.Layers = append(m.Layers, l)
	}
	for t := range want {
		var names []string
		if tail.Stem != nil {
			names = append(names, tail.Stem.Name)
		}
		for _, h := range tail.Head {
			names = append(names, h.Name)
		}
		return nil, fmt.Errorf("train: layer %q is not trainable here (trainable: %v)", t, names)
	}
	return m, nil
}

// Clone returns a deep copy of m's trainable factors sharing the frozen weights.
func (m *Model) Clone() *Model {
	c := &Model{Layers: make([]Layer, len(m.Layers))}
	if m.Stem != nil {
		c.Stem = m.Stem.clone()
	}
	copy(c.Layers, m.Layers)
	for i := range c.Layers {
		c.Layers[i].A = append([]float64(nil), m.Layers[i].A...)
		c.Layers[i].B = append([]float64(nil), m.Layers[i].B...)
	}
	return c
}

// Adapter returns the LoRA factors as a lora.Adapter, dense layers named as
// the head's layers, factors rounded to float32.
func (m *Model) Adapter(name string) *lora.Adapter {
	a := &lora.Adapter{Name: name}
	if s := m.Stem; s != nil && s.Rank > 0 {
		a.Layers = append(a.Layers, lora.LayerAdapter{Layer: s.Name, Rank: s.Rank, In: s.In, Out: s.Out, KH: 1, KW: 1, Conv: true,
			Alpha: s.Alpha, A: toF32(s.A), B: toF32(s.B)})
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.Rank == 0 {
			continue
		}
		a.Layers = append(a.Layers, lora.LayerAdapter{Layer: l.Name, Rank: l.Rank, In: l.In, Out: l.Out, KH: 1, KW: 1,
			Alpha: l.Alpha, A: toF32(l.A), B: toF32(l.B)})
	}
	return a
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// pass is the per-sample state of one forward and backward pass.
type pass struct {
	h    [][]float64 // h[l]: input of layer l (h[L]: probabilities)
	z    [][]float64 // pre-activation of layer l
	u    [][]float64 // LoRA path input: h[l]·mask[l]
	mask [][]float64 // dropout factor per input: 0 or 1/(1−dropout), 1 without dropout
	a    [][]float64 // A·u, [Rank]
	dz   []float64
	dh   []float64
	sp   *stemPass
	grad *Model // gradient accumulators (A and B only)
}

func (m *Model) newPass() *pass {
	p := &pass{grad: m.Clone()}
	for i := range m.Layers {
		l := &m.Layers[i]
		p.h = append(p.h, make([]float64, l.In))
		p.z = append(p.z, make([]float64, l.Out))
		p.u = append(p.u, make([]float64, l.In))
		p.mask = append(p.mask, make([]float64, l.In))
		p.a = append(p.a, make([]float64, l.Rank))
		p.dz = make([]float64, max(len(p.dz), l.Out))
		p.dh = make([]float64, max(len(p.dh), l.In))
	}
	p.h = append(p.h, make([]float64, m.Layers[len(m.Layers)-1].Out))
	if m.Stem != nil {
		p.sp = m.Stem.newPass()
	}
	p.zeroGrad()
	return p
}

func (p *pass) zeroGrad() {
	if p.grad.Stem != nil {
		clear(p.grad.Stem.A)
		clear(p.grad.Stem.B)
	}
	for i := range p.grad.Layers {
		clear(p.grad.Layers[i].A)
		clear(p.grad.Layers[i].B)
	}
}

// forward computes the probabilities of one sample, using its caches if
// present. dropout > 0 drops the dense layers' LoRA-path inputs with that
// probability (rng must then be non-nil); the stem has no dropout.
func (m *Model) forward(p *pass, s *Sample, dropout float64, rng *rand.Rand) []float64 {
	if m.Stem != nil {
		m.Stem.forward(p.sp, p.h[0], s.Features, s.zc)
	} else {
		for i, v := range s.Features {
			p.h[0][i] = float64(v)
		}
	}
	for li := range m.Layers {
		l := &m.Layers[li]
		h, z := p.h[li], p.z[li]
		if li == 0 && s.z0 != nil && m.Stem == nil {
			copy(z, s.z0)
		} else {
			denseF64(z, h, l.W, l.Bias)
		}
		if l.Rank > 0 {
			u, a, mask := p.u[li], p.a[li], p.mask[li]
			if dropout > 0 {
				keep := 1 / (1 - dropout)
				for i, v := range h {
					mask[i] = keep
					if rng.Float64() < dropout {
						mask[i] = 0
					}
					u[i] = v * mask[i]
				}
			} else {
				copy(u, h)
				for i := range mask {
					mask[i] = 1
				}
			}
			for q := range a {
				row := l.A[q*l.In : (q+1)*l.In]
				s := 0.0
				for i, v := range u {
					s += row[i] * v
				}
				a[q] = s
			}
			sc := l.Scale()
			for o := range z {
				b := l.B[o*l.Rank : (o+1)*l.Rank]
				s := 0.0
				for q, v := range a {
					s += b[q] * v
				}
				z[o] += sc * s
			}
		}
		activateF64(p.h[li+1], z, l.Act)
	}
	return p.h[len(m.Layers)]
}

// backward accumulates into p.grad the gradient of weight·loss for the last
// forward pass (of sample s), where the loss is cross entropy (or KL) against
// target, whose gradient at the logits is weight·(probs − target).
func (m *Model) backward(p *pass, s *Sample, target []float64, weight float64) {
	L := len(m.Layers)
	probs := p.h[L]
	dz := p.dz[:m.Layers[L-1].Out]
	for o := range dz {
		dz[o] = weight * (probs[o] - target[o])
	}
	for li := L - 1; li >= 0; li-- {
		l := &m.Layers[li]
		g := &p.grad.Layers[li]
		dz = p.dz[:l.Out]
		var da []float64
		if l.Rank > 0 {
			sc := l.Scale()
			a, u := p.a[li], p.u[li]
			da = make([]float64, l.Rank)
			for o, d := range dz {
				if d == 0 {
					continue
				}
				b := l.B[o*l.Rank : (o+1)*l.Rank]
				gb := g.B[o*l.Rank : (o+1)*l.Rank]
				for q := range b {
					gb[q] += sc * d * a[q]
					da[q] += sc * d * b[q]
				}
			}
			for q, d := range da {
				ga := g.A[q*l.In : (q+1)*l.In]
				for i, v := range u {
					ga[i] += d * v
				}
			}
		}
		stem := li == 0 && m.Stem != nil && m.Stem.Rank > 0
		if li == 0 && !stem {
			break
		}
		// dh = W·dz + Aᵀ·da through the dropout mask, then the previous activation.
		dh := p.dh[:l.In]
		if stem {
			dh = p.sp.dh
		}
		for i := range dh {
			row := l.W[i*l.Out : (i+1)*l.Out]
			s := 0.0
			for o, d := range dz {
				s += row[o] * d
			}
			dh[i] = s
		}
		if da != nil {
			mask := p.mask[li]
			for q, d := range da {
				row := l.A[q*l.In : (q+1)*l.In]
				for i, mk := range mask {
					dh[i] += d * row[i] * mk
				}
			}
		}
		if stem {
			m.Stem.backward(p.sp, p.grad.Stem, s.Features)
			break
		}
		prev := &m.Layers[li-1]
		zp := p.z[li-1]
		ndz := p.dz[:prev.Out]
		for i := range ndz {
			ndz[i] = dh[i] * actGrad(zp[i], prev.Act)
		}
	}
}

// denseF64 computes z = h·W + b, W [len(h), len(z)].
func denseF64(z, h, w, b []float64) {
	copy(z, b)
	n := len(z)
	for i, v := range h {
		if v == 0 {
			continue
		}
		row := w[i*n : (i+1)*n]
		for o := range z {
			z[o] += v * row[o]
		}
	}
}

func activateF64(y, z []float64, act infer.Activation) {
	switch act {
	case infer.ActSoftmax:
		mx := math.Inf(-1)
		for _, v := range z {
			mx = math.Max(mx, v)
		}
		s := 0.0
		for i, v := range z {
			y[i] = math.Exp(v - mx)
			s += y[i]
		}
		for i := range y {
			y[i] /= s
		}
	case infer.ActReLU:
		for i, v := range z {
			y[i] = math.Max(v, 0)
		}
	case infer.ActReLU6:
		for i, v := range z {
			y[i] = math.Min(math.Max(v, 0), 6)
		}
	case infer.ActLinear:
		copy(y, z)
	default:
		panic(fmt.Sprintf("train: activation %v in a head layer", act))
	}
}

// actScalar applies a hidden activation to one value.
func actScalar(v float64, act infer.Activation) float64 {
	switch act {
	case infer.ActReLU:
		return math.Max(v, 0)
	case infer.ActReLU6:
		return math.Min(math.Max(v, 0), 6)
	case infer.ActLinear:
		return v
	}
	panic(fmt.Sprintf("train: activation %v in a hidden layer", act))
}

// actGrad is the derivative of a hidden activation at pre-activation z.
func actGrad(z float64, act infer.Activation) float64 {
	switch act {
	case infer.ActReLU:
		if z > 0 {
			return 1
		}
		return 0
	case infer.ActReLU6:
		if z > 0 && z < 6 {
			return 1
		}
		return 0
	case infer.ActLinear:
		return 1
	}
	panic(fmt.Sprintf("train: activation %v in a hidden head layer", act))
}
