//go:build js && wasm

// Command wasm is veil's WebAssembly module, built by `make wasm` into
// web/veil.wasm. People use it through web/veil.js (source: wasm/veil.js),
// whose API is described in wasm/README.md; this file describes the
// private contract between the two.
//
// veil.js starts the module with argv ["veil", NAME] and its host object
// at globalThis[NAME]. main keeps the host (host.go) and puts a bridge
// object in its place before its first block; veil.js takes it from there
// (and deletes the global). The host lends native browser code for the
// work Go compiled to wasm does slowly while a model loads:
//
//	read(response, limit, onProgress) -> Promise<{data} | {tooLarge}>
//	sha256(data) -> Promise<Uint8Array>
//	inflate(src, ends, sizes) -> Promise<{data} | {failed, error}>
//
// Where a function is missing (no host under go test; no inflate or sha256
// in Node), Go does that work itself.
//
// Every bridge method that does work returns a Promise settled from a
// goroutine; a method never throws and a Go panic becomes a rejected
// Error. Rejections are Errors whose message starts with "veil: " and whose
// code property is one of the codes in errors.go.
//
//	load(source, opts) -> Promise<{id, info, bytes?, store?}>
//	    source: Uint8Array (a model file), string (an absolute URL to fetch),
//	            or, in Node, a file veil.js opened: {path, size,
//	            readInto(chunk, position) -> bytes read} (nodeFile), read
//	            in order and only while the Promise is pending; a .veil
//	            file is streamed, never held whole (veilfile.ReadFrom).
//	    opts:   {cache: bool, hash: string, onProgress(loaded, total),
//	             onWarning(message), returnBytes: bool,
//	             prefetched: Uint8Array (the URL's bytes, fetched by veil.js
//	             while the module compiled, once it saw that the cache
//	             lacks them: the cache is not read again),
//	             cached: {version, hash, bytes: Uint8Array} (the cache's
//	             entry, read by veil.js in its place: checked as any
//	             entry, replaced by a download if it fails),
//	             inflated: {names, outputs} (that file's compressed
//	             tensors, inflated by veil.js: outputs[i] is names[i]'s
//	             bytes as an array of Uint8Arrays), digests: [{at, patch,
//	             sha256}] (SHA-256 of that file with patch written at at,
//	             hashed by veil.js; used for those exact bytes only)}
//	    info:   {name, inputSize, classes, adapters, hash, size, format, source, cached}
//	    store:  if a download is to be written to the cache, the function
//	            that starts the write (call it once, when the thread can
//	            spare 50–120 ms) and returns a Promise that settles once
//	            it is done (failures go to onWarning)
//	classify(id, input, topk) -> Promise<[{className, probability}]>
//	    input: {bytes: Uint8Array} (an encoded image) or
//	           {rgba: Uint8Array|Uint8ClampedArray, width, height} (canvas pixels)
//	dispose(id) -> bool (false if id was not loaded or already disposed)
//	clearCache(url?) -> Promise<undefined>
//
// Model files are read by openModelFile (model.go), the one place that
// knows their format, or, streamed from a Node file, by openVeilStream.
// Downloaded files are kept in IndexedDB (idbstore.go) through package
// modelcache, which re-verifies them on every load.
//
// # Cold start
//
// V8 (Chromium, Node) compiles a wasm function when it is first called,
// with its baseline compiler (Liftoff), and compiles it again optimized
// (TurboFan, on background threads) once it has run enough (a budget V8
// counts as "a rough approximation of bytes executed"). In a cold load of
// Mid in Chromium (measured with --js-flags=--trace-wasm-compilation-times),
// 74 functions were optimized: the kernels, but also load code (decoding,
// JSON scanning, validation) and the runtime's (GC sweeping, stack
// copying), on the same 2 cores as the load. With tier-up off
// (--wasm-tiering-budget=1000000000) the first result came ~10% sooner, and
// Node's peak RSS was 101 MB instead of 110 (93 with one V8 compile thread,
// --v8-pool-size=1). Go compiles each function into one wasm loop over its
// blocks, so, as we read it, a large Go function with loops spends its
// budget early even if it runs once per load: QNet.validateOp was
// optimized during every load until its checks per kind of op and its
// loops became functions of their own. The load path also leaves byte
// loops to assembly (the weights' -128 scan is bytes.IndexByte). The first
// classify runs mostly in Liftoff code while its kernels are being
// optimized: 250–380 ms for Mid in Chromium, against 45 ms once they are
// (a forward pass forced at the end of the load took 192 ms, and the
// classify after it 45). Their optimization only starts in that classify,
// when they first run, and takes 10–90 ms of a core per kernel; all told,
// a cold Mid load in Chromium spent ~1.8 s of CPU in TurboFan, on a
// 2-core machine. Running each kernel the model uses on small made-up
// tensors right after its header is read (so that they would be optimized
// during the load) cost 72–85 ms, optimized only some of them before the
// classify, queued the warm-up's own code for TurboFan too, and left the
// classify at 270–290 ms: dropped.
//
// Memory touched for the first time is the other cost: ~3.3 ms per MB on
// the bench VM, against ~0.07 ms per MB to copy within memory already in
// use. So the load path avoids copies into new buffers: the cache entry is
// a Blob (idbstore.go), veil.js hands over inflated tensors in the pieces
// DecompressionStream gave (takeInflated), and the engine's own memory,
// which never shrinks, is collected before the weights are packed (a
// download's cache write holds the file's JavaScript array, not the
// engine's copy: modelcache.Store.Put).
//
// A download's cache write is the caller's to start (load's store):
// veil.js starts it once the first classify has answered, or a second
// after the load. Started with the load, its synchronous part (the
// database's open, the Blob's copy of the file, the transaction) held the
// load's result back 85–198 ms in instrumented cold Mid loads in Chromium;
// deferred, the load's last step took 11–53 ms. A page closed within ~0.1 s
// of its first result may then leave no cache entry.
//
// Bytes over the network are the third: on the bench VM, headless Chromium
// fetches from 127.0.0.1 at 55–130 ms per MB (5 MB: 280–410 ms; curl takes
// 4–10 ms; with cache: 'no-store' 160–340 ms against 210–600); veil.wasm is
// 5.1 MB of it (1.4 MB gzipped, which a server that compresses sends:
// compileStreaming then took 160–285 ms against 180–680).
package main
