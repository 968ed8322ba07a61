package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newTestTree lays out base/web, base/models and a secret beside them that
// no request may reach. It returns base.
func newTestTree(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	files := map[string]string{
		"web/index.html":           "<!doctype html><title>veil</title>",
		"web/app.js":               "export {};",
		"web/style.css":            "body{}",
		"web/veil.wasm":            "\x00asm\x01\x00\x00\x00",
		"web/sw.js":                "self.addEventListener('fetch', () => {});",
		"web/icon.svg":             "<svg xmlns='http://www.w3.org/2000/svg'/>",
		"web/manifest.webmanifest": "{}",
		"web/sub/page.html":        "<p>sub</p>",
		"web/notes.xyz":            "unknown type",
		"web/.hidden.js":           "secret",
		"web/stray.veil":           "not under /models/",
		"models/mobilenet_v2.veil": "VEIL model bytes",
		"models/README.txt":        "not a model",
		"models/sub/nested.veil":   "nested model",
		"models/tfjs/model.json":   "{}",
		"secret.js":                "outside the served tree",
		"secret.veil":              "outside the models tree",
	}
	for name, data := range files {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"web/escape.js":          "../secret.js",
		"web/inside.js":          "app.js",
		"models/escape.veil":     "../secret.veil",
		"models/web/index.veil":  "../../web/index.html",
		"web/dirlink.html":       "sub",
		"models/linkedsub.veil":  "sub",
		"web/abs.js":             filepath.Join(base, "secret.js"),
		"models/mobilenet.veil":  "mobilenet_v2.veil",
		"models/outside/ok.veil": "../mobilenet_v2.veil",
	}
	for name, target := range links {
		p := filepath.Join(base, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Skipf("symlinks unavailable: %v", err)
		}
	}
	return base
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	base := newTestTree(t)
	h, err := NewHandler(filepath.Join(base, "web"), filepath.Join(base, "models"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do sends a request whose path is used verbatim (no cleaning), as a raw
// HTTP client could send it.
func do(h http.Handler, method, rawPath string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://veil.test/", nil)
	req.URL.Path = rawPath
	req.URL.RawPath = ""
	req.RequestURI = rawPath
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestServeFiles(t *testing.T) {
	h := newTestHandler(t)
	cases := []struct {
		path        string
		status      int
		contentType string
		body        string
	}{
		{"/", 200, "text/html; charset=utf-8", "<!doctype html><title>veil</title>"},
		{"/index.html", 200, "text/html; charset=utf-8", "<!doctype html><title>veil</title>"},
		{"/app.js", 200, "text/javascript; charset=utf-8", "export {};"},
		{"/style.css", 200, "text/css; charset=utf-8", "body{}"},
		{"/veil.wasm", 200, "application/wasm", "\x00asm\x01\x00\x00\x00"},
		{"/sw.js", 200, "text/javascript; charset=utf-8", ""},
		{"/icon.svg", 200, "image/svg+xml", ""},
		{"/manifest.webmanifest", 200, "application/manifest+json", "{}"},
		{"/sub/page.html", 200, "text/html; charset=utf-8", "<p>sub</p>"},
		{"/inside.js", 200, "text/javascript; charset=utf-8", "export {};"}, // symlink within the tree
		{"/models/mobilenet_v2.veil", 200, "application/octet-stream", "VEIL model bytes"},
		{"/models/mobilenet.veil", 200, "application/octet-stream", "VEIL model bytes"},

		{"/missing.js", 404, "", ""},
		{"/sub/", 404, "", ""},              // no directory listings
		{"/sub", 404, "", ""},               // no extension, not served
		{"/dirlink.html", 404, "", ""},      // a directory behind a file name
		{"/notes.xyz", 404, "", ""},         // unknown type
		{"/.hidden.js", 404, "", ""},        // hidden file
		{"/stray.veil", 404, "", ""},        // .veil only under /models/
		{"/models/", 404, "", ""},           // no listing of models
		{"/models/README.txt", 404, "", ""}, // only .veil under /models/
		{"/models/sub/nested.veil", 404, "", ""},
		{"/models/tfjs/model.json", 404, "", ""},
		{"/models/missing.veil", 404, "", ""},
		{"/models/linkedsub.veil", 404, "", ""},
		{"/models/outside/ok.veil", 404, "", ""},
		{"/models/.veil", 404, "", ""},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			w := do(h, "GET", c.path, nil)
			if w.Code != c.status {
				t.Fatalf("GET %s: status %d, want %d (body %q)", c.path, w.Code, c.status, w.Body.String())
			}
			if c.status != 200 {
				return
			}
			if got := w.Header().Get("Content-Type"); got != c.contentType {
				t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.contentType)
			}
			if c.body != "" && w.Body.String() != c.body {
				t.Errorf("GET %s: body %q, want %q", c.path, w.Body.String(), c.body)
			}
		})
	}
}

func TestPathTraversalRefused(t *testing.T) {
	h := newTestHandler(t)
	paths := []string{
		"/../secret.js",
		"/./app.js",
		"//secret.js",
		"/sub/../../secret.js",
		"/sub/../app.js",
		"/..%2fsecret.js", // a client that does not decode
		"/..\\secret.js",
		"/sub\\..\\..\\secret.js",
		"/app.js\x00.html",
		"/escape.js", // symlink out of the page directory
		"/abs.js",    // absolute symlink
		"/models/../secret.veil",
		"/models/../../secret.veil",
		"/models/..%2f..%2fsecret.veil",
		"/models/escape.veil",    // symlink out of the models directory
		"/models/web/index.veil", // symlink into the page directory
		"/models/../web/index.html",
		"/models//mobilenet_v2.veil",
		"secret.js", // not absolute
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			for _, method := range []string{"GET", "HEAD"} {
				w := do(h, method, p, nil)
				if w.Code != http.StatusNotFound {
					t.Errorf("%s %q: status %d, want 404", method, p, w.Code)
				}
				if strings.Contains(w.Body.String(), "outside") {
					t.Errorf("%s %q: leaked %q", method, p, w.Body.String())
				}
			}
		})
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{"/", "/veil.wasm", "/models/mobilenet_v2.veil", "/missing.js", "/../secret.js"} {
		for _, method := range []string{"GET", "POST"} {
			w := do(h, method, p, nil)
			for k, v := range securityHeaders {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s %s (status %d): %s = %q, want %q", method, p, w.Code, k, got, v)
				}
			}
		}
	}
}

