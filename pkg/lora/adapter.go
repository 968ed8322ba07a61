package lora

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Kernel is a layer's weight in Keras layout: dense [in, out], conv [kh, kw, in, out],
// row-major with out fastest. Depthwise marks grouped convs ([kh, kw, C, 1]).
type Kernel struct {
	Shape     []int
	Data      []float32
	Depthwise bool
}

// LayerAdapter is the LoRA (or DoRA) update of one layer.
type LayerAdapter struct {
	Layer  string // model layer name or module path, see the package doc
	Rank   int
	In     int  // input channels (features for dense)
	Out    int  // output channels
	KH, KW int  // kernel size, 1×1 for dense
	Conv   bool // stored as a conv (4-D tensors) rather than a Linear (2-D)

	A []float32 // [Rank, In·KH·KW], row q holds A[q, i, y, x] at (i·KH + y)·KW + x
	B []float32 // [Out, Rank]

	Alpha  float64
	RSLoRA bool // scale = Alpha/√Rank instead of Alpha/Rank

	Magnitude []float32 // DoRA magnitude [Out]; nil for plain LoRA
}

// Adapter is a set of layer updates trained together.
type Adapter struct {
	Name        string
	Layers      []LayerAdapter    // sorted by Layer after reading
	UseRSLoRA   bool              // the file's use_rslora; each layer's RSLoRA is what counts
	FanInFanOut bool              // PEFT fan_in_fan_out; recorded only (A and B keep their shapes)
	Metadata    map[string]string // safetensors __metadata__, carried through
}

// Scale returns alpha/r, or alpha/√r under rsLoRA.
func (l *LayerAdapter) Scale() float64 {
	if l.RSLoRA {
		return l.Alpha / math.Sqrt(float64(l.Rank))
	}
	return l.Alpha / float64(l.Rank)
}

// Fan returns In·KH·KW, the length of a row of A.
func (l *LayerAdapter) Fan() int { return l.In * l.KH * l.KW }

// KerasShape returns the shape of the layer's delta in Keras layout:
// [In, Out] for a dense adapter, [KH, KW, In, Out] for a conv.
func (l *LayerAdapter) KerasShape() []int {
	if !l.Conv {
		return []int{l.In, l.Out}
	}
	return []int{l.KH, l.KW, l.In, l.Out}
}

// torchShape returns the PyTorch weight shape [Out, In] or [Out, In, KH, KW].
func (l *LayerAdapter) torchShape() []int {
	if !l.Conv {
		return []int{l.Out, l.In}
	}
	return []int{l.Out, l.In, l.KH, l.KW}
}

// Delta returns scale·B·A in Keras layout [KH, KW, In, Out] (for dense [In, Out], the same
// flat order): Delta()[((y·KW + x)·In + i)·Out + o] = scale·Σ_q B[o,q]·A[q,(i·KH + y)·KW + x].
// It panics if l is not valid (see Validate).
func (l *LayerAdapter) Delta() []float32 {
	if err := l.Validate(); err != nil {
		panic(err.Error())
	}
	d := l.deltaKeras(l.Scale())
	out := make([]float32, len(d))
	for i, v := range d {
		out[i] = float32(v)
	}
	return out
}

// deltaKeras returns factor·B·A in Keras layout, accumulated in float64.
func (l *LayerAdapter) deltaKeras(factor float64) []float64 {
	n, r := l.Fan(), l.Rank
	out := make([]float64, n*l.Out)
	col := make([]float64, r)
	for y := 0; y < l.KH; y++ {
		for x := 0; x < l.KW; x++ {
			for i := 0; i < l.In; i++ {
				c := (i*l.KH+y)*l.KW + x // PyTorch column
				p := (y*l.KW+x)*l.In + i // Keras row
				for q := range col {
					col[q] = float64(l.A[q*n+c])
				}
				row := out[p*l.Out : (p+1)*l.Out]
				for o := range row {
					b := l.B[o*r : (o+1)*r]
					s := 0.0
					for q, v := range b {
						s += float64(v) * col[q]
					}
					row[o] = factor * s
				}
			}
		}
	}
	return out
}

// maxElements bounds every tensor an adapter may describe, so size products cannot overflow.
const maxElements = 1 << 31

