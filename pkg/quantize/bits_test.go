package quantize_test

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/veil-ml/veil/internal/testimages"
	"github.com/veil-ml/veil/pkg/calibset"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/tfjs"
	"github.com/veil-ml/veil/pkg/quantize"
)

var bitsExperiment = flag.Bool("bits", false, "run TestActivationBits and TestWeightBits: where the int8 error comes from (slow)")

// noClip lets values outside a tensor's range through (rounded on its
// grid), to tell clipping from rounding.
var noClip bool

// wideSteps is the number of steps a wide tensor's grid has per 8-bit step.
var wideSteps = 257.0

// wideRange widens a wide tensor's range by this factor (its grid too).
var wideRange = 1.0

// simulate runs q in float with its int8 weights dequantized (or, where
// float gives them, float weights and bias) and every tensor rounded to its
// own 8-bit grid, or, where wide(t), to a 16-bit grid over the same range
// (scale/257, zero·257: 65535 = 255·257). With wide false everywhere it is
// the int8 engine up to the rounding of requantization, which
// TestActivationBits checks before using it (measured: mean |Δp| ≤ 0.0015,
// max ≤ 0.024 between the two).

func simulate(q *infer.QNet, input []float32, wide func(t int) bool, float func(op int) (w, b []float32)) []float32 {
	return simulateOn(q, input, func(t int) (scale, zero, top float64) {
		p := q.Tensors[t].Q
		scale, zero, top = float64(p.Scale), float64(p.Zero), float64(p.Top())
		if wide(t) {
			scale, zero, top = scale*wideRange/wideSteps, zero*wideSteps/wideRange, top*wideSteps
		}
		return scale, zero, top
	}, float)
}

// simulateOn is simulate with each tensor t rounded to the grid grid(t):
// real = scale·(q − zero), q in [0, top].
func simulateOn(q *infer.QNet, input []float32, grid func(t int) (scale, zero, top float64), float func(op int) (w, b []float32)) []float32 {
	bufs := make([][]float32, len(q.Tensors))
	for t, tq := range q.Tensors {
		bufs[t] = make([]float32, tq.Shape.Size())
	}
	round := func(t int) {
		scale, zero, top := grid(t)
		for i, v := range bufs[t] {
			r := math.RoundToEven(float64(v)/scale) + zero
			if !noClip {
				r = math.Min(math.Max(r, 0), top)
			}
			bufs[t][i] = float32(scale * (r - zero))
		}
	}
	x0 := bufs[0]
	copy(x0, input)
	for _, a := range q.InputAffine {
		infer.AffineRef(x0, x0, a.Mul, a.Add)
	}
	round(0)
	acc := make([]float64, 1<<16)
	for i := range q.Ops {
		op := &q.Ops[i]
		x, xs := bufs[op.In[0]], q.Tensors[op.In[0]].Shape
		y, ys := bufs[op.Out], q.Tensors[op.Out].Shape
		var w, b []float32
		if float != nil {
			w, b = float(i)
		}
		if op.Weights != nil && w == nil {
			inScale := float64(q.Tensors[op.In[0]].Q.Scale)
			cout := len(op.WScale)
			w = make([]float32, len(op.Weights))
			for k, v := range op.Weights {
				w[k] = float32(v) * op.WScale[k%cout]
			}
			b = make([]float32, cout)
			for c := range b {
				b[c] = float32(float64(op.Bias[c]) * inScale * float64(op.WScale[c]))
			}
		}
		switch op.Kind {
		case infer.QConv:
			infer.Conv2DRef(y, ys, x, xs, w, b, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Act, acc)
		case infer.QDepthwise:
			infer.DepthwiseConv2DRef(y, ys, x, xs, w, b, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Act, acc)
		case infer.QDense:
			infer.DenseRef(y, x, w, b, op.Act, acc)
			if op.Act == infer.ActSoftmax {
				return y
			}
		case infer.QAdd:
			infer.AddRef(y, x, bufs[op.In[1]])
			infer.ActivateRef(y, y, ys.C, op.Act)
		case infer.QConcat:
			xsl := make([][]float32, len(op.In))
			cs := make([]int, len(op.In))
			for k, t := range op.In {
				xsl[k], cs[k] = bufs[t], q.Tensors[t].Shape.C
			}
			infer.ConcatRef(y, ys.H*ys.W, xsl, cs)
		case infer.QMaxPool, infer.QAvgPool:
			infer.PoolRef(y, ys, x, xs, op.KH, op.KW, op.SH, op.SW, op.Pad, op.Kind == infer.QMaxPool)
		}
		round(op.Out)
	}
	panic("no softmax dense")
}

