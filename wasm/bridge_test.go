//go:build js && wasm

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/png"
	"maps"
	"strings"
	"syscall/js"
	"testing"

	"github.com/hack-pad/safejs"
	"github.com/veil-ml/veil/internal/qtest"
	"github.com/veil-ml/veil/pkg/veilfile"
	"github.com/veil-ml/veil/wasm/internal/fakemodel"
	"github.com/veil-ml/veil/wasm/internal/modelcache"
)

func init() { acceptFakeModels() }

// call invokes a bridge method and awaits its Promise.
func call(t *testing.T, b *bridge, method string, args ...any) (js.Value, error) {
	t.Helper()
	obj := b.object()
	v := obj.Call(method, args...)
	if v.Type() != js.TypeObject || v.Get("then").Type() != js.TypeFunction {
		return v, nil // a synchronous method
	}
	r, err := await(safe(v))
	return safejs.Unsafe(r), err
}

// rejectCode calls a method that must reject and returns the Error's code and message.
func rejectCode(t *testing.T, b *bridge, method string, args ...any) (string, string) {
	t.Helper()
	p := b.object().Call(method, args...)
	var code, msg string
	done := make(chan struct{})
	onErr := js.FuncOf(func(_ js.Value, a []js.Value) any {
		code, msg = a[0].Get("code").String(), a[0].Get("message").String()
		if a[0].Get("constructor").Get("name").String() != "Error" {
			t.Errorf("%s rejected with a %s, want an Error", method, a[0].Get("constructor").Get("name"))
		}
		close(done)
		return nil
	})
	defer onErr.Release()
	onOK := js.FuncOf(func(_ js.Value, a []js.Value) any {
		t.Errorf("%s resolved, want a rejection", method)
		close(done)
		return nil
	})
	defer onOK.Release()
	p.Call("then", onOK, onErr)
	<-done
	return code, msg
}

func u8(data []byte) js.Value {
	a := js.Global().Get("Uint8Array").New(len(data))
	js.CopyBytesToJS(a, data)
	return a
}

func obj(kv ...any) js.Value { return object(kv...) }

