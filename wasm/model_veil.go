//go:build js && wasm

package main

import (
	"io"
	"strconv"
	"syscall/js"

	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
)

// openVeilFile reads a .veil file into an int8 classifier, as tools/classify
// does: veilfile.ReadWith checks the magic, version, checksum and structure.
func openVeilFile(src jsBytes, inflated js.Value) (*modelFile, error) {
	q, meta, err := veilfile.ReadWith(src.data, modelReadOptions(src, inflated))
	if err != nil {
		return nil, newError(codeBadModel, err, "not a usable .veil model file")
	}
	return veilModel(q, meta), nil
}

// openVeilStream is openVeilFile reading size bytes from r as it goes
// (veilfile.ReadFrom), for a file veil.js opened in Node.
func openVeilStream(r io.Reader, size int) (*modelFile, error) {
	q, meta, err := veilfile.ReadFrom(r, size)
	if err != nil {
		return nil, newError(codeBadModel, err, "not a usable .veil model file")
	}
	return veilModel(q, meta), nil
}

func veilModel(q *infer.QNet, meta *veilfile.Meta) *modelFile {
	adapters := make([]any, len(meta.Adapters))
	for i, a := range meta.Adapters {
		adapters[i] = object("path", a.Path, "sha256", a.SHA256, "weight", a.Weight)
	}
	format := "veil v" + strconv.Itoa(meta.Version) + " int8"
	switch q.ActBits() {
	case 12:
		format += ", 12-bit activations"
	case 0:
		format += ", 8/12-bit activations"
	}
	return &modelFile{
		classifier: infer.NewInt8ClassifierOwning(q),
		name:       q.Name,
		adapters:   adapters,
		format:     format,
	}
}
