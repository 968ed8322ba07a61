//go:build !(goexperiment.simd && (amd64 || wasm))

package infer

// Without AVX2 or wasm SIMD kernels every channel is requantized by
// applyRow's loop.

type requantVectors struct{}

func newRequantVectors(*Requant) requantVectors { return requantVectors{} }

func (r *Requant) applyRowsVector([]uint8, int, []int32, int, int, int, int) int { return 0 }
