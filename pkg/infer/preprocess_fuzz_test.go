package infer_test

import (
	"math"
	"testing"

	"github.com/veil-ml/veil/internal/fuzzcorpus"
	"github.com/veil-ml/veil/internal/malformed"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/infer/decode"
)

// fuzzLimits keep each fuzz input fast; a refusal is a typed error too.
var fuzzLimits = decode.Limits{MaxPixels: 1 << 20, MaxWidth: 4096, MaxHeight: 4096}

type constRunner struct{}

func (constRunner) Run([]float32) []float32 { return []float32{0.25, 0.75} }

// TestFuzzCorpusDecodePreprocess keeps FuzzDecodePreprocess's committed seeds.
func TestFuzzCorpusDecodePreprocess(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzDecodePreprocess", fuzzcorpus.Bytes(malformed.Seeds()))
}

// FuzzDecodePreprocess is the image path of a classification: bytes are
// decoded and resized to the model input as nsfwjs does. Any input must give
// a typed decode error or an input tensor of finite values in [0, 1], at
// every model size, and Classifier.ClassifyBytes must agree.
func FuzzDecodePreprocess(f *testing.F) {
	for _, s := range malformed.Seeds() {
		f.Add(s)
	}
	c := infer.NewClassifier(7, []string{"a", "b"}, func() infer.Runner { return constRunner{} })
	c.Limits = fuzzLimits
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decode.Decode(data, fuzzLimits)
		_, cerr := c.ClassifyBytes(data)
		if (err == nil) != (cerr == nil) {
			t.Fatalf("Decode: %v; ClassifyBytes: %v", err, cerr)
		}
		if err != nil {
			if malformed.Kind(err) == "" {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		for _, s := range []int{1, 2, 7, 224} {
			dst := make([]float32, s*s*3)
			infer.Preprocess(dst, img.Pix, img.W, img.H, s)
			for i, v := range dst {
				if !(v >= 0 && v <= 1) || math.IsNaN(float64(v)) {
					t.Fatalf("%dx%d image, size %d: input[%d] = %v", img.W, img.H, s, i, v)
				}
			}
		}
	})
}
