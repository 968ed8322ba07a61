//go:build goexperiment.simd && wasm

package infer

import (
	"testing"
	"unsafe"
)

// TestRequantConstsLayout checks the offsets requant16 (assembly) reads.
func TestRequantConstsLayout(t *testing.T) {
	var k requantConsts
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"bound", unsafe.Offsetof(k.bound), 0},
		{"pow", unsafe.Offsetof(k.pow), 64},
		{"m", unsafe.Offsetof(k.m), 128},
		{"bias", unsafe.Offsetof(k.bias), 192},
		{"shift", unsafe.Offsetof(k.shift), 200},
		{"k", unsafe.Offsetof(k.k), 208},
		{"lo", unsafe.Offsetof(k.lo), 216},
		{"hi", unsafe.Offsetof(k.hi), 232},
		{"size (depthwiseBlocks steps by it)", unsafe.Sizeof(k), 264},
		{"wide bound", unsafe.Offsetof(requantConstsWide{}.bound), 0},
		{"wide pow", unsafe.Offsetof(requantConstsWide{}.pow), 64},
		{"wide m", unsafe.Offsetof(requantConstsWide{}.m), 128},
		{"wide bias", unsafe.Offsetof(requantConstsWide{}.bias), 192},
		{"wide shift", unsafe.Offsetof(requantConstsWide{}.shift), 200},
		{"wide k", unsafe.Offsetof(requantConstsWide{}.k), 208},
		{"wide lo", unsafe.Offsetof(requantConstsWide{}.lo), 216},
		{"wide hi", unsafe.Offsetof(requantConstsWide{}.hi), 220},
	} {
		if f.got != f.want {
			t.Errorf("requantConsts.%s at offset %d, requant16 reads it at %d", f.name, f.got, f.want)
		}
	}
}

// vectorRequantChannels is how many of r's channels the wasm SIMD path
// takes, for either output width.
func vectorRequantChannels(r *Requant) int {
	n := 0
	for b, k := range r.vec {
		if k.shift != 0 || k.patched != nil {
			n += min(16, len(r.Mult)-16*b) // a partial last block: its real lanes
		}
	}
	for b, k := range r.wvec {
		if k.shift != 0 || k.patched != nil {
			n += min(16, len(r.Mult)-16*b)
		}
	}
	return n
}
