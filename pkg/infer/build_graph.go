package infer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/veil-ml/veil/pkg/infer/tfjs"
)

// buildGraph converts a TF graph-model. Nodes are visited depth-first from
// the single output, so file order does not matter and unused nodes are
// ignored.
func (b *builder) buildGraph() error {
	nodes := map[string]*tfjs.Node{}
	used := map[string]bool{}
	for i := range b.m.Nodes {
		n := &b.m.Nodes[i]
		if _, dup := nodes[n.Name]; dup {
			return fmt.Errorf("node %q defined twice", n.Name)
		}
		nodes[n.Name] = n
		for _, in := range n.Inputs {
			used[inputName(in)] = true
		}
	}
	var outputs []string
	for _, n := range b.m.Nodes {
		if !used[n.Name] && n.Op != "Const" && n.Op != "NoOp" {
			outputs = append(outputs, n.Name)
		}
	}
	if len(outputs) != 1 {
		return fmt.Errorf("graph has %d outputs %v, want 1", len(outputs), outputs)
	}
	g := &graphBuilder{builder: b, nodes: nodes, state: map[string]int{}}
	out, err := g.visit(outputs[0])
	if err != nil {
		return err
	}
	if len(b.net.Shapes) == 0 || b.net.InputSize == 0 {
		return fmt.Errorf("graph has no Placeholder input")
	}
	b.net.Output = out
	return nil
}

