package demoimages

import (
	"bytes"
	"testing"
)

func TestGenerateIsDeterministic(t *testing.T) {
	fams := append([]Family{}, Problems...)
	fams = append(fams, Controls...)
	for _, f := range fams {
		t.Run(f.Name, func(t *testing.T) {
			a := Generate(f, 5, 2, 48)
			b := Generate(f, 5, 2, 48)
			for i := range a {
				if a[i].W != 48 || a[i].H != 48 || len(a[i].Pix) != 48*48*3 {
					t.Fatalf("image %d: %dx%d with %d bytes", i, a[i].W, a[i].H, len(a[i].Pix))
				}
				if !bytes.Equal(a[i].Pix, b[i].Pix) {
					t.Errorf("image %d differs between two calls", i)
				}
			}
			if bytes.Equal(a[0].Pix, a[1].Pix) {
				t.Errorf("seeds 5 and 6 give the same image")
			}
		})
	}
}
