//go:build js && wasm

package main

import (
	"errors"
	"io"
	"strconv"
	"syscall/js"

	"github.com/hack-pad/safejs"
)

// maxModelBytes bounds a download: the largest nsfwjs model (InceptionV3)
// is about 22 MB in int8.
const maxModelBytes = 256 << 20

// fetchModel downloads url with the page's fetch, calling onProgress (if a
// function) after each chunk with the bytes received so far and the
// expected total (0 when the server does not say).
func fetchModel(url string, onProgress js.Value) (jsBytes, error) {
	fail := func(err error, format string, args ...any) error {
		return newError(codeFetch, err, "cannot download the model from %s: "+format, append([]any{url}, args...)...)
	}
	fetch, err := safejs.Global().Get("fetch")
	if err != nil || fetch.Type() != safejs.TypeFunction {
		return jsBytes{}, fail(nil, "this environment has no fetch; pass the model file's bytes instead")
	}
	p, err := fetch.Invoke(url)
	if err != nil {
		return jsBytes{}, fail(err, "fetch")
	}
	res, err := await(p)
	if err != nil {
		return jsBytes{}, fail(err, "network error")
	}
	if ok, _ := get(res, "ok").Bool(); !ok {
		status, _ := get(res, "status").Int()
		text, _ := get(res, "statusText").String()
		return jsBytes{}, fail(nil, "HTTP %d %s", status, text)
	}
	total := 0
	if h, err := get(res, "headers").Call("get", "content-length"); err == nil && h.Type() == safejs.TypeString {
		s, _ := h.String()
		total, _ = strconv.Atoi(s)
	}
	if total > maxModelBytes {
		return jsBytes{}, fail(nil, "%d bytes is too large for a model file (limit %d)", total, maxModelBytes)
	}

	if data, ok, err := readInJS(res, onProgress); ok {
		switch {
		case errors.Is(err, errTooLarge):
			return jsBytes{}, fail(nil, "more than %d bytes is too large for a model file", maxModelBytes)
		case err != nil:
			return jsBytes{}, fail(err, "reading the response")
		}
		return data, nil
	}
	progress := func(loaded, total int) {
		if onProgress.Type() == js.TypeFunction {
			onProgress.Invoke(loaded, total)
		}
	}
	body := get(res, "body")
	if body.IsNull() || body.IsUndefined() { // no streams: one piece, one progress call
		ab, err := res.Call("arrayBuffer")
		if err == nil {
			ab, err = await(ab)
		}
		if err != nil {
			return jsBytes{}, fail(err, "reading the response")
		}
		data, err := bytesFromJS(ab)
		if err != nil {
			return jsBytes{}, fail(err, "reading the response")
		}
		if progress != nil {
			progress(len(data), max(total, len(data)))
		}
		return jsBytes{data: data}, nil
	}
	reader, err := body.Call("getReader")
	if err != nil {
		return jsBytes{}, fail(err, "reading the response")
	}
	data := make([]byte, 0, total)
	for {
		p, err := reader.Call("read")
		if err == nil {
			p, err = await(p)
		}
		if err != nil {
			return jsBytes{}, fail(err, "reading the response after %d bytes", len(data))
		}
		if done, _ := get(p, "done").Bool(); done {
			break
		}
		chunk := get(p, "value")
		n, err := chunk.Length()
		if err != nil {
			return jsBytes{}, fail(err, "reading the response")
		}
		if len(data)+n > maxModelBytes {
			reader.Call("cancel")
			return jsBytes{}, fail(nil, "more than %d bytes is too large for a model file", maxModelBytes)
		}
		data = append(data, make([]byte, n)...)
		if _, err := safejs.CopyBytesToGo(data[len(data)-n:], chunk); err != nil {
			return jsBytes{}, fail(err, "reading the response")
		}
		if progress != nil {
			// A compressed response can deliver more than Content-Length.
			progress(len(data), max(total, len(data)))
		}
	}
	return jsBytes{data: data}, nil
}

var errTooLarge = errors.New("too large")

// readInJS reads the body of the Response res with host.read, which does
// in JavaScript what the loop in fetchModel does in Go, without a trip
// through Go per chunk. ok is false where veil.js lends no host.read.
func readInJS(res safejs.Value, onProgress js.Value) (data jsBytes, ok bool, err error) {
	if host.Type() != js.TypeObject || host.Get("read").Type() != js.TypeFunction {
		return jsBytes{}, false, nil
	}
	p, err := safe(host).Call("read", res, maxModelBytes, onProgress)
	if err != nil {
		return jsBytes{}, true, err
	}
	r, err := await(p)
	if err != nil {
		return jsBytes{}, true, err
	}
	if n := get(r, "tooLarge"); n.Type() == safejs.TypeNumber {
		return jsBytes{}, true, errTooLarge
	}
	data, err = ownBytesFromJS(get(r, "data"))
	return data, true, err
}

// get returns v[p], or undefined if reading it throws.
func get(v safejs.Value, p string) safejs.Value {
	r, err := v.Get(p)
	if err != nil {
		return safejs.Undefined()
	}
	return r
}

// bytesFromJS copies a Uint8Array, Uint8ClampedArray or ArrayBuffer into Go.
func bytesFromJS(v safejs.Value) ([]byte, error) { return bytesFromJSInto(nil, v) }

