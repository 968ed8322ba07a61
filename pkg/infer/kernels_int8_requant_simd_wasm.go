//go:build goexperiment.simd && wasm

package infer

import (
	"cmp"
	"math/bits"
	"slices"
)

// The wasm SIMD128 requantization: Multiplier.Apply for 16 channels at
// once, the same bits (requant16, kernels_int8_requant_wasm.s).
//
// SIMD128 has no per-lane shift, so all 16 channels of a block share one,
// S, their largest: channel c's accumulator is first multiplied by
// 2^(S−S_c), which leaves acc·M_c/2^S_c, and its rounding, exactly as they
// were. That product must stay inside int32, so the accumulator is first
// clamped to ±bound_c, past which the result saturates anyway (the output
// is 8 bits); a block where bound_c·2^(S−S_c) would not fit, or whose
// multipliers exceed 1, is left to the scalar loop. i64x2.extmul makes the
// exact 64-bit products; the rounded product y gets 2^62 added so that a
// logical shift (SIMD128 has no arithmetic one for i64 on most CPUs) gives
// ⌊y/2^S⌋ + 2^(62−S), as in the AVX2 kernel.

// requantConsts is the constants of 16 channels, laid out for requant16.
type requantConsts struct {
	bound  [16]int32 // 0: the clamp of the accumulator, ±bound, bound ≥ 256·2^S_c/M_c
	pow    [16]int32 // 64: 2^(S−S_c)
	m      [16]int32 // 128: M_c
	bias   uint64    // 192: 2^(S−1) + 2^62
	shift  uint64    // 200: S; 0 if the block is left to the scalar loop
	k      uint64    // 208: 2^(62−S) − Zero − 512: leaves v+512, in [254, 1025]
	lo, hi [16]uint8 // 216, 232: the clamp of the output

	// Read by Go only. A block the vector path refuses (shift 0) may have
	// patched: constants for it with the lanes in fix given another
	// channel's multiplier, which the scalar loop then redoes.
	patched *requantConsts // 248
	fix     uint16         // 256: in patched, the lanes to redo
}

type requantVectors []requantConsts

func newRequantVectors(r *Requant) requantVectors {
	v := make(requantVectors, (len(r.Mult)+15)/16)
	for b := range v {
		v[b] = newRequantConsts(r, blockMults(r.Mult, b))
	}
	return v
}

// blockMults is the 16 multipliers of block b of mult. A last, partial
// block (Cout = 24, 72, 120 in MobileNetV2Mid) is padded with copies of the
// real multiplier with the smallest shift (below 1), which leave the
// block's shared shift as it was: the conv kernel requantizes it whole into
// scratch and keeps the real lanes (convBlockRows), where the scalar loop took
// a tenth of Mid's time in wasm.
func blockMults(mult []Multiplier, b int) []Multiplier {
	m := mult[16*b:]
	if len(m) >= 16 {
		return m[:16]
	}
	pad := m[0]
	for _, x := range m {
		if x.S >= 31 && (pad.S < 31 || x.S < pad.S) {
			pad = x
		}
	}
	p := make([]Multiplier, 16)
	copy(p, m)
	for i := len(m); i < 16; i++ {
		p[i] = pad
	}
	return p
}

// newRequantConsts returns the constants of one block, with shift 0 if the
// vector path would not give Multiplier.Apply's bits for every int32
// accumulator.
func newRequantConsts(r *Requant, mult []Multiplier) requantConsts {
	k, ok := blockConsts(mult, 8)
	if !ok {
		k = requantConsts{}
		if p, fix, ok := patchBlock(mult, 8); ok {
			p = finishRequantConsts(r, p)
			p.fix = fix
			k.patched = &p
		}
		return k
	}
	return finishRequantConsts(r, k)
}

// finishRequantConsts sets k's output constants (k, lo, hi) from r.
func finishRequantConsts(r *Requant, k requantConsts) requantConsts {
	k.k = 1<<(62-k.shift) - uint64(int64(r.Zero)) - 512
	for i := range 16 {
		k.lo[i], k.hi[i] = uint8(r.Lo), uint8(r.Hi)
	}
	return k
}

// maxPatchedLanes bounds the lanes a patched block leaves to the scalar
// loop; past it the whole block goes there.
const maxPatchedLanes = 4

