//go:build !(goexperiment.simd && (wasm || amd64))

package infer

// depthwiseVectorWide is the vector depthwise kernel for 12-bit
// activations; this build has none.
func depthwiseVectorWide([]uint16, Shape, []uint16, Shape, int32, []int8, []int32, int, int, int, int, Pad, *Requant, []int32, []int32) bool {
	return false
}
