package testimages

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
)

// Classes are the nsfwjs output classes, in output order.
var Classes = []string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}

// Golden is one model's reference outputs: the real nsfwjs run over the
// conformance images. It is the decoded form of testdata/golden/<model>.json.
type Golden struct {
	Model         string   `json:"model"`          // nsfwjs model name, e.g. "MobileNetV2"
	Backend       string   `json:"backend"`        // TF.js backend that produced it: "cpu" or "wasm"
	TFJSVersion   string   `json:"tfjs_version"`   // e.g. "4.22.0"
	NSFWJSVersion string   `json:"nsfwjs_version"` // e.g. "4.4.0"
	Classes       []string `json:"classes"`        // always Classes
	// Probabilities maps an image name to its 5 probabilities in class
	// order. The values are float32 results widened exactly to float64.
	Probabilities map[string][]float64 `json:"probabilities"`
	// PixelSHA256 maps an image name to the SHA-256 of the pixels nsfwjs
	// was given (see PixelSHA256), to detect stale goldens.
	PixelSHA256 map[string]string `json:"pixel_sha256"`
	// Command regenerates the file from the repository root.
	Command string `json:"command"`
}

// LoadGolden reads and validates a golden file written by
// conformance/golden.mjs.
func LoadGolden(path string) (*Golden, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("testimages: load golden: %w", err)
	}
	var g Golden
	if err := json.Unmarshal(data, &g); err != nil {
		return nil, fmt.Errorf("testimages: golden %s: %w", path, err)
	}
	if err := g.validate(); err != nil {
		return nil, fmt.Errorf("testimages: golden %s: %w", path, err)
	}
	return &g, nil
}

// probSumTolerance bounds |Σp - 1| for a float32 softmax over 5 classes.
const probSumTolerance = 1e-5

func (g *Golden) validate() error {
	if g.Model == "" {
		return fmt.Errorf("no model name")
	}
	if !slices.Equal(g.Classes, Classes) {
		return fmt.Errorf("classes %q, want %q", g.Classes, Classes)
	}
	if len(g.Probabilities) == 0 {
		return fmt.Errorf("no probabilities")
	}
	for name, p := range g.Probabilities {
		if len(p) != len(Classes) {
			return fmt.Errorf("image %q: %d probabilities, want %d", name, len(p), len(Classes))
		}
		sum := 0.0
		for i, v := range p {
			if math.IsNaN(v) || v < 0 || v > 1 {
				return fmt.Errorf("image %q: %s probability %v out of [0, 1]", name, Classes[i], v)
			}
			sum += v
		}
		if math.Abs(sum-1) > probSumTolerance {
			return fmt.Errorf("image %q: probabilities sum to %v", name, sum)
		}
	}
	return nil
}

// Names returns the image names of g in the order of All, followed by any
// names All does not know, sorted.
func (g *Golden) Names() []string {
	names := make([]string, 0, len(g.Probabilities))
	known := map[string]bool{}
	for _, s := range All() {
		known[s.Name] = true
		if _, ok := g.Probabilities[s.Name]; ok {
			names = append(names, s.Name)
		}
	}
	var unknown []string
	for n := range g.Probabilities {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	slices.Sort(unknown)
	return append(names, unknown...)
}
