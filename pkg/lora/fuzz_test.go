package lora

import (
	"testing"

	"github.com/veil-ml/veil/internal/fuzzcorpus"
)

// checkParsed is what every successfully read adapter must satisfy.
func checkParsed(t *testing.T, a *Adapter) {
	if err := a.Validate(); err != nil {
		t.Fatalf("reader returned an invalid adapter: %v", err)
	}
	for i := range a.Layers {
		l := &a.Layers[i]
		if l.Rank*l.Fan()*l.Out > 1<<20 {
			continue // keep each fuzz run fast
		}
		_ = l.Delta()
	}
}

// fuzzPEFTSeeds are FuzzParsePEFT's seeds (adapter_model.safetensors bytes).
func fuzzPEFTSeeds(tb testing.TB) [][]byte {
	a := mixedAdapter()
	sortLayers(a.Layers)
	_, w, err := EncodePEFT(a)
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{w, peftWeights(tb, "base_model.model.", a.Layers[:1]), []byte("\x02\x00\x00\x00\x00\x00\x00\x00{}")}
}

// fuzzKohyaSeeds are FuzzParseKohya's seeds.
func fuzzKohyaSeeds(tb testing.TB) [][]byte {
	a := mixedAdapter()
	sortLayers(a.Layers)
	k, err := EncodeKohya(a)
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{k, []byte("\x02\x00\x00\x00\x00\x00\x00\x00{}")}
}

func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzParsePEFT", fuzzcorpus.Bytes(fuzzPEFTSeeds(t)))
	fuzzcorpus.Check(t, "FuzzParseKohya", fuzzcorpus.Bytes(fuzzKohyaSeeds(t)))
}

func FuzzParsePEFT(f *testing.F) {
	for _, s := range fuzzPEFTSeeds(f) {
		f.Add(s)
	}
	cfg := []byte(`{"r": 4, "lora_alpha": 8, "alpha_pattern": {"dense_[0-9]": 2}}`)
	f.Fuzz(func(t *testing.T, weights []byte) {
		a, err := ParsePEFT(cfg, weights)
		if err != nil {
			return
		}
		checkParsed(t, a)
		if _, _, err := EncodePEFT(a); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzParseKohya(f *testing.F) {
	for _, s := range fuzzKohyaSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseKohya(data)
		if err != nil {
			return
		}
		checkParsed(t, a)
		b, err := EncodeKohya(a)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := ParseKohya(b); err != nil {
			t.Fatalf("parse of re-encoding: %v", err)
		}
	})
}
