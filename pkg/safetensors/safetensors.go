package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxHeaderBytes is the header size limit used when Limits.MaxHeaderBytes is 0.
// It matches the reference implementation.
const DefaultMaxHeaderBytes = 100 << 20

// metadataKey is the reserved header key holding the string→string metadata.
const metadataKey = "__metadata__"

// Tensor is one named tensor. Data holds the raw little-endian bytes in C order.
type Tensor struct {
	Name  string
	DType DType
	Shape []int // may be empty for a scalar
	Data  []byte
}

// File is the content of a safetensors file.
type File struct {
	Metadata map[string]string // nil if the header has no "__metadata__"
	Tensors  []Tensor          // sorted by Name after Parse
}

// Limits bounds the resources Parse will accept. The zero value gives the defaults.
type Limits struct {
	MaxHeaderBytes int // 0 means DefaultMaxHeaderBytes
	MaxTensors     int // 0 means no limit beyond the header size
}

// FormatError reports that the input is not a valid safetensors file.
type FormatError string

func (e FormatError) Error() string { return "safetensors: " + string(e) }

// UnsupportedError reports a valid file using a feature this package does not implement.
type UnsupportedError string

func (e UnsupportedError) Error() string { return "safetensors: unsupported " + string(e) }

func formatErr(format string, args ...any) error {
	return FormatError(fmt.Sprintf(format, args...))
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// NumElements returns the product of the tensor's dimensions (1 for a scalar).
// It returns -1 if a dimension is negative or the product overflows.
func (t *Tensor) NumElements() int {
	n, ok := numel(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// NewFloatTensor returns a tensor of dtype d (F32, F16, BF16 or F64) holding v.
// It panics if len(v) does not match shape or d is not a floating-point type.
func NewFloatTensor(name string, d DType, shape []int, v []float32) Tensor {
	if n, ok := numel(shape); !ok || n != len(v) {
		panic(fmt.Sprintf("safetensors: NewFloatTensor %q: %d values for shape %v", name, len(v), shape))
	}
	return Tensor{Name: name, DType: d, Shape: slices.Clone(shape), Data: EncodeFloat32s(d, v)}
}

// numel returns the product of dims, failing on a negative dimension or on overflow.
func numel(shape []int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// needBytes describes numel(shape)·size for error messages.
func needBytes(shape []int, size int) string {
	n, ok := numel(shape)
	if !ok || size == 0 || n > math.MaxInt/size {
		return "an impossible byte count"
	}
	return strconv.Itoa(n * size)
}

// header entry as it appears in JSON; pointers detect missing fields.
type entryJSON struct {
	DType   *string            `json:"dtype"`
	Shape   *[]json.RawMessage `json:"shape"`
	Offsets *[]json.RawMessage `json:"data_offsets"`
}

// Parse decodes a safetensors file held in data.
// The returned tensors' Data alias data; nothing is copied.
func Parse(data []byte, lim Limits) (*File, error) {
	maxHeader := lim.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	if len(data) < 8 {
		return nil, formatErr("%d bytes: too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > uint64(maxHeader) {
		return nil, formatErr("header length %d exceeds the limit of %d bytes", n, maxHeader)
	}
	if n > uint64(len(data)-8) {
		return nil, formatErr("header length %d, but only %d bytes follow", n, len(data)-8)
	}
	hdr, buf := data[8:8+n], data[8+n:]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr("header does not start with '{'")
	}

	f := &File{}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, formatErr("header JSON: %v", err)
	}
	seen := make(map[string]bool)
	var spans []span
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, formatErr("header JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, formatErr("header JSON: key %v is not a string", tok)
		}
		if seen[name] {
			return nil, formatErr("tensor %q: duplicate name in header", name)
		}
		seen[name] = true
		if name == metadataKey {
			if f.Metadata, err = parseMetadata(dec); err != nil {
				return nil, err
			}
			continue
		}
		if lim.MaxTensors > 0 && len(f.Tensors) >= lim.MaxTensors {
			return nil, formatErr("more than %d tensors", lim.MaxTensors)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, formatErr("tensor %q: header JSON: %v", name, err)
		}
		t, off, err := parseEntry(name, raw, len(buf))
		if err != nil {
			return nil, err
		}
		t.Data = buf[off[0]:off[1]:off[1]]
		f.Tensors = append(f.Tensors, t)
		spans = append(spans, span{off[0], off[1], name})
	}
	if _, err := dec.Token(); err != nil {
		return nil, formatErr("header JSON: %v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, formatErr("header JSON: unexpected %v after the closing brace", tok)
		}
		return nil, formatErr("header JSON: after the closing brace: %v", err)
	}
	if err := checkLayout(spans, len(buf)); err != nil {
		return nil, err
	}
	slices.SortFunc(f.Tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return f, nil
}

func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, formatErr("__metadata__: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, formatErr("__metadata__ is %v, not an object", tok)
	}
	m := make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, formatErr("__metadata__: %v", err)
		}
		key, _ := tok.(string) // object keys are always strings in encoding/json
		if _, dup := m[key]; dup {
			return nil, formatErr("__metadata__: duplicate key %q", key)
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, formatErr("__metadata__ %q: %v", key, err)
		}
		v, ok := tok.(string)
		if !ok {
			return nil, formatErr("__metadata__ %q: value is not a string", key)
		}
		m[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, formatErr("__metadata__: %v", err)
	}
	return m, nil
}

// parseEntry checks one header entry against a data buffer of bufLen bytes.
func parseEntry(name string, raw json.RawMessage, bufLen int) (Tensor, [2]int, error) {
	var off [2]int
	var e entryJSON
	if err := json.Unmarshal(raw, &e); err != nil {
		return Tensor{}, off, formatErr("tensor %q: %v", name, err)
	}
	if e.DType == nil || e.Shape == nil || e.Offsets == nil {
		return Tensor{}, off, formatErr("tensor %q: entry needs dtype, shape and data_offsets", name)
	}
	t := Tensor{Name: name, DType: DType(*e.DType)}
	size := t.DType.Size()
	if size == 0 {
		return Tensor{}, off, UnsupportedError(fmt.Sprintf("dtype %q (tensor %q)", *e.DType, name))
	}
	t.Shape = make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		v, err := strconv.ParseInt(string(d), 10, 64)
		if err != nil || v < 0 || v > math.MaxInt {
			return Tensor{}, off, formatErr("tensor %q: shape dimension %s is not a non-negative integer", name, d)
		}
		t.Shape[i] = int(v)
	}
	cnt, ok := numel(t.Shape)
	if !ok || cnt > math.MaxInt/size {
		return Tensor{}, off, formatErr("tensor %q: shape %v overflows", name, t.Shape)
	}
	if len(*e.Offsets) != 2 {
		return Tensor{}, off, formatErr("tensor %q: data_offsets has %d values, want 2", name, len(*e.Offsets))
	}
	var o [2]uint64
	for i, d := range *e.Offsets {
		v, err := strconv.ParseUint(string(d), 10, 64)
		if err != nil {
			return Tensor{}, off, formatErr("tensor %q: data_offsets value %s is not a non-negative integer", name, d)
		}
		o[i] = v
	}
	if o[0] > o[1] {
		return Tensor{}, off, formatErr("tensor %q: data_offsets [%d %d] end before they begin", name, o[0], o[1])
	}
	if o[1] > uint64(bufLen) {
		return Tensor{}, off, formatErr("tensor %q: data_offsets [%d %d] past the end of the %d-byte data buffer", name, o[0], o[1], bufLen)
	}
	if got := o[1] - o[0]; got != uint64(cnt*size) {
		return Tensor{}, off, formatErr("tensor %q: data_offsets [%d %d] hold %d bytes, shape %v %s needs %d",
			name, o[0], o[1], got, t.Shape, t.DType, cnt*size)
	}
	off = [2]int{int(o[0]), int(o[1])}
	return t, off, nil
}

// span is where one tensor's bytes sit in the data buffer.
type span struct {
	begin, end int
	name       string
}

// checkLayout verifies the spans tile a buffer of bufLen bytes exactly:
// no gaps, no overlaps, no trailing bytes.
func checkLayout(spans []span, bufLen int) error {
	slices.SortFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		if a.end != b.end {
			return a.end - b.end
		}
		return strings.Compare(a.name, b.name)
	})
	pos, prev := 0, ""
	for _, s := range spans {
		switch {
		case s.begin < pos:
			return formatErr("tensor %q: data_offsets [%d %d] overlap tensor %q", s.name, s.begin, s.end, prev)
		case s.begin > pos:
			return formatErr("tensor %q: data_offsets [%d %d] leave a gap after byte %d", s.name, s.begin, s.end, pos)
		}
		pos, prev = s.end, s.name
	}
	if pos != bufLen {
		return formatErr("tensors use %d bytes of the %d-byte data buffer", pos, bufLen)
	}
	return nil
}