// TestCSPAllowsOnlySelf parses the policy: no directive may name a host or
// scheme that reaches another origin, and connections go to 'self' only.
func TestCSPAllowsOnlySelf(t *testing.T) {
	allowed := map[string]bool{"'self'": true, "'none'": true, "'wasm-unsafe-eval'": true, "blob:": true}
	directives := map[string][]string{}
	for _, d := range strings.Split(contentSecurityPolicy, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		directives[fields[0]] = fields[1:]
		for _, src := range fields[1:] {
			if !allowed[src] {
				t.Errorf("directive %s allows %q", fields[0], src)
			}
		}
	}
	want := map[string]string{
		"default-src":     "'none'",
		"connect-src":     "'self'",
		"script-src":      "'self' 'wasm-unsafe-eval'",
		"frame-ancestors": "'none'",
		"form-action":     "'none'",
		"base-uri":        "'none'",
	}
	for d, v := range want {
		if got := strings.Join(directives[d], " "); got != v {
			t.Errorf("%s = %q, want %q", d, got, v)
		}
	}
	// blob: is only for showing the user's own images.
	for d, srcs := range directives {
		for _, s := range srcs {
			if s == "blob:" && d != "img-src" {
				t.Errorf("blob: allowed in %s", d)
			}
		}
	}
}

func TestMethods(t *testing.T) {
	h := newTestHandler(t)
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		w := do(h, method, "/", nil)
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /: status %d, want 405", method, w.Code)
		}
		if got := w.Header().Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s /: Allow %q", method, got)
		}
	}
	w := do(h, "HEAD", "/models/mobilenet_v2.veil", nil)
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD model: status %d, %d body bytes", w.Code, w.Body.Len())
	}
	if got := w.Header().Get("Content-Length"); got != "16" {
		t.Errorf("HEAD model: Content-Length %q, want 16", got)
	}
}

func TestCaching(t *testing.T) {
	h := newTestHandler(t)
	w := do(h, "GET", "/veil.wasm", nil)
	if got := w.Header().Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", got)
	}
	etag := w.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	w = do(h, "GET", "/veil.wasm", http.Header{"If-None-Match": {etag}})
	if w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", w.Code)
	}
	w = do(h, "GET", "/veil.wasm", http.Header{"If-None-Match": {`"other"`}})
	if w.Code != 200 {
		t.Errorf("stale If-None-Match: status %d, want 200", w.Code)
	}
	// Range requests let a model download resume.
	w = do(h, "GET", "/models/mobilenet_v2.veil", http.Header{"Range": {"bytes=5-9"}})
	if w.Code != http.StatusPartialContent || w.Body.String() != "model" {
		t.Errorf("Range: status %d body %q", w.Code, w.Body.String())
	}
}

