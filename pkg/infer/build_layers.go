package infer

import (
	"encoding/json"
	"fmt"
)

// kerasConfig holds the fields of Keras layer configs that we use.
type kerasConfig struct {
	BatchInputShape []*int          `json:"batch_input_shape"`
	Filters         int             `json:"filters"`
	Units           int             `json:"units"`
	KernelSize      []int           `json:"kernel_size"`
	Strides         []int           `json:"strides"`
	PoolSize        []int           `json:"pool_size"`
	Padding         json.RawMessage `json:"padding"`
	DataFormat      string          `json:"data_format"`
	DilationRate    []int           `json:"dilation_rate"`
	Activation      string          `json:"activation"`
	UseBias         *bool           `json:"use_bias"`
	DepthMultiplier *int            `json:"depth_multiplier"`
	Axis            json.RawMessage `json:"axis"`
	Epsilon         *float64        `json:"epsilon"`
	Center          *bool           `json:"center"`
	Scale           *bool           `json:"scale"`
	MaxValue        *float64        `json:"max_value"`
	NegativeSlope   float64         `json:"negative_slope"`
	Threshold       float64         `json:"threshold"`
}

func (b *builder) buildLayers() error {
	m := b.m
	if len(m.Inputs) != 1 || len(m.Outputs) != 1 {
		return fmt.Errorf("want one input and one output layer, have %v and %v", m.Inputs, m.Outputs)
	}
	for _, l := range m.Layers {
		var cfg kerasConfig
		if err := json.Unmarshal(l.Config, &cfg); err != nil {
			return fmt.Errorf("layer %q (%s): config: %w", l.Name, l.ClassName, err)
		}
		if cfg.DataFormat != "" && cfg.DataFormat != "channels_last" {
			return fmt.Errorf("layer %q (%s): data_format %q is not supported", l.Name, l.ClassName, cfg.DataFormat)
		}
		if _, dup := b.ids[l.Name]; dup {
			return fmt.Errorf("layer %q defined twice", l.Name)
		}
		if err := b.addLayer(l.Name, l.ClassName, l.Inbound, &cfg); err != nil {
			return fmt.Errorf("layer %q (%s): %w", l.Name, l.ClassName, err)
		}
	}
	out, ok := b.ids[m.Outputs[0]]
	if !ok {
		return fmt.Errorf("output layer %q not found", m.Outputs[0])
	}
	b.net.Output = out
	return nil
}

