package infer

import (
	"testing"

	"github.com/veil-ml/veil/internal/fuzzcorpus"
)

// fuzzTFJSSeeds are FuzzTFJSModel's seeds: a layers model and a graph
// model with their weights, and an empty graph.
func fuzzTFJSSeeds() [][]any {
	js, bin := tinyLayers("")
	gjs, gbin := tinyGraph()
	return [][]any{{js, bin}, {gjs, gbin}, {[]byte(`{"modelTopology":{"node":[]}}`), []byte{}}}
}

func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzTFJSModel", fuzzTFJSSeeds())
}
