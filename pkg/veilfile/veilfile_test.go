package veilfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/veil-ml/veil/internal/fuzzcorpus"
	"github.com/veil-ml/veil/internal/qtest"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/safetensors"
)

func tinyFile(t testing.TB, raw bool) ([]byte, *infer.QNet) {
	t.Helper()
	q := qtest.TinyQNet(1, 12)
	m := &Meta{Source: "test", SourceSHA256: strings.Repeat("ab", 32), Calibration: "minmax on 4 random inputs",
		Adapters: []Adapter{{Path: "a.safetensors", SHA256: "00", Weight: 0.5}}}
	data, err := Encode(q, m, Options{Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	return data, q
}

func TestRoundTrip(t *testing.T) {
	for _, raw := range []bool{false, true} {
		data, q := tinyFile(t, raw)
		got, m, err := readBoth(t, data)
		if err != nil {
			t.Fatalf("raw=%v: %v", raw, err)
		}
		if !reflect.DeepEqual(got, q) {
			t.Fatalf("raw=%v: QNet differs after a round trip", raw)
		}
		if m.Version != 1 || m.Architecture != "tiny" || m.InputSize != 12 || m.Source != "test" ||
			len(m.Adapters) != 1 || m.Adapters[0].Weight != 0.5 || !reflect.DeepEqual(m.Classes, q.Classes) || m.Preprocessing != Preprocessing {
			t.Fatalf("raw=%v: meta %+v", raw, m)
		}
		x := qtest.Input(9, 12)
		a := append([]float32(nil), infer.NewInt8(q).Run(x)...)
		b := infer.NewInt8(got).Run(x)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("raw=%v: outputs differ: %v vs %v", raw, a, b)
		}
	}
}

// readBoth reads b with Read and with ReadFrom, fails t unless they agree
// (on accepting it, on what they return, and on the kind of error), and
// returns Read's result.
func readBoth(t testing.TB, b []byte) (*infer.QNet, *Meta, error) {
	t.Helper()
	q, m, err := Read(b)
	q2, m2, err2 := ReadFrom(bytes.NewReader(b), len(b))
	if (err == nil) != (err2 == nil) {
		t.Fatalf("Read: %v; ReadFrom: %v", err, err2)
	}
	if err != nil {
		var v, v2 *VersionError
		if errors.Is(err, ErrNotVeil) != errors.Is(err2, ErrNotVeil) || errors.As(err, &v) != errors.As(err2, &v2) ||
			strings.Contains(err.Error(), "checksum mismatch") != strings.Contains(err2.Error(), "checksum mismatch") {
			t.Fatalf("different errors: Read: %v; ReadFrom: %v", err, err2)
		}
		return nil, nil, err
	}
	if !reflect.DeepEqual(q, q2) || !reflect.DeepEqual(m, m2) {
		t.Fatal("Read and ReadFrom return different models")
	}
	return q, m, err
}

func TestEncodeDeterministic(t *testing.T) {
	a, _ := tinyFile(t, false)
	b, _ := tinyFile(t, false)
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same QNet differ")
	}
	if !bytes.HasPrefix(a[8:], []byte(Magic+`"format_version":"1"`)) {
		t.Fatalf("header starts %q", a[8:60])
	}
}

func TestReadTruncated(t *testing.T) {
	data, _ := tinyFile(t, false)
	for n := 0; n < len(data); n++ {
		if _, _, err := readBoth(t, data[:n]); err == nil {
			t.Fatalf("file truncated to %d of %d bytes was accepted", n, len(data))
		}
	}
}

