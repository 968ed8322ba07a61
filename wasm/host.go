//go:build js && wasm

package main

import (
	"bytes"
	"fmt"
	"syscall/js"
	"unsafe"

	"github.com/hack-pad/safejs"

	"github.com/veil-ml/veil/pkg/veilfile"
)

// host is the object veil.js lends the module at start (see Runtime.start
// in veil.js): JavaScript functions for work that native browser code does
// many times faster than Go compiled to wasm. It is undefined when the
// module runs without veil.js (go test), and then Go does the work itself.
var host = js.Undefined()

// hostHas says whether veil.js lent the function name.
func hostHas(name string) bool {
	return host.Type() == js.TypeObject && host.Get(name).Type() == js.TypeFunction
}

// sha256InJSMax bounds a message sha256InJS copies into JavaScript for
// crypto.subtle, which needs it whole: a copy of a large model would raise
// the peak memory more than hashing in Go costs in time.
const sha256InJSMax = 8 << 20

// jsBytes is a byte slice copied out of a JavaScript Uint8Array that veil
// owns and leaves unchanged (a download, a cache entry), with that array;
// u8 is undefined for bytes that did not come that way. Hashing or caching
// the bytes reads the array instead of copying them back into JavaScript:
// each copy of a 4 MB model took 20–50 ms in a Chromium worker.
type jsBytes struct {
	data    []byte
	u8      js.Value
	digests []knownDigest // hashes veil.js computed ahead (preDigest)
}

// A knownDigest is the SHA-256 of a file's bytes with patch written at at.
type knownDigest struct {
	at    int
	patch []byte
	sum   [32]byte
}

// digestsFromJS reads preDigest's [{at, patch, sha256}] for data, dropping
// any entry that does not fit it.
func digestsFromJS(v js.Value, data []byte) []knownDigest {
	if v.Type() != js.TypeObject || !v.InstanceOf(js.Global().Get("Array")) {
		return nil
	}
	var out []knownDigest
	for i := range v.Length() {
		e := v.Index(i)
		if e.Type() != js.TypeObject || e.Get("at").Type() != js.TypeNumber {
			continue
		}
		d := knownDigest{at: e.Get("at").Int()}
		patch, err := bytesFromJS(safe(e.Get("patch")))
		sum, err2 := bytesFromJS(safe(e.Get("sha256")))
		if err != nil || err2 != nil || len(sum) != len(d.sum) || d.at < 0 || d.at > len(data)-len(patch) {
			continue
		}
		d.patch = patch
		copy(d.sum[:], sum)
		out = append(out, d)
	}
	return out
}

// describes says whether parts, end to end, are src's bytes with d's patch.
func (d knownDigest) describes(src jsBytes, parts [][]byte) bool {
	off := 0
	for _, p := range parts {
		if off+len(p) > len(src.data) {
			return false
		}
		if src.holds(p, off) {
			// src's own bytes: only where they meet the patch can they differ.
			lo, hi := max(off, d.at), min(off+len(p), d.at+len(d.patch))
			if lo < hi && !bytes.Equal(p[lo-off:hi-off], d.patch[lo-d.at:hi-d.at]) {
				return false
			}
		} else {
			for i, c := range p {
				want := src.data[off+i]
				if j := off + i - d.at; j >= 0 && j < len(d.patch) {
					want = d.patch[j]
				}
				if c != want {
					return false
				}
			}
		}
		off += len(p)
	}
	return off == len(src.data)
}

// holds says whether p is src.data[off:off+len(p)] itself.
func (src jsBytes) holds(p []byte, off int) bool {
	return len(p) == 0 || (off+len(p) <= len(src.data) && unsafe.SliceData(p) == &src.data[off])
}

// jsOrigins is the bytes one load copied out of JavaScript arrays it owns.
type jsOrigins []jsBytes

// add records b and returns its bytes.
func (o *jsOrigins) add(b jsBytes) []byte {
	*o = append(*o, b)
	return b.data
}

