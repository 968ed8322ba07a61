//go:build js && wasm

package main

import (
	"errors"
	"strings"
	"syscall/js"
	"testing"

	"github.com/veil-ml/veil/wasm/internal/fakemodel"
	"github.com/veil-ml/veil/wasm/internal/modelcache"
)

// fakeServer replaces globalThis.fetch with one that serves files from a map
// (404 otherwise) and counts requests.
type fakeServer struct {
	files    map[string][]byte
	requests int
	fetch    js.Func
	orig     js.Value
}

func newFakeServer(t *testing.T, files map[string][]byte) *fakeServer {
	s := &fakeServer{files: files, orig: js.Global().Get("fetch")}
	s.fetch = js.FuncOf(func(_ js.Value, args []js.Value) any {
		s.requests++
		url := args[0].String()
		data, ok := s.files[url]
		if !ok {
			return js.Global().Get("Promise").Call("resolve",
				js.Global().Get("Response").New("not found", obj("status", 404, "statusText", "Not Found")))
		}
		res := js.Global().Get("Response").New(u8(data), obj("headers", obj("content-length", len(data))))
		return js.Global().Get("Promise").Call("resolve", res)
	})
	js.Global().Set("fetch", s.fetch)
	t.Cleanup(func() {
		js.Global().Set("fetch", s.orig)
		s.fetch.Release()
	})
	return s
}

const modelURL = "https://veil.test/models/tiny.veil"

type loadResult struct {
	info     js.Value
	err      error
	progress [][2]int
	warnings []string
}

func loadURL(t *testing.T, b *bridge, url string, opts ...any) loadResult {
	t.Helper()
	var r loadResult
	onProgress := js.FuncOf(func(_ js.Value, a []js.Value) any {
		r.progress = append(r.progress, [2]int{a[0].Int(), a[1].Int()})
		return nil
	})
	defer onProgress.Release()
	onWarning := js.FuncOf(func(_ js.Value, a []js.Value) any {
		r.warnings = append(r.warnings, a[0].String())
		return nil
	})
	defer onWarning.Release()
	o := obj(append([]any{"onProgress", onProgress, "onWarning", onWarning}, opts...)...)
	v, err := call(t, b, "load", url, o)
	r.err = err
	if err == nil {
		r.info = v.Get("info")
		// Write the download to the cache, as veil.js does later on.
		if store := v.Get("store"); store.Type() == js.TypeFunction {
			if _, err := await(safe(store.Invoke())); err != nil {
				t.Errorf("store: %v", err)
			}
		}
	}
	return r
}

// TestBridgeLoadStoresWhenAsked checks that a download is written to the
// cache only once the caller starts the write (load's store), so that the
// write does not hold back the load's result, and that the write is then
// done when its Promise settles.
func TestBridgeLoadStoresWhenAsked(t *testing.T) {
	file := fakemodel.File(4, "later")
	newFakeServer(t, map[string][]byte{modelURL: file})
	mem := &modelcache.MemStore{}
	b := newBridge()
	b.cache.Store = mem
	v, err := call(t, b, "load", modelURL, obj())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := mem.Entry(modelURL); ok {
		t.Fatal("the download was written before store was called")
	}
	store := v.Get("store")
	if store.Type() != js.TypeFunction {
		t.Fatalf("load's result has store %v, want a function", store.Type())
	}
	if _, err := await(safe(store.Invoke())); err != nil {
		t.Fatal(err)
	}
	if e, ok := mem.Entry(modelURL); !ok || string(e.Data) != string(file) {
		t.Fatal("store's Promise settled without the download in the cache")
	}
	// A load from the cache has nothing to write.
	if v, err := call(t, b, "load", modelURL, obj()); err != nil || v.Get("store").Type() != js.TypeUndefined {
		t.Fatalf("second load: %v, store %v", err, v.Get("store").Type())
	}
}

