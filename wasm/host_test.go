//go:build js && wasm

package main

import (
	"bytes"
	"syscall/js"
	"testing"

	"github.com/veil-ml/veil/pkg/veilfile"
)

// TestTakeInflated checks that tensors veil.js inflated ahead are used only
// by name and at the exact size the model needs; the rest are left to inflate.
func TestTakeInflated(t *testing.T) {
	u8 := func(b []byte) js.Value {
		v := js.Global().Get("Uint8Array").New(len(b))
		js.CopyBytesToJS(v, b)
		return v
	}
	arr := func(xs ...any) js.Value { return js.ValueOf(xs) }
	pre := js.ValueOf(map[string]any{
		"names":   arr("a.deflate", "b.deflate", "c.deflate"),
		"outputs": arr(arr(u8([]byte("AA")), u8([]byte("A"))), arr(u8([]byte("BB"))), arr(u8([]byte("CCCC")))),
	})
	jobs := []veilfile.Inflation{
		{Name: "a.deflate", Dst: make([]byte, 3)},
		{Name: "b.deflate", Dst: make([]byte, 3)}, // the model needs 3 bytes, not 2
		{Name: "c.deflate", Dst: make([]byte, 4)},
		{Name: "d.deflate", Dst: make([]byte, 1)}, // not inflated ahead
	}
	rest := takeInflated(jobs, pre)
	if !bytes.Equal(jobs[0].Dst, []byte("AAA")) || !bytes.Equal(jobs[2].Dst, []byte("CCCC")) {
		t.Errorf("filled %q and %q, want AAA and CCCC", jobs[0].Dst, jobs[2].Dst)
	}
	if len(rest) != 2 || rest[0].Name != "b.deflate" || rest[1].Name != "d.deflate" || !bytes.Equal(rest[0].Dst, make([]byte, 3)) {
		t.Errorf("left %v, want b and d untouched", rest)
	}

	// Anything malformed is ignored as a whole.
	for _, bad := range []js.Value{
		js.Undefined(),
		js.Null(),
		js.ValueOf(map[string]any{"names": arr("a.deflate"), "outputs": u8([]byte("AAA"))}),                   // outputs not an array
		js.ValueOf(map[string]any{"names": arr("a.deflate"), "outputs": arr(u8([]byte("AAA")))}),              // an output not an array of pieces
		js.ValueOf(map[string]any{"names": arr("a.deflate"), "outputs": arr(arr(u8([]byte("AA")), arr(65)))}), // a piece not a Uint8Array
		js.ValueOf(map[string]any{"names": arr("a.deflate", "x"), "outputs": arr(arr(u8([]byte("AAA"))))}),    // lengths differ
		js.ValueOf(map[string]any{"names": arr(7), "outputs": arr(arr(u8([]byte("AAA"))))}),                   // a name not a string
		js.ValueOf(map[string]any{"names": "a.deflate", "outputs": arr(arr(u8([]byte("AAA"))))}),              // names not an array
	} {
		jobs := []veilfile.Inflation{{Name: "a.deflate", Dst: make([]byte, 3)}}
		if rest := takeInflated(jobs, bad); len(rest) != 1 || !bytes.Equal(jobs[0].Dst, make([]byte, 3)) {
			t.Errorf("%v: took %q", bad, jobs[0].Dst)
		}
	}
}

