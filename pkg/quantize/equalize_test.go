package quantize_test

import (
	"math"
	"testing"

	"github.com/veil-ml/veil/internal/qtest"
	"github.com/veil-ml/veil/pkg/quantize"
)

// Equalization rescales channels between ops; the float function must not
// change, and the pair's channels must end up closer in range.
func TestEqualizeKeepsTheFunction(t *testing.T) {
	net, err := quantize.Fold(qtest.TinyNet(1, 12))
	if err != nil {
		t.Fatal(err)
	}
	var calib [][]float32
	for i := range 4 {
		calib = append(calib, qtest.Input(uint64(i), 12))
	}
	var before [][]float32
	for i := range 8 {
		before = append(before, quantize.RunFolded(net, qtest.Input(uint64(50+i), 12)))
	}
	w := func(name string) []float32 {
		for _, op := range net.Ops {
			if op.Name == name {
				return op.Weights
			}
		}
		t.Fatalf("no op %q", name)
		return nil
	}
	dw := append([]float32(nil), w("dw")...)
	if n := quantize.Equalize(net, calib); n != 1 {
		t.Fatalf("equalized %d tensors, want 1 (dw → pw; conv1 ends in ReLU6, fc1 is dense)", n)
	}
	changed := false
	for i, v := range w("dw") {
		changed = changed || v != dw[i]
	}
	if !changed {
		t.Fatal("dw's weights were not rescaled")
	}
	for i := range 8 {
		after := quantize.RunFolded(net, qtest.Input(uint64(50+i), 12))
		for c := range after {
			if d := math.Abs(float64(after[c] - before[i][c])); d > 1e-5 {
				t.Fatalf("input %d class %d: %g after equalization, %g before", i, c, after[c], before[i][c])
			}
		}
	}
}
