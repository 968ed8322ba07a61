package testimages

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenDir holds the files written by conformance/golden.mjs.
const goldenDir = "../../testdata/golden"

// goldenModels maps each golden file to its model's input size.
var goldenModels = map[string]int{
	"mobilenet_v2.json":     224,
	"mobilenet_v2_mid.json": 224,
	"inception_v3.json":     299,
}

// referenceProbs are REFERENCE.md's smoke values for inputs A and B
// (7 significant digits, cpu backend).
var referenceProbs = map[string]map[string][]float64{
	"MobileNetV2": {
		"A": {0.8848747, 0.01898811, 0.09158453, 0.003643507, 0.0009091072},
		"B": {0.1291623, 0.009462758, 0.8596094, 0.001519836, 0.0002456635},
	},
	"MobileNetV2Mid": {
		"A": {0.07226516, 0.02306166, 0.9024103, 0.0009701527, 0.001292759},
		"B": {0.01679055, 0.001216154, 0.981848, 6.056366e-5, 8.477436e-5},
	},
	"InceptionV3": {
		"A": {0.4218872, 0.05320311, 0.5001335, 0.01816574, 0.006610465},
		"B": {0.1669771, 0.01674063, 0.803265, 0.009469044, 0.003548174},
	},
}

// referenceTolerance is per backend: REFERENCE.md is cpu to 7 digits, and
// the wasm backend differs from cpu by up to ~1e-5.
var referenceTolerance = map[string]float64{"cpu": 1e-6, "wasm": 1e-4}

// TestGoldenFiles checks that every committed golden file loads, covers the
// whole image set, was computed on today's pixels, and reproduces
// REFERENCE.md's smoke values.
func TestGoldenFiles(t *testing.T) {
	for file, size := range goldenModels {
		t.Run(strings.TrimSuffix(file, ".json"), func(t *testing.T) {
			g, err := LoadGolden(filepath.Join(goldenDir, file))
			if err != nil {
				t.Fatal(err)
			}
			tol, ok := referenceTolerance[g.Backend]
			if !ok {
				t.Fatalf("backend %q", g.Backend)
			}
			if g.TFJSVersion != "4.22.0" || g.NSFWJSVersion != "4.4.0" {
				t.Errorf("versions tfjs %s nsfwjs %s", g.TFJSVersion, g.NSFWJSVersion)
			}
			for _, s := range All() {
				if _, ok := g.Probabilities[s.Name]; !ok {
					t.Errorf("no golden for image %q", s.Name)
					continue
				}
				if s.Large && skipLarge() {
					continue
				}
				if got := generate(s).sha256; got != g.PixelSHA256[s.Name] {
					t.Errorf("image %q changed since the golden was made (sha256 %s, golden %s): regenerate with %s",
						s.Name, got, g.PixelSHA256[s.Name], g.Command)
				}
			}
			if len(g.Names()) != len(All()) {
				t.Errorf("golden has %d images, All has %d", len(g.Names()), len(All()))
			}
			refs := referenceProbs[g.Model]
			if refs == nil {
				t.Fatalf("unknown model %q", g.Model)
			}
			for label, name := range map[string]string{"A": "ref_a_" + map[int]string{224: "224", 299: "299"}[size], "B": "ref_b"} {
				for i, want := range refs[label] {
					if got := g.Probabilities[name][i]; math.Abs(got-want) > tol {
						t.Errorf("%s %s %s = %v, REFERENCE.md %v (tolerance %g)", name, g.Model, Classes[i], got, want, tol)
					}
				}
			}
		})
	}
}

func TestLoadGoldenRejects(t *testing.T) {
	const good = `"model":"M","backend":"cpu","classes":["Drawing","Hentai","Neutral","Porn","Sexy"]`
	for _, tc := range []struct{ name, text, want string }{
		{"not json", `{`, "unexpected end"},
		{"no model", `{"classes":["Drawing","Hentai","Neutral","Porn","Sexy"],"probabilities":{"a":[0.2,0.2,0.2,0.2,0.2]}}`, "no model"},
		{"classes", `{"model":"M","classes":["Porn"],"probabilities":{"a":[1]}}`, "classes"},
		{"empty", `{` + good + `,"probabilities":{}}`, "no probabilities"},
		{"length", `{` + good + `,"probabilities":{"a":[0.5,0.5]}}`, "2 probabilities"},
		{"range", `{` + good + `,"probabilities":{"a":[1.5,-0.5,0,0,0]}}`, "out of [0, 1]"},
		{"sum", `{` + good + `,"probabilities":{"a":[0.5,0,0,0,0]}}`, "sum to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "g.json")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadGolden(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("LoadGolden = %v, want an error mentioning %q and the path", err, tc.want)
			}
		})
	}
	if _, err := LoadGolden(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadGolden of a missing file succeeded")
	}
}
