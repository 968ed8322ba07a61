package infer

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/veil-ml/veil/pkg/infer/tfjs"
)

// tinyLayers returns model.json and weights of a small Keras model that
// uses most layer types: pad, conv, bn, relu6, depthwise, add, pool, dense.
func tinyLayers(extra string) ([]byte, []byte) {
	layers := `[
	{"name":"input_1","class_name":"InputLayer","config":{"batch_input_shape":[null,4,4,3]},"inbound_nodes":[]},
	{"name":"pad","class_name":"ZeroPadding2D","config":{"padding":[[0,1],[0,1]]},"inbound_nodes":[[["input_1",0,0,{}]]]},
	{"name":"conv","class_name":"Conv2D","config":{"filters":2,"kernel_size":[2,2],"strides":[2,2],"padding":"valid","use_bias":false,"activation":"linear"},"inbound_nodes":[[["pad",0,0,{}]]]},
	{"name":"bn","class_name":"BatchNormalization","config":{"epsilon":0.001,"scale":true,"center":true},"inbound_nodes":[[["conv",0,0,{}]]]},
	{"name":"relu","class_name":"ReLU","config":{"max_value":6},"inbound_nodes":[[["bn",0,0,{}]]]},
	{"name":"dw","class_name":"DepthwiseConv2D","config":{"kernel_size":[3,3],"strides":[1,1],"padding":"same","use_bias":false,"depth_multiplier":1},"inbound_nodes":[[["relu",0,0,{}]]]},
	{"name":"add","class_name":"Add","config":{},"inbound_nodes":[[["relu",0,0,{}],["dw",0,0,{}]]]},
	{"name":"pool","class_name":"AveragePooling2D","config":{"pool_size":[2,2],"strides":[2,2],"padding":"valid"},"inbound_nodes":[[["add",0,0,{}]]]},
	{"name":"flat","class_name":"Flatten","config":{},"inbound_nodes":[[["pool",0,0,{}]]]},
	{"name":"drop","class_name":"Dropout","config":{"rate":0.5},"inbound_nodes":[[["flat",0,0,{}]]]},
	{"name":"dense","class_name":"Dense","config":{"units":5,"activation":"softmax","use_bias":true},"inbound_nodes":[[["drop",0,0,{}]]]}` + extra + `]`
	weights := []struct {
		name  string
		shape []int
	}{
		{"conv/kernel", []int{2, 2, 3, 2}},
		{"bn/gamma", []int{2}}, {"bn/beta", []int{2}}, {"bn/moving_mean", []int{2}}, {"bn/moving_variance", []int{2}},
		{"dw/depthwise_kernel", []int{3, 3, 2, 1}},
		{"dense/kernel", []int{2, 5}}, {"dense/bias", []int{5}},
	}
	var specs []string
	var data []byte
	for wi, w := range weights {
		n := 1
		for _, d := range w.shape {
			n *= d
		}
		sh, _ := json.Marshal(w.shape)
		specs = append(specs, fmt.Sprintf(`{"name":%q,"shape":%s,"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}}`, w.name, sh))
		for i := 0; i < n; i++ {
			q := byte((i*37 + wi*11) % 200)
			if strings.HasSuffix(w.name, "variance") {
				q = 150 + byte(i) // positive
			}
			data = append(data, q)
		}
	}
	js := fmt.Sprintf(`{"format":"layers-model","modelTopology":{"model_config":{"class_name":"Model","config":{"layers":%s,"input_layers":[["input_1",0,0]],"output_layers":[["dense",0,0]]}}},"weightsManifest":[{"paths":["w.bin"],"weights":[%s]}]}`, layers, strings.Join(specs, ","))
	return []byte(js), data
}

func parseTiny(js, bin []byte) (*tfjs.Model, error) {
	return tfjs.Parse(js, func(p string) ([]byte, error) {
		if p != "w.bin" {
			return nil, fmt.Errorf("no shard %q", p)
		}
		return bin, nil
	})
}

func TestBuildTinyLayersModel(t *testing.T) {
	js, bin := tinyLayers("")
	m, err := parseTiny(js, bin)
	require.NoError(t, err)
	net, err := Build(m, "tiny")
	require.NoError(t, err)
	assert.Equal(t, 4, net.InputSize)
	kinds := []OpKind{}
	for _, op := range net.Ops {
		kinds = append(kinds, op.Kind)
	}
	assert.Equal(t, []OpKind{OpZeroPad, OpConv2D, OpBatchNorm, OpActivation, OpDepthwise, OpAdd, OpAvgPool, OpDense}, kinds)
	assert.Equal(t, Shape{2, 2, 2}, net.Shapes[net.Ops[1].Out]) // (4+1-2)/2+1
	assert.InDelta(t, float32(-1+0.01*37), m.Weights["conv/kernel"].Data[1], 1e-7, "uint8 dequantization")

	f := NewFloat(net)
	in := make([]float32, 4*4*3)
	for i := range in {
		in[i] = float32(i%7) / 7
	}
	p := f.Run(in)
	var sum float32
	for _, v := range p {
		sum += v
	}
	assert.InDelta(t, 1, sum, 1e-6)
	allocs := testing.AllocsPerRun(10, func() { f.Run(in) })
	assert.Zero(t, allocs, "Float.Run must not allocate")
}

