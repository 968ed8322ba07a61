//go:build js && wasm

package main

import (
	"syscall/js"

	"github.com/veil-ml/veil/wasm/internal/fakemodel"
)

// acceptFakeModels makes openModelFile also read fakemodel files; tests and
// the veilfake build call it.
func acceptFakeModels() {
	next := openModelFile
	openModelFile = func(src jsBytes, inflated js.Value) (*modelFile, error) {
		if !fakemodel.Is(src.data) {
			return next(src, inflated)
		}
		c, name, err := fakemodel.Open(src.data)
		if err != nil {
			return nil, newError(codeBadModel, err, "bad fake model")
		}
		return &modelFile{classifier: c, name: name, adapters: []any{}, format: "fake"}, nil
	}
}
