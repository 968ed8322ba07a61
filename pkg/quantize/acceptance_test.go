package quantize_test

import (
	"flag"
	"math"
	"os"
	"runtime"
	"testing"

	"github.com/veil-ml/veil/internal/testimages"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/quantize"
	"github.com/veil-ml/veil/pkg/veilfile"
)

var acceptance = flag.Bool("acceptance", false, "fail when a models/*.veil misses the issue-3 acceptance thresholds against nsfwjs")

// fidelity bounds agreement with nsfwjs on the conformance images.
type fidelity struct{ top1, mean, max float64 }

// target is issue 3's acceptance level, enforced with -acceptance.
var target = fidelity{top1: 0.99, mean: 0.01, max: 0.05}

// floor is what each model reached when last measured (2026-11-27, make
// models' settings: 12-bit activations, Mid's mixed with 8-bit ones,
// weights on their source grid: top-1 100% / 100% / 98.0%, mean 0.0010 /
// 0.0023 / 0.0005, max 0.0109 / 0.0307 / 0.0091 on all 50 images), with a
// margin: always enforced, so a quantizer or engine change that makes
// things worse fails. Mid with 12 bits throughout reached 0.0006 /
// 0.0112. The 8-bit models (make models ACT_BITS=8) reached 98.0% / 100% /
// 98.0%, 0.0086 / 0.0041 / 0.0067, 0.134 / 0.063 / 0.133, below these
// floors.
var floor = map[string]fidelity{
	"mobilenet_v2":     {top1: 0.98, mean: 0.002, max: 0.02},
	"mobilenet_v2_mid": {top1: 0.98, mean: 0.004, max: 0.04},
	"inception_v3":     {top1: 0.96, mean: 0.0015, max: 0.02},
}

// TestAgainstGolden runs each models/NAME.veil on the conformance images
// (internal/testimages) and compares with the real nsfwjs outputs in
// testdata/golden/NAME.json. It enforces each model's floor, and with
// -acceptance the target. InceptionV3 runs on every 5th image unless
// VEIL_FULL_CONFORMANCE is set. VEIL_MODEL_DIR tests the .veil files in
// another directory (a quantizer experiment) instead of models/.
//
//	go test ./pkg/quantize -run AgainstGolden -v [-acceptance]
func TestAgainstGolden(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("native only: the int8 engine's wasm output is checked bit for bit by pkg/infer's TestInt8Deterministic*")
	}
	if testing.Short() && !*acceptance {
		t.Skip("slow (about 3 minutes on 2 cores); run without -short or with -acceptance")
	}
	for _, name := range []string{"mobilenet_v2", "mobilenet_v2_mid", "inception_v3"} {
		t.Run(name, func(t *testing.T) {
			q, size, g := modelAndGolden(t, name)
			e := infer.NewInt8(q)
			inputs, want := conformanceInputs(q, g, func(i int, spec testimages.Spec) bool {
				full := name != "inception_v3" || i%5 == 0 || os.Getenv("VEIL_FULL_CONFORMANCE") != ""
				return full && !(spec.Large && testing.Short())
			})
			var got [][]float32
			for _, x := range inputs {
				got = append(got, append([]float32(nil), e.Run(x)...))
			}
			top1, mean, maxd := quantize.Agreement(got, want)
			t.Logf("%s: %d images, %d bytes: top-1 agreement %.1f%%, mean |Δp| %.4f, max |Δp| %.4f",
				name, len(got), size, 100*top1, mean, maxd)
			check := func(what string, f fidelity) {
				if top1 < f.top1 || mean > f.mean || maxd > f.max || math.IsNaN(mean) {
					t.Errorf("%s misses its %s (top-1 ≥ %.0f%%, mean ≤ %g, max ≤ %g)", name, what, 100*f.top1, f.mean, f.max)
				}
			}
			check("floor", floor[name])
			if *acceptance {
				check("acceptance target", target)
			}
		})
	}
}

// modelAndGolden reads models/NAME.veil (or VEIL_MODEL_DIR's) and nsfwjs's
// outputs for the conformance images; it skips the test if the model has
// not been built (fails with VEIL_REQUIRE_MODELS). It returns the file size.
func modelAndGolden(t *testing.T, name string) (*infer.QNet, int, *testimages.Golden) {
	t.Helper()
	dir := "../../models/"
	if d := os.Getenv("VEIL_MODEL_DIR"); d != "" {
		dir = d + "/"
	}
	data, err := os.ReadFile(dir + name + ".veil")
	if err != nil {
		if os.Getenv("VEIL_REQUIRE_MODELS") != "" {
			t.Fatal(err)
		}
		t.Skipf("models/%s.veil not written yet (make models)", name)
	}
	g, err := testimages.LoadGolden("../../testdata/golden/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := veilfile.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	return q, len(data), g
}

// conformanceInputs preprocesses the conformance images keep accepts (by
// index and spec) that have a golden output, for q; want holds nsfwjs's.
func conformanceInputs(q *infer.QNet, g *testimages.Golden, keep func(int, testimages.Spec) bool) (inputs, want [][]float32) {
	s := q.InputSize
	for i, spec := range testimages.All() {
		p, ok := g.Probabilities[spec.Name]
		if !ok || !keep(i, spec) {
			continue
		}
		img := spec.Make()
		x := make([]float32, s*s*3)
		infer.Preprocess(x, img.Pix, img.W, img.H, s)
		inputs = append(inputs, x)
		w := make([]float32, len(p))
		for k, v := range p {
			w[k] = float32(v)
		}
		want = append(want, w)
	}
	return inputs, want
}
