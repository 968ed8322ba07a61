package safetensors

import (
	"bytes"
	"testing"

	"github.com/veil-ml/veil/internal/fuzzcorpus"
)

// fuzzParseSeeds are FuzzParse's seeds: a real file, metadata only, F16,
// overlapping tensors, a huge shape, and zero-sized tensors.
func fuzzParseSeeds(tb testing.TB) [][]byte {
	good, err := Encode(sampleFile())
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{
		good,
		rawFile(`{}`, nil),
		rawFile(`{"__metadata__":{"a":"b"}}`, nil),
		rawFile(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 60, 0, 188}),
		rawFile(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, make([]byte, 3)),
		rawFile(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
		rawFile(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}`, nil),
	}
}

func TestFuzzCorpus(t *testing.T) {
	fuzzcorpus.Check(t, "FuzzParse", fuzzcorpus.Bytes(fuzzParseSeeds(t)))
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzParseSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, Limits{MaxHeaderBytes: 1 << 16})
		if err != nil {
			if file != nil {
				t.Fatal("non-nil File with an error")
			}
			return
		}
		// A parsed file must convert and re-encode, and the re-encoding must parse to the same tensors.
		for i := range file.Tensors {
			tt := &file.Tensors[i]
			if tt.NumElements()*tt.DType.Size() != len(tt.Data) {
				t.Fatalf("tensor %q: %d bytes for shape %v %s", tt.Name, len(tt.Data), tt.Shape, tt.DType)
			}
			if tt.DType.IsFloat() {
				if _, err := tt.Float32s(); err != nil {
					t.Fatal(err)
				}
			}
		}
		enc, err := Encode(file)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Parse(enc, Limits{MaxHeaderBytes: 1 << 20})
		if err != nil {
			t.Fatalf("parse of re-encoding: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) || len(again.Metadata) != len(file.Metadata) {
			t.Fatal("re-encoding changed the tensor or metadata count")
		}
		for i := range file.Tensors {
			a, b := &file.Tensors[i], &again.Tensors[i]
			if a.Name != b.Name || a.DType != b.DType || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("re-encoding changed tensor %q", a.Name)
			}
		}
		for k, v := range file.Metadata {
			if again.Metadata[k] != v {
				t.Fatalf("re-encoding changed metadata %q", k)
			}
		}
	})
}
