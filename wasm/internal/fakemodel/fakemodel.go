// Package fakemodel is a stand-in model file for testing the WebAssembly
// bridge and veil.js without a real network: the file is tiny, loads in
// microseconds, and its probabilities depend on the image in a way the tests
// can predict (the mean of each RGB channel, after nsfwjs preprocessing).
//
// Layout: the 8-byte magic "VEILFAKE", one byte S (the input size), then
// an optional name up to the end of the file.
package fakemodel

import (
	"bytes"
	"errors"
	"math"

	"github.com/veil-ml/veil/pkg/infer"
)

// Magic starts every fake model file.
const Magic = "VEILFAKE"

// Classes are nsfwjs's classes, in output order.
var Classes = []string{"Drawing", "Hentai", "Neutral", "Porn", "Sexy"}

// Is reports whether data starts with Magic.
func Is(data []byte) bool { return bytes.HasPrefix(data, []byte(Magic)) }

// File returns a fake model file with input size s and the given name.
func File(s int, name string) []byte {
	return append(append([]byte(Magic), byte(s)), name...)
}

// Open reads a fake model file.
func Open(data []byte) (c *infer.Classifier, name string, err error) {
	if !Is(data) || len(data) < len(Magic)+1 {
		return nil, "", errors.New("fakemodel: not a fake model file")
	}
	s := int(data[len(Magic)])
	if s == 0 {
		return nil, "", errors.New("fakemodel: input size 0")
	}
	return infer.NewClassifier(s, Classes, func() infer.Runner { return &runner{} }), string(data[len(Magic)+1:]), nil
}

// runner turns the mean R, G, B of its input into five probabilities:
// softmax(4·[r, g, b, 1−r, 1−b]).
type runner struct{ out [5]float32 }

func (r *runner) Run(x []float32) []float32 {
	var sum [3]float64
	for i, v := range x {
		sum[i%3] += float64(v)
	}
	n := float64(len(x) / 3)
	m := [3]float64{sum[0] / n, sum[1] / n, sum[2] / n}
	logits := [5]float64{m[0], m[1], m[2], 1 - m[0], 1 - m[2]}
	var z float64
	for i := range logits {
		logits[i] = math.Exp(4 * logits[i])
		z += logits[i]
	}
	for i := range logits {
		r.out[i] = float32(logits[i] / z)
	}
	return r.out[:]
}
