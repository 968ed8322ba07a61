//go:build js && wasm

package main

import (
	"bytes"
	"runtime/debug"
	"sync"
	"syscall/js"

	"github.com/veil-ml/veil/pkg/infer"
)

// modelFile is what the bridge needs from a model file.
type modelFile struct {
	classifier *infer.Classifier
	name       string
	adapters   []any  // LoRA adapters merged into the weights: {path, sha256, weight}
	format     string // file format and precision, for info
}

// openModelFile reads a model file; it is the one place that knows the
// format. src is the file (with its JavaScript array, if any: see
// jsBytes); inflated holds tensors veil.js inflated ahead, or is undefined
// (see modelReadOptions). Tests (and builds with the veilfake tag) wrap it
// to also accept fakemodel files.
var openModelFile = openVeilFile

// loadGCPercent is the GC target while a model comes in and is decoded:
// off. Decoding makes little garbage (a few MB, far below the first
// classify's buffers), and each collection in it ran the runtime's GC code
// enough for V8 to recompile it on background threads, which cost more
// memory and time than the garbage (MobileNetV2 in Node: load 490–510 ->
// 470–480 ms). bridge.load keeps it off from its start, so that copying
// the file into wasm memory does not start a collection mid-load either,
// and collects once the model is made.
const loadGCPercent = -1

// gcOff sets the GC target to loadGCPercent until every caller has called
// the function it returns: loads that overlap (they take turns while one
// awaits JavaScript) must not restore one another's saved target, which
// could leave the collector off for good.
func gcOff() (restore func()) {
	gcOffState.Lock()
	defer gcOffState.Unlock()
	if gcOffState.n == 0 {
		gcOffState.saved = debug.SetGCPercent(loadGCPercent)
	}
	gcOffState.n++
	return sync.OnceFunc(func() {
		gcOffState.Lock()
		defer gcOffState.Unlock()
		if gcOffState.n--; gcOffState.n == 0 {
			debug.SetGCPercent(gcOffState.saved)
		}
	})
}

var gcOffState struct {
	sync.Mutex
	n     int // callers that have not restored yet
	saved int // the target before the first of them
}

// openModel reads data with openModelFile, first naming the usual wrong
// downloads (an HTML error page, a TF.js model.json) so the message helps.
func openModel(src jsBytes, inflated js.Value) (*modelFile, error) {
	data := src.data
	t := bytes.TrimLeft(data[:min(len(data), 64)], " \t\r\n\ufeff")
	switch {
	case len(data) == 0:
		return nil, newError(codeBadModel, nil, "model file is empty (0 bytes)")
	case bytes.HasPrefix(t, []byte("<")):
		return nil, newError(codeBadModel, nil, "got HTML or XML, not a model file (wrong URL, or an error page?)")
	case bytes.HasPrefix(t, []byte("{")):
		return nil, newError(codeBadModel, nil, "got JSON, not a .veil model file (a TF.js model.json? convert it with tools/quantize)")
	}
	m, err := openModelFile(src, inflated)
	if err != nil {
		if errorCode(err) == codeInternal {
			return nil, newError(codeBadModel, err, "not a usable model file")
		}
		return nil, err
	}
	return m, nil
}
