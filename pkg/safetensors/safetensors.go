package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/veil-ml/veil/internal/jsonscan"
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
	// Offsets are the header's data_offsets: where Data lies in the data
	// buffer (which starts after the header). Set by Parse and ParseHeader.
	Offsets [2]int
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

// Parse decodes a safetensors file held in data.
// The returned tensors' Data alias data; nothing is copied.
func Parse(data []byte, lim Limits) (*File, error) {
	f, err := ParseHeader(data, len(data), lim)
	if err != nil {
		return nil, err
	}
	buf := data[8+binary.LittleEndian.Uint64(data):]
	for i := range f.Tensors {
		o := f.Tensors[i].Offsets
		f.Tensors[i].Data = buf[o[0]:o[1]:o[1]]
	}
	return f, nil
}

// HeaderLen returns how many bytes from the start of a file of size bytes
// ParseHeader needs, given at least its first 8: 8 plus the header length.
// It fails as ParseHeader would on a length past the limit or the file.
func HeaderLen(first8 []byte, size int, lim Limits) (int, error) {
	maxHeader := lim.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	if len(first8) < 8 || size < 8 {
		return 0, formatErr("%d bytes: too short for the 8-byte header length", size)
	}
	n := binary.LittleEndian.Uint64(first8)
	if n > uint64(maxHeader) {
		return 0, formatErr("header length %d exceeds the limit of %d bytes", n, maxHeader)
	}
	if n > uint64(size-8) {
		return 0, formatErr("header length %d, but only %d bytes follow", n, size-8)
	}
	return 8 + int(n), nil
}

// ParseHeader decodes the header of a safetensors file of size bytes, for
// readers that stream the data rather than hold it: head holds the file's
// first HeaderLen bytes (or more). It checks everything Parse does; the
// tensors' Data are nil, and their Offsets say where to find the bytes.
func ParseHeader(head []byte, size int, lim Limits) (*File, error) {
	hl, err := HeaderLen(head, size, lim)
	if err != nil {
		return nil, err
	}
	if len(head) < hl {
		return nil, formatErr("ParseHeader: given %d bytes of a %d-byte header", len(head), hl)
	}
	hdr, bufLen := head[8:hl], size-hl
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr("header does not start with '{'")
	}

	f := &File{}
	s := jsonscan.New(hdr)
	seen := make(map[string]bool)
	var spans []span
	err = s.Object(func(name string) error {
		if seen[name] {
			return formatErr("tensor %q: duplicate name in header", name)
		}
		seen[name] = true
		if name == metadataKey {
			var err error
			f.Metadata, err = parseMetadata(s)
			return err
		}
		if lim.MaxTensors > 0 && len(f.Tensors) >= lim.MaxTensors {
			return formatErr("more than %d tensors", lim.MaxTensors)
		}
		t, off, err := parseEntry(s, name, bufLen)
		if err != nil {
			return err
		}
		t.Offsets = off
		f.Tensors = append(f.Tensors, t)
		spans = append(spans, span{off[0], off[1], name})
		return nil
	})
	if err == nil {
		err = s.End()
	}
	if err = jsonErr(err, "header JSON"); err != nil {
		return nil, err
	}
	if err := checkLayout(spans, bufLen); err != nil {
		return nil, err
	}
	byName := func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) }
	if !slices.IsSortedFunc(f.Tensors, byName) { // written sorted, as JSON keys usually are
		slices.SortFunc(f.Tensors, byName)
	}
	return f, nil
}

// jsonErr turns a JSON syntax error into a FormatError naming where (the
// other errors, already FormatErrors, pass through).
func jsonErr(err error, where string) error {
	if se := (*jsonscan.SyntaxError)(nil); errors.As(err, &se) {
		return formatErr("%s: %v", where, err)
	}
	return err
}

// parseMetadata reads the __metadata__ object: strings to strings.
func parseMetadata(s *jsonscan.Scanner) (map[string]string, error) {
	m := make(map[string]string)
	err := s.Object(func(key string) error {
		if _, dup := m[key]; dup {
			return formatErr("__metadata__: duplicate key %q", key)
		}
		v, err := s.String()
		if err != nil {
			return formatErr("__metadata__ %q: value is not a string: %v", key, err)
		}
		m[key] = v
		return nil
	})
	return m, jsonErr(err, "__metadata__")
}

// parseEntry reads one header entry, {"dtype", "shape", "data_offsets"}
// (other keys are ignored), and checks it against a data buffer of bufLen
// bytes.
func parseEntry(s *jsonscan.Scanner, name string, bufLen int) (Tensor, [2]int, error) {
	var off [2]int
	t := Tensor{Name: name}
	var dtype string
	var offsets []int64
	var has struct{ dtype, shape, offsets bool }
	err := s.Object(func(key string) error {
		var err error
		switch key {
		case "dtype":
			has.dtype = true
			dtype, err = s.String()
		case "shape":
			has.shape = true
			t.Shape = t.Shape[:0]
			err = s.Array(func(int) error {
				v, err := s.Int()
				if err == nil && (v < 0 || v > math.MaxInt) {
					return formatErr("tensor %q: shape dimension %d is not a non-negative integer", name, v)
				}
				t.Shape = append(t.Shape, int(v))
				return err
			})
		case "data_offsets":
			has.offsets = true
			offsets = offsets[:0]
			err = s.Array(func(int) error {
				v, err := s.Int()
				if err == nil && v < 0 {
					return formatErr("tensor %q: data_offsets value %d is not a non-negative integer", name, v)
				}
				offsets = append(offsets, v)
				return err
			})
		default:
			err = s.Skip()
		}
		return err
	})
	if err != nil { // the name only formatted on failure: entries are many
		return Tensor{}, off, jsonErr(err, fmt.Sprintf("tensor %q: header JSON", name))
	}
	if !has.dtype || !has.shape || !has.offsets {
		return Tensor{}, off, formatErr("tensor %q: entry needs dtype, shape and data_offsets", name)
	}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	t.DType = DType(dtype)
	size := t.DType.Size()
	if size == 0 {
		return Tensor{}, off, UnsupportedError(fmt.Sprintf("dtype %q (tensor %q)", dtype, name))
	}
	cnt, ok := numel(t.Shape)
	if !ok || cnt > math.MaxInt/size {
		return Tensor{}, off, formatErr("tensor %q: shape %v overflows", name, t.Shape)
	}
	if len(offsets) != 2 {
		return Tensor{}, off, formatErr("tensor %q: data_offsets has %d values, want 2", name, len(offsets))
	}
	o := [2]uint64{uint64(offsets[0]), uint64(offsets[1])}
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
	byOffset := func(a, b span) int {
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		if a.end != b.end {
			return a.end - b.end
		}
		return strings.Compare(a.name, b.name)
	}
	if !slices.IsSortedFunc(spans, byOffset) { // writers usually lay tensors out in header order
		slices.SortFunc(spans, byOffset)
	}
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
