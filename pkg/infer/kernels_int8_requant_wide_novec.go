//go:build !(goexperiment.simd && (wasm || amd64))

package infer

// Only the SIMD builds have a vector requantization to 12-bit outputs;
// elsewhere requantBlock's scalar loop does them all.

type requantWideVectors struct{}

func newRequantWideVectors(*Requant) requantWideVectors { return requantWideVectors{} }

func (r *Requant) applyRowsWide([]uint16, int, []int32, int, int, int, int) int { return 0 }