func TestBridgeLoadURLCache(t *testing.T) {
	file := fakemodel.File(4, "cached")
	srv := newFakeServer(t, map[string][]byte{modelURL: file})
	store := &modelcache.MemStore{}
	b := newBridge()
	b.cache.Store = store

	first := loadURL(t, b, modelURL)
	if first.err != nil {
		t.Fatal(first.err)
	}
	if srv.requests != 1 || first.info.Get("cached").Bool() || first.info.Get("source").String() != modelURL {
		t.Errorf("first load: %d requests, info %v", srv.requests, first.info)
	}
	if n := len(first.progress); n == 0 || first.progress[n-1] != [2]int{len(file), len(file)} {
		t.Errorf("progress %v, want it to end at %d of %d", first.progress, len(file), len(file))
	}

	second := loadURL(t, b, modelURL)
	if second.err != nil || srv.requests != 1 || !second.info.Get("cached").Bool() {
		t.Fatalf("second load: %v, %d requests, cached=%v; want no request", second.err, srv.requests, second.info.Get("cached"))
	}
	if second.info.Get("hash").String() != modelcache.Hash(file) {
		t.Errorf("hash %v", second.info.Get("hash"))
	}

	// A corrupted entry is dropped and fetched again.
	e, _ := store.Entry(modelURL)
	e.Data = append([]byte(nil), e.Data...)
	e.Data[len(e.Data)-1] ^= 1
	store.Set(modelURL, e)
	third := loadURL(t, b, modelURL)
	if third.err != nil || srv.requests != 2 || third.info.Get("cached").Bool() {
		t.Fatalf("after corruption: %v, %d requests", third.err, srv.requests)
	}
	if len(third.warnings) != 1 || !strings.Contains(third.warnings[0], "corrupt entry") {
		t.Errorf("warnings %q", third.warnings)
	}
	if e, _ := store.Entry(modelURL); string(e.Data) != string(file) {
		t.Error("the entry was not replaced by the good file")
	}

	// cache: false always fetches.
	if r := loadURL(t, b, modelURL, "cache", false); r.err != nil || srv.requests != 3 || r.info.Get("cached").Bool() {
		t.Errorf("cache:false: %v, %d requests", r.err, srv.requests)
	}

	// A stale entry (the expected hash changed) is dropped.
	newer := fakemodel.File(4, "newer")
	srv.files[modelURL] = newer
	if r := loadURL(t, b, modelURL, "hash", modelcache.Hash(newer)); r.err != nil || r.info.Get("name").String() != "newer" {
		t.Errorf("stale: %v, info %v", r.err, r.info)
	}
}

func TestBridgeLoadURLDegrades(t *testing.T) {
	file := fakemodel.File(4, "x")
	srv := newFakeServer(t, map[string][]byte{modelURL: file})
	b := newBridge()
	b.cache.Store = &modelcache.MemStore{PutErr: errors.New("QuotaExceededError: quota exceeded")}
	for i := 0; i < 2; i++ {
		r := loadURL(t, b, modelURL)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.warnings) != 1 || !strings.Contains(r.warnings[0], "QuotaExceededError") {
			t.Errorf("load %d: warnings %q", i, r.warnings)
		}
	}
	if srv.requests != 2 {
		t.Errorf("%d requests, want 2 (nothing cached)", srv.requests)
	}
}

func TestBridgeLoadURLErrors(t *testing.T) {
	newFakeServer(t, map[string][]byte{
		modelURL:                            fakemodel.File(4, "x"),
		"https://veil.test/page.html":       []byte("<!doctype html><title>hi</title>"),
		"https://veil.test/models/bad.veil": []byte("\x00not a model"),
	})
	tests := []struct {
		name, url string
		opts      []any
		code, msg string
	}{
		{"404", "https://veil.test/missing.veil", nil, codeFetch, "HTTP 404 Not Found"},
		{"HTML page", "https://veil.test/page.html", nil, codeBadModel, "HTML"},
		{"not a model", "https://veil.test/models/bad.veil", nil, codeBadModel, "not a usable .veil model file"},
		{"hash mismatch", modelURL, []any{"hash", strings.Repeat("ab", 32)}, codeBadModel, "hash mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &modelcache.MemStore{}
			b := newBridge()
			b.cache.Store = store
			code, msg := rejectCode(t, b, "load", tt.url, obj(tt.opts...))
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("got %s %q, want %s containing %q", code, msg, tt.code, tt.msg)
			}
			if store.Puts != 0 {
				t.Error("a failed load was stored")
			}
		})
	}
	t.Run("network error", func(t *testing.T) {
		fail := js.FuncOf(func(js.Value, []js.Value) any {
			return js.Global().Get("Promise").Call("reject", js.Global().Get("TypeError").New("Failed to fetch"))
		})
		defer fail.Release()
		orig := js.Global().Get("fetch")
		js.Global().Set("fetch", fail)
		defer js.Global().Set("fetch", orig)
		code, msg := rejectCode(t, newBridge(), "load", modelURL, js.Undefined())
		if code != codeFetch || !strings.Contains(msg, "network error: Failed to fetch") {
			t.Errorf("got %s %q", code, msg)
		}
	})
}

func TestBridgeClearCache(t *testing.T) {
	newFakeServer(t, map[string][]byte{modelURL: fakemodel.File(4, "x")})
	store := &modelcache.MemStore{}
	b := newBridge()
	b.cache.Store = store
	loadURL(t, b, modelURL)
	if _, err := call(t, b, "clearCache", modelURL); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Entry(modelURL); ok {
		t.Error("clearCache(url) left the entry")
	}
	loadURL(t, b, modelURL)
	if _, err := call(t, b, "clearCache"); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Entry(modelURL); ok {
		t.Error("clearCache() left the entry")
	}
}
