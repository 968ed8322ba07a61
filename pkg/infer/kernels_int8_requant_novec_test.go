//go:build !(goexperiment.simd && wasm)

package infer

// vectorRequantChannels is -1: no check of how many channels a vector path
// takes (AVX2 takes every whole group of 8 when the CPU has it).
func vectorRequantChannels(*Requant) int { return -1 }
