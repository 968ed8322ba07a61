package main

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
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

// veilContentType is the type of model files under /models/.
const veilContentType = "application/octet-stream"

// Handler serves the page directory at "/" and the model directory's
// NAME.veil files at "/models/NAME.veil".
type Handler struct {
	dir    string // the page: index.html, app.js, veil.wasm, ...
	models string // NAME.veil files; may not exist yet

	mu      sync.Mutex
	digests map[string]digest // model file name -> its SHA-256, while unchanged
}

// digest is a model file's SHA-256, valid while its size and time stay.
type digest struct {
	size    int64
	modTime time.Time
	sum     [sha256.Size]byte
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
	return &Handler{dir: dir, models: models, digests: map[string]digest{}}, nil
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
	h.mu.Lock()
	d, ok := h.digests[name]
	h.mu.Unlock()
	if ok && d.size == st.Size() && d.modTime.Equal(st.ModTime()) {
		return d.sum, nil
	}
	hash := sha256.New()
	if _, err := io.Copy(hash, f); err != nil {
		return [sha256.Size]byte{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return [sha256.Size]byte{}, err
	}
	d = digest{size: st.Size(), modTime: st.ModTime()}
	hash.Sum(d.sum[:0])
	h.mu.Lock()
	h.digests[name] = d
	h.mu.Unlock()
	return d.sum, nil
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
