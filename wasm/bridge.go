//go:build js && wasm

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall/js"

	"github.com/hack-pad/safejs"
	"github.com/veil-ml/veil/pkg/infer"
	"github.com/veil-ml/veil/pkg/veilfile"
	"github.com/veil-ml/veil/wasm/internal/modelcache"
)

// bridge holds the loaded models and the JavaScript methods that reach them.
type bridge struct {
	mu     sync.Mutex
	models map[int]*loadedModel
	nextID int

	cache modelcache.Cache // Store is nil where there is no IndexedDB

	funcs []js.Func // the methods, released by exit
	done  chan struct{}

	rows rgbaRows // classify's canvas rows: one call reads them at a time
}

// loadedModel is a model file turned into a classifier.
type loadedModel struct {
	*modelFile
	info js.Value // the info object returned to JavaScript
}

func newBridge() *bridge {
	b := &bridge{models: map[int]*loadedModel{}, nextID: 1, done: make(chan struct{})}
	if s := newIDBModelStore(); s != nil {
		b.cache.Store = s
	}
	return b
}

// object returns the JavaScript object whose methods are the bridge's API
// (see the package documentation).
func (b *bridge) object() js.Value {
	obj := js.Global().Get("Object").New()
	for name, fn := range map[string]func(args []js.Value) any{
		"load":       b.load,
		"classify":   b.classify,
		"dispose":    b.dispose,
		"clearCache": b.clearCache,
		"exit":       b.exit,
	} {
		f := js.FuncOf(func(_ js.Value, args []js.Value) (result any) {
			// A panic here would kill the module: turn it into a rejection.
			defer func() {
				if r := recover(); r != nil {
					js.Global().Get("console").Call("error", fmt.Sprintf("veil: internal error in %s: %v\n%s", name, r, debug.Stack()))
					result = rejected(newError(codeInternal, nil, "internal error in %s: %v", name, r))
				}
			}()
			return fn(args)
		})
		b.funcs = append(b.funcs, f)
		obj.Set(name, f)
	}
	return obj
}

// rejected returns a Promise rejected with err.
func rejected(err error) js.Value {
	return js.Global().Get("Promise").Call("reject", jsError(err))
}

