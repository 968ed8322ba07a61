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
