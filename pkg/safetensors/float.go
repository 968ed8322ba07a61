package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Float32s returns the tensor's elements converted to float32.
// It accepts F32, F16, BF16 and F64 (which is rounded to nearest); other dtypes are an error.
// The result is a new slice, so it may be modified.
func (t *Tensor) Float32s() ([]float32, error) {
	size := t.DType.Size()
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("safetensors: tensor %q: dtype %s is not a floating-point type", t.Name, t.DType)
	}
	n, ok := numel(t.Shape)
	if !ok || len(t.Data) != n*size {
		return nil, fmt.Errorf("safetensors: tensor %q: %d data bytes, shape %v %s needs %s",
			t.Name, len(t.Data), t.Shape, t.DType, needBytes(t.Shape, size))
	}
	out := make([]float32, n)
	b := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	return out, nil
}

// EncodeFloat32s returns v encoded little-endian as dtype d, which must be F32, F16, BF16
// or F64. F16 and BF16 round to nearest, ties to even; values too large for F16 become ±Inf.
// It panics for any other dtype.
func EncodeFloat32s(d DType, v []float32) []byte {
	if !d.IsFloat() {
		panic("safetensors: EncodeFloat32s: dtype " + string(d) + " is not a floating-point type")
	}
	b := make([]byte, len(v)*d.Size())
	switch d {
	case F32:
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
	case F16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], Float32ToF16(x))
		}
	case BF16:
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], Float32ToBF16(x))
		}
	case F64:
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
	}
	return b
}

// F16ToFloat32 converts IEEE 754 binary16 bits to a float32 (exactly; NaN stays NaN).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		// Zero or subnormal: mant·2⁻²⁴, exact in float32.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToF16 converts f to IEEE 754 binary16 bits, rounding to nearest with ties to even.
// Magnitudes too large become ±Inf; NaN becomes a quiet NaN.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal in binary16: the value is m·2^(e-14) units of 2⁻²⁴.
		if e < -10 {
			return sign
		}
		m := mant | 0x800000
		shift := uint(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(h)
}

// Float32ToBF16 converts f to bfloat16 bits, rounding to nearest with ties to even.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // keep NaN a NaN after truncation
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
