package quantize_test

import (
	"math"
	"strings"
	"testing"

	"github.com/veil-ml/veil/internal/qtest"
	"github.com/veil-ml/veil/internal/testimages"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/quantize"
)

// simulateMixed runs a 12-bit q (its weights on their source grid) in float:
// tensors where wide(t) on their own 12-bit grid, the others on an 8-bit
// grid over the calibrated range: half the ×2 range the file holds (a
// ReLU6 output whose range was capped at 6 keeps [lo/2, 6]).
func simulateMixed(q *infer.QNet, input []float32, wide func(t int) bool) []float32 {
	return simulateOn(q, input, func(t int) (scale, zero, top float64) {
		p := q.Tensors[t].Q
		scale, zero, top = float64(p.Scale), float64(p.Zero), 4095
		if !wide(t) {
			lo, hi := -zero*scale, (4095-zero)*scale
			if math.Abs(hi-6) > 1e-3 {
				hi /= 2
			}
			lo /= 2
			scale = (hi - lo) / 255
			zero = math.Round(-lo / scale)
			top = 255
		}
		return scale, zero, top
	}, nil)
}

// TestMixedBits asks whether a per-tensor mix of 12- and 8-bit activations
// would keep nsfwjs's answers: 12 bits only on the input and the linear
// (no-ReLU) outputs, MobileNetV2's bottlenecks and adds, which are small;
// 8 bits on the expanded ReLU6 tensors, which are large and feed the
// depthwise convs. Measured 2026-11-27 on the 47 small conformance images
// (top-1 / mean |Δp| / max |Δp|): Mid, 12 bits everywhere 100% / 0.0005 /
// 0.0052, the mix 100% / 0.0024 / 0.0249, 8 bits everywhere 97.9% / 0.0179
// / 0.219; MobileNetV2 100% / 0.0010 / 0.0089, 95.7% / 0.0058 / 0.107,
// 89.4% / 0.0332 / 0.385. So the mix would do for Mid, not for MobileNetV2.
//
//	go test ./pkg/quantize -run MixedBits -v -bits
func TestMixedBits(t *testing.T) {
	if !*bitsExperiment {
		t.Skip("an experiment: run with -bits")
	}
	for _, name := range []string{"mobilenet_v2_mid", "mobilenet_v2"} {
		q, _, g := modelAndGolden(t, name)
		if q.ActBits() != 12 {
			t.Logf("%s: not a 12-bit model (make models builds Mid mixed; -act-bits 12 for this experiment)", name)
			continue
		}
		inputs, want := conformanceInputs(q, g, func(i int, spec testimages.Spec) bool { return !spec.Large })
		linear := map[int]bool{}
		for _, op := range q.Ops {
			if op.Act == infer.ActLinear && op.Kind != infer.QMaxPool && op.Kind != infer.QAvgPool && op.Kind != infer.QConcat {
				linear[op.Out] = true
			}
		}
		for _, v := range []struct {
			n string
			f func(int) bool
		}{
			{"all 12", func(int) bool { return true }},
			{"input+linear 12", func(t int) bool { return t == 0 || linear[t] }},
			{"all 8", func(t int) bool { return false }},
		} {
			var got [][]float32
			for _, x := range inputs {
				got = append(got, simulateMixed(q, x, v.f))
			}
			if v.n == "all 12" {
				// The simulation must describe the engine, or its other
				// figures mean nothing.
				e := infer.NewInt8(q)
				var engine [][]float32
				for _, x := range inputs {
					engine = append(engine, append([]float32(nil), e.Run(x)...))
				}
				if _, mean, maxd := quantize.Agreement(got, engine); mean > 0.002 || maxd > 0.03 {
					t.Fatalf("%s: the 12-bit simulation differs from the engine: mean |Δp| %.4f, max %.4f", name, mean, maxd)
				}
			}
			top1, mean, maxd := quantize.Agreement(got, want)
			t.Logf("%s %-16s top-1 %5.1f%% mean %.4f max %.4f", name, v.n, 100*top1, mean, maxd)
		}
	}
}

// TestMixedWidths checks which tensors Options.Mixed gives 12 bits, on the
// tiny net: the input and the linear outputs; ReLU outputs get 8 unless an
// add, concat or pool ties them to a 12-bit tensor (relu1 feeds the add
// onto the linear pw, and branch the concat with the add's maxpool).
func TestMixedWidths(t *testing.T) {
	q := qtest.TinyQNetBits(1, 12, 0)
	want := map[string]bool{"conv1": true, "dw": false, "pw": true, "add": true, "maxpool": true, "branch": true, "concat": true, "avgpool": true, "fc1": false}
	if !q.Tensors[0].Q.Wide {
		t.Error("the input is 8-bit")
	}
	for _, op := range q.Ops {
		w, ok := want[op.Name]
		if !ok {
			continue
		}
		delete(want, op.Name)
		if got := q.Tensors[op.Out].Q; got.Wide != w || got.Zero > got.Top() {
			t.Errorf("%s writes %+v, want Wide %v", op.Name, got, w)
		}
	}
	if len(want) > 0 {
		t.Errorf("ops not found: %v", want)
	}
	calib := [][]float32{qtest.Input(1, 12)}
	if _, _, err := quantize.Quantize(qtest.TinyNet(1, 12), calib, quantize.Options{ActBits: 8, Mixed: true}); err == nil || !strings.Contains(err.Error(), "need ActBits 12") {
		t.Errorf("Mixed with 8 bits: %v", err)
	}
}