func TestReadBitFlips(t *testing.T) {
	data, _ := tinyFile(t, false)
	hdr := 8 + int(binary.LittleEndian.Uint64(data))
	c := bytes.Clone(data)
	for i := 0; i < hdr; i++ {
		for bit := 0; bit < 8; bit++ {
			c[i] ^= 1 << bit
			if _, _, err := readBoth(t, c); err == nil {
				t.Fatalf("flipping bit %d of byte %d (header) was accepted", bit, i)
			}
			c[i] ^= 1 << bit
		}
	}
	// The data region too, one bit per byte.
	for i := hdr; i < len(data); i++ {
		c[i] ^= 0x10
		if _, _, err := readBoth(t, c); err == nil {
			t.Fatalf("flipping a bit of byte %d (data) was accepted", i)
		}
		c[i] ^= 0x10
	}
}

func TestReadWrongMagic(t *testing.T) {
	data, _ := tinyFile(t, false)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short", []byte("VEIL")},
		{"png", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)},
		{"other format", bytes.Replace(bytes.Clone(data), []byte(`"format":"veil"`), []byte(`"format":"vail"`), 1)},
	} {
		_, _, err := readBoth(t, tc.data)
		if !errors.Is(err, ErrNotVeil) {
			t.Errorf("%s: error %v, want ErrNotVeil", tc.name, err)
		}
	}
}

func TestReadWrongVersion(t *testing.T) {
	data, _ := tinyFile(t, false)
	for _, v := range []string{"4", "0", "10"} {
		c := bytes.Replace(bytes.Clone(data), []byte(`"format_version":"1"`), []byte(`"format_version":"`+v+`"`), 1)
		_, _, err := readBoth(t, c)
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Version != v {
			t.Errorf("version %s: error %v, want a VersionError", v, err)
		}
	}
}

func TestReadChecksum(t *testing.T) {
	data, _ := tinyFile(t, true)
	// Flip one weight byte: the checksum must catch it.
	c := bytes.Clone(data)
	c[len(c)-1] ^= 1
	if _, _, err := readBoth(t, c); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("error %v, want a checksum mismatch", err)
	}
}

// fuzzReadSeeds are FuzzRead's seeds: a compressed and a raw file, a
// truncated one, nothing, a 12-bit and a mixed-width file;
// FuzzReadRestamped takes the whole files.
func fuzzReadSeeds(tb testing.TB) [][]byte {
	data, _ := tinyFile(tb, false)
	raw, _ := tinyFile(tb, true)
	wide, err := Encode(qtest.TinyQNetBits(1, 12, 12), &Meta{Source: "test"}, Options{}) // version 2, 12-bit activations
	if err != nil {
		tb.Fatal(err)
	}
	mixed, err := Encode(qtest.TinyQNetBits(1, 12, 0), &Meta{Source: "test"}, Options{}) // version 3
	if err != nil {
		tb.Fatal(err)
	}
	return [][]byte{data, raw, data[:len(data)/2], {}, wide, mixed}
}

func TestFuzzCorpus(t *testing.T) {
	seeds := fuzzReadSeeds(t)
	fuzzcorpus.Check(t, "FuzzRead", fuzzcorpus.Bytes(seeds))
	fuzzcorpus.Check(t, "FuzzReadRestamped", fuzzcorpus.Bytes(append(seeds[:2:2], seeds[4:]...)))
}

func FuzzRead(f *testing.F) {
	for _, s := range fuzzReadSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, _, err := readBoth(t, b)
		if err != nil {
			return
		}
		// Anything Read accepts must run.
		infer.NewInt8(q).Run(make([]float32, q.InputSize*q.InputSize*3))
	})
}

// restamp rewrites the checksum of a mutated file so that fuzzing reaches
// the checks behind it.
func restamp(b []byte) []byte {
	if len(b) < 8 {
		return b
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return b
	}
	hdr := b[8 : 8+n]
	key := []byte(`"` + checksumKey + `":"`)
	i := bytes.Index(hdr, key)
	if i < 0 || i+len(key)+64 > len(hdr) {
		return b
	}
	c := bytes.Clone(b)
	pos := 8 + i + len(key)
	copy(c[pos:], zeroSum)
	sum := sha256.Sum256(c)
	copy(c[pos:], hex.EncodeToString(sum[:]))
	return c
}

