//go:build goexperiment.simd && wasm

package infer

import "simd/archsimd"

// poolVector pools the whole groups of 16 channels of one output pixel
// whose window cells start at the offsets cells in x (SIMD128: a max is
// i8x16.max_u, an average sums uint16 lanes), and returns how many
// channels it did.
func poolVector(out []uint8, x []uint8, cells []int, isMax bool) int {
	if len(cells) == 0 {
		return 0
	}
	c16 := len(out) &^ 15
	if isMax {
		for cb := 0; cb < c16; cb += 16 {
			m := archsimd.LoadUint8x16Array((*[16]uint8)(x[cells[0]+cb:]))
			for _, o := range cells[1:] {
				m = m.Max(archsimd.LoadUint8x16Array((*[16]uint8)(x[o+cb:])))
			}
			m.StoreArray((*[16]uint8)(out[cb:]))
		}
		return c16
	}
	n := int32(len(cells))
	r := reciprocal40(uint64(2 * n))
	zero := archsimd.BroadcastUint16x8(0)
	var lo, hi [8]uint16
	for cb := 0; cb < c16; cb += 16 {
		a, b := zero, zero
		for _, o := range cells {
			v := archsimd.LoadUint8x16Array((*[16]uint8)(x[o+cb:]))
			a = a.Add(v.ExtendLo8ToUint16())
			b = b.Add(v.ExtendHi8ToUint16())
		}
		a.StoreArray(&lo)
		b.StoreArray(&hi)
		o := (*[16]uint8)(out[cb:])
		for k := range 8 {
			o[k] = avgRound[uint8](int32(lo[k]), n, r)
			o[8+k] = avgRound[uint8](int32(hi[k]), n, r)
		}
	}
	return c16
}

// poolVectorWide is poolVector for 12-bit activations: 8 channels a
// vector, a max is i16x8.max_u, an average sums uint32 lanes.
func poolVectorWide(out []uint16, x []uint16, cells []int, isMax bool) int {
	if len(cells) == 0 {
		return 0
	}
	c8 := len(out) &^ 7
	if isMax {
		for cb := 0; cb < c8; cb += 8 {
			m := archsimd.LoadUint16x8Array((*[8]uint16)(x[cells[0]+cb:]))
			for _, o := range cells[1:] {
				m = m.Max(archsimd.LoadUint16x8Array((*[8]uint16)(x[o+cb:])))
			}
			m.StoreArray((*[8]uint16)(out[cb:]))
		}
		return c8
	}
	n := int32(len(cells))
	r := reciprocal40(uint64(2 * n))
	zero := archsimd.BroadcastUint32x4(0)
	var lo, hi [4]uint32
	for cb := 0; cb < c8; cb += 8 {
		a, b := zero, zero
		for _, o := range cells {
			v := archsimd.LoadUint16x8Array((*[8]uint16)(x[o+cb:]))
			a = a.Add(v.ExtendLo4ToUint32())
			b = b.Add(v.ExtendHi4ToUint32())
		}
		a.StoreArray(&lo)
		b.StoreArray(&hi)
		o := (*[8]uint16)(out[cb:])
		for k := range 4 {
			o[k] = avgRound[uint16](int32(lo[k]), n, r)
			o[4+k] = avgRound[uint16](int32(hi[k]), n, r)
		}
	}
	return c8
}