// redPNG is a 2x1 PNG: one red and one blue pixel.
var redPNG = func() []byte {
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	m.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	m.Set(1, 0, color.NRGBA{0, 0, 255, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		panic(err)
	}
	return buf.Bytes()
}()

func loadFake(t *testing.T, b *bridge) int {
	t.Helper()
	res, err := call(t, b, "load", u8(fakemodel.File(4, "tiny")), js.Undefined())
	if err != nil {
		t.Fatal(err)
	}
	return res.Get("id").Int()
}

func probsOf(v js.Value) map[string]float64 {
	m := map[string]float64{}
	for i := 0; i < v.Length(); i++ {
		m[v.Index(i).Get("className").String()] = v.Index(i).Get("probability").Float()
	}
	return m
}

func TestBridgeLoadBytes(t *testing.T) {
	b := newBridge()
	var progress [][2]int
	onProgress := js.FuncOf(func(_ js.Value, a []js.Value) any {
		progress = append(progress, [2]int{a[0].Int(), a[1].Int()})
		return nil
	})
	defer onProgress.Release()
	file := fakemodel.File(4, "tiny")
	res, err := call(t, b, "load", u8(file), obj("onProgress", onProgress, "returnBytes", true))
	if err != nil {
		t.Fatal(err)
	}
	info := res.Get("info")
	for _, c := range []struct {
		key  string
		want any
	}{
		{"name", "tiny"}, {"inputSize", 4}, {"hash", modelcache.Hash(file)}, {"size", len(file)},
		{"format", "fake"}, {"source", ""}, {"cached", false},
	} {
		if got := info.Get(c.key); !got.Equal(js.ValueOf(c.want)) {
			t.Errorf("info.%s = %v, want %v", c.key, got, c.want)
		}
	}
	if n := info.Get("classes").Length(); n != 5 {
		t.Errorf("%d classes", n)
	}
	if res.Get("bytes").Length() != len(file) {
		t.Errorf("returnBytes gave %v", res.Get("bytes"))
	}
	if len(progress) != 1 || progress[0] != [2]int{len(file), len(file)} {
		t.Errorf("progress %v", progress)
	}
	// ArrayBuffer sources work too.
	if _, err := call(t, b, "load", u8(file).Get("buffer"), js.Undefined()); err != nil {
		t.Errorf("ArrayBuffer: %v", err)
	}
}

func TestBridgeClassify(t *testing.T) {
	b := newBridge()
	id := loadFake(t, b)

	fromBytes, err := call(t, b, "classify", id, obj("bytes", u8(redPNG)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if fromBytes.Length() != 5 {
		t.Fatalf("topk 0 gave %d predictions, want all 5", fromBytes.Length())
	}
	for i := 1; i < 5; i++ {
		if fromBytes.Index(i).Get("probability").Float() > fromBytes.Index(i-1).Get("probability").Float() {
			t.Errorf("predictions not sorted: %v", probsOf(fromBytes))
		}
	}
	// The same pixels as RGBA (alpha ignored) give the same answer.
	rgba := []byte{255, 0, 0, 7, 0, 0, 255, 0}
	fromRGBA, err := call(t, b, "classify", id, obj("rgba", u8(rgba), "width", 2, "height", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	pb, pr := probsOf(fromBytes), probsOf(fromRGBA)
	for k, v := range pb {
		if pr[k] != v {
			t.Errorf("%s: bytes %v, rgba %v", k, v, pr[k])
		}
	}
	// Row buffers are reused (rgbaRows): a larger image between two
	// classifications of the same one changes nothing.
	if _, err := call(t, b, "classify", id, obj("rgba", u8(bytes.Repeat([]byte{0, 255, 9, 255}, 64)), "width", 8, "height", 8), 0); err != nil {
		t.Fatal(err)
	}
	again, err := call(t, b, "classify", id, obj("rgba", u8(rgba), "width", 2, "height", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if pa := probsOf(again); !maps.Equal(pa, pr) {
		t.Errorf("the same rgba after a larger one: %v, first %v", pa, pr)
	}
	top2, _ := call(t, b, "classify", id, obj("bytes", u8(redPNG)), 2)
	if top2.Length() != 2 || top2.Index(0).Get("className").String() != fromBytes.Index(0).Get("className").String() {
		t.Errorf("topk 2: %v", probsOf(top2))
	}
}

func TestBridgeErrors(t *testing.T) {
	b := newBridge()
	id := loadFake(t, b)
	tests := []struct {
		name, method string
		args         []any
		code, msg    string
	}{
		{"image bytes not an image", "classify", []any{id, obj("bytes", u8([]byte("hello"))), 5}, codeBadImage, "cannot read the image"},
		{"empty image", "classify", []any{id, obj("bytes", u8(nil)), 5}, codeBadImage, "empty"},
		{"bytes of the wrong type", "classify", []any{id, obj("bytes", "hello"), 5}, codeBadInput, "Uint8Array"},
		{"input not an object", "classify", []any{id, 42, 5}, codeBadInput, "bad input"},
		{"neither bytes nor rgba", "classify", []any{id, obj("x", 1), 5}, codeBadInput, "bytes, or rgba"},
		{"rgba too short", "classify", []any{id, obj("rgba", u8(make([]byte, 7)), "width", 2, "height", 1), 5}, codeBadInput, "needs 8 bytes, have 7"},
		{"rgba zero size", "classify", []any{id, obj("rgba", u8(nil), "width", 0, "height", 1), 5}, codeBadInput, "0x1"},
		{"rgba huge", "classify", []any{id, obj("rgba", u8(nil), "width", 100000, "height", 100000), 5}, codeBadImage, "over the limit"},
		{"unknown model", "classify", []any{999, obj("bytes", u8(redPNG)), 5}, codeDisposed, "veil: model has been disposed"},
		{"model id not a number", "classify", []any{"one", obj("bytes", u8(redPNG)), 5}, codeBadInput, "bad model id"},
		{"model not bytes", "load", []any{42, nil}, codeBadInput, "expected a URL or"},
		{"empty model", "load", []any{u8(nil), nil}, codeBadModel, "empty"},
		{"garbage model", "load", []any{u8([]byte("\x00\x01garbage")), nil}, codeBadModel, "not a usable .veil model file"},
		{"HTML model", "load", []any{u8([]byte("<!doctype html><p>Not found")), nil}, codeBadModel, "HTML"},
		{"TF.js model.json", "load", []any{u8([]byte(`{"modelTopology":{}}`)), nil}, codeBadModel, "tools/quantize"},
		{"fake model with size 0", "load", []any{u8(fakemodel.File(0, "")), nil}, codeBadModel, "bad fake model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := rejectCode(t, b, tt.method, tt.args...)
			if code != tt.code || !strings.HasPrefix(msg, "veil: ") || !strings.Contains(msg, tt.msg) {
				t.Errorf("rejected with %s %q, want %s containing %q", code, msg, tt.code, tt.msg)
			}
		})
	}
}

func TestBridgeDispose(t *testing.T) {
	b := newBridge()
	id := loadFake(t, b)
	// A call started before dispose finishes.
	p := b.object().Call("classify", id, obj("bytes", u8(redPNG)), 5)
	if v, _ := call(t, b, "dispose", id); !v.Bool() {
		t.Error("dispose returned false for a loaded model")
	}
	if _, err := await(safe(p)); err != nil {
		t.Errorf("call in flight at dispose: %v", err)
	}
	if v, _ := call(t, b, "dispose", id); v.Bool() {
		t.Error("second dispose returned true")
	}
	code, msg := rejectCode(t, b, "classify", id, obj("bytes", u8(redPNG)), 5)
	if code != codeDisposed || msg != "veil: model has been disposed" {
		t.Errorf("after dispose: %s %q", code, msg)
	}
}

func TestBridgeConcurrentClassify(t *testing.T) {
	b := newBridge()
	id := loadFake(t, b)
	const n = 100
	promises := make([]js.Value, n)
	for i := range promises {
		// Alternate two images so a mixed-up answer shows.
		px := []byte{byte(255 * (i % 2)), 0, byte(255 * (1 - i%2)), 255}
		promises[i] = b.object().Call("classify", id, obj("rgba", u8(px), "width", 1, "height", 1), 1)
	}
	all, err := await(safe(js.Global().Get("Promise").Call("all", js.ValueOf(toAny(promises)))))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		got := safejs.Unsafe(all).Index(i).Index(0).Get("className").String()
		// fakemodel: red ties Drawing (r) with Sexy (1-b), blue ties
		// Neutral (b) with Porn (1-r); ties keep class order.
		want := "Drawing"
		if i%2 == 0 {
			want = "Neutral"
		}
		if got != want {
			t.Fatalf("call %d: top class %s, want %s", i, got, want)
		}
	}
}

func toAny(v []js.Value) []any {
	out := make([]any, len(v))
	for i := range v {
		out[i] = v[i]
	}
	return out
}

func TestPromiseRecoversPanics(t *testing.T) {
	p := newPromise(func() (any, error) { panic("boom") })
	_, err := await(safe(p))
	if err == nil || !strings.Contains(err.Error(), "internal error: boom") {
		t.Fatalf("got %v, want the panic as a rejection", err)
	}
	p = newPromise(func() (any, error) { return nil, errors.New("plain") })
	if _, err := await(safe(p)); err == nil || err.Error() != "plain" {
		t.Fatalf("got %v", err)
	}
	// A panic in a method's synchronous part rejects too. (Quiet the stack
	// it prints for bug reports.)
	console := js.Global().Get("console")
	orig := console.Get("error")
	quiet := js.FuncOf(func(js.Value, []js.Value) any { return nil })
	console.Set("error", quiet)
	defer func() { console.Set("error", orig); quiet.Release() }()
	b := newBridge()
	b.models[1] = &loadedModel{modelFile: &modelFile{}} // nil classifier: classify will panic
	code, msg := rejectCode(t, b, "classify", 1, obj("rgba", u8(make([]byte, 4)), "width", 1, "height", 1), 5)
	if code != codeInternal || !strings.Contains(msg, "internal error") {
		t.Errorf("got %s %q", code, msg)
	}
}

func TestBridgeExitReleases(t *testing.T) {
	b := newBridge()
	o := b.object()
	if len(b.funcs) == 0 {
		t.Fatal("no funcs")
	}
	o.Call("exit")
	if b.funcs != nil {
		t.Error("funcs not released")
	}
	select {
	case <-b.done:
	default:
		t.Error("done not closed")
	}
}

// fileSource is a stand-in for what veil.js's openNodeFile returns in Node:
// readInto copies at most short bytes of data per call, or, from byte
// failAt on, returns 0 (the file shrank) or throws.
func fileSource(data []byte, size, short, failAt int, throw bool) (js.Value, func()) {
	read := js.FuncOf(func(_ js.Value, a []js.Value) any {
		chunk, pos := a[0], a[1].Int()
		if pos >= failAt {
			return 0
		}
		n := min(short, chunk.Length(), len(data)-pos)
		js.CopyBytesToJS(chunk, data[pos:pos+n])
		return n
	})
	readInto := read.Value
	if throw { // a Go callback cannot throw: a JavaScript wrapper does
		readInto = js.Global().Get("Function").New("f", "failAt",
			"return (c, p) => { if (p >= failAt) throw new Error('EIO: i/o error'); return f(c, p); }").Invoke(read, failAt)
	}
	return obj("path", "/models/m.veil", "size", size, "readInto", readInto), read.Release
}

func TestBridgeLoadFile(t *testing.T) {
	b := newBridge()
	file := fakemodel.File(4, "tiny")
	src, release := fileSource(file, len(file), 3, len(file), false)
	defer release()
	res, err := call(t, b, "load", src, js.Undefined())
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Get("info").Get("size").Int(); got != len(file) {
		t.Errorf("loaded %d bytes read 3 at a time, want %d", got, len(file))
	}

	for _, c := range []struct {
		name       string
		size, fail int
		throw      bool
		msg        string
	}{
		{"file shrank", len(file), 5, false, "read 0 bytes at byte 6 of"},
		{"read throws", len(file), 5, true, "at byte 6"},
		{"too large", 1 << 30, 0, false, "too large for a model file"},
	} {
		src, release := fileSource(file, c.size, 3, c.fail, c.throw)
		code, msg := rejectCode(t, b, "load", src, js.Undefined())
		release()
		if code != codeFetch || !strings.Contains(msg, "cannot read the model file /models/m.veil") || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %s %q, want %s with %q", c.name, code, msg, codeFetch, c.msg)
		}
	}
}

// tinyVeil is a real .veil file of a 12×12 test network.
func tinyVeil(t *testing.T) []byte {
	t.Helper()
	file, err := veilfile.Encode(qtest.TinyQNet(1, 12), &veilfile.Meta{Source: "test"}, veilfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return file
}

// TestBridgeLoadVeilFileStreamed loads a real .veil file from a Node-style
// file, which the bridge streams (openVeilStream): it must answer as the
// same bytes loaded whole, with the same info, and fail with the file's
// name on a read error in the tensors and as a bad model on a corrupted one.
func TestBridgeLoadVeilFileStreamed(t *testing.T) {
	b := newBridge()
	file := tinyVeil(t)
	classify := func(res js.Value) string {
		out, err := call(t, b, "classify", res.Get("id"), obj("rgba", u8(bytes.Repeat([]byte{200, 30, 90, 255}, 144)), "width", 12, "height", 12), 0)
		if err != nil {
			t.Fatal(err)
		}
		return js.Global().Get("JSON").Call("stringify", out).String()
	}
	whole, err := call(t, b, "load", u8(file), js.Undefined())
	if err != nil {
		t.Fatal(err)
	}
	src, release := fileSource(file, len(file), 7, len(file), false)
	streamed, err := call(t, b, "load", src, js.Undefined())
	release()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(file)
	for _, k := range []string{"hash", "size", "name", "format"} {
		if got, want := streamed.Get("info").Get(k).String(), whole.Get("info").Get(k).String(); got != want {
			t.Errorf("info.%s: streamed %s, whole %s", k, got, want)
		}
	}
	if got := streamed.Get("info").Get("hash").String(); got != hex.EncodeToString(sum[:]) {
		t.Errorf("info.hash %s, want the file's SHA-256", got)
	}
	if a, b := classify(streamed), classify(whole); a != b {
		t.Errorf("streamed model answers %s, whole %s", a, b)
	}

	at := len(file) - 10 // in the tensors, past the header
	for _, c := range []struct {
		name  string
		throw bool
		msg   string
	}{
		{"file shrank", false, "did the file change?"},
		{"read throws", true, "EIO"},
	} {
		src, release := fileSource(file, len(file), 7, at, c.throw)
		code, msg := rejectCode(t, b, "load", src, js.Undefined())
		release()
		if code != codeFetch || !strings.Contains(msg, "cannot read the model file /models/m.veil") || !strings.Contains(msg, c.msg) {
			t.Errorf("%s: %s %q, want %s with %q", c.name, code, msg, codeFetch, c.msg)
		}
	}
	bad := bytes.Clone(file)
	bad[at] ^= 1
	src, release = fileSource(bad, len(bad), 4096, len(bad), false)
	code, msg := rejectCode(t, b, "load", src, js.Undefined())
	release()
	if code != codeBadModel || !strings.Contains(msg, "checksum mismatch") {
		t.Errorf("corrupted file: %s %q, want %s with a checksum mismatch", code, msg, codeBadModel)
	}
}

// TestBridgeClassifyRGBASnapshot checks that classify reads the pixels
// during the call: changing them once it returns, before its Promise
// settles, does not change the answer. The image is larger than the model
// input, read row by row (rgbaRows).
func TestBridgeClassifyRGBASnapshot(t *testing.T) {
	b := newBridge()
	file := tinyVeil(t)
	res, err := call(t, b, "load", u8(file), js.Undefined())
	if err != nil {
		t.Fatal(err)
	}
	id := res.Get("id")
	pix := make([]byte, 37*29*4)
	for i := range pix {
		pix[i] = byte(i*31 + i/97)
	}
	want, err := call(t, b, "classify", id, obj("rgba", u8(pix), "width", 37, "height", 29), 0)
	if err != nil {
		t.Fatal(err)
	}
	rgba := u8(pix)
	p := b.object().Call("classify", id, obj("rgba", rgba, "width", 37, "height", 29), 0)
	js.CopyBytesToJS(rgba, make([]byte, len(pix))) // the caller reuses its buffer
	got, err := await(safe(p))
	if err != nil {
		t.Fatal(err)
	}
	if g, w := probsOf(safejs.Unsafe(got)), probsOf(want); !maps.Equal(g, w) {
		t.Errorf("pixels changed after classify returned: %v, want %v", g, w)
	}
	// The test can fail: the changed pixels give another answer.
	zeros, err := call(t, b, "classify", id, obj("rgba", rgba, "width", 37, "height", 29), 0)
	if err != nil {
		t.Fatal(err)
	}
	if maps.Equal(probsOf(zeros), probsOf(want)) {
		t.Error("a black image and the test image give the same answer")
	}
}