func argAt(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// option reads opts[name] if opts is an object.
func option(opts js.Value, name string) js.Value {
	if opts.Type() != js.TypeObject {
		return js.Undefined()
	}
	return opts.Get(name)
}

// load(source, opts): source is a Uint8Array/ArrayBuffer holding a model
// file, a file veil.js opened in Node ({path, size, readInto}, see
// nodeFile; a .veil file is streamed), or a URL string to fetch (through the cache unless
// opts.cache is false).
func (b *bridge) load(args []js.Value) any {
	source, opts := argAt(args, 0), argAt(args, 1)
	returnBytes := option(opts, "returnBytes").Truthy()
	onProgress := option(opts, "onProgress")
	progress := func(loaded, total int) {
		if onProgress.Type() == js.TypeFunction {
			onProgress.Invoke(loaded, total)
		}
	}

	var (
		fromBytes []byte // copied now: the caller may reuse its buffer
		url       string
		file      *nodeFile // a .veil file to stream (veil.js closes it once load settles)
	)
	switch source.Type() {
	case js.TypeString:
		url = source.String()
	case js.TypeObject:
		if source.Get("readInto").Type() == js.TypeFunction {
			f, head, err := sniffNodeFile(safe(source))
			switch {
			case err != nil:
				return rejected(err)
			case !returnBytes && veilfile.HasMagic(head):
				file, fromBytes = f, head
			default: // read whole: returned to the caller, or not a .veil file
				fromBytes = make([]byte, f.size)
				if _, err := io.ReadFull(f, fromBytes[copy(fromBytes, head):]); err != nil {
					return rejected(f.err)
				}
			}
			break
		}
		data, err := bytesFromJS(safe(source))
		if err != nil {
			return rejected(newError(codeBadInput, nil, "load: expected a URL or the model file's bytes (Uint8Array, ArrayBuffer), got %s", describe(source)))
		}
		fromBytes = data
	default:
		return rejected(newError(codeBadInput, nil, "load: expected a URL or the model file's bytes (Uint8Array, ArrayBuffer), got %s", describe(source)))
	}

	return newPromise(func() (any, error) {
		gcOn := gcOff() // until the model is made (see loadGCPercent)
		defer gcOn()
		var (
			m      *modelFile
			data   []byte
			hash   string
			from   = "bytes"
			store  func()          // caches the download, once the model is returned
			known  jsOrigins       // the file's bytes, if they came from JavaScript
			dbOpen <-chan struct{} // closed once the cache's database is open, if it is being opened
		)
		if file != nil {
			// Streamed: the file is never in wasm memory whole, which would
			// raise its peak (and so the page's) by the file's size for good.
			h := sha256.New()
			var err error
			if m, err = openVeilStream(io.TeeReader(io.MultiReader(bytes.NewReader(fromBytes), file), h), file.size); err != nil {
				if file.err != nil {
					return nil, file.err
				}
				return nil, err
			}
			hash = hex.EncodeToString(h.Sum(nil))
			progress(file.size, file.size)
		} else if url == "" {
			var err error
			if m, err = openModel(jsBytes{data: fromBytes}, js.Undefined()); err != nil {
				return nil, err
			}
			sum := sha256InJS(jsBytes{}, fromBytes)
			data, hash = fromBytes, hex.EncodeToString(sum[:])
			progress(len(data), len(data))
		} else {
			c := b.cache // a copy, so Verify can keep the model it parses
			prefetched, inflated := option(opts, "prefetched"), js.Undefined()
			noCache := option(opts, "cache").Type() == js.TypeBoolean && !option(opts, "cache").Bool()
			if s, ok := c.Store.(*idbModelStore); ok {
				ls := loadStore{idbModelStore: s, known: &known}
				switch cached := option(opts, "cached"); {
				case cached.Type() == js.TypeObject:
					// veil.js read the cache's entry itself (its file in a
					// Uint8Array): the cache checks it as any entry, and a
					// download replaces it if it fails.
					e := entryFromJS(safe(cached))
					e.digests = digestsFromJS(option(opts, "digests"), e.data)
					ls.page, inflated = &e, option(opts, "inflated")
				case prefetched.Type() == js.TypeObject && !noCache:
					// The cache is not read (Absent), so open it now for the
					// store; see below.
					dbOpen = s.openAhead()
				}
				c.Store = ls
			}
			c.SHA256 = func(data []byte) [32]byte { return sha256InJS(known.of(data), data) }
			// veil.js may have downloaded the file while the module compiled,
			// inflated its tensors and hashed it (on its own thread, by the
			// same crypto.subtle sha256InJS calls): those belong to the
			// download only.
			c.Verify = func(d []byte) error {
				var err error
				m, err = openModel(known.of(d), inflated)
				return err
			}
			onWarning := option(opts, "onWarning")
			c.Warn = func(err error) {
				msg := "veil: " + err.Error()
				if onWarning.Type() == js.TypeFunction {
					onWarning.Invoke(msg)
				} else {
					js.Global().Get("console").Call("warn", msg)
				}
			}
			hashOpt := option(opts, "hash")
			req := modelcache.Request{
				URL:        url,
				NoCache:    noCache,
				StoreLater: true,
				// veil.js downloads ahead only once it has seen that the
				// cache lacks the file.
				Absent: prefetched.Type() == js.TypeObject,
				Fetch: func(context.Context) ([]byte, error) {
					// What veil.js inflated belongs to its bytes only.
					inflated = js.Undefined()
					if prefetched.Type() == js.TypeObject {
						if data, err := ownBytesFromJS(safe(prefetched)); err == nil {
							inflated = option(opts, "inflated")
							data.digests = digestsFromJS(option(opts, "digests"), data.data)
							return known.add(data), nil
						}
					}
					data, err := fetchModel(url, onProgress)
					return known.add(data), err
				},
			}
			if hashOpt.Type() == js.TypeString {
				req.Hash = hashOpt.String()
			}
			res, err := c.Load(context.Background(), req)
			if err != nil {
				if errorCode(err) == codeInternal { // a hash mismatch
					return nil, newError(codeBadModel, err, "load")
				}
				return nil, err
			}
			data, hash, from, store = res.Data, res.Hash, res.Source.String(), res.Store
			if res.Source == modelcache.FromCache {
				progress(len(data), len(data))
			}
		}

		size := len(data)
		if file != nil {
			size = file.size
		}
		info := object(
			"name", m.name,
			"inputSize", m.classifier.Size,
			"classes", stringsToJS(m.classifier.Classes),
			"adapters", m.adapters,
			"hash", hash,
			"size", size,
			"format", m.format,
			"source", url,
			"cached", from == "cache",
		)
		b.mu.Lock()
		id := b.nextID
		b.nextID++
		b.models[id] = &loadedModel{modelFile: m, info: info}
		b.mu.Unlock()

		result := object("id", id, "info", info)
		if returnBytes {
			if u8 := known.of(data).u8; u8.Type() == js.TypeObject {
				result.Set("bytes", u8.Call("slice"))
			} else {
				u8 := js.Global().Get("Uint8Array").New(len(data))
				js.CopyBytesToJS(u8, data)
				result.Set("bytes", u8)
			}
		}
		// Collect the file bytes and the decoding garbage now, so that
		// packing the weights reuses that memory rather than growing the
		// heap; pack them now, not in the first classify, for the same
		// reason (the raw weights are collected before the runner's
		// buffers are made). The store to come holds the file's
		// JavaScript array, not these bytes (modelcache.Store.Put).
		data, fromBytes, known = nil, nil, nil
		gcOn()
		runtime.GC()
		m.classifier.Warm()
		if store != nil {
			// The write is the caller's to start, once the result is out:
			// its synchronous part (the database's open, the Blob's copy of
			// the file, the transaction) took 50–120 ms of this thread in
			// a Chromium worker, ahead of the first result (Mid, cold).
			// veil.js starts it after the first classify, before the
			// worker is ended, or a second after the load. Its Promise
			// settles once the file is written (failures go to onWarning).
			var start js.Func
			start = js.FuncOf(func(js.Value, []js.Value) any {
				start.Release() // once: veil.js calls it once
				return newPromise(func() (any, error) {
					if dbOpen != nil {
						<-dbOpen
					}
					store()
					return nil, nil
				})
			})
			result.Set("store", start)
		}
		return result, nil
	})
}

// classify(id, input, topk): input is {bytes} (an encoded image) or
// {rgba, width, height} (canvas pixels, alpha dropped as nsfwjs does).
func (b *bridge) classify(args []js.Value) any {
	id, input, topk := argAt(args, 0), argAt(args, 1), argAt(args, 2)
	m, err := b.model(id)
	if err != nil {
		return rejected(err)
	}
	k := 0
	if topk.Type() == js.TypeNumber {
		k = topk.Int()
	}

	if input.Type() != js.TypeObject {
		return rejected(newError(codeBadInput, nil, "classify: bad input %s", describe(input)))
	}
	var work func() ([]float32, error)
	if bytesV := input.Get("bytes"); !bytesV.IsUndefined() {
		data, err := bytesFromJS(safe(bytesV))
		if err != nil {
			return rejected(newError(codeBadInput, nil, "classify: image bytes must be a Uint8Array or ArrayBuffer, got %s", describe(bytesV)))
		}
		work = func() ([]float32, error) {
			p, err := m.classifier.ClassifyBytes(data)
			if err != nil {
				return nil, imageError(err)
			}
			return p, nil
		}
	} else {
		prep, err := b.prepareRGBA(input, m.classifier)
		if err != nil {
			return rejected(err)
		}
		work = func() ([]float32, error) {
			p, err := prep.Run()
			if err != nil {
				return nil, newError(codeInternal, err, "classify")
			}
			return p, nil
		}
	}
	return newPromise(func() (any, error) {
		p, err := work()
		if err != nil {
			return nil, err
		}
		preds := infer.TopK(p, m.classifier.Classes, k)
		out := make([]any, len(preds))
		for i, pr := range preds {
			out[i] = object("className", pr.ClassName, "probability", float64(pr.Probability))
		}
		return js.ValueOf(out), nil
	})
}

// prepareRGBA preprocesses input.rgba (RGBA, 4 bytes a pixel, width ×
// height) into one of c's runners now, reading it from JavaScript a row at
// a time (rgbaRows): the caller may reuse its pixels once classify returns,
// and the engine's memory (which never shrinks) need not hold the image.
func (b *bridge) prepareRGBA(input js.Value, c *infer.Classifier) (*infer.Prepared, error) {
	rgbaV, wV, hV := input.Get("rgba"), input.Get("width"), input.Get("height")
	if rgbaV.IsUndefined() {
		return nil, newError(codeBadInput, nil, "classify: input must have bytes, or rgba with width and height")
	}
	if wV.Type() != js.TypeNumber || hV.Type() != js.TypeNumber {
		return nil, newError(codeBadInput, nil, "classify: rgba input needs numeric width and height")
	}
	w, h := wV.Int(), hV.Int()
	if w <= 0 || h <= 0 {
		return nil, newError(codeBadInput, nil, "classify: image is %dx%d", w, h)
	}
	lim := c.Limits
	if int64(w)*int64(h) > lim.MaxPixels || (lim.MaxWidth > 0 && w > lim.MaxWidth) || (lim.MaxHeight > 0 && h > lim.MaxHeight) {
		return nil, newError(codeBadImage, nil, "image is %dx%d, over the limit of %dx%d and %d pixels", w, h, lim.MaxWidth, lim.MaxHeight, lim.MaxPixels)
	}
	u8, err := toUint8Array(safe(rgbaV))
	if err != nil {
		return nil, newError(codeBadInput, nil, "classify: rgba must be a Uint8Array or Uint8ClampedArray, got %s", describe(rgbaV))
	}
	if n, err := u8.Length(); err != nil || n != w*h*4 {
		return nil, newError(codeBadInput, err, "classify: rgba for %dx%d needs %d bytes, have %d", w, h, w*h*4, n)
	}
	b.rows.reset(u8, w, h)
	p, err := c.PrepareRGB(w, h, b.rows.row)
	if err == nil && b.rows.err != nil {
		p.Release()
		err = b.rows.err
	}
	b.rows.src = safejs.Undefined() // drop the caller's array
	if err != nil {
		return nil, newError(codeBadInput, err, "classify: reading rgba")
	}
	return p, nil
}

// rgbaRows reads rows of an RGBA image from a JavaScript Uint8Array as RGB,
// for infer.Classifier.PrepareRGB: each into the older of two buffers, so
// a row stays as it is until two more are read (infer.RowSource), and a
// row asked for again is not read again. Rows come from JavaScript a band
// of rowsBandBytes at a time: a call into JavaScript per row would cost
// more than copying the rows it skips.
type rgbaRows struct {
	src  safejs.Value // Uint8Array of w×h×4 bytes
	w, h int
	band []byte    // rows band0.. as read, RGBA
	b0   int       // the band's first row; −1: none
	nb   int       // rows in the band
	rgb  [2][]byte // the last two rows returned, as RGB
	y    [2]int    // their row numbers (−1: none)
	last int       // the buffer returned last
	err  error     // the first failure to read
}

// rowsBandBytes bounds the RGBA rows rgbaRows holds at once.
const rowsBandBytes = 64 << 10

func (r *rgbaRows) reset(src safejs.Value, w, h int) {
	r.src, r.w, r.h, r.err, r.y, r.last, r.b0, r.nb = src, w, h, nil, [2]int{-1, -1}, 0, -1, 0
	if n := max(w*4, min(rowsBandBytes, w*4*h)); cap(r.band) < n {
		r.band = make([]byte, n)
	}
	if cap(r.rgb[0]) < w*3 {
		r.rgb = [2][]byte{make([]byte, w*3), make([]byte, w*3)}
	}
}

func (r *rgbaRows) row(y int) []uint8 {
	for i := range r.y {
		if r.y[i] == y {
			r.last = i
			return r.rgb[i][:r.w*3]
		}
	}
	i := 1 - r.last // the older
	r.y[i], r.last = y, i
	rgb := r.rgb[i][:r.w*3]
	n := r.w * 4
	if r.err == nil && (r.b0 < 0 || y < r.b0 || y >= r.b0+r.nb) {
		r.b0, r.nb = y, min(r.h-y, max(1, rowsBandBytes/n))
		view, err := r.src.Call("subarray", y*n, (y+r.nb)*n)
		if err == nil {
			_, err = safejs.CopyBytesToGo(r.band[:r.nb*n], view)
		}
		if err != nil {
			r.err, r.b0 = fmt.Errorf("rows %d to %d: %w", y, y+r.nb-1, err), -1
		}
	}
	if r.err != nil {
		clear(rgb)
		return rgb
	}
	dropAlpha(rgb, r.band[(y-r.b0)*n:][:n])
	return rgb
}

// dropAlpha copies RGBA pixels into rgb as RGB. It is a function of its
// own, not inlined, so that V8 recompiles this hot loop alone.
//
//go:noinline
func dropAlpha(rgb, rgba []byte) {
	rgb = rgb[:len(rgba)/4*3]
	for i := range len(rgba) / 4 {
		rgb[3*i], rgb[3*i+1], rgb[3*i+2] = rgba[4*i], rgba[4*i+1], rgba[4*i+2]
	}
}

// model returns the model with the given id.
func (b *bridge) model(id js.Value) (*loadedModel, error) {
	if id.Type() != js.TypeNumber {
		return nil, newError(codeBadInput, nil, "bad model id %s", describe(id))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.models[id.Int()]
	if !ok {
		return nil, errDisposed
	}
	return m, nil
}

// dispose(id) forgets a model; calls already running finish.
func (b *bridge) dispose(args []js.Value) any {
	id := argAt(args, 0)
	if id.Type() != js.TypeNumber {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.models[id.Int()]
	delete(b.models, id.Int())
	return ok
}

// clearCache(url?) removes one URL, or every model, from the cache.
func (b *bridge) clearCache(args []js.Value) any {
	url := argAt(args, 0)
	return newPromise(func() (any, error) {
		var err error
		if url.Type() == js.TypeString {
			err = b.cache.Delete(context.Background(), url.String())
		} else {
			err = b.cache.Clear(context.Background())
		}
		if err != nil {
			return nil, newError(codeInternal, err, "clearing the model cache")
		}
		return js.Undefined(), nil
	})
}

// exit disposes every model, releases the methods and ends the program.
func (b *bridge) exit([]js.Value) any {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.funcs == nil {
		return nil
	}
	clear(b.models)
	for _, f := range b.funcs {
		f.Release()
	}
	b.funcs = nil
	close(b.done)
	return nil
}

// object makes a JavaScript object from key, value pairs, keeping their
// order (js.ValueOf of a map would not).
func object(kv ...any) js.Value {
	o := js.Global().Get("Object").New()
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

func stringsToJS(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// describe names a value's type for error messages.
func describe(v js.Value) string {
	switch v.Type() {
	case js.TypeObject:
		if c := v.Get("constructor"); c.Type() == js.TypeFunction {
			if n := c.Get("name"); n.Type() == js.TypeString && n.String() != "" {
				return n.String()
			}
		}
		return "object"
	case js.TypeUndefined, js.TypeNull:
		return v.Type().String()
	}
	return v.Type().String()
}