func (b *builder) addLayer(name, class string, inbound []string, cfg *kerasConfig) error {
	var ins []int
	for _, in := range inbound {
		id, ok := b.ids[in]
		if !ok {
			return fmt.Errorf("input %q is not defined before it", in)
		}
		ins = append(ins, id)
	}
	need := func(n int) error {
		if len(ins) != n {
			return fmt.Errorf("has %d inputs, want %d", len(ins), n)
		}
		return nil
	}
	var in Shape
	if len(ins) > 0 {
		in = b.net.Shapes[ins[0]]
	}
	op := Op{Name: name, In: ins}

	switch class {
	case "InputLayer":
		s := cfg.BatchInputShape
		if len(s) != 4 || s[1] == nil || s[2] == nil || s[3] == nil || *s[1] != *s[2] || *s[3] != 3 || *s[1] <= 0 {
			return fmt.Errorf("batch_input_shape %v: want [null, S, S, 3]", derefs(s))
		}
		if len(b.net.Shapes) != 0 {
			return fmt.Errorf("more than one input layer")
		}
		b.net.InputSize = *s[1]
		b.ids[name] = b.tensor(Shape{*s[1], *s[1], 3})
		return nil

	case "Dropout", "Activation":
		if err := need(1); err != nil {
			return err
		}
		if class == "Dropout" { // identity at inference
			b.ids[name] = ins[0]
			return nil
		}
		act, err := kerasActivation(cfg.Activation)
		if err != nil {
			return err
		}
		if act == ActLinear {
			b.ids[name] = ins[0]
			return nil
		}
		op.Kind, op.Act = OpActivation, act
		b.ids[name] = b.emit(op, in)

	case "ReLU":
		if err := need(1); err != nil {
			return err
		}
		if cfg.NegativeSlope != 0 || cfg.Threshold != 0 {
			return fmt.Errorf("negative_slope %v / threshold %v are not supported", cfg.NegativeSlope, cfg.Threshold)
		}
		op.Kind, op.Act = OpActivation, ActReLU
		if cfg.MaxValue != nil {
			if *cfg.MaxValue != 6 {
				return fmt.Errorf("max_value %v is not supported (only 6)", *cfg.MaxValue)
			}
			op.Act = ActReLU6
		}
		b.ids[name] = b.emit(op, in)

	case "ZeroPadding2D":
		if err := need(1); err != nil {
			return err
		}
		p, err := kerasZeroPadding(cfg.Padding)
		if err != nil {
			return err
		}
		op.Kind, op.Pad = OpZeroPad, p
		b.ids[name] = b.emit(op, Shape{in.H + p.Top + p.Bottom, in.W + p.Left + p.Right, in.C})

	case "Conv2D", "DepthwiseConv2D":
		if err := need(1); err != nil {
			return err
		}
		if len(cfg.KernelSize) != 2 || len(cfg.Strides) != 2 {
			return fmt.Errorf("kernel_size %v / strides %v: want two values each", cfg.KernelSize, cfg.Strides)
		}
		for _, d := range cfg.DilationRate {
			if d != 1 {
				return fmt.Errorf("dilation_rate %v is not supported", cfg.DilationRate)
			}
		}
		same, err := kerasPadding(cfg.Padding)
		if err != nil {
			return err
		}
		act, err := kerasActivation(cfg.Activation)
		if err != nil {
			return err
		}
		op.KH, op.KW, op.SH, op.SW, op.Act = cfg.KernelSize[0], cfg.KernelSize[1], cfg.Strides[0], cfg.Strides[1], act
		outC := cfg.Filters
		if class == "Conv2D" {
			op.Kind = OpConv2D
			if op.Weights, err = b.weight(name+"/kernel", op.KH, op.KW, in.C, outC); err != nil {
				return err
			}
		} else {
			op.Kind = OpDepthwise
			if cfg.DepthMultiplier != nil && *cfg.DepthMultiplier != 1 {
				return fmt.Errorf("depth_multiplier %d is not supported", *cfg.DepthMultiplier)
			}
			outC = in.C
			if op.Weights, err = b.weight(name+"/depthwise_kernel", op.KH, op.KW, in.C, 1); err != nil {
				return err
			}
		}
		if outC <= 0 {
			return fmt.Errorf("filters %d is invalid", outC)
		}
		if cfg.UseBias == nil || *cfg.UseBias {
			if op.Bias, err = b.weight(name+"/bias", outC); err != nil {
				return err
			}
		}
		out, pad, err := windowOut(in, op.KH, op.KW, op.SH, op.SW, same, outC)
		if err != nil {
			return err
		}
		op.Pad = pad
		b.ids[name] = b.emit(op, out)

	case "BatchNormalization":
		if err := need(1); err != nil {
			return err
		}
		if ax := string(cfg.Axis); ax != "" && ax != "-1" && ax != "3" && ax != "[-1]" && ax != "[3]" {
			return fmt.Errorf("axis %s is not supported (channels only)", ax)
		}
		var err error
		c := in.C
		op.Kind, op.Epsilon = OpBatchNorm, 1e-3
		if cfg.Epsilon != nil {
			op.Epsilon = *cfg.Epsilon
		}
		if op.Mean, err = b.weight(name+"/moving_mean", c); err != nil {
			return err
		}
		if op.Var, err = b.weight(name+"/moving_variance", c); err != nil {
			return err
		}
		if cfg.Scale == nil || *cfg.Scale {
			if op.Gamma, err = b.weight(name+"/gamma", c); err != nil {
				return err
			}
		}
		if cfg.Center == nil || *cfg.Center {
			if op.Beta, err = b.weight(name+"/beta", c); err != nil {
				return err
			}
		} else {
			op.Beta = make([]float32, c)
		}
		b.ids[name] = b.emit(op, in)

	case "Add", "Concatenate":
		if len(ins) < 2 {
			return fmt.Errorf("has %d inputs, want at least 2", len(ins))
		}
		if class == "Add" {
			if len(ins) != 2 {
				return fmt.Errorf("has %d inputs (only 2 are supported)", len(ins))
			}
			if b.net.Shapes[ins[1]] != in {
				return fmt.Errorf("input shapes %v and %v differ", in, b.net.Shapes[ins[1]])
			}
			op.Kind = OpAdd
			b.ids[name] = b.emit(op, in)
			return nil
		}
		if ax := string(cfg.Axis); ax != "" && ax != "-1" && ax != "3" {
			return fmt.Errorf("axis %s is not supported (channels only)", ax)
		}
		out := Shape{in.H, in.W, 0}
		for _, t := range ins {
			s := b.net.Shapes[t]
			if s.H != in.H || s.W != in.W {
				return fmt.Errorf("input shapes %v and %v differ in H or W", in, s)
			}
			out.C += s.C
		}
		op.Kind = OpConcat
		b.ids[name] = b.emit(op, out)

	case "MaxPooling2D", "AveragePooling2D":
		if err := need(1); err != nil {
			return err
		}
		if len(cfg.PoolSize) != 2 {
			return fmt.Errorf("pool_size %v: want two values", cfg.PoolSize)
		}
		strides := cfg.Strides
		if strides == nil {
			strides = cfg.PoolSize
		}
		if len(strides) != 2 {
			return fmt.Errorf("strides %v: want two values", strides)
		}
		same, err := kerasPadding(cfg.Padding)
		if err != nil {
			return err
		}
		op.Kind = OpAvgPool
		if class == "MaxPooling2D" {
			op.Kind = OpMaxPool
		}
		op.KH, op.KW, op.SH, op.SW = cfg.PoolSize[0], cfg.PoolSize[1], strides[0], strides[1]
		out, pad, err := windowOut(in, op.KH, op.KW, op.SH, op.SW, same, in.C)
		if err != nil {
			return err
		}
		op.Pad = pad
		b.ids[name] = b.emit(op, out)

	case "GlobalAveragePooling2D":
		if err := need(1); err != nil {
			return err
		}
		op.Kind, op.KH, op.KW, op.SH, op.SW = OpAvgPool, in.H, in.W, in.H, in.W
		b.ids[name] = b.emit(op, Shape{1, 1, in.C})

	case "Flatten":
		if err := need(1); err != nil {
			return err
		}
		if in.H == 1 && in.W == 1 {
			b.ids[name] = ins[0]
			return nil
		}
		op.Kind = OpReshape
		b.ids[name] = b.emit(op, Shape{1, 1, in.Size()})

	case "Dense":
		if err := need(1); err != nil {
			return err
		}
		if in.H != 1 || in.W != 1 {
			return fmt.Errorf("input shape %v: Dense needs a vector (Flatten first)", in)
		}
		act, err := kerasActivation(cfg.Activation)
		if err != nil {
			return err
		}
		if cfg.Units <= 0 {
			return fmt.Errorf("units %d is invalid", cfg.Units)
		}
		op.Kind, op.Act = OpDense, act
		if op.Weights, err = b.weight(name+"/kernel", in.C, cfg.Units); err != nil {
			return err
		}
		if cfg.UseBias == nil || *cfg.UseBias {
			if op.Bias, err = b.weight(name+"/bias", cfg.Units); err != nil {
				return err
			}
		}
		b.ids[name] = b.emit(op, Shape{1, 1, cfg.Units})

	default:
		return fmt.Errorf("layer class %q is not supported", class)
	}
	return nil
}

