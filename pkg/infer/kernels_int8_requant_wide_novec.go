//go:build !(goexperiment.simd && wasm)

package infer

// Only the wasm SIMD build has a vector requantization to 12-bit outputs;
// elsewhere requantBlock's scalar loop does them all.

type requantWideVectors struct{}

func newRequantWideVectors(*Requant) requantWideVectors { return requantWideVectors{} }

func (r *Requant) applyRowsWide([]uint16, int, []int32, int, int, int, int) int { return 0 }

// depthwiseVectorWide is the vector depthwise kernel for 12-bit
// activations; this build has none.
func depthwiseVectorWide([]uint16, Shape, []uint16, Shape, int32, []int8, []int32, int, int, int, int, Pad, *Requant, []int32) bool {
	return false
}
