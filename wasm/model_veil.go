//go:build js && wasm

package main

import (
	"runtime"
	"strconv"
	"sync"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
)

// openVeilFile reads a .veil file into an int8 classifier, as tools/classify
// does: veilfile.Read checks the magic, version, checksum and structure.
func openVeilFile(data []byte) (*modelFile, error) {
	q, meta, err := veilfile.Read(data)
	if err != nil {
		return nil, newError(codeBadModel, err, "not a usable .veil model file")
	}
	adapters := make([]any, len(meta.Adapters))
	for i, a := range meta.Adapters {
		adapters[i] = object("path", a.Path, "sha256", a.SHA256, "weight", a.Weight)
	}
	e := &sharedInt8{q: q}
	return &modelFile{
		classifier: infer.NewClassifier(q.InputSize, q.Classes, e.runner),
		name:       q.Name,
		adapters:   adapters,
		format:     "veil v" + strconv.Itoa(meta.Version) + " int8",
	}, nil
}

// sharedInt8 is a model's one int8 engine. The Classifier keeps its runners
// in a sync.Pool, which drops them at every GC: with infer.NewInt8Classifier
// each drop planned and packed the whole network again, garbage that grew
// the wasm heap (linear memory never shrinks). Here every runner the
// Classifier asks for is a view of the same engine, used one call at a
// time; wasm runs one goroutine at a time anyway.
type sharedInt8 struct {
	q  *infer.QNet
	mu sync.Mutex
	e  *infer.Int8 // made by the first Run, once bridge.load has collected the file's bytes
}

func (s *sharedInt8) runner() infer.Runner { return &sharedInt8Runner{s: s} }

// sharedInt8Runner is one Classifier runner on a sharedInt8.
type sharedInt8Runner struct {
	s   *sharedInt8
	out []float32 // this runner's copy of the probabilities
}

// Run runs the shared engine and copies its probabilities out, so another
// runner's call cannot overwrite them.
func (r *sharedInt8Runner) Run(input []float32) []float32 {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.e == nil {
		// e is the QNet's only user: it can drop the weights it packs, and
		// a low GC target lets the memory they held take the next layers'.
		restore := lowerGCTarget()
		r.s.e = infer.NewInt8Owning(r.s.q)
		r.s.q = nil
		runtime.GC()
		restore()
	}
	r.out = append(r.out[:0], r.s.e.Run(input)...)
	return r.out
}