func TestModelDigest(t *testing.T) {
	base := newTestTree(t)
	h, err := NewHandler(filepath.Join(base, "web"), filepath.Join(base, "models"))
	if err != nil {
		t.Fatal(err)
	}
	want := func(data string) string {
		sum := sha256.Sum256([]byte(data))
		return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	}
	for _, method := range []string{"GET", "HEAD"} {
		w := do(h, method, "/models/mobilenet_v2.veil", nil)
		if got := w.Header().Get("Repr-Digest"); got != want("VEIL model bytes") {
			t.Errorf("%s: Repr-Digest %q, want %q", method, got, want("VEIL model bytes"))
		}
	}
	// Hashing must not consume the body.
	if w := do(h, "GET", "/models/mobilenet_v2.veil", nil); w.Body.String() != "VEIL model bytes" {
		t.Errorf("body after hashing: %q", w.Body.String())
	}
	// A rebuilt model gets a new digest.
	p := filepath.Join(base, "models", "mobilenet_v2.veil")
	if err := os.WriteFile(p, []byte("rebuilt model"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if got := do(h, "GET", "/models/mobilenet_v2.veil", nil).Header().Get("Repr-Digest"); got != want("rebuilt model") {
		t.Errorf("after rebuild: Repr-Digest %q, want %q", got, want("rebuilt model"))
	}
	// Only models have one.
	if got := do(h, "GET", "/app.js", nil).Header().Get("Repr-Digest"); got != "" {
		t.Errorf("/app.js: Repr-Digest %q", got)
	}
}

func TestModelsDirectoryMayAppearLater(t *testing.T) {
	base := t.TempDir()
	web := filepath.Join(base, "web")
	models := filepath.Join(base, "models")
	if err := os.MkdirAll(web, 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(web, models)
	if err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "/models/m.veil", nil); w.Code != 404 {
		t.Fatalf("before: status %d, want 404", w.Code)
	}
	if err := os.MkdirAll(models, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "m.veil"), []byte("m"), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := do(h, "GET", "/models/m.veil", nil); w.Code != 200 {
		t.Fatalf("after: status %d, want 200", w.Code)
	}
}

func TestNewHandlerErrors(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(base, "missing"), file} {
		if _, err := NewHandler(dir, base); err == nil {
			t.Errorf("NewHandler(%q): no error", dir)
		}
	}
}

func TestRunUsage(t *testing.T) {
	cases := []struct {
		args   []string
		status int
	}{
		{[]string{"-h"}, 0},
		{[]string{"-nope"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"-dir", filepath.Join(t.TempDir(), "missing")}, 1},
		{[]string{"-dir", t.TempDir(), "-addr", "256.0.0.1:0"}, 1},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		if got := run(c.args, &stdout, &stderr); got != c.status {
			t.Errorf("run(%q) = %d, want %d; stderr: %s", c.args, got, c.status, stderr.String())
		}
	}
}

// TestServeOverHTTP runs the real server on a free port, as the e2e test
// and `make run` do.
func TestServeOverHTTP(t *testing.T) {
	h := newTestHandler(t)
	srv := httptest.NewServer(logRequests(h, io.Discard))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/veil.wasm")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The client cleans "/../" itself; the raw request must still be refused.
	req, err := http.NewRequest("GET", srv.URL+"/..%2fsecret.js", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 404 {
		t.Errorf("/..%%2fsecret.js: status %d, want 404", resp2.StatusCode)
	}
}

func TestGzip(t *testing.T) {
	h := newTestHandler(t)
	gz := http.Header{"Accept-Encoding": {"gzip, deflate, br"}}
	w := do(h, "GET", "/veil.wasm", gz)
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Fatalf("status %d, Content-Encoding %q, Vary %q", w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := io.ReadAll(zr); err != nil || string(body) != "\x00asm\x01\x00\x00\x00" {
		t.Errorf("gunzipped %q, %v", body, err)
	}
	// The two representations have their own ETags, and each revalidates.
	etag := w.Header().Get("ETag")
	plain := do(h, "GET", "/veil.wasm", nil)
	if plain.Header().Get("Content-Encoding") != "" || plain.Body.String() != "\x00asm\x01\x00\x00\x00" || plain.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("without Accept-Encoding: Content-Encoding %q, body %q", plain.Header().Get("Content-Encoding"), plain.Body.String())
	}
	if etag == "" || etag == plain.Header().Get("ETag") {
		t.Errorf("ETags %q (gzip) and %q (identity)", etag, plain.Header().Get("ETag"))
	}
	if w := do(h, "GET", "/veil.wasm", http.Header{"Accept-Encoding": {"gzip"}, "If-None-Match": {etag}}); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match on the gzip: status %d, want 304", w.Code)
	}
	// A changed file is compressed again.
	p := filepath.Join(h.dir, "veil.wasm")
	if err := os.WriteFile(p, []byte("\x00asm\x01\x00\x00\x00 v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, time.Now().Add(time.Hour), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	zr, err = gzip.NewReader(do(h, "GET", "/veil.wasm", gz).Body)
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := io.ReadAll(zr); string(body) != "\x00asm\x01\x00\x00\x00 v2" {
		t.Errorf("after a change: %q", body)
	}
	// Models are deflated already; images are compressed.
	for _, path := range []string{"/models/mobilenet_v2.veil"} {
		if w := do(h, "GET", path, gz); w.Header().Get("Content-Encoding") != "" || w.Header().Get("Vary") != "" {
			t.Errorf("%s: Content-Encoding %q, Vary %q", path, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"))
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                     false,
		"gzip":                 true,
		"GZIP":                 true,
		"deflate, gzip;q=0.5":  true,
		"br, gzip ; q=1.0":     true,
		"gzip;q=0":             false,
		"gzip;q=0.000":         false,
		"*":                    true,
		"*;q=0":                false,
		"gzip;q=0, *":          false,
		"identity":             false,
		"br":                   false,
		"gzip;q=bad":           false,
		"x-gzip":               true,
		"deflate;q=1, *;q=0.1": true,
		"compress, gzipx, gzi": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
