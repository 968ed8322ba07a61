package infer

import (
	"fmt"
	"slices"

	"github.com/veil-ml/veil/pkg/infer/tfjs"
)

// Classes are the nsfwjs output classes, in output order.
var Classes = []string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}

// Build turns a parsed TF.js model into a Net. name labels the net (for
// example "mobilenet_v2"). Unknown layer classes or graph ops are reported
// with the layer or node name.
func Build(m *tfjs.Model, name string) (*Net, error) {
	b := &builder{m: m, net: &Net{Name: name, Classes: Classes}, ids: map[string]int{}}
	var err error
	switch m.Format {
	case "layers-model":
		err = b.buildLayers()
	case "graph-model":
		err = b.buildGraph()
	default:
		err = fmt.Errorf("model format %q is not supported", m.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("infer: build %s: %w", name, err)
	}
	out := b.net.Shapes[b.net.Output]
	if out.H != 1 || out.W != 1 || out.C != len(Classes) {
		return nil, fmt.Errorf("infer: build %s: output shape %v, want [1 1 %d]", name, out, len(Classes))
	}
	return b.net, nil
}

type builder struct {
	m   *tfjs.Model
	net *Net
	ids map[string]int // source layer/node name -> tensor id
}

// tensor adds a new tensor and returns its id.
func (b *builder) tensor(s Shape) int {
	b.net.Shapes = append(b.net.Shapes, s)
	return len(b.net.Shapes) - 1
}

func (b *builder) emit(op Op, out Shape) int {
	op.Out = b.tensor(out)
	b.net.Ops = append(b.net.Ops, op)
	return op.Out
}

// weight returns the named weight, checking its shape.
func (b *builder) weight(name string, shape ...int) ([]float32, error) {
	t, ok := b.m.Weights[name]
	if !ok {
		return nil, fmt.Errorf("weight %q is missing", name)
	}
	if len(shape) > 0 && !slices.Equal(t.Shape, shape) {
		return nil, fmt.Errorf("weight %q has shape %v, want %v", name, t.Shape, shape)
	}
	return t.Data, nil
}

// windowOut computes the output shape and padding of a conv or pool window.
func windowOut(in Shape, kh, kw, sh, sw int, same bool, c int) (Shape, Pad, error) {
	if kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 {
		return Shape{}, Pad{}, fmt.Errorf("window %dx%d stride %dx%d is invalid", kh, kw, sh, sw)
	}
	var p Pad
	if same {
		p.Top, p.Bottom = samePad(in.H, kh, sh)
		p.Left, p.Right = samePad(in.W, kw, sw)
	}
	out := Shape{convOutSize(in.H, kh, sh, p.Top, p.Bottom), convOutSize(in.W, kw, sw, p.Left, p.Right), c}
	if out.H <= 0 || out.W <= 0 || in.H+p.Top+p.Bottom < kh || in.W+p.Left+p.Right < kw {
		return Shape{}, Pad{}, fmt.Errorf("window %dx%d does not fit input %v", kh, kw, in)
	}
	return out, p, nil
}
