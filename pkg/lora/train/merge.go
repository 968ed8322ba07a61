package train

import (
	"slices"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/lora"
)

// NetKernels returns the mergeable weights of net for lora.Merge, keyed by op
// name: every Conv2D and Dense op, and depthwise convs marked Depthwise (so
// Merge refuses them by name). For graph models each op is also keyed by its
// short name (infer.ShortLayerName) when no other op shares it, so "dense"
// and "Conv_1" find MobileNetV2Mid's "StatefulPartitionedCall/sequential/
// dense/BiasAdd" and ".../MobilenetV2/Conv_1/Relu6". The kernels alias the
// ops' weights: merging into them changes net.
func NetKernels(net *infer.Net) map[string]*lora.Kernel {
	ks := map[string]*lora.Kernel{}
	for i := range net.Ops {
		op := &net.Ops[i]
		in := net.Shapes[op.In[0]]
		out := net.Shapes[op.Out].C
		switch op.Kind {
		case infer.OpConv2D:
			ks[op.Name] = &lora.Kernel{Shape: []int{op.KH, op.KW, in.C, out}, Data: op.Weights}
		case infer.OpDepthwise:
			ks[op.Name] = &lora.Kernel{Shape: []int{op.KH, op.KW, in.C, 1}, Data: op.Weights, Depthwise: true}
		case infer.OpDense:
			ks[op.Name] = &lora.Kernel{Shape: []int{in.Size(), out}, Data: op.Weights}
		}
	}
	for i := range net.Ops {
		if k := ks[net.Ops[i].Name]; k != nil {
			if n := layerName(net, i); n != net.Ops[i].Name {
				if _, taken := ks[n]; !taken {
					ks[n] = k
				}
			}
		}
	}
	return ks
}

// layerName is op i's short name if no other op has that short name, else
// its op name.
func layerName(net *infer.Net, i int) string {
	short := infer.ShortLayerName(net.Ops[i].Name)
	for j := range net.Ops {
		if j != i && (infer.ShortLayerName(net.Ops[j].Name) == short || net.Ops[j].Name == short) {
			return net.Ops[i].Name
		}
	}
	return short
}

// CloneWeights returns a copy of net whose Conv2D, depthwise and Dense
// weights are its own, so merging into it leaves net unchanged.
func CloneWeights(net *infer.Net) *infer.Net {
	c := *net
	c.Ops = slices.Clone(net.Ops)
	for i := range c.Ops {
		switch c.Ops[i].Kind {
		case infer.OpConv2D, infer.OpDepthwise, infer.OpDense:
			c.Ops[i].Weights = slices.Clone(c.Ops[i].Weights)
		}
	}
	return &c
}

// MergeNet returns a copy of net with the adapters merged into its weights
// (lora.Merge over NetKernels); net is not changed.
func MergeNet(net *infer.Net, adapters []lora.Weighted) (*infer.Net, error) {
	c := CloneWeights(net)
	if err := lora.Merge(NetKernels(c), adapters); err != nil {
		return nil, err
	}
	return c, nil
}

// HeadNet is the head of a Net as a Net of its own: input the feature
// vector, output the probabilities. Run it with infer.NewFloat to get what
// the float engine answers for cached features.
func HeadNet(net *infer.Net) (*infer.Net, error) {
	_, head, err := infer.SplitHead(net)
	if err != nil {
		return nil, err
	}
	return net.Slice(net.Ops[head[0].Op].In[0], net.Output)
}