// inputName strips the ":k" output index and "^" control prefix.
func inputName(s string) string {
	s = strings.TrimPrefix(s, "^")
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

type graphBuilder struct {
	*builder
	nodes map[string]*tfjs.Node
	state map[string]int // 1 = visiting, 2 = done
}

func (g *graphBuilder) visit(name string) (int, error) {
	if id, ok := g.ids[name]; ok {
		return id, nil
	}
	n, ok := g.nodes[name]
	if !ok {
		return 0, fmt.Errorf("node %q is referenced but not defined", name)
	}
	if g.state[name] == 1 {
		return 0, fmt.Errorf("node %q is part of a cycle", name)
	}
	g.state[name] = 1
	id, err := g.addNode(n)
	if err != nil {
		return 0, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
	}
	g.state[name] = 2
	g.ids[name] = id
	return id, nil
}

// constInput returns the Const weight feeding input i of n.
func (g *graphBuilder) constInput(n *tfjs.Node, i int) (*tfjs.Tensor, error) {
	if i >= len(n.Inputs) {
		return nil, fmt.Errorf("has %d inputs, want more than %d", len(n.Inputs), i)
	}
	name := inputName(n.Inputs[i])
	c, ok := g.nodes[name]
	if !ok || c.Op != "Const" {
		return nil, fmt.Errorf("input %d (%q) is not a constant", i, name)
	}
	t, ok := g.m.Weights[name]
	if !ok {
		return nil, fmt.Errorf("constant %q has no weights in the manifest", name)
	}
	return t, nil
}

func (g *graphBuilder) isConst(in string) bool {
	c, ok := g.nodes[inputName(in)]
	return ok && c.Op == "Const"
}

func (g *graphBuilder) addNode(n *tfjs.Node) (int, error) {
	op := Op{Name: n.Name}
	// dataIn visits the data (non-constant) input i.
	dataIn := func(i int) (int, Shape, error) {
		if i >= len(n.Inputs) {
			return 0, Shape{}, fmt.Errorf("has %d inputs, want more than %d", len(n.Inputs), i)
		}
		id, err := g.visit(inputName(n.Inputs[i]))
		if err != nil {
			return 0, Shape{}, err
		}
		return id, g.net.Shapes[id], nil
	}
	if df, err := n.AttrString("data_format"); err == nil && df != "NHWC" {
		return 0, fmt.Errorf("data_format %q is not supported", df)
	}

	switch n.Op {
	case "Placeholder":
		if len(g.net.Shapes) != 0 {
			return 0, fmt.Errorf("more than one input")
		}
		s := g.inputSize(n)
		if s <= 0 {
			return 0, fmt.Errorf("input shape is not [-1, S, S, 3]")
		}
		g.net.InputSize = s
		return g.tensor(Shape{s, s, 3}), nil

	case "Identity", "Squeeze":
		id, s, err := dataIn(0)
		if err != nil {
			return 0, err
		}
		if n.Op == "Squeeze" && (s.H != 1 || s.W != 1) {
			return 0, fmt.Errorf("squeezing %v is not supported (only 1x1xC)", s)
		}
		return id, nil

	case "Mul", "Sub", "AddV2", "Add":
		// Either a scalar constant with a tensor, or two tensors (residual add).
		ci, xi := -1, -1
		for i, in := range n.Inputs {
			if g.isConst(in) {
				ci = i
			} else {
				xi = i
			}
		}
		if len(n.Inputs) != 2 {
			return 0, fmt.Errorf("has %d inputs, want 2", len(n.Inputs))
		}
		if ci < 0 {
			if n.Op != "AddV2" && n.Op != "Add" {
				return 0, fmt.Errorf("elementwise %s of two tensors is not supported", n.Op)
			}
			a, as, err := dataIn(0)
			if err != nil {
				return 0, err
			}
			c, cs, err := dataIn(1)
			if err != nil {
				return 0, err
			}
			if as != cs {
				return 0, fmt.Errorf("input shapes %v and %v differ", as, cs)
			}
			op.Kind, op.In = OpAdd, []int{a, c}
			return g.emit(op, as), nil
		}
		if xi < 0 {
			return 0, fmt.Errorf("both inputs are constants")
		}
		t, err := g.constInput(n, ci)
		if err != nil {
			return 0, err
		}
		if len(t.Data) != 1 {
			return 0, fmt.Errorf("constant operand has shape %v (only scalars are supported)", t.Shape)
		}
		k := t.Data[0]
		x, xs, err := dataIn(xi)
		if err != nil {
			return 0, err
		}
		op.Kind, op.In, op.Mul = OpAffine, []int{x}, 1
		switch {
		case n.Op == "Mul":
			op.Mul = k
		case n.Op == "Sub" && ci == 1:
			op.Add = -k
		case n.Op == "Sub":
			op.Mul, op.Add = -1, k
		default:
			op.Add = k
		}
		return g.emit(op, xs), nil

	case "_FusedConv2D", "FusedDepthwiseConv2dNative", "Conv2D", "DepthwiseConv2dNative":
		x, xs, err := dataIn(0)
		if err != nil {
			return 0, err
		}
		w, err := g.constInput(n, 1)
		if err != nil {
			return 0, err
		}
		if len(w.Shape) != 4 {
			return 0, fmt.Errorf("filter shape %v, want [kh kw in out]", w.Shape)
		}
		kh, kw, wi, wo := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
		depthwise := strings.Contains(n.Op, "Depthwise")
		outC := wo
		if depthwise {
			if wo != 1 {
				return 0, fmt.Errorf("channel multiplier %d is not supported", wo)
			}
			outC = wi
		}
		if wi != xs.C {
			return 0, fmt.Errorf("filter shape %v does not match input %v", w.Shape, xs)
		}
		strides, err := n.AttrInts("strides")
		if err != nil {
			return 0, err
		}
		if len(strides) != 4 || strides[0] != 1 || strides[3] != 1 {
			return 0, fmt.Errorf("strides %v are not supported", strides)
		}
		if dil, err := n.AttrInts("dilations"); err == nil {
			for _, d := range dil {
				if d != 1 {
					return 0, fmt.Errorf("dilations %v are not supported", dil)
				}
			}
		}
		same, err := graphPadding(n)
		if err != nil {
			return 0, err
		}
		op.Kind, op.In = OpConv2D, []int{x}
		if depthwise {
			op.Kind = OpDepthwise
		}
		op.KH, op.KW, op.SH, op.SW, op.Weights = kh, kw, strides[1], strides[2], w.Data
		if op.Bias, op.Act, err = g.fusedOps(n, outC); err != nil {
			return 0, err
		}
		out, pad, err := windowOut(xs, kh, kw, op.SH, op.SW, same, outC)
		if err != nil {
			return 0, err
		}
		op.Pad = pad
		return g.emit(op, out), nil

	case "AvgPool", "MaxPool":
		x, xs, err := dataIn(0)
		if err != nil {
			return 0, err
		}
		ks, err := n.AttrInts("ksize")
		if err != nil {
			return 0, err
		}
		st, err := n.AttrInts("strides")
		if err != nil {
			return 0, err
		}
		if len(ks) != 4 || len(st) != 4 || ks[0] != 1 || ks[3] != 1 || st[0] != 1 || st[3] != 1 {
			return 0, fmt.Errorf("ksize %v / strides %v are not supported", ks, st)
		}
		same, err := graphPadding(n)
		if err != nil {
			return 0, err
		}
		op.Kind, op.In = OpAvgPool, []int{x}
		if n.Op == "MaxPool" {
			op.Kind = OpMaxPool
		}
		op.KH, op.KW, op.SH, op.SW = ks[1], ks[2], st[1], st[2]
		out, pad, err := windowOut(xs, op.KH, op.KW, op.SH, op.SW, same, xs.C)
		if err != nil {
			return 0, err
		}
		op.Pad = pad
		return g.emit(op, out), nil

	case "_FusedMatMul", "MatMul":
		x, xs, err := dataIn(0)
		if err != nil {
			return 0, err
		}
		if xs.H != 1 || xs.W != 1 {
			return 0, fmt.Errorf("input shape %v: want a vector", xs)
		}
		if n.AttrBool("transpose_a") {
			return 0, fmt.Errorf("transpose_a is not supported")
		}
		w, err := g.constInput(n, 1)
		if err != nil {
			return 0, err
		}
		if len(w.Shape) != 2 {
			return 0, fmt.Errorf("weight shape %v, want 2-D", w.Shape)
		}
		in, out := w.Shape[0], w.Shape[1]
		op.Weights = w.Data
		if n.AttrBool("transpose_b") { // stored [out, in]: transpose to [in, out]
			in, out = out, in
			op.Weights = make([]float32, len(w.Data))
			for i := 0; i < in; i++ {
				for j := 0; j < out; j++ {
					op.Weights[i*out+j] = w.Data[j*in+i]
				}
			}
		}
		if in != xs.C {
			return 0, fmt.Errorf("weight shape %v does not match input %v", w.Shape, xs)
		}
		op.Kind, op.In = OpDense, []int{x}
		if op.Bias, op.Act, err = g.fusedOps(n, out); err != nil {
			return 0, err
		}
		return g.emit(op, Shape{1, 1, out}), nil

	case "Softmax", "Relu", "Relu6":
		x, xs, err := dataIn(0)
		if err != nil {
			return 0, err
		}
		op.Kind, op.In = OpActivation, []int{x}
		op.Act = map[string]Activation{"Softmax": ActSoftmax, "Relu": ActReLU, "Relu6": ActReLU6}[n.Op]
		return g.emit(op, xs), nil
	}
	return 0, fmt.Errorf("op %q is not supported", n.Op)
}

// fusedOps reads the fused_ops list of a fused conv or matmul: optional
// BiasAdd (bias from input 2), then an optional Relu or Relu6.
func (g *graphBuilder) fusedOps(n *tfjs.Node, outC int) ([]float32, Activation, error) {
	ops, err := n.AttrStrings("fused_ops")
	if err != nil {
		return nil, 0, err
	}
	var bias []float32
	act := ActLinear
	for i, f := range ops {
		switch {
		case f == "BiasAdd" && i == 0:
			t, err := g.constInput(n, 2)
			if err != nil {
				return nil, 0, err
			}
			if len(t.Data) != outC {
				return nil, 0, fmt.Errorf("bias has shape %v, want [%d]", t.Shape, outC)
			}
			bias = t.Data
		case f == "Relu" && i == len(ops)-1:
			act = ActReLU
		case f == "Relu6" && i == len(ops)-1:
			act = ActReLU6
		default:
			return nil, 0, fmt.Errorf("fused op %q (in %v) is not supported", f, ops)
		}
	}
	return bias, act, nil
}

func graphPadding(n *tfjs.Node) (same bool, err error) {
	p, err := n.AttrString("padding")
	if err != nil {
		return false, err
	}
	switch p {
	case "SAME":
		return true, nil
	case "VALID":
		return false, nil
	}
	return false, fmt.Errorf("padding %q is not supported", p)
}

func (g *graphBuilder) inputSize(n *tfjs.Node) int {
	var s struct {
		Shape struct {
			Dim []struct {
				Size string `json:"size"`
			} `json:"dim"`
		} `json:"shape"`
	}
	if raw, ok := n.Attr["shape"]; !ok || json.Unmarshal(raw, &s) != nil {
		return 0
	}
	d := s.Shape.Dim
	if len(d) != 4 || d[1].Size != d[2].Size || d[3].Size != "3" {
		return 0
	}
	var v int
	if _, err := fmt.Sscan(d[1].Size, &v); err != nil || v <= 0 || v > 4096 {
		return 0
	}
	return v
}
