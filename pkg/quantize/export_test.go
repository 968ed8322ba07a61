package quantize

import "github.com/veil-ml/veil/pkg/infer"

// Equalize and RunFolded expose internals to the external tests.
func Equalize(net *infer.Net, calib [][]float32) int {
	o := Options{}
	o.defaults()
	return equalize(net, 0, calib, &o)
}

func RunFolded(net *infer.Net, x []float32) []float32 {
	r := newFloatRunner(net)
	r.run(x)
	return append([]float32(nil), r.bufs[net.Output]...)
}

// Prepared is the float net exactly as Quantize quantizes it (folded, and
// equalized if asked), with the index of its first op after the input's
// affine ops: op first+i is the QNet's op i.
func Prepared(net *infer.Net, calib [][]float32, equalized bool) (*infer.Net, int, error) {
	folded, err := Fold(net)
	if err != nil {
		return nil, 0, err
	}
	o := Options{Equalize: equalized}
	o.defaults()
	first := firstNonAffine(folded)
	if equalized {
		equalize(folded, first, calib, &o)
	}
	return folded, first, nil
}