// TestJSBytesHashInJS checks what sha256InJS hands to host.sha256: src's
// own array when the parts are src's bytes in place, patched for the call
// where a few are not and restored after it; otherwise a copy of exactly
// the parts.
func TestJSBytesHashInJS(t *testing.T) {
	file := []byte("header:0123456789:tensors")
	arr := js.Global().Get("Uint8Array").New(len(file))
	js.CopyBytesToJS(arr, file)
	data, err := ownBytesFromJS(safe(arr))
	if err != nil {
		t.Fatal(err)
	}
	var known jsOrigins
	src := known.of(known.add(data))
	if !src.u8.Equal(arr) {
		t.Fatal("jsOrigins.of did not find the bytes it was given")
	}
	if other := known.of(bytes.Clone(data.data)); other.u8.Type() != js.TypeUndefined {
		t.Fatal("jsOrigins.of matched a copy of the bytes")
	}

	// A host.sha256 that notes what it was given, as crypto.subtle copies it.
	var seen []byte
	var same bool
	record := js.FuncOf(func(_ js.Value, args []js.Value) any {
		seen = make([]byte, args[0].Length())
		js.CopyBytesToGo(seen, args[0])
		same = args[0].Equal(arr)
		return js.Global().Get("Promise").Call("resolve", js.Global().Get("Uint8Array").New(32))
	})
	defer record.Release()
	host = js.ValueOf(map[string]any{"sha256": record})
	defer func() { host = js.Undefined() }()

	d := src.data
	zeros := bytes.Repeat([]byte("0"), 10)
	for _, tt := range []struct {
		name  string
		src   jsBytes
		parts [][]byte
		same  bool // host.sha256 got src.u8 itself
	}{
		{"whole", src, [][]byte{d}, true},
		{"split in place", src, [][]byte{d[:5], d[5:]}, true},
		{"middle replaced", src, [][]byte{d[:7], zeros, d[17:]}, true},
		{"a copy of the bytes", src, [][]byte{bytes.Clone(d)}, true},
		{"shorter", src, [][]byte{d[:7]}, false},
		{"no array", jsBytes{data: d}, [][]byte{d[:7], zeros, d[17:]}, false},
	} {
		want := bytes.Join(tt.parts, nil)
		seen = nil
		p, ok := tt.src.hashInJS(len(want), tt.parts)
		if !ok || p.Type() != js.TypeObject {
			t.Fatalf("%s: hashInJS did not call host.sha256", tt.name)
		}
		if !bytes.Equal(seen, want) {
			t.Errorf("%s: hashed %q, want %q", tt.name, seen, want)
		}
		if same != tt.same {
			t.Errorf("%s: hashed src's array: %v, want %v", tt.name, same, tt.same)
		}
		got := make([]byte, arr.Length())
		js.CopyBytesToGo(got, arr)
		if !bytes.Equal(got, file) {
			t.Fatalf("%s: src's array left as %q", tt.name, got)
		}
	}
	if _, ok := (jsBytes{}).hashInJS(sha256InJSMax+1, [][]byte{make([]byte, sha256InJSMax+1)}); ok {
		t.Error("hashInJS copied a message larger than sha256InJSMax")
	}
}

// TestKnownDigest checks that a digest veil.js computed ahead stands in for
// exactly the message it describes, and that malformed ones are dropped.
func TestKnownDigest(t *testing.T) {
	d := []byte("header:0123456789:tensors")
	src := jsBytes{data: d, u8: js.Global().Get("Uint8Array").New(len(d))}
	zeros := bytes.Repeat([]byte("0"), 10)
	patched := bytes.Join([][]byte{d[:7], zeros, d[17:]}, nil)
	whole := knownDigest{at: 0}
	check := knownDigest{at: 7, patch: zeros}
	for _, tt := range []struct {
		name  string
		d     knownDigest
		parts [][]byte
		want  bool
	}{
		{"whole file", whole, [][]byte{d}, true},
		{"whole file in pieces", whole, [][]byte{d[:3], d[3:]}, true},
		{"a copy of the file", whole, [][]byte{bytes.Clone(d)}, true},
		{"file with a changed byte", whole, [][]byte{append(bytes.Clone(d[:24]), 'X')}, false},
		{"part of the file", whole, [][]byte{d[:24]}, false},
		{"patched file", check, [][]byte{d[:7], zeros, d[17:]}, true},
		{"a copy of the patched file", check, [][]byte{patched}, true},
		{"unpatched file", check, [][]byte{d}, false},
		{"other patch", check, [][]byte{d[:7], []byte("0000000001"), d[17:]}, false},
		{"patch elsewhere", check, [][]byte{d[:6], zeros, d[16:]}, false},
		{"too long", check, [][]byte{d[:7], zeros, d[17:], []byte("x")}, false},
	} {
		if got := tt.d.describes(src, tt.parts); got != tt.want {
			t.Errorf("%s: describes %v, want %v", tt.name, got, tt.want)
		}
	}

	u8 := func(b []byte) js.Value {
		v := js.Global().Get("Uint8Array").New(len(b))
		js.CopyBytesToJS(v, b)
		return v
	}
	sum := u8(make([]byte, 32))
	entry := func(at int, patch []byte, sum js.Value) any {
		return map[string]any{"at": at, "patch": u8(patch), "sha256": sum}
	}
	got := digestsFromJS(js.ValueOf([]any{
		entry(0, nil, sum),
		entry(7, zeros, sum),
		entry(16, zeros, sum),               // runs past the end
		entry(-1, nil, sum),                 // before the start
		entry(0, nil, u8(make([]byte, 31))), // not a SHA-256
		map[string]any{"at": "0", "patch": u8(nil), "sha256": sum},
		nil,
	}), d)
	if len(got) != 2 || got[0].at != 0 || got[1].at != 7 || !bytes.Equal(got[1].patch, zeros) {
		t.Errorf("digestsFromJS kept %+v, want the first two", got)
	}
	if digestsFromJS(js.Undefined(), d) != nil || digestsFromJS(js.ValueOf(map[string]any{}), d) != nil {
		t.Error("digestsFromJS read something from a non-array")
	}
}