// patchBlock returns, for a block blockConsts refuses, constants for it
// with the fewest lanes (at most maxPatchedLanes, as the mask fix) given
// another channel's multiplier. blockConsts refuses a block because its
// largest shift is too large (a channel with a tiny multiplier, such as a
// nearly dead one: the first layers of MobileNetV2Mid have them) or a
// multiplier is 1 or more, so the lanes left out are those, largest shift
// first.
func patchBlock(mult []Multiplier, bits uint) (requantConsts, uint16, bool) {
	order := make([]int, len(mult))
	for i := range order {
		order[i] = i
	}
	key := func(m Multiplier) uint { // multipliers of 1 or more first, then by shift
		if m.S < 31 {
			return 1 << 10
		}
		return m.S
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(key(mult[b]), key(mult[a])) })
	for n := 1; n <= maxPatchedLanes && n < len(mult); n++ {
		stand := mult[order[len(order)-1]] // the smallest shift kept
		m := slices.Clone(mult)
		var fix uint16
		for _, c := range order[:n] {
			m[c], fix = stand, fix|1<<c
		}
		if k, ok := blockConsts(m, bits); ok {
			return k, fix, true
		}
	}
	return requantConsts{}, 0, false
}

// blockConsts returns the multiplier constants of one block (bound, pow,
// m, bias, shift) for outputs of bits (8 or 12) and whether the vector path
// gives Multiplier.Apply's bits for every int32 accumulator.
func blockConsts(mult []Multiplier, bits uint) (requantConsts, bool) {
	var k requantConsts
	s := uint(0)
	for _, m := range mult {
		if m.S < 31 || m.S > 62 { // a multiplier of 1 or more: |v| would leave the lanes' range
			return k, false
		}
		s = max(s, m.S)
	}
	for c, m := range mult {
		// bound ≥ 2^bits·2^S_c/M_c: past it |acc·M_c/2^S_c| ≥ 2^bits, and
		// the output saturates to Lo or Hi as it would have.
		bound := int64(math32Max)
		if m.S+bits < 63 {
			bound = min(bound, int64((uint64(1)<<(m.S+bits))/uint64(m.M))+1)
		}
		d := s - m.S
		if d > 30 || bound<<d > math32Max {
			return k, false
		}
		k.bound[c] = int32(bound)
		k.pow[c] = 1 << d
		k.m[c] = int32(m.M)
	}
	k.bias = 1<<(s-1) + 1<<62
	k.shift = uint64(s)
	return k, true
}

const math32Max = 1<<31 - 1

// requant16 requantizes np rows of 16 channels: row j's accumulators at
// acc + j·accStride bytes into out + j·outStride.
//
//go:noescape
func requant16(out *uint8, outStride int, acc *int32, accStride int, np int, k *requantConsts)

// vectorBlock returns the constants of the block of channels from c0 (a
// multiple of 16) of n if the vector path takes it whole (no lanes to
// redo); else nil. The last block may be partial (c0+16 > n): its lanes
// from n on requantize padding and must not be stored.
func (r *Requant) vectorBlock(c0, n int) *requantConsts {
	if c0%16 != 0 || c0 >= n || c0/16 >= len(r.vec) || r.vec[c0/16].shift == 0 {
		return nil
	}
	return &r.vec[c0/16]
}

// applyRowsVector requantizes the whole blocks of 16 channels of np rows
// of n channels, from channel c0 (a multiple of 16): row j of acc at
// acc[j·accStride:] into out[j·outStride:]. It returns how many channels it
// did, stopping at the first block left to the scalar loop.
func (r *Requant) applyRowsVector(out []uint8, outStride int, acc []int32, accStride, np, n, c0 int) int {
	if c0%16 != 0 || np < 1 {
		return 0
	}
	n = min(n, len(r.Mult)-c0) &^ 15
	if n == 0 {
		return 0
	}
	// Every row's 16 values must lie inside out and acc.
	_ = out[(np-1)*outStride+n-1]
	_ = acc[(np-1)*accStride+n-1]
	done := 0
	for ; done < n; done += 16 {
		k := &r.vec[(c0+done)/16]
		if k.shift == 0 {
			if k.patched == nil {
				break
			}
			k = k.patched
		}
		requant16(&out[done], outStride, &acc[done], 4*accStride, np, k)
		redoLanes(r, out[done:], outStride, acc[done:], accStride, np, c0+done, k.fix)
	}
	return done
}

// redoLanes requantizes with the scalar loop the lanes in fix (of a patched
// block whose first channel is c0) of np rows, over what the vector path
// wrote there.
func redoLanes[T Activ](r *Requant, out []T, outStride int, acc []int32, accStride, np, c0 int, fix uint16) {
	for ; fix != 0; fix &= fix - 1 {
		c := bits.TrailingZeros16(fix)
		for j := range np {
			out[j*outStride+c] = T(r.value(acc[j*accStride+c], c0+c))
		}
	}
}
