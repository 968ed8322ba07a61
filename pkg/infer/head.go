package infer

import (
	"fmt"
	"strings"
)

// HeadLayer is one fully connected layer of a network's classification head.
// Weights and Bias alias the Net's op, so changing them changes the Net.
type HeadLayer struct {
	Name    string     // layer name; for graph models the short name, see SplitHead
	Op      int        // index of the Dense op in Net.Ops
	In, Out int        // input and output features
	Weights []float32  // [In, Out]
	Bias    []float32  // [Out], nil for none
	Act     Activation // the last layer's is ActSoftmax
}

// SplitHead splits n into a backbone and its head. The head is the trailing
// run of Dense ops (for MobileNetV2 and InceptionV3 dense_1, dense_2,
// dense_3; for MobileNetV2Mid one Dense followed by a Softmax Activation,
// which is folded into it). The backbone is n cut at the head's input: a Net
// sharing n's ops and weights whose output is the feature vector, the input
// of the first Dense (1×1×1280 for MobileNetV2).
//
// Layers models keep their Keras names. A graph model's node name
// ("StatefulPartitionedCall/sequential/dense/BiasAdd") is shortened to the
// component before its last one ("dense"), the Keras layer it came from.
func SplitHead(n *Net) (backbone *Net, head []HeadLayer, err error) {
	end := len(n.Ops)
	softmaxOp := false
	if end > 0 {
		last := &n.Ops[end-1]
		if last.Kind == OpActivation && last.Act == ActSoftmax {
			softmaxOp = true
			end--
		}
	}
	start := end
	for start > 0 && n.Ops[start-1].Kind == OpDense {
		start--
	}
	if start == end {
		return nil, nil, fmt.Errorf("infer: %s: no Dense head at the end of the network", n.Name)
	}
	for i := start; i < end; i++ {
		op := &n.Ops[i]
		if i > start && op.In[0] != n.Ops[i-1].Out {
			return nil, nil, fmt.Errorf("infer: %s: head layer %q does not read the previous layer", n.Name, op.Name)
		}
		l := HeadLayer{
			Name: ShortLayerName(op.Name), Op: i,
			In: n.Shapes[op.In[0]].Size(), Out: n.Shapes[op.Out].Size(),
			Weights: op.Weights, Bias: op.Bias, Act: op.Act,
		}
		if softmaxOp && i == end-1 {
			if l.Act != ActLinear {
				return nil, nil, fmt.Errorf("infer: %s: head layer %q has activation %v before the softmax", n.Name, op.Name, l.Act)
			}
			l.Act = ActSoftmax
		}
		head = append(head, l)
	}
	if head[len(head)-1].Act != ActSoftmax {
		return nil, nil, fmt.Errorf("infer: %s: head does not end in softmax", n.Name)
	}
	backbone, err = n.Slice(0, n.Ops[start].In[0])
	if err != nil {
		return nil, nil, err
	}
	return backbone, head, nil
}

// ShortLayerName returns the Keras layer name of an op: the name itself for
// layers models, the path component before the last one for TF graph node
// names ("a/sequential/dense/BiasAdd" → "dense").
func ShortLayerName(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return name
	}
	return parts[len(parts)-2]
}

// Slice returns the part of n that computes tensor to from tensor from alone:
// a Net whose input (tensor 0) is n's tensor from and whose output is n's
// tensor to, with the ops in between, renumbered. It shares n's weights. It
// fails if to needs a tensor that does not depend on from (other than
// through from). Slice(0, t) is n cut after tensor t.
func (n *Net) Slice(from, to int) (*Net, error) {
	if from < 0 || to < 0 || from >= len(n.Shapes) || to >= len(n.Shapes) {
		panic(fmt.Sprintf("infer: Slice(%d, %d): net has %d tensors", from, to, len(n.Shapes)))
	}
	producer := make([]int, len(n.Shapes))
	for i := range producer {
		producer[i] = -1
	}
	for i := range n.Ops {
		producer[n.Ops[i].Out] = i
	}
	// Mark the ops that to depends on, stopping at from.
	need := make([]bool, len(n.Ops))
	stack := []int{to}
	seen := map[int]bool{}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if t == from || seen[t] {
			continue
		}
		seen[t] = true
		p := producer[t]
		if p < 0 {
			return nil, fmt.Errorf("infer: %s: tensor %d needs tensor %d, which does not come from tensor %d", n.Name, to, t, from)
		}
		need[p] = true
		stack = append(stack, n.Ops[p].In...)
	}
	id := map[int]int{from: 0}
	s := &Net{Name: n.Name, InputSize: n.InputSize, Classes: n.Classes, Shapes: []Shape{n.Shapes[from]}}
	for i := range n.Ops {
		if !need[i] {
			continue
		}
		op := n.Ops[i]
		op.In = make([]int, len(n.Ops[i].In))
		for j, t := range n.Ops[i].In {
			op.In[j] = id[t]
		}
		id[op.Out] = len(s.Shapes)
		s.Shapes = append(s.Shapes, n.Shapes[op.Out])
		op.Out = id[op.Out]
		s.Ops = append(s.Ops, op)
	}
	s.Output = id[to]
	return s, nil
}
