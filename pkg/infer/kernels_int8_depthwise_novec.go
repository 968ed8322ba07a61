//go:build !(goexperiment.simd && (wasm || amd64))

package infer

// depthwiseVector is the vector depthwise kernel; this build has none.
func depthwiseVector(y []uint8, ys Shape, x []uint8, xs Shape, zx int32, w []int8, folded []int32, kh, kw, sh, sw int, pad Pad, rq *Requant, scratch []int64) bool {
	return false
}