// Validate checks sizes, lengths and that every value is finite.
func (l *LayerAdapter) Validate() error {
	if l.Layer == "" {
		return fmt.Errorf("lora: layer adapter with an empty layer name")
	}
	if l.Rank < 1 || l.In < 1 || l.Out < 1 || l.KH < 1 || l.KW < 1 {
		return fmt.Errorf("lora: layer %q: rank %d, in %d, out %d, kernel %d×%d: all must be positive",
			l.Layer, l.Rank, l.In, l.Out, l.KH, l.KW)
	}
	if !l.Conv && (l.KH != 1 || l.KW != 1) {
		return fmt.Errorf("lora: layer %q: a dense adapter with kernel %d×%d", l.Layer, l.KH, l.KW)
	}
	if fan, ok := mulLimit(l.In, l.KH, l.KW); !ok || fan > maxElements/l.Rank || l.Out > maxElements/l.Rank || fan > maxElements/l.Out {
		return fmt.Errorf("lora: layer %q: rank %d, in %d, out %d, kernel %d×%d is too large", l.Layer, l.Rank, l.In, l.Out, l.KH, l.KW)
	}
	if len(l.A) != l.Rank*l.Fan() {
		return fmt.Errorf("lora: layer %q: A has %d values, rank %d × in %d × %d×%d needs %d",
			l.Layer, len(l.A), l.Rank, l.In, l.KH, l.KW, l.Rank*l.Fan())
	}
	if len(l.B) != l.Out*l.Rank {
		return fmt.Errorf("lora: layer %q: B has %d values, out %d × rank %d needs %d", l.Layer, len(l.B), l.Out, l.Rank, l.Out*l.Rank)
	}
	if l.Magnitude != nil && len(l.Magnitude) != l.Out {
		return fmt.Errorf("lora: layer %q: DoRA magnitude has %d values, out is %d", l.Layer, len(l.Magnitude), l.Out)
	}
	if math.IsNaN(l.Alpha) || math.IsInf(l.Alpha, 0) {
		return fmt.Errorf("lora: layer %q: alpha %g is not finite", l.Layer, l.Alpha)
	}
	for _, t := range []struct {
		name string
		v    []float32
	}{{"A", l.A}, {"B", l.B}, {"DoRA magnitude", l.Magnitude}} {
		for i, v := range t.v {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("lora: layer %q: %s[%d] = %g is not finite", l.Layer, t.name, i, v)
			}
		}
	}
	return nil
}

func mulLimit(xs ...int) (int, bool) {
	p := 1
	for _, x := range xs {
		if x < 0 || (x != 0 && p > maxElements/x) {
			return 0, false
		}
		p *= x
	}
	return p, true
}

// Clone returns a deep copy of l.
func (l *LayerAdapter) Clone() LayerAdapter {
	c := *l
	c.A = slices.Clone(l.A)
	c.B = slices.Clone(l.B)
	c.Magnitude = slices.Clone(l.Magnitude)
	return c
}

// Layer returns the adapter of the named layer.
func (a *Adapter) Layer(name string) (*LayerAdapter, bool) {
	for i := range a.Layers {
		if a.Layers[i].Layer == name {
			return &a.Layers[i], true
		}
	}
	return nil, false
}

// Validate validates every layer and checks that layer names are unique.
func (a *Adapter) Validate() error {
	seen := make(map[string]bool, len(a.Layers))
	for i := range a.Layers {
		l := &a.Layers[i]
		if err := l.Validate(); err != nil {
			return a.wrap(err)
		}
		if seen[l.Layer] {
			return a.wrap(fmt.Errorf("lora: layer %q appears twice", l.Layer))
		}
		seen[l.Layer] = true
	}
	return nil
}

// wrap names the adapter in an error from one of its layers.
func (a *Adapter) wrap(err error) error {
	if a.Name == "" {
		return err
	}
	return fmt.Errorf("lora: adapter %q: %s", a.Name, strings.TrimPrefix(err.Error(), "lora: "))
}

// Clone returns a deep copy of a.
func (a *Adapter) Clone() *Adapter {
	c := *a
	c.Layers = make([]LayerAdapter, len(a.Layers))
	for i := range a.Layers {
		c.Layers[i] = a.Layers[i].Clone()
	}
	if a.Metadata != nil {
		c.Metadata = make(map[string]string, len(a.Metadata))
		for k, v := range a.Metadata {
			c.Metadata[k] = v
		}
	}
	return &c
}

func sortLayers(ls []LayerAdapter) {
	slices.SortFunc(ls, func(a, b LayerAdapter) int { return strings.Compare(a.Layer, b.Layer) })
}