// TestActivationBits measures, on the conformance images against nsfwjs,
// what 16-bit activations (int8 weights unchanged) would give in chosen
// tensors: the evidence for how to close issue 3's worst case. It first
// checks that the simulation with all tensors at 8 bits agrees with the
// int8 engine, so the other figures describe the engine, not the simulator.
//
//	go test ./pkg/quantize -run ActivationBits -v -bits
func TestActivationBits(t *testing.T) {
	if !*bitsExperiment {
		t.Skip("an experiment (minutes per model): run with -bits")
	}
	for _, name := range []string{"mobilenet_v2", "mobilenet_v2_mid", "inception_v3"} {
		t.Run(name, func(t *testing.T) {
			q, _, g := modelAndGolden(t, name)
			if q.ActBits() != 8 {
				t.Skip("an experiment on the 8-bit models: make models ACT_BITS=8, or VEIL_MODEL_DIR")
			}
			engine := infer.NewInt8(q)
			// The tensors an op with no ReLU writes (MobileNetV2's linear
			// bottlenecks and the adds onto them): signed, wide-ranged.
			linear := map[int]bool{}
			for _, op := range q.Ops {
				if op.Act == infer.ActLinear && op.Kind != infer.QMaxPool && op.Kind != infer.QAvgPool && op.Kind != infer.QConcat {
					linear[op.Out] = true
				}
			}
			half, quarter := q.Ops[len(q.Ops)/2].Out, q.Ops[len(q.Ops)/4].Out
			variants := []struct {
				name string
				wide func(t int) bool
			}{
				{"8-bit everywhere", func(int) bool { return false }},
				{"16-bit in the linear (no-ReLU) outputs", func(t int) bool { return linear[t] }},
				{"16-bit in the first half of the ops", func(t int) bool { return t > 0 && t <= half }},
				{"16-bit everywhere", func(t int) bool { return t > 0 }},
				{"16-bit input and linear outputs", func(t int) bool { return t == 0 || linear[t] }},
				{"16-bit input and the first quarter", func(t int) bool { return t <= quarter }},
				{"16-bit input and the first half", func(t int) bool { return t <= half }},
				{"16-bit input and the second half", func(t int) bool { return t == 0 || t > half }},
				{"16-bit input and everywhere", func(t int) bool { return true }},
			}
			inputs, want := conformanceInputs(q, g, func(i int, spec testimages.Spec) bool {
				return !spec.Large && (name != "inception_v3" || i%5 == 0)
			})
			var fromEngine [][]float32
			got := make([][][]float32, len(variants))
			for _, x := range inputs {
				fromEngine = append(fromEngine, append([]float32(nil), engine.Run(x)...))
				for v := range variants {
					got[v] = append(got[v], simulate(q, x, variants[v].wide, nil))
				}
			}
			_, mean, maxd := quantize.Agreement(got[0], fromEngine)
			t.Logf("%s, %d images: 8-bit simulation vs the int8 engine: mean |Δp| %.5f, max %.5f", name, len(want), mean, maxd)
			if mean > 0.002 || maxd > 0.03 { // the fixed-point requantization rounds slightly differently
				t.Fatalf("the simulation does not match the engine; its other figures would mean nothing")
			}
			for v, variant := range variants {
				top1, mean, maxd := quantize.Agreement(got[v], want)
				t.Logf("%s: %-40s vs nsfwjs: top-1 %5.1f%%, mean |Δp| %.4f, max |Δp| %.4f", name, variant.name, 100*top1, mean, maxd)
			}
		})
	}
}