// of returns data with its JavaScript array, if o holds it.
func (o jsOrigins) of(data []byte) jsBytes {
	for _, b := range o {
		if len(b.data) == len(data) && unsafe.SliceData(b.data) == unsafe.SliceData(data) {
			return b
		}
	}
	return jsBytes{data: data}
}

// hashInJS starts host.sha256 on parts end to end (n bytes) and returns
// its Promise. When parts are src's bytes in place but for a few, those few
// are written over src.u8 for the call and src's bytes put back right
// after it: crypto.subtle takes a copy of its input when called, so no
// copy of the file is made here. Other messages are copied whole into a
// new array, up to sha256InJSMax bytes (ok is false beyond).
func (src jsBytes) hashInJS(n int, parts [][]byte) (p js.Value, ok bool) {
	if src.u8.Type() != js.TypeObject || n != len(src.data) {
		if n > sha256InJSMax {
			return js.Undefined(), false
		}
		msg := js.Global().Get("Uint8Array").New(n)
		for off, i := 0, 0; i < len(parts); off, i = off+len(parts[i]), i+1 {
			js.CopyBytesToJS(msg.Call("subarray", off, off+len(parts[i])), parts[i])
		}
		return host.Call("sha256", msg), true
	}
	var patched [][2]int // where parts were written over src.u8
	for off, i := 0, 0; i < len(parts); off, i = off+len(parts[i]), i+1 {
		if !src.holds(parts[i], off) {
			js.CopyBytesToJS(src.u8.Call("subarray", off, off+len(parts[i])), parts[i])
			patched = append(patched, [2]int{off, off + len(parts[i])})
		}
	}
	p = host.Call("sha256", src.u8)
	for _, r := range patched {
		js.CopyBytesToJS(src.u8.Call("subarray", r[0], r[1]), src.data[r[0]:r[1]])
	}
	return p, true
}

// sha256InJS is the SHA-256 of parts as one message, by host.sha256
// (crypto.subtle) where there is one and it can take the message (see
// hashInJS), else by crypto/sha256. A message src.digests describes is not
// hashed again.
func sha256InJS(src jsBytes, parts ...[]byte) [32]byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	for _, d := range src.digests {
		if d.describes(src, parts) {
			return d.sum
		}
	}
	if hostHas("sha256") {
		if p, ok := src.hashInJS(n, parts); ok {
			if r, err := await(safe(p)); err == nil {
				var sum [32]byte
				if n, err := safejs.CopyBytesToGo(sum[:], r); err == nil && n == len(sum) {
					return sum
				}
			}
		}
	}
	return veilfile.SHA256(parts...)
}

// modelReadOptions returns how openVeilFile reads a model file: taking the
// tensors veil.js inflated ahead from inflated (see takeInflated; or
// undefined), inflating the rest with host.inflate (DecompressionStream)
// where veil.js provides it, and the checksum by sha256InJS.
func modelReadOptions(src jsBytes, inflated js.Value) veilfile.ReadOptions {
	inJS := hostHas("inflate")
	sha := func(parts ...[]byte) [32]byte { return sha256InJS(src, parts...) }
	if !inJS && inflated.Type() != js.TypeObject {
		return veilfile.ReadOptions{SHA256: sha}
	}
	return veilfile.ReadOptions{SHA256: sha, Inflate: func(jobs []veilfile.Inflation) error {
		switch rest := takeInflated(jobs, inflated); {
		case len(rest) == 0:
			return nil
		case inJS:
			return inflateInJS(rest)
		default:
			return veilfile.InflateAll(rest)
		}
	}}
}