func TestBuildErrorsNameTheLayer(t *testing.T) {
	js, bin := tinyLayers(`,{"name":"weird","class_name":"Lambda","config":{},"inbound_nodes":[[["dense",0,0,{}]]]}`)
	m, err := parseTiny(js, bin)
	require.NoError(t, err)
	_, err = Build(m, "tiny")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `layer "weird" (Lambda)`)
	assert.Contains(t, err.Error(), `"Lambda" is not supported`)

	// A weight with the wrong shape names the weight and both shapes.
	js2 := []byte(strings.Replace(string(js), `"dense/bias","shape":[5]`, `"dense/bias","shape":[4]`, 1))
	m, err = parseTiny(js2, bin[:len(bin)-1])
	require.NoError(t, err)
	_, err = Build(m, "tiny")
	require.ErrorContains(t, err, `weight "dense/bias" has shape [4], want [5]`)
}

func TestParseRejectsBadWeights(t *testing.T) {
	js, bin := tinyLayers("")
	_, err := parseTiny(js, bin[:len(bin)-3])
	require.ErrorContains(t, err, "needs 5 bytes, only 2 left")
	_, err = parseTiny(js, append(bin, 0))
	require.ErrorContains(t, err, "shards hold")
	huge := []byte(strings.Replace(string(js), `"shape":[2,2,3,2]`, `"shape":[100000,100000,100000,2]`, 1))
	_, err = parseTiny(huge, bin)
	require.ErrorContains(t, err, "more than")
}

// tinyGraph is a graph model with the ops of MobileNetV2Mid.
func tinyGraph() ([]byte, []byte) {
	b64 := func(s string) string { return fmt.Sprintf("%q", encodeB64(s)) }
	nodes := fmt.Sprintf(`[
	{"name":"input","op":"Placeholder","attr":{"shape":{"shape":{"dim":[{"size":"-1"},{"size":"4"},{"size":"4"},{"size":"3"}]}}}},
	{"name":"two","op":"Const"},{"name":"one","op":"Const"},{"name":"w","op":"Const"},{"name":"b","op":"Const"},{"name":"dw","op":"Const"},{"name":"db","op":"Const"},{"name":"mw","op":"Const"},{"name":"mb","op":"Const"},
	{"name":"Identity","op":"Identity","input":["sm"]},
	{"name":"mul","op":"Mul","input":["two","input"]},
	{"name":"sub","op":"Sub","input":["mul","one"]},
	{"name":"conv","op":"_FusedConv2D","input":["sub","w","b"],"attr":{"strides":{"list":{"i":["1","2","2","1"]}},"padding":{"s":%s},"fused_ops":{"list":{"s":[%s,%s]}},"data_format":{"s":%s}}},
	{"name":"dwc","op":"FusedDepthwiseConv2dNative","input":["conv","dw","db"],"attr":{"strides":{"list":{"i":["1","1","1","1"]}},"padding":{"s":%s},"fused_ops":{"list":{"s":[%s]}}}},
	{"name":"add","op":"AddV2","input":["conv","dwc"]},
	{"name":"pool","op":"AvgPool","input":["add"],"attr":{"ksize":{"list":{"i":["1","2","2","1"]}},"strides":{"list":{"i":["1","1","1","1"]}},"padding":{"s":%s}}},
	{"name":"sq","op":"Squeeze","input":["pool"],"attr":{"squeeze_dims":{"list":{"i":["1","2"]}}}},
	{"name":"mm","op":"_FusedMatMul","input":["sq","mw","mb"],"attr":{"fused_ops":{"list":{"s":[%s]}}}},
	{"name":"sm","op":"Softmax","input":["mm"]}]`,
		b64("SAME"), b64("BiasAdd"), b64("Relu6"), b64("NHWC"), b64("SAME"), b64("BiasAdd"), b64("VALID"), b64("BiasAdd"))
	specs := `[{"name":"two","shape":[],"dtype":"float32"},{"name":"one","shape":[],"dtype":"float32"},
	{"name":"w","shape":[3,3,3,2],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}},
	{"name":"b","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}},
	{"name":"dw","shape":[3,3,2,1],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}},
	{"name":"db","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}},
	{"name":"mw","shape":[2,5],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}},
	{"name":"mb","shape":[5],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.01}}]`
	var bin []byte
	bin = append(bin, 0, 0, 0, 0x40, 0, 0, 0x80, 0x3f) // float32 2, 1
	for i := 0; i < 54+2+18+2+10+5; i++ {
		bin = append(bin, byte(i*53%256))
	}
	js := fmt.Sprintf(`{"format":"graph-model","modelTopology":{"node":%s},"weightsManifest":[{"paths":["w.bin"],"weights":%s}]}`, nodes, specs)
	return []byte(js), bin
}

func TestBuildTinyGraphModel(t *testing.T) {
	js, bin := tinyGraph()
	m, err := parseTiny(js, bin)
	require.NoError(t, err)
	net, err := Build(m, "tinygraph")
	require.NoError(t, err)
	kinds := []OpKind{}
	for _, op := range net.Ops {
		kinds = append(kinds, op.Kind)
	}
	assert.Equal(t, []OpKind{OpAffine, OpAffine, OpConv2D, OpDepthwise, OpAdd, OpAvgPool, OpDense, OpActivation}, kinds)
	assert.Equal(t, float32(2), net.Ops[0].Mul)
	assert.Equal(t, float32(-1), net.Ops[1].Add)
	assert.Equal(t, ActReLU6, net.Ops[2].Act)
	assert.Equal(t, Pad{0, 1, 0, 1}, net.Ops[2].Pad) // SAME, 4 -> 2 with stride 2 and k 3
	p := NewFloat(net).Run(make([]float32, 48))
	assert.Len(t, p, 5)

	bad := []byte(strings.Replace(string(js), `"op":"AvgPool"`, `"op":"FancyPool"`, 1))
	m, err = parseTiny(bad, bin)
	require.NoError(t, err)
	_, err = Build(m, "tinygraph")
	require.ErrorContains(t, err, `node "pool" (FancyPool): op "FancyPool" is not supported`)
}
