package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// headerAlign is the alignment of the data buffer in files written by Write.
const headerAlign = 8

// Write encodes f to w in the safetensors format. The output depends only on f's content:
// keys are sorted, the data buffer holds tensors by decreasing element size then by name,
// and the header is padded with spaces so the buffer starts at a multiple of 8 bytes.
// Write checks names (non-empty, unique, not "__metadata__"), dtypes and data lengths first,
// and writes nothing if one is wrong.
func Write(w io.Writer, f *File) error {
	hdr, order, err := encodeHeader(f)
	if err != nil {
		return err
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	for _, i := range order {
		t := &f.Tensors[i]
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// Encode returns f encoded as by Write.
func Encode(f *File) ([]byte, error) {
	var b bytes.Buffer
	if err := Write(&b, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type entryOut struct {
	DType   DType  `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// encodeHeader validates f and returns the padded header and the buffer order of tensors.
func encodeHeader(f *File) ([]byte, []int, error) {
	seen := make(map[string]bool, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		switch {
		case t.Name == "":
			return nil, nil, fmt.Errorf("safetensors: tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is reserved", t.Name)
		case seen[t.Name]:
			return nil, nil, fmt.Errorf("safetensors: tensor %q: duplicate name", t.Name)
		}
		seen[t.Name] = true
		size := t.DType.Size()
		if size == 0 {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		if n, ok := numel(t.Shape); !ok || len(t.Data) != n*size {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %d data bytes, shape %v %s needs %s",
				t.Name, len(t.Data), t.Shape, t.DType, needBytes(t.Shape, size))
		}
	}
	order := make([]int, len(f.Tensors))
	for i := range order {
		order[i] = i
	}
	// Larger elements first keeps every tensor aligned to its element size.
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := &f.Tensors[a], &f.Tensors[b]
		if sa, sb := ta.DType.Size(), tb.DType.Size(); sa != sb {
			return sb - sa
		}
		return strings.Compare(ta.Name, tb.Name)
	})
	entries := make(map[string]any, len(f.Tensors)+1)
	pos := 0
	for _, i := range order {
		t := &f.Tensors[i]
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entries[t.Name] = entryOut{t.DType, shape, [2]int{pos, pos + len(t.Data)}}
		pos += len(t.Data)
	}
	if len(f.Metadata) > 0 {
		entries[metadataKey] = f.Metadata
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(entries); err != nil {
		return nil, nil, fmt.Errorf("safetensors: encode header: %w", err)
	}
	hdr := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	for (8+len(hdr))%headerAlign != 0 {
		hdr = append(hdr, ' ')
	}
	return hdr, order, nil
}