// takeInflated fills the jobs whose tensor inflated holds, at their exact
// size, and returns the others. inflated is {names, outputs}: outputs[i],
// an array of Uint8Arrays, holds names[i] inflated, in pieces (veil.js
// leaves them as DecompressionStream gave them, so as not to join them).
func takeInflated(jobs []veilfile.Inflation, inflated js.Value) []veilfile.Inflation {
	if inflated.Type() != js.TypeObject {
		return jobs
	}
	names, outputs := inflated.Get("names"), inflated.Get("outputs")
	array := js.Global().Get("Array")
	if !names.InstanceOf(array) || !outputs.InstanceOf(array) || names.Length() != outputs.Length() {
		return jobs
	}
	u8 := js.Global().Get("Uint8Array")
	type output struct {
		pieces []js.Value
		size   int
	}
	at := make(map[string]output, names.Length())
	for i := range names.Length() {
		name, pieces := names.Index(i), outputs.Index(i)
		if name.Type() != js.TypeString || !pieces.InstanceOf(array) {
			return jobs
		}
		o := output{pieces: make([]js.Value, pieces.Length())}
		for k := range o.pieces {
			p := pieces.Index(k)
			if !p.InstanceOf(u8) {
				return jobs
			}
			o.pieces[k] = p
			o.size += p.Length()
		}
		at[name.String()] = o
	}
	var rest []veilfile.Inflation
	for _, j := range jobs {
		if o, ok := at[j.Name]; ok && o.size == len(j.Dst) {
			off := 0
			for _, p := range o.pieces {
				off += js.CopyBytesToGo(j.Dst[off:], p)
			}
			if off == len(j.Dst) {
				continue
			}
		}
		rest = append(rest, j)
	}
	return rest
}

// inflateBatchBytes bounds the output of one host.inflate call, so that the
// copies JavaScript holds meanwhile stay small next to the model.
const inflateBatchBytes = 4 << 20

// inflateInJS fills the inflations with host.inflate, a batch of at most
// inflateBatchBytes of output at a time.
func inflateInJS(jobs []veilfile.Inflation) error {
	for len(jobs) > 0 {
		n, size := 1, len(jobs[0].Dst)
		for n < len(jobs) && size+len(jobs[n].Dst) <= inflateBatchBytes {
			size += len(jobs[n].Dst)
			n++
		}
		if err := inflateBatchInJS(jobs[:n]); err != nil {
			return err
		}
		jobs = jobs[n:]
	}
	return nil
}

// inflateBatchInJS fills the inflations with host.inflate(src, ends, sizes):
// src holds the compressed streams end to end, stream i ends at ends[i] and
// must inflate to sizes[i] bytes. It resolves to {data} (the outputs end to
// end) or {failed: i, error}.
func inflateBatchInJS(jobs []veilfile.Inflation) error {
	total := 0
	for _, j := range jobs {
		total += len(j.Src)
	}
	src := js.Global().Get("Uint8Array").New(total)
	ends, sizes := make([]any, len(jobs)), make([]any, len(jobs))
	off := 0
	for i, j := range jobs {
		js.CopyBytesToJS(src.Call("subarray", off, off+len(j.Src)), j.Src)
		off += len(j.Src)
		ends[i], sizes[i] = off, len(j.Dst)
	}
	res, err := await(safe(host.Call("inflate", src, ends, sizes)))
	if err != nil {
		return fmt.Errorf("inflate: %v", err)
	}
	if f := get(res, "failed"); f.Type() == safejs.TypeNumber {
		i, _ := f.Int()
		msg, _ := get(res, "error").String()
		if i < 0 || i >= len(jobs) {
			return fmt.Errorf("inflate: %s", msg)
		}
		return fmt.Errorf("tensor %q: inflate: %s", jobs[i].Name, msg)
	}
	data := get(res, "data")
	if n, err := data.Length(); err != nil || n != sumDst(jobs) {
		return fmt.Errorf("inflate: got %d bytes for %d (%v)", n, sumDst(jobs), err)
	}
	off = 0
	for _, j := range jobs {
		part, err := data.Call("subarray", off, off+len(j.Dst))
		if err != nil {
			return fmt.Errorf("inflate: %v", err)
		}
		if _, err := safejs.CopyBytesToGo(j.Dst, part); err != nil {
			return fmt.Errorf("inflate: %v", err)
		}
		off += len(j.Dst)
	}
	return nil
}

func sumDst(jobs []veilfile.Inflation) int {
	n := 0
	for _, j := range jobs {
		n += len(j.Dst)
	}
	return n
}
