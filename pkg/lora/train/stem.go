package train

import (
	"fmt"
	"math"

	"github.com/veil-ml/veil/pkg/infer"
)

// Stem is a 1×1 conv trained together with the head: the last conv before
// the global average pool (Conv_1 in MobileNetV2 and MobileNetV2Mid), whose
// output reaches the features only through per-channel ops:
//
//	features[c] = mean over pixels p of act((X[p]·W + b)[c]·Mul[c] + Add[c])
//
// where a BatchNorm after the conv is folded into Mul and Add. LoRA adds
// scale·B·(A·X[p]) to the conv output at every pixel. Samples then cache the
// conv's input X [Pixels, In] instead of the head's input.
type Stem struct {
	Name     string // op name in the Net
	Op       int    // index of the conv op
	Input    int    // tensor id of the conv's input
	Pixels   int    // H·W of the conv's input and output
	In, Out  int
	W        []float64 // [In, Out], frozen
	Bias     []float64 // [Out]
	Mul, Add []float64 // [Out]: per-channel affine after the conv
	Act      infer.Activation

	Rank  int
	Alpha float64
	A     []float64 // [Rank, In]
	B     []float64 // [Out, Rank]
}

// Scale is alpha/rank.
func (s *Stem) Scale() float64 { return s.Alpha / float64(s.Rank) }

// NewStem finds the conv op named name in net (its op name, or its short
// name, infer.ShortLayerName, if that is unique: "Conv_1" in MobileNetV2Mid)
// and checks that it can be trained as a Stem: a 1×1, stride-1, unpadded
// Conv2D followed only by BatchNorm and one activation, then a global
// AvgPool into the head. The Stem is named as NetKernels keys it: by its
// short name if no other op has it, else by its op name.
func NewStem(net *infer.Net, name string) (*Stem, error) {
	_, head, err := infer.SplitHead(net)
	if err != nil {
		return nil, err
	}
	idx, short := -1, 0
	for i := range net.Ops {
		switch {
		case net.Ops[i].Name == name:
			idx, short = i, -1
		case short >= 0 && infer.ShortLayerName(net.Ops[i].Name) == name:
			if short++; short == 1 {
				idx = i
			}
		}
		if short < 0 {
			break
		}
	}
	if idx < 0 || short > 1 {
		return nil, fmt.Errorf("train: %s has no single op named %q", net.Name, name)
	}
	op := &net.Ops[idx]
	name = layerName(net, idx)
	notStem := func(why string) error {
		return fmt.Errorf("train: %s: %q cannot be trained with the head: %s (only the last 1×1 conv before the global pool can)", net.Name, name, why)
	}
	if op.Kind != infer.OpConv2D || op.KH != 1 || op.KW != 1 || op.SH != 1 || op.SW != 1 || op.Pad != (infer.Pad{}) {
		return nil, notStem("not a 1×1, stride-1, unpadded Conv2D")
	}
	in, out := net.Shapes[op.In[0]], net.Shapes[op.Out]
	s := &Stem{Name: name, Op: idx, Input: op.In[0], Pixels: in.H * in.W, In: in.C, Out: out.C, Act: op.Act,
		W: make([]float64, len(op.Weights)), Bias: make([]float64, out.C), Mul: make([]float64, out.C), Add: make([]float64, out.C)}
	for i, v := range op.Weights {
		s.W[i] = float64(v)
	}
	for i, v := range op.Bias {
		s.Bias[i] = float64(v)
	}
	for c := range s.Mul {
		s.Mul[c] = 1
	}
	readers := map[int][]int{}
	for i := range net.Ops {
		for _, t := range net.Ops[i].In {
			readers[t] = append(readers[t], i)
		}
	}
	t := op.Out
	for {
		r := readers[t]
		if len(r) != 1 {
			return nil, notStem(fmt.Sprintf("tensor %d has %d readers", t, len(r)))
		}
		next := &net.Ops[r[0]]
		switch {
		case next.Kind == infer.OpBatchNorm && s.Act == infer.ActLinear:
			for c := range s.Mul {
				g := 1.0
				if next.Gamma != nil {
					g = float64(next.Gamma[c])
				}
				m := g / math.Sqrt(float64(next.Var[c])+next.Epsilon)
				s.Add[c] = (s.Add[c]-float64(next.Mean[c]))*m + float64(next.Beta[c])
				s.Mul[c] *= m
			}
		case next.Kind == infer.OpActivation && s.Act == infer.ActLinear && next.Act != infer.ActSoftmax:
			s.Act = next.Act
		case next.Kind == infer.OpAvgPool && next.KH == in.H && next.KW == in.W && net.Shapes[next.Out].Size() == out.C:
			if next.Out != net.Ops[head[0].Op].In[0] {
				return nil, notStem("its global pool does not feed the head")
			}
			return s, nil
		default:
			return nil, notStem(fmt.Sprintf("it is followed by %v %q", next.Kind, next.Name))
		}
		t = next.Out
	}
}