// TestWeightBits separates the int8 weights' share of the error from the
// activations': it runs the simulation with the float weights the quantizer
// started from (folded, equalized as the Makefile builds the model) in all
// layers or in a few, and ranks the layers whose int8 weights cost the most.
//
//	go test ./pkg/quantize -run WeightBits -v -bits
func TestWeightBits(t *testing.T) {
	if !*bitsExperiment {
		t.Skip("an experiment (minutes per model): run with -bits")
	}
	equalized := map[string]bool{"mobilenet_v2": true, "mobilenet_v2_mid": false, "inception_v3": true} // as in the Makefile
	for _, name := range []string{"mobilenet_v2", "mobilenet_v2_mid", "inception_v3"} {
		t.Run(name, func(t *testing.T) {
			q, _, g := modelAndGolden(t, name)
			if q.ActBits() != 8 {
				t.Skip("an experiment on the 8-bit models: make models ACT_BITS=8, or VEIL_MODEL_DIR")
			}
			tm, err := tfjs.Load("../../models/tfjs/" + name)
			if err != nil {
				t.Fatal(err)
			}
			net, err := infer.Build(tm, name)
			if err != nil {
				t.Fatal(err)
			}
			S := q.InputSize
			var calib [][]float32
			for _, im := range calibset.Images(calibset.DefaultCount) {
				x := make([]float32, S*S*3)
				infer.Preprocess(x, im.Pix, im.W, im.H, S)
				calib = append(calib, x)
			}
			prep, first, err := quantize.Prepared(net, calib, equalized[name])
			if err != nil {
				t.Fatal(err)
			}
			// The float weights must be the ones the file's were made from:
			// same op names and the same per-channel scales (max|w|/127).
			var weighted []int
			for i := range q.Ops {
				fop := &prep.Ops[first+i]
				if fop.Name != q.Ops[i].Name {
					t.Fatalf("op %d: float %q, int8 %q", i, fop.Name, q.Ops[i].Name)
				}
				if q.Ops[i].Weights == nil {
					continue
				}
				weighted = append(weighted, i)
				_, scale, _ := quantize.QuantizePerChannel(fop.Weights, len(q.Ops[i].WScale))
				same := 0
				for c, s := range scale {
					if s == q.Ops[i].WScale[c] || s == 1e-9 { // 1e-9: all zero (a dead channel's scale is raised to fit its bias)
						same++
					}
				}
				if same < len(scale) {
					t.Fatalf("op %d %q: %d of %d weight scales match the file's", i, fop.Name, same, len(scale))
				}
			}
			floatIn := func(set map[int]bool) func(int) ([]float32, []float32) {
				return func(i int) ([]float32, []float32) {
					if set[i] {
						return prep.Ops[first+i].Weights, prep.Ops[first+i].Bias
					}
					return nil, nil
				}
			}
			narrow := func(int) bool { return false }
			wide := func(t int) bool { return t > 0 }
			inputs, want := conformanceInputs(q, g, func(i int, spec testimages.Spec) bool {
				return !spec.Large && (name != "inception_v3" || i%5 == 0)
			})
			run := func(imgs []int, acts func(int) bool, float map[int]bool) (top1, mean, maxd float64, per []float64) {
				var got, ref [][]float32
				for _, k := range imgs {
					got = append(got, simulate(q, inputs[k], acts, floatIn(float)))
					ref = append(ref, want[k])
				}
				for k := range got {
					_, _, m := quantize.Agreement(got[k:k+1], ref[k:k+1])
					per = append(per, m)
				}
				top1, mean, maxd = quantize.Agreement(got, ref)
				return
			}
			all := make([]int, len(inputs))
			for k := range all {
				all[k] = k
			}
			allFloat := map[int]bool{}
			for _, i := range weighted {
				allFloat[i] = true
			}
			report := func(what string, acts func(int) bool, float map[int]bool) []float64 {
				top1, mean, maxd, per := run(all, acts, float)
				t.Logf("%s: %-52s top-1 %5.1f%%, mean |Δp| %.4f, max |Δp| %.4f", name, what, 100*top1, mean, maxd)
				return per
			}
			all16 := func(int) bool { return true }
			input16 := func(t int) bool { return t == 0 }
			report("int8 weights, 8-bit activations (the engine)", narrow, nil)
			report("int8 weights, 8-bit activations, 16-bit input", input16, nil)
			report("int8 weights, 16-bit activations and input", all16, nil)
			report("float weights, 16-bit activations and input", all16, allFloat)
			noClip = true
			report("no clipping: float weights, 16-bit all", all16, allFloat)
			report("no clipping: float weights, 16-bit acts, 8-bit input", wide, allFloat)
			report("no clipping: float weights, 8-bit acts, 16-bit input", input16, allFloat)
			report("no clipping: int8 weights, 16-bit all", all16, nil)
			report("no clipping: int8 weights, 8-bit acts, 16-bit input", input16, nil)
			noClip = false
			if testing.Short() {
				return
			}
			perW := report("int8 weights, 16-bit acts, 8-bit input", wide, nil)

			// Rank layers by what float weights in that layer alone buy on
			// the images the int8 weights hurt most (16-bit activations).
			worst := slices.Clone(all)
			slices.SortFunc(worst, func(a, b int) int { return cmp.Compare(perW[b], perW[a]) })
			worst = worst[:min(8, len(worst))]
			_, _, base, _ := run(worst, wide, nil)
			type gain struct {
				op   int
				maxd float64
			}
			var gains []gain
			for _, i := range weighted {
				_, _, m, _ := run(worst, wide, map[int]bool{i: true})
				gains = append(gains, gain{i, m})
			}
			slices.SortFunc(gains, func(a, b gain) int { return cmp.Compare(a.maxd, b.maxd) })
			for _, gn := range gains[:min(8, len(gains))] {
				t.Logf("%s: float weights in op %3d %-40q alone: max |Δp| %.4f (int8 everywhere %.4f) on the %d worst images", name, gn.op, q.Ops[gn.op].Name, gn.maxd, base, len(worst))
			}
			set := map[int]bool{}
			for k, gn := range gains[:min(8, len(gains))] {
				set[gn.op] = true
				if k == 0 || k == 2 || k == 7 {
					report(fmt.Sprintf("float weights in the top %d, 16-bit activations", k+1), wide, set)
					report(fmt.Sprintf("float weights in the top %d, 8-bit activations", k+1), narrow, set)
				}
			}
		})
	}
}
