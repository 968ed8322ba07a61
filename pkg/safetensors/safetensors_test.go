package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawFile assembles a file from a literal header and data buffer, without validation.
func rawFile(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func sampleFile() *File {
	return &File{
		Metadata: map[string]string{"format": "pt", "note": "<a & b>"},
		Tensors: []Tensor{
			NewFloatTensor("w.f32", F32, []int{2, 3}, []float32{1, -2, 3.5, 0, float32(math.Inf(1)), -0.25}),
			NewFloatTensor("w.f16", F16, []int{3}, []float32{1, 0.5, -65504}),
			NewFloatTensor("w.bf16", BF16, []int{1, 2}, []float32{3, -0.0078125}),
			NewFloatTensor("w.f64", F64, []int{}, []float32{7}),
			{Name: "q.i8", DType: I8, Shape: []int{5}, Data: []byte{0x81, 0xff, 0, 1, 0x7f}},
			{Name: "q.u8", DType: U8, Shape: []int{1, 1, 3}, Data: []byte{0, 128, 255}},
			{Name: "q.i32", DType: I32, Shape: []int{1}, Data: []byte{1, 2, 3, 4}},
			{Name: "q.i64", DType: I64, Shape: []int{1}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}},
			{Name: "empty", DType: F32, Shape: []int{0, 4}, Data: []byte{}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	f := sampleFile()
	b, err := Encode(f)
	require.NoError(t, err)

	n := binary.LittleEndian.Uint64(b)
	assert.Zero(t, (8+n)%8, "data buffer must start 8-byte aligned")

	g, err := Parse(b, Limits{})
	require.NoError(t, err)
	assert.Equal(t, f.Metadata, g.Metadata)
	require.Len(t, g.Tensors, len(f.Tensors))
	for i := 1; i < len(g.Tensors); i++ {
		assert.Less(t, g.Tensors[i-1].Name, g.Tensors[i].Name, "Parse must sort tensors by name")
	}
	base := 8 + int(n)
	for _, want := range f.Tensors {
		got, ok := g.Tensor(want.Name)
		require.True(t, ok, want.Name)
		assert.Equal(t, want.DType, got.DType, want.Name)
		assert.Equal(t, len(want.Shape), len(got.Shape), want.Name)
		if len(want.Shape) > 0 {
			assert.Equal(t, want.Shape, got.Shape, want.Name)
		}
		assert.True(t, bytes.Equal(want.Data, got.Data), want.Name)
		if len(got.Data) > 0 {
			off := int(offsetOf(b, got.Data)) - base
			assert.Zero(t, off%got.DType.Size(), "tensor %q at buffer offset %d is misaligned", got.Name, off)
		}
	}

	// Writing is deterministic whatever the input order.
	rev := *f
	rev.Tensors = append([]Tensor(nil), f.Tensors...)
	for i, j := 0, len(rev.Tensors)-1; i < j; i, j = i+1, j-1 {
		rev.Tensors[i], rev.Tensors[j] = rev.Tensors[j], rev.Tensors[i]
	}
	b2, err := Encode(&rev)
	require.NoError(t, err)
	assert.Equal(t, b, b2)
	// And re-encoding the parsed file gives the same bytes.
	b3, err := Encode(g)
	require.NoError(t, err)
	assert.Equal(t, b, b3)
}

// offsetOf returns the index of sub's first byte within b.
func offsetOf(b, sub []byte) uintptr {
	for i := range b {
		if &b[i] == &sub[0] {
			return uintptr(i)
		}
	}
	panic("not a subslice")
}

func TestParseAliasesInput(t *testing.T) {
	b, err := Encode(&File{Tensors: []Tensor{
		{Name: "a", DType: U8, Shape: []int{2}, Data: []byte{1, 2}},
		{Name: "b", DType: U8, Shape: []int{2}, Data: []byte{3, 4}},
	}})
	require.NoError(t, err)
	f, err := Parse(b, Limits{})
	require.NoError(t, err)
	a, _ := f.Tensor("a")
	b[len(b)-4] = 9
	assert.Equal(t, byte(9), a.Data[0], "Data must alias the input")
	assert.Equal(t, 2, cap(a.Data), "capacity must be clipped so appends cannot clobber neighbours")
	_, ok := f.Tensor("missing")
	assert.False(t, ok)
}

func TestParseEmptyFile(t *testing.T) {
	b, err := Encode(&File{})
	require.NoError(t, err)
	f, err := Parse(b, Limits{})
	require.NoError(t, err)
	assert.Empty(t, f.Tensors)
	assert.Nil(t, f.Metadata)
}

func TestParseMalformed(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 200<<20)
	huge = append(huge, '{', '}')
	overflow := make([]byte, 8)
	binary.LittleEndian.PutUint64(overflow, math.MaxUint64)

	for _, tc := range []struct {
		name string
		in   []byte
		lim  Limits
		want string
	}{
		{"short", []byte{1, 2, 3}, Limits{}, "3 bytes: too short"},
		{"header over limit", huge, Limits{}, "header length 209715200 exceeds the limit of 104857600"},
		{"header over custom limit", rawFile(`{}      `, nil), Limits{MaxHeaderBytes: 4}, "exceeds the limit of 4"},
		{"header length u64 max", overflow, Limits{}, "exceeds the limit"},
		{"header past end", rawFile(`{}`, nil)[:9], Limits{}, "header length 2, but only 1 bytes follow"},
		{"not an object", rawFile(`[]`, nil), Limits{}, "does not start with '{'"},
		{"invalid json", rawFile(`{"a":`, nil), Limits{}, "header JSON"},
		{"trailing garbage", rawFile(`{} x`, nil), Limits{}, "header JSON"},
		{"two objects", rawFile(`{}{}`, nil), Limits{}, "at byte 2: want the end of the input"},
		{"duplicate name", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{1, 2}), Limits{}, `tensor "a": duplicate name`},
		{"duplicate metadata", rawFile(`{"__metadata__":{},"__metadata__":{}}`, nil), Limits{}, "duplicate name"},
		{"metadata not object", rawFile(`{"__metadata__":[1]}`, nil), Limits{}, "__metadata__: at byte 16: want an object"},
		{"metadata not string", rawFile(`{"__metadata__":{"k":1}}`, nil), Limits{}, `__metadata__ "k": value is not a string`},
		{"metadata duplicate key", rawFile(`{"__metadata__":{"k":"a","k":"b"}}`, nil), Limits{}, `duplicate key "k"`},
		{"entry not object", rawFile(`{"a":1}`, nil), Limits{}, `tensor "a"`},
		{"missing dtype", rawFile(`{"a":{"shape":[1],"data_offsets":[0,1]}}`, []byte{1}), Limits{}, `tensor "a": entry needs dtype`},
		{"missing offsets", rawFile(`{"a":{"dtype":"U8","shape":[1]}}`, []byte{1}), Limits{}, `entry needs dtype, shape and data_offsets`},
		{"unknown dtype", rawFile(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)), Limits{}, `unsupported dtype "C64" (tensor "a")`},
		{"negative dim", rawFile(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil), Limits{}, `tensor "a": shape dimension -1 is not a non-negative integer`},
		{"fractional dim", rawFile(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,0]}}`, nil), Limits{}, `tensor "a": header JSON: at byte 28: want an integer, found 1.5`},
		{"string dim", rawFile(`{"a":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}`, []byte{1}), Limits{}, `tensor "a"`},
		{"shape overflow", rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil), Limits{}, `tensor "a": shape [4294967296 4294967296] overflows`},
		{"bytes overflow", rawFile(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}}`, nil), Limits{}, `overflows`},
		{"three offsets", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, []byte{1}), Limits{}, `data_offsets has 3 values, want 2`},
		{"negative offset", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, []byte{1}), Limits{}, `data_offsets value -1`},
		{"reversed offsets", rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}`, []byte{1}), Limits{}, `data_offsets [1 0] end before they begin`},
		{"offsets past end", rawFile(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, []byte{1}), Limits{}, `data_offsets [0 4] past the end of the 1-byte data buffer`},
		{"size mismatch", rawFile(`{"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,12]}}`, make([]byte, 12)), Limits{}, `safetensors: tensor "x": data_offsets [0 12] hold 12 bytes, shape [2 3] F32 needs 24`},
		{"overlap", rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, make([]byte, 3)), Limits{}, `tensor "b": data_offsets [1 3] overlap tensor "a"`},
		{"gap", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), Limits{}, `tensor "a": data_offsets [1 2] leave a gap after byte 0`},
		{"trailing data", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 3)), Limits{}, `tensors use 1 bytes of the 3-byte data buffer`},
		{"too many tensors", rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, make([]byte, 2)), Limits{MaxTensors: 1}, `more than 1 tensors`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.in, tc.lim)
			require.Error(t, err)
			assert.Nil(t, f)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "safetensors: "), err.Error())
		})
	}
}

func TestWriteRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    File
		want string
	}{
		{"empty name", File{Tensors: []Tensor{{DType: U8, Shape: []int{0}}}}, "tensor 0 has an empty name"},
		{"reserved name", File{Tensors: []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{0}}}}, "reserved"},
		{"duplicate", File{Tensors: []Tensor{{Name: "a", DType: U8, Shape: []int{0}}, {Name: "a", DType: U8, Shape: []int{0}}}}, `tensor "a": duplicate name`},
		{"unknown dtype", File{Tensors: []Tensor{{Name: "a", DType: "Q4"}}}, `unknown dtype "Q4"`},
		{"length", File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}}, `tensor "a": 4 data bytes, shape [2] F32 needs 8`},
		{"negative dim", File{Tensors: []Tensor{{Name: "a", DType: F32, Shape: []int{-1}}}}, `needs an impossible byte count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, &tc.f)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, b.Len(), "nothing may be written on a validation error")
		})
	}
}

func TestFloat32s(t *testing.T) {
	want := []float32{0, 1, -2.5, 0.125, 1024, -49152}
	for _, d := range []DType{F32, F16, BF16, F64} {
		t.Run(string(d), func(t *testing.T) {
			tt := NewFloatTensor("x", d, []int{2, 3}, want)
			got, err := tt.Float32s()
			require.NoError(t, err)
			assert.Equal(t, want, got) // all values are exact in every type
		})
	}
	_, err := (&Tensor{Name: "q", DType: I8, Shape: []int{1}, Data: []byte{1}}).Float32s()
	assert.EqualError(t, err, `safetensors: tensor "q": dtype I8 is not a floating-point type`)
	_, err = (&Tensor{Name: "q", DType: F32, Shape: []int{2}, Data: []byte{1}}).Float32s()
	assert.EqualError(t, err, `safetensors: tensor "q": 1 data bytes, shape [2] F32 needs 8`)
}

func TestF16AllValues(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToFloat32(uint16(h))
		if f != f {
			assert.True(t, Float32ToF16(f)&0x7fff > 0x7c00, "NaN %#04x must stay NaN", h)
			continue
		}
		require.Equal(t, uint16(h), Float32ToF16(f), "round trip of %#04x (%g)", h, f)
	}
}

// f16Ref rounds x to the nearest binary16 value by search in float64: the definition.
func f16Ref(x float32) uint16 {
	best, bestErr := uint16(0), math.Inf(1)
	sign := uint16(0)
	if math.Signbit(float64(x)) {
		sign = 0x8000
	}
	for h := uint16(0); h <= 0x7c00; h++ {
		e := math.Abs(math.Abs(float64(x)) - float64(F16ToFloat32(h)))
		if e < bestErr || (e == bestErr && h&1 == 0) {
			best, bestErr = h, e
		}
	}
	// Beyond the largest finite value IEEE rounds to Inf at 65520.
	if math.Abs(float64(x)) >= 65520 {
		best = 0x7c00
	}
	return sign | best
}

func TestFloat32ToF16Rounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []float32{0, 1, 65504, 65519.99, 65520, 1e9, 5.960464477539063e-08, 2.9802322387695312e-08,
		2.98023259e-08, 1.0009765625 + 0.00048828125, 1.0029296875 - 0.00048828125, 6.097555e-05}
	for range 300 {
		cases = append(cases, float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(44)-28)))
	}
	for _, x := range cases {
		for _, v := range []float32{x, -x} {
			assert.Equal(t, f16Ref(v), Float32ToF16(v), "x=%g", v)
		}
	}
}

func TestFloat32ToBF16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, round to even (down)
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, round to even (up)
		{math.Float32frombits(0x3f808001), 0x3f81},
		{float32(math.Inf(-1)), 0xff80},
	} {
		assert.Equal(t, tc.want, Float32ToBF16(tc.in), "%g", tc.in)
	}
	nan := Float32ToBF16(math.Float32frombits(0x7f800001))
	assert.True(t, nan&0x7fff > 0x7f80, "NaN must stay NaN, got %#04x", nan)
}
