//go:build !(goexperiment.simd && wasm)

package infer

// Without SIMD128 kernels every channel is pooled by poolChannels.
func poolVector([]uint8, []uint8, []int, bool) int { return 0 }

// poolVectorWide is poolVector for 12-bit activations; none here either.
func poolVectorWide([]uint16, []uint16, []int, bool) int { return 0 }