// ownBytesFromJS is bytesFromJS for an array veil owns and leaves unchanged:
// it keeps the array with the copy (see jsBytes).
func ownBytesFromJS(v safejs.Value) (jsBytes, error) {
	u8, err := toUint8Array(v)
	if err != nil {
		return jsBytes{}, err
	}
	data, err := bytesFromJSInto(nil, u8)
	if err != nil {
		return jsBytes{}, err
	}
	return jsBytes{data: data, u8: safejs.Unsafe(u8)}, nil
}

// fileChunk is how much of a file nodeFile reads per call.
const fileChunk = 1 << 20

// nodeFile reads a file that veil.js opened in Node: {path, size,
// readInto(chunk, position) -> bytes read}, in order, through one small
// JavaScript buffer, so the file's bytes are not also held by a JavaScript
// buffer that stays resident until V8 next collects. Its errors are
// VEIL_FETCH errors naming the file and the byte.
type nodeFile struct {
	f     safejs.Value
	path  string
	size  int
	off   int
	chunk safejs.Value // Uint8Array of up to fileChunk bytes
	err   error        // the first error, kept: a reader above may swallow it
}

// openNodeFile checks f's size and makes its buffer.
func openNodeFile(f safejs.Value) (*nodeFile, error) {
	r := &nodeFile{f: f}
	r.path, _ = get(f, "path").String()
	size, err := get(f, "size").Int()
	switch {
	case err != nil || size < 0:
		return nil, r.fail(err, "no size")
	case size > maxModelBytes:
		return nil, r.fail(nil, "%d bytes is too large for a model file (limit %d)", size, maxModelBytes)
	}
	r.size = size
	u8, _ := safejs.Global().Get("Uint8Array")
	if r.chunk, err = u8.New(min(size, fileChunk)); err != nil {
		return nil, r.fail(err, "no buffer")
	}
	return r, nil
}

func (r *nodeFile) fail(err error, format string, args ...any) error {
	return newError(codeFetch, err, "cannot read the model file %s: "+format, append([]any{r.path}, args...)...)
}

// Read reads the next bytes of the file, at most fileChunk at a time.
func (r *nodeFile) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.off == r.size {
		return 0, io.EOF
	}
	want := min(len(p), r.size-r.off, fileChunk)
	if want == 0 {
		return 0, nil
	}
	chunk, _ := r.chunk.Call("subarray", 0, want)
	res, err := r.f.Call("readInto", chunk, r.off)
	if err != nil {
		r.err = r.fail(err, "at byte %d", r.off)
		return 0, r.err
	}
	n, err := res.Int()
	switch {
	case err != nil:
		r.err = r.fail(nil, "readInto returned a %s at byte %d, not a byte count", describe(safejs.Unsafe(res)), r.off)
	case n <= 0 || n > want:
		r.err = r.fail(nil, "read %d bytes at byte %d of %d (did the file change?)", n, r.off, r.size)
	}
	if r.err != nil {
		return 0, r.err
	}
	if _, err := safejs.CopyBytesToGo(p[:n], chunk); err != nil {
		r.err = r.fail(err, "at byte %d", r.off)
		return 0, r.err
	}
	r.off += n
	return n, nil
}

// sniffNodeFile opens f and reads its first bytes, enough to tell a .veil
// file (veilfile.HasMagic) and to name a wrong one (openModel).
func sniffNodeFile(f safejs.Value) (*nodeFile, []byte, error) {
	r, err := openNodeFile(f)
	if err != nil {
		return nil, nil, err
	}
	head := make([]byte, min(r.size, 64))
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, nil, r.err
	}
	return r, head, nil
}

// bytesFromJSInto is bytesFromJS copying into buf if it is large enough.
func bytesFromJSInto(buf []byte, v safejs.Value) ([]byte, error) {
	u8, err := toUint8Array(v)
	if err != nil {
		return nil, err
	}
	n, err := u8.Length()
	if err != nil {
		return nil, err
	}
	data := buf[:0]
	if cap(data) < n {
		data = make([]byte, n)
	}
	data = data[:n]
	if _, err := safejs.CopyBytesToGo(data, u8); err != nil {
		return nil, err
	}
	return data, nil
}

// toUint8Array views an ArrayBuffer or any typed array as a Uint8Array
// without copying.
func toUint8Array(v safejs.Value) (safejs.Value, error) {
	u8Class, _ := safejs.Global().Get("Uint8Array")
	if ok, _ := v.InstanceOf(u8Class); ok {
		return v, nil
	}
	abClass, _ := safejs.Global().Get("ArrayBuffer")
	if ok, _ := v.InstanceOf(abClass); ok {
		return u8Class.New(v)
	}
	if buf := get(v, "buffer"); !buf.IsUndefined() {
		if ok, _ := buf.InstanceOf(abClass); ok {
			off, _ := get(v, "byteOffset").Int()
			n, _ := get(v, "byteLength").Int()
			return u8Class.New(buf, off, n)
		}
	}
	return safejs.Undefined(), newError(codeBadInput, nil, "expected bytes (Uint8Array or ArrayBuffer), got %s", v.Type())
}
