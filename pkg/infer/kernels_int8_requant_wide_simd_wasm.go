//go:build goexperiment.simd && wasm

package infer

// The wasm SIMD128 requantization to 12-bit outputs (uint16 in [0, 4095]):
// requant16 (kernels_int8_requant_simd_wasm.go) with a wider clamp and a
// wider store, requant16w in kernels_int8_requant_wasm.s. The accumulator
// is clamped to ±bound_c with bound_c ≥ 4096·2^S_c/M_c (past it the output
// saturates to Lo or Hi as it would have), and the lanes leave the shift
// holding v + 8192, in [4094, 16384]: positive int16s.

// requantConstsWide is the constants of 16 channels for requant16w: the
// first 216 bytes laid out as requantConsts (the macros read them there).
type requantConstsWide struct {
	bound  [16]int32 // 0
	pow    [16]int32 // 64
	m      [16]int32 // 128
	bias   uint64    // 192: 2^(S−1) + 2^62
	shift  uint64    // 200: S; 0 if the block is left to the scalar loop
	k      uint64    // 208: 2^(62−S) − Zero − 8192
	lo, hi int32     // 216, 220: the clamp of the output

	patched *requantConstsWide // as requantConsts's
	fix     uint16
}

type requantWideVectors []requantConstsWide

func newRequantWideVectors(r *Requant) requantWideVectors {
	v := make(requantWideVectors, (len(r.Mult)+15)/16)
	for b := range v {
		mult := blockMults(r.Mult, b)
		k, ok := blockConsts(mult, 12)
		if !ok {
			// shift 0: the scalar loop, or patched
			if p, fix, ok := patchBlock(mult, 12); ok {
				w := wideConsts(r, p)
				w.fix = fix
				v[b].patched = &w
			}
			continue
		}
		v[b] = wideConsts(r, k)
	}
	return v
}

// wideConsts is k's multiplier constants with r's output constants for
// 12-bit outputs.
func wideConsts(r *Requant, k requantConsts) requantConstsWide {
	return requantConstsWide{bound: k.bound, pow: k.pow, m: k.m, bias: k.bias, shift: k.shift,
		k: 1<<(62-k.shift) - uint64(int64(r.Zero)) - 8192, lo: r.Lo, hi: r.Hi}
}

// wideBlock is vectorBlock for 12-bit outputs.
func (r *Requant) wideBlock(c0, n int) *requantConstsWide {
	if c0%16 != 0 || c0 >= n || c0/16 >= len(r.wvec) || r.wvec[c0/16].shift == 0 {
		return nil
	}
	return &r.wvec[c0/16]
}

// requant16w is requant16 writing uint16s.
//
//go:noescape
func requant16w(out *uint16, outStride int, acc *int32, accStride int, np int, k *requantConstsWide)

// applyRowsWide is applyRowsVector for 12-bit outputs.
func (r *Requant) applyRowsWide(out []uint16, outStride int, acc []int32, accStride, np, n, c0 int) int {
	if c0%16 != 0 || np < 1 {
		return 0
	}
	n = min(n, len(r.Mult)-c0) &^ 15
	if n == 0 {
		return 0
	}
	_ = out[(np-1)*outStride+n-1]
	_ = acc[(np-1)*accStride+n-1]
	done := 0
	for ; done < n; done += 16 {
		k := &r.wvec[(c0+done)/16]
		if k.shift == 0 {
			if k.patched == nil {
				break
			}
			k = k.patched
		}
		requant16w(&out[done], 2*outStride, &acc[done], 4*accStride, np, k)
		redoLanes(r, out[done:], outStride, acc[done:], accStride, np, c0+done, k.fix)
	}
	return done
}