func FuzzReadRestamped(f *testing.F) {
	seeds := fuzzReadSeeds(f)
	for _, s := range append(seeds[:2:2], seeds[4:]...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, _, err := readBoth(t, restamp(b))
		if err != nil {
			return
		}
		infer.NewInt8(q).Run(make([]float32, q.InputSize*q.InputSize*3))
	})
}

func BenchmarkRead(b *testing.B) {
	data, _ := tinyFile(b, false)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Read(data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadRandomMutations overwrites random bytes, restamps the checksum so
// the deeper checks are reached, and requires Read to fail or to return a
// QNet that runs.
func TestReadRandomMutations(t *testing.T) {
	data, _ := tinyFile(t, false)
	r := rand.New(rand.NewPCG(1, 1))
	n := 2000
	if testing.Short() {
		n = 200
	}
	for range n {
		c := bytes.Clone(data)
		for range 1 + r.IntN(3) {
			c[8+r.IntN(len(c)-8)] = byte(r.IntN(256))
		}
		if q, _, err := readBoth(t, restamp(c)); err == nil {
			infer.NewInt8(q).Run(make([]float32, q.InputSize*q.InputSize*3))
		}
	}
}

// TestReadWithInflater checks that ReadWith hands every compressed tensor to
// the inflater in one call, and reads what it fills exactly as Read does.
func TestReadWithInflater(t *testing.T) {
	data, q := tinyFile(t, false)
	var deflated int
	f, err := safetensors.Parse(data, safetensors.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, t := range f.Tensors {
		if strings.HasSuffix(t.Name, ".deflate") {
			deflated++
		}
	}
	calls, names := 0, map[string]bool{}
	got, _, err := ReadWith(data, ReadOptions{Inflate: func(jobs []Inflation) error {
		calls++
		for _, j := range jobs {
			names[j.Name] = true
		}
		return InflateAll(jobs)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, q) {
		t.Fatal("QNet read with the inflater differs from the encoded one")
	}
	if calls != 1 || len(names) != deflated || deflated == 0 {
		t.Fatalf("%d calls for tensors %v; want 1 call with every compressed tensor", calls, names)
	}

	// An inflater's failure is the read's, and nothing half-filled escapes.
	boom := errors.New(`tensor "ops.000.weight.deflate": corrupt`)
	if _, _, err := ReadWith(data, ReadOptions{Inflate: func([]Inflation) error { return boom }}); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("inflater error gave %v", err)
	}
	// A raw file has nothing to inflate.
	raw, _ := tinyFile(t, true)
	if _, _, err := ReadWith(raw, ReadOptions{Inflate: func([]Inflation) error { t.Error("inflater called for a raw file"); return nil }}); err != nil {
		t.Fatal(err)
	}
}

// TestInflateAll checks the default inflater's refusals; the wasm module's
// DecompressionStream inflater is held to the same cases in wasm/veil.test.mjs.
func TestInflateAll(t *testing.T) {
	plain := bytes.Repeat([]byte("veil int8 weights "), 40)
	stream := deflate(plain)
	for _, c := range []struct {
		name string
		src  []byte
		n    int
		want string // "" for success
	}{
		{"exact", stream, len(plain), ""},
		{"inflates to more", stream, len(plain) - 1, "more than"},
		{"inflates to fewer", stream, len(plain) + 1, "unexpected EOF"},
		{"truncated", stream[:len(stream)/2], len(plain), "inflate"},
		{"trailing bytes", append(slices.Clone(stream), 0), len(plain), "after its compressed data"},
		{"not deflate", []byte{0xff, 0xff, 0xff}, len(plain), "inflate"},
	} {
		dst := make([]byte, c.n)
		err := InflateAll([]Inflation{{Name: "t.deflate", Src: c.src, Dst: dst}})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && !bytes.Equal(dst, plain):
			t.Errorf("%s: wrong bytes", c.name)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"t.deflate"`)):
			t.Errorf("%s: got %v, want an error naming the tensor and saying %q", c.name, err, c.want)
		}
	}
}

// withMeta returns the tiny file with metadata entry key set to value (the
// checksum restamped), so that the entry's own checks are what fail.
func withMeta(t *testing.T, key, value string) []byte {
	t.Helper()
	data, _ := tinyFile(t, true)
	f, err := safetensors.Parse(data, safetensors.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	f.Metadata[key] = value
	out, err := safetensors.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return restamp(out)
}

// TestReadBadMetadataJSON checks that each JSON metadata entry is read
// strictly, with errors that name the entry and the byte.
func TestReadBadMetadataJSON(t *testing.T) {
	data, _ := tinyFile(t, true)
	f, err := safetensors.Parse(data, safetensors.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	graph := f.Metadata["veil.graph"]
	for _, c := range []struct{ name, key, value, want string }{
		{"classes not an array", "veil.classes", `{"a":1}`, `veil.classes: at byte 0: want an array, found '{'`},
		{"class not a string", "veil.classes", `["a",2]`, `veil.classes: at byte 5: want a string, found '2'`},
		{"no classes", "veil.classes", `[]`, `veil.classes has 0 class names`},
		{"adapter weight a string", "veil.adapters", `[{"path":"a","sha256":"00","weight":"x"}]`, `veil.adapters: at byte 36: want a number`},
		{"graph cut short", "veil.graph", graph[:len(graph)/2], `veil.graph: at byte`},
		{"graph trailing bytes", "veil.graph", graph + ` 1`, `want the end of the input, found '1'`},
		{"tensor shape of two", "veil.graph", strings.Replace(graph, `"tensors":[[`, `"tensors":[[1,`, 1), `want 3 integers, found more`},
		{"output a float", "veil.graph", strings.Replace(graph, `"output":`, `"output":0.5,"x":`, 1), `veil.graph: at byte`},
	} {
		_, _, err := Read(withMeta(t, c.key, c.value))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
	// Unknown keys are skipped, and null adapters are none.
	q, m, err := Read(withMeta(t, "veil.adapters", `null`))
	if err != nil || len(m.Adapters) != 0 {
		t.Fatalf("null adapters: %v, %v", err, m.Adapters)
	}
	q2, _, err := Read(withMeta(t, "veil.graph", strings.Replace(graph, `{`, `{"later":{"x":[1,"y",null]},`, 1)))
	if err != nil || !reflect.DeepEqual(q, q2) {
		t.Fatalf("graph with an unknown key: %v", err)
	}
}

// TestReadFromShortSource gives ReadFrom the full size but a source that
// ends early, at every length: each must fail, saying the file ends early.
func TestReadFromShortSource(t *testing.T) {
	data, _ := tinyFile(t, false)
	for n := 0; n < len(data); n++ {
		_, _, err := ReadFrom(bytes.NewReader(data[:n]), len(data))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("ends at byte %d of the %d", n, len(data))) {
			t.Fatalf("source of %d of %d bytes: error %v", n, len(data), err)
		}
	}
}

// failingReader returns err once n bytes are read.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k, err := f.r.Read(p[:min(len(p), f.n)])
	f.n -= k
	return k, err
}

// TestReadFromSourceError checks that a failing source's error comes back
// wrapped, with where, and is not mistaken for a corrupted file.
func TestReadFromSourceError(t *testing.T) {
	data, _ := tinyFile(t, false)
	boom := errors.New("disk on fire")
	for _, at := range []int{0, 10, len(data) / 2, len(data) - 1} {
		_, _, err := ReadFrom(&failingReader{bytes.NewReader(data), at, boom}, len(data))
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), fmt.Sprintf("byte %d", at)) {
			t.Errorf("failing at byte %d: error %v", at, err)
		}
	}
}

// TestReadFromModels reads the models `make models` wrote, if present,
// both ways.
func TestReadFromModels(t *testing.T) {
	paths, _ := filepath.Glob("../../models/*.veil")
	if len(paths) == 0 {
		t.Skip("no models/*.veil (make models)")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := readBoth(t, data); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestRoundTrip12 writes a QNet with 12-bit activations: version 2 with
// veil.activation_bits, read back as written; a version-1 reader's view
// (the same file stamped "1") and a bad width are errors, not a model
// with misread zero points.
func TestRoundTrip12(t *testing.T) {
	data := checkRoundTrip(t, qtest.TinyQNetBits(1, 12, 12), Options{}, 2)
	checkEdits(t, data, []edit{
		{`"format_version":"2"`, `"format_version":"1"`, "is invalid"}, // zero points past 255 in an 8-bit net
		{`"veil.activation_bits":"12"`, `"veil.activation_bits":"16"`, `veil.activation_bits "16" is invalid`},
		{`"veil.activation_bits":"12"`, `"veil.activation_bitz":"12"`, `veil.activation_bits "" is invalid`},
	})
}

// checkRoundTrip encodes q, checks that the file says version and reads
// back as q, and returns the file.
func checkRoundTrip(t *testing.T, q *infer.QNet, o Options, version int) []byte {
	t.Helper()
	data, err := Encode(q, &Meta{Source: "test"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data[8:], []byte(Magic+fmt.Sprintf(`"format_version":"%d"`, version))) {
		t.Fatalf("header starts %q", data[8:8+len(Magic)+20])
	}
	got, m, err := readBoth(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, q) || m.Version != version || got.ActBits() != q.ActBits() {
		t.Fatalf("QNet differs after a round trip (version %d, %d bits)", m.Version, got.ActBits())
	}
	return data
}

// edit replaces the first from with to in a file's header; reading the
// (restamped) result must fail with an error containing want.
type edit struct{ from, to, want string }

func checkEdits(t *testing.T, data []byte, edits []edit) {
	t.Helper()
	for _, e := range edits {
		c := restamp(bytes.Replace(bytes.Clone(data), []byte(e.from), []byte(e.to), 1))
		if _, _, err := readBoth(t, c); err == nil || !strings.Contains(err.Error(), e.want) {
			t.Errorf("%s → %s: error %v, want one containing %q", e.from, e.to, err, e.want)
		}
	}
}

// TestRoundTripMixed checks a QNet whose activations mix 8 and 12 bits:
// written as version 3 with each tensor's width in act.bits, read back as
// written; a width other than 8 or 12, a missing act.bits and "mixed" in
// a version-2 file are errors.
func TestRoundTripMixed(t *testing.T) {
	q := qtest.TinyQNetBits(1, 12, 0)
	if q.ActBits() != 0 {
		t.Fatalf("the mixed tiny net has %d-bit activations only", q.ActBits())
	}
	data := checkRoundTrip(t, q, Options{Raw: true}, 3)
	f, err := safetensors.Parse(data, limits)
	if err != nil {
		t.Fatal(err)
	}
	hl := 8 + int(binary.LittleEndian.Uint64(data)) // where the data buffer starts
	found := false
	for _, ts := range f.Tensors {
		if ts.Name != "act.bits" {
			continue
		}
		found = true
		for _, v := range []byte{0, 7, 16} {
			c := bytes.Clone(data)
			c[hl+ts.Offsets[0]+1] = v
			if _, _, err := readBoth(t, restamp(c)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("tensor 1 has %d bits", v)) {
				t.Errorf("act.bits[1] = %d: error %v", v, err)
			}
		}
	}
	if !found {
		t.Fatal("no act.bits tensor")
	}
	checkEdits(t, data, []edit{
		{`"format_version":"3"`, `"format_version":"2"`, `veil.activation_bits "mixed" is invalid`},
		{`"act.bits"`, `"act.bitz"`, `tensor "act.bits" is missing`},
	})
}
