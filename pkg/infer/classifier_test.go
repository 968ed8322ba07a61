package infer_test

import (
	"runtime"
	"testing"

	"github.com/veil-ml/veil/pkg/infer"
)

// A runner (for int8, an engine with packed weights) is made once per
// concurrent call ever needed, not again after a garbage collection.
func TestClassifierKeepsRunnersAcrossGC(t *testing.T) {
	made := 0
	c := infer.NewClassifier(4, []string{"a", "b"}, func() infer.Runner { made++; return constRunner{} })
	pix := make([]uint8, 4*4*3)
	for range 3 {
		if _, err := c.ClassifyRGB(pix, 4, 4); err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.GC()
	}
	if made != 1 {
		t.Fatalf("made %d runners for 3 calls one after another, want 1", made)
	}
}
