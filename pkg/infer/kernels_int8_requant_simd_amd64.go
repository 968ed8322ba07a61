//go:build goexperiment.simd && amd64

package infer

import "simd/archsimd"

// The AVX2 requantization: Multiplier.Apply for 8 channels at once, the
// same bits. VPMULDQ makes the exact 64-bit products x·M of the even int32
// lanes (the odd ones are shifted down to be even). AVX2 has no arithmetic
// 64-bit shift by lane, so the rounded product y = x·M + 2^(S−1) gets
// 2^62 added first: |x·M| < 2^62, so y + 2^62 is positive, and its logical
// shift by S is ⌊y/2^S⌋ + 2^(62−S), 2^62 being a multiple of 2^S (S ≤ 62).

// requantGroup holds the constants of 8 channels, as even (0, 2, 4, 6) and
// odd (1, 3, 5, 7) 64-bit lanes.
type requantGroup struct {
	m              [8]int32  // M
	biasE, biasO   [4]uint64 // 2^(S−1) + 2^62
	shiftE, shiftO [4]uint64 // S
	corrE, corrO   [4]uint64 // 2^(62−S)
}

type requantVectors []requantGroup

func newRequantVectors(r *Requant) requantVectors {
	mult := r.Mult
	if !convAVX2 {
		return nil
	}
	v := make(requantVectors, len(mult)/8)
	for g := range v {
		for k, m := range mult[8*g:][:8] {
			v[g].m[k] = int32(m.M) // < 2^31 (NewMultiplier)
			bias, shift, corr := &v[g].biasE, &v[g].shiftE, &v[g].corrE
			if k%2 == 1 {
				bias, shift, corr = &v[g].biasO, &v[g].shiftO, &v[g].corrO
			}
			bias[k/2] = 1<<(m.S-1) + 1<<62
			shift[k/2] = uint64(m.S)
			corr[k/2] = 1 << (62 - m.S)
		}
	}
	return v
}

// applyRowsVector requantizes the whole groups of 8 channels of np rows of
// n channels, from channel c0 (a multiple of 8): row j of acc at
// acc[j·accStride:] into out[j·outStride:]. It returns how many channels
// it did; the constants of a group are loaded once for all rows.
func (r *Requant) applyRowsVector(out []uint8, outStride int, acc []int32, accStride, np, n, c0 int) int {
	return requantRows(r, r.vec, out, outStride, acc, accStride, np, n, c0)
}

// The constants do not depend on the output's width: 12-bit outputs
// (applyRowsWide) have their own only because NewRequant makes one
// set or the other.
type requantWideVectors = requantVectors

func newRequantWideVectors(r *Requant) requantWideVectors { return newRequantVectors(r) }

// applyRowsWide is applyRowsVector for 12-bit outputs.
func (r *Requant) applyRowsWide(out []uint16, outStride int, acc []int32, accStride, np, n, c0 int) int {
	return requantRows(r, r.wvec, out, outStride, acc, accStride, np, n, c0)
}

// requantRows is applyRowsVector for outputs of either width, with r's
// constants vec.
func requantRows[T Activ](r *Requant, vec requantVectors, out []T, outStride int, acc []int32, accStride, np, n, c0 int) int {
	if c0%8 != 0 || c0/8 >= len(vec) || np < 1 {
		return 0
	}
	n = min(n, 8*(len(vec)-c0/8)) &^ 7
	lo := archsimd.BroadcastInt64x4(int64(r.Lo) - int64(r.Zero))
	hi := archsimd.BroadcastInt64x4(int64(r.Hi) - int64(r.Zero))
	zero := archsimd.BroadcastInt32x8(r.Zero)
	low32 := archsimd.BroadcastInt64x4(1<<32 - 1).AsUint64x4()
	var y [8]int32
	for i := 0; i < n; i += 8 {
		g := &vec[(c0+i)/8]
		m := archsimd.LoadInt32x8Array(&g.m)
		mOdd := m.AsUint64x4().ShiftAllRight(32).AsInt32x8()
		biasE, shiftE, corrE := archsimd.LoadUint64x4Array(&g.biasE), archsimd.LoadUint64x4Array(&g.shiftE), archsimd.LoadUint64x4Array(&g.corrE)
		biasO, shiftO, corrO := archsimd.LoadUint64x4Array(&g.biasO), archsimd.LoadUint64x4Array(&g.shiftO), archsimd.LoadUint64x4Array(&g.corrO)
		for j := range np {
			x := archsimd.LoadInt32x8Array((*[8]int32)(acc[j*accStride+i:]))
			even := x.MulWidenEven(m).AsUint64x4()
			odd := x.AsUint64x4().ShiftAllRight(32).AsInt32x8().MulWidenEven(mOdd).AsUint64x4()
			ve := even.Add(biasE).ShiftRight(shiftE).Sub(corrE).AsInt64x4()
			vo := odd.Add(biasO).ShiftRight(shiftO).Sub(corrO).AsInt64x4()
			ve = hi.IfElse(ve.Greater(hi), ve)
			ve = lo.IfElse(lo.Greater(ve), ve)
			vo = hi.IfElse(vo.Greater(hi), vo)
			vo = lo.IfElse(lo.Greater(vo), vo)
			// Clamped, each fits in its lane's low 32 bits: interleave them back.
			v := ve.AsUint64x4().And(low32).Or(vo.AsUint64x4().ShiftAllLeft(32)).AsInt32x8().Add(zero)
			v.StoreArray(&y)
			o := out[j*outStride+i:][:8]
			for k, b := range y {
				o[k] = T(b)
			}
		}
	}
	return n
}