func derefs(s []*int) []any {
	var out []any
	for _, p := range s {
		if p == nil {
			out = append(out, nil)
		} else {
			out = append(out, *p)
		}
	}
	return out
}

func kerasActivation(a string) (Activation, error) {
	switch a {
	case "", "linear":
		return ActLinear, nil
	case "relu":
		return ActReLU, nil
	case "relu6":
		return ActReLU6, nil
	case "softmax":
		return ActSoftmax, nil
	}
	return 0, fmt.Errorf("activation %q is not supported", a)
}

func kerasPadding(raw json.RawMessage) (same bool, err error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return false, fmt.Errorf("padding %s: want \"same\" or \"valid\"", raw)
	}
	switch s {
	case "same":
		return true, nil
	case "valid":
		return false, nil
	}
	return false, fmt.Errorf("padding %q: want \"same\" or \"valid\"", s)
}

// kerasZeroPadding reads ZeroPadding2D's padding: n, [h, w] or [[top, bottom], [left, right]].
func kerasZeroPadding(raw json.RawMessage) (Pad, error) {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return checkPad(Pad{n, n, n, n})
	}
	var hw []int
	if json.Unmarshal(raw, &hw) == nil && len(hw) == 2 {
		return checkPad(Pad{hw[0], hw[0], hw[1], hw[1]})
	}
	var full [][]int
	if json.Unmarshal(raw, &full) == nil && len(full) == 2 && len(full[0]) == 2 && len(full[1]) == 2 {
		return checkPad(Pad{full[0][0], full[0][1], full[1][0], full[1][1]})
	}
	return Pad{}, fmt.Errorf("padding %s is not understood", raw)
}

func checkPad(p Pad) (Pad, error) {
	if p.Top < 0 || p.Bottom < 0 || p.Left < 0 || p.Right < 0 || p.Top > 1024 || p.Bottom > 1024 || p.Left > 1024 || p.Right > 1024 {
		return Pad{}, fmt.Errorf("padding %+v is out of range", p)
	}
	return p, nil
}
