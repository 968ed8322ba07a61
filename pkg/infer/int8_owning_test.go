package infer_test

import (
	"os"
	"slices"
	"testing"

	"github.com/veil-ml/veil/internal/qtest"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
)

// TestInt8Owning checks that NewInt8Owning releases the packed convs'
// weights and gives the same bits as NewInt8.
func TestInt8Owning(t *testing.T) {
	data, err := os.ReadFile(tinyFixture)
	if err != nil {
		t.Fatal(err)
	}
	q, _, err := veilfile.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	x := qtest.Input(7, q.InputSize)
	want := slices.Clone(infer.NewInt8(q).Run(x))
	e := infer.NewInt8Owning(q)
	released := 0
	for _, op := range q.Ops {
		if op.Kind == infer.QConv && op.Weights == nil {
			released++
		}
	}
	if released == 0 {
		t.Fatal("released nothing: the fixture has no packed convolution")
	}
	for i := range 2 {
		if got := e.Run(x); !slices.Equal(got, want) {
			t.Fatalf("run %d: %v, want %v", i, got, want)
		}
	}
}