// clone returns a copy of s with its own factors (frozen weights shared).
func (s *Stem) clone() *Stem {
	c := *s
	c.A = append([]float64(nil), s.A...)
	c.B = append([]float64(nil), s.B...)
	return &c
}

func (s *Stem) newPass() *stemPass {
	return &stemPass{pre: make([]float64, s.Pixels*s.Out), a: make([]float64, s.Pixels*s.Rank),
		dh: make([]float64, s.Out), da: make([]float64, s.Rank)}
}

// stemPass is the per-sample state of a Stem.
type stemPass struct {
	pre []float64 // [Pixels, Out] input of the activation
	a   []float64 // [Pixels, Rank] A·X[p]
	dh  []float64 // [Out] gradient at the features
	da  []float64 // [Rank]
}

// forward writes the features for the conv input x [Pixels, In] into h.
// zc, if not nil, is the cached X·W + b.
func (s *Stem) forward(sp *stemPass, h []float64, x []float32, zc []float32) {
	P, sc := s.Pixels, 0.0
	if s.Rank > 0 {
		sc = s.Scale()
	}
	clear(h)
	z := sp.pre
	for p := 0; p < P; p++ {
		xp := x[p*s.In : (p+1)*s.In]
		zp := z[p*s.Out : (p+1)*s.Out]
		if zc != nil {
			for c := range zp {
				zp[c] = float64(zc[p*s.Out+c])
			}
		} else {
			copy(zp, s.Bias)
			for i, v := range xp {
				if v == 0 {
					continue
				}
				row := s.W[i*s.Out : (i+1)*s.Out]
				for c := range zp {
					zp[c] += float64(v) * row[c]
				}
			}
		}
		if s.Rank > 0 {
			ap := sp.a[p*s.Rank : (p+1)*s.Rank]
			for q := range ap {
				row := s.A[q*s.In : (q+1)*s.In]
				t := 0.0
				for i, v := range xp {
					t += row[i] * float64(v)
				}
				ap[q] = t
			}
			for c := range zp {
				b := s.B[c*s.Rank : (c+1)*s.Rank]
				t := 0.0
				for q, v := range ap {
					t += b[q] * v
				}
				zp[c] += sc * t
			}
		}
		for c := range zp {
			zp[c] = zp[c]*s.Mul[c] + s.Add[c]
		}
	}
	for p := 0; p < P; p++ {
		for c, v := range z[p*s.Out : (p+1)*s.Out] {
			h[c] += actScalar(v, s.Act)
		}
	}
	for c := range h {
		h[c] /= float64(P)
	}
}

// backward accumulates into g the gradient of the factors given sp.dh, the
// gradient at the features.
func (s *Stem) backward(sp *stemPass, g *Stem, x []float32) {
	P, sc := s.Pixels, s.Scale()
	dz := make([]float64, s.Out)
	for p := 0; p < P; p++ {
		pre := sp.pre[p*s.Out : (p+1)*s.Out]
		for c := range dz {
			dz[c] = sp.dh[c] / float64(P) * actGrad(pre[c], s.Act) * s.Mul[c]
		}
		ap := sp.a[p*s.Rank : (p+1)*s.Rank]
		clear(sp.da)
		for c, d := range dz {
			if d == 0 {
				continue
			}
			b := s.B[c*s.Rank : (c+1)*s.Rank]
			gb := g.B[c*s.Rank : (c+1)*s.Rank]
			for q := range b {
				gb[q] += sc * d * ap[q]
				sp.da[q] += sc * d * b[q]
			}
		}
		xp := x[p*s.In : (p+1)*s.In]
		for q, d := range sp.da {
			ga := g.A[q*s.In : (q+1)*s.In]
			for i, v := range xp {
				ga[i] += d * float64(v)
			}
		}
	}
}

// convOut returns X·W + b for the conv input x, rounded to float32, the
// cache that saves recomputing the frozen conv every epoch.
func (s *Stem) convOut(x []float32) []float32 {
	out := make([]float32, s.Pixels*s.Out)
	z := make([]float64, s.Out)
	for p := 0; p < s.Pixels; p++ {
		copy(z, s.Bias)
		for i, v := range x[p*s.In : (p+1)*s.In] {
			if v == 0 {
				continue
			}
			row := s.W[i*s.Out : (i+1)*s.Out]
			for c := range z {
				z[c] += float64(v) * row[c]
			}
		}
		for c, v := range z {
			out[p*s.Out+c] = float32(v)
		}
	}
	return out
}
