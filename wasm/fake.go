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
	openModelFile = func(data []byte, inflated js.Value) (*modelFile, error) {
		if !fakemodel.Is(data) {
			return next(data, inflated)
		}
		c, name, err := fakemodel.Open(data)
		if err != nil {
			return nil, newError(codeBadModel, err, "bad fake model")
		}
		return &modelFile{classifier: c, name: name, adapters: []any{}, format: "fake"}, nil
	}
}
