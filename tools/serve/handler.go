package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// contentSecurityPolicy lets the page run its own scripts and WebAssembly,
// show the user's images from blob: URLs, and connect to its own origin only.
// There is no inline script or style, and nothing may frame the page.
const contentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; " +
	"img-src 'self' blob:; " +
	"connect-src 'self'; " +
	"worker-src 'self'; " +
	"manifest-src 'self'; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'none'"

// securityHeaders go on every response, errors included.
var securityHeaders = map[string]string{
	"Content-Security-Policy":      contentSecurityPolicy,
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Embedder-Policy": "require-corp",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}

// contentTypes are the only file types served from the page directory; the
// table does not depend on the machine's /etc/mime.types.
var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".webmanifest": "application/manifest+json",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".ico":         "image/x-icon",
	".woff2":       "font/woff2",
	".txt":         "text/plain; charset=utf-8",
}

// compressible are the page's types worth gzip: text, and WebAssembly
// (veil.wasm's 5.1 MB are 1.4 MB gzipped; on the bench VM Chromium fetches
// from this machine at 55-130 ms per MB). Model files are deflated already
// and images compressed.
var compressible = map[string]bool{
	".html": true, ".js": true, ".mjs": true, ".css": true, ".json": true,
	".webmanifest": true, ".wasm": true, ".svg": true, ".txt": true,
}

// veilContentType is the type of model files under /models/.
const veilContentType = "application/octet-stream"

// Handler serves the page directory at "/" and the model directory's
// NAME.veil files at "/models/NAME.veil".
type Handler struct {
	dir    string // the page: index.html, app.js, veil.wasm, ...
	models string // NAME.veil files; may not exist yet

	digests fileMemo[[sha256.Size]byte] // model file name -> its SHA-256
	gzipped fileMemo[[]byte]            // page file name -> its gzip
}

// fileMemo keeps a value computed from a file, by name, while the file's
// size and modification time stay.
type fileMemo[T any] struct {
	mu sync.Mutex
	m  map[string]memo[T]
}

type memo[T any] struct {
	size    int64
	modTime time.Time
	v       T
}

// get returns the value kept for name if st still matches, else compute's.
func (c *fileMemo[T]) get(name string, st fs.FileInfo, compute func() (T, error)) (T, error) {
	c.mu.Lock()
	e, ok := c.m[name]
	c.mu.Unlock()
	if ok && e.size == st.Size() && e.modTime.Equal(st.ModTime()) {
		return e.v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]memo[T]{}
	}
	c.m[name] = memo[T]{size: st.Size(), modTime: st.ModTime(), v: v}
	c.mu.Unlock()
	return v, nil
}

// NewHandler returns a Handler for the page in dir and the models in models.
// dir must be an existing directory; models may appear later.
func NewHandler(dir, models string) (*Handler, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("page directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("page directory %s: not a directory", dir)
	}
	return &Handler{dir: dir, models: models}, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rootDir, name, contentType, ok := h.resolve(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.serveFile(w, r, rootDir, name, contentType)
}

// resolve maps a URL path to a directory, a slash-separated name inside it
// and the content type to send, or reports false for anything not served.
func (h *Handler) resolve(urlPath string) (dir, name, contentType string, ok bool) {
	if urlPath == "/" {
		return h.dir, "index.html", contentTypes[".html"], true
	}
	if !strings.HasPrefix(urlPath, "/") || strings.ContainsAny(urlPath, "\\\x00") {
		return "", "", "", false
	}
	rel := urlPath[1:]
	for _, seg := range strings.Split(rel, "/") {
		// Empty, ".", ".." and hidden names: nothing legitimate looks like this.
		if seg == "" || strings.HasPrefix(seg, ".") {
			return "", "", "", false
		}
	}
	if model, isModel := strings.CutPrefix(rel, "models/"); isModel {
		if strings.Contains(model, "/") || path.Ext(model) != ".veil" {
			return "", "", "", false
		}
		return h.models, model, veilContentType, true
	}
	ct, known := contentTypes[path.Ext(rel)]
	if !known {
		return "", "", "", false
	}
	return h.dir, rel, ct, true
}

// serveFile opens name inside dir through os.Root, which refuses any path
// (symlinks included) that would leave dir.
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, dir, name, contentType string) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		h.fileError(w, r, err)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		h.fileError(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		h.fileError(w, r, err)
		return
	}
	if !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	// Names are not content-addressed, so every use revalidates; the ETag
	// makes an unchanged file a 304.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano()))
	w.Header().Set("Content-Type", contentType)
	if dir == h.dir && compressible[path.Ext(name)] {
		w.Header().Set("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			gz, err := h.gzip(name, st, f)
			if err != nil {
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			// Another representation: its own ETag, and Range counts its bytes.
			w.Header().Set("ETag", fmt.Sprintf(`"%x-%x-gzip"`, st.Size(), st.ModTime().UnixNano()))
			w.Header().Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, "", st.ModTime(), bytes.NewReader(gz))
			return
		}
	}
	if dir == h.models {
		// The page passes the digest to the engine, whose IndexedDB copy of
		// the model is then replaced when the file here changes.
		sum, err := h.modelDigest(name, st, f)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	}
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// modelDigest returns the SHA-256 of the open model file f, hashing it only
// when it is new or has changed since last time, and leaves f at offset 0.
func (h *Handler) modelDigest(name string, st fs.FileInfo, f io.ReadSeeker) ([sha256.Size]byte, error) {
	return h.digests.get(name, st, func() (sum [sha256.Size]byte, err error) {
		hash := sha256.New()
		if _, err = io.Copy(hash, f); err != nil {
			return sum, err
		}
		if _, err = f.Seek(0, io.SeekStart); err != nil {
			return sum, err
		}
		return [sha256.Size]byte(hash.Sum(nil)), nil
	})
}

// gzip returns the gzip of the open page file f, compressing it only when it
// is new or has changed since last time.
func (h *Handler) gzip(name string, st fs.FileInfo, f io.Reader) ([]byte, error) {
	return h.gzipped.get(name, st, func() ([]byte, error) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := io.Copy(zw, f); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	})
}

// acceptsGzip reports whether an Accept-Encoding header value allows gzip:
// listed with a q-value above 0, or not listed while "*" is.
func acceptsGzip(header string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			var err error
			if q, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				continue
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = q
		case "*":
			anyQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// fileError answers a failed open or stat. os.Root reports an attempt to
// leave its directory as an ordinary *PathError; whatever the cause, to the
// client the file is not there.
func (h *Handler) fileError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		http.NotFound(w, r)
		return
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		http.NotFound(w, r)
		return
	}
	http.Error(w, "internal error", http.StatusInternalServerError)
}
