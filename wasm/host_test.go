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
		"names": arr("a.deflate", "b.deflate", "c.deflate"),
		"sizes": arr(3, 2, 4),
		"data":  u8([]byte("AAABBCCCC")),
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
		js.ValueOf(map[string]any{"names": arr("a.deflate"), "sizes": arr(3), "data": u8([]byte("AAAA"))}),     // sizes do not add up
		js.ValueOf(map[string]any{"names": arr("a.deflate"), "sizes": arr(-1), "data": u8(nil)}),               // negative size
		js.ValueOf(map[string]any{"names": arr("a.deflate"), "sizes": arr(3), "data": arr(65, 65, 65)}),        // not a Uint8Array
		js.ValueOf(map[string]any{"names": arr("a.deflate", "x"), "sizes": arr(3), "data": u8([]byte("AAA"))}), // lengths differ
	} {
		jobs := []veilfile.Inflation{{Name: "a.deflate", Dst: make([]byte, 3)}}
		if rest := takeInflated(jobs, bad); len(rest) != 1 || !bytes.Equal(jobs[0].Dst, make([]byte, 3)) {
			t.Errorf("%v: took %q", bad, jobs[0].Dst)
		}
	}
}
