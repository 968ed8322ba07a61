// veil.js: private NSFW image classification in the browser and in Node.
// The API is described in wasm/README.md; it mirrors nsfwjs:
//
//   import { load } from './veil.js';
//   const model = await load('models/mobilenet_v2.veil');
//   const predictions = await model.classify(img, 5); // [{className, probability}]
//
// The engine is veil.wasm (Go, ./wasm), started through Go's wasm_exec.js.
// In a browser page it runs in a Web Worker, which is this same file started
// as a module worker with the name WORKER_NAME.

export const version = '0.1.0';

const WORKER_NAME = 'veil-worker';
const HERE = import.meta.url;
// Read before wasm_exec.js runs: it defines a stand-in globalThis.process.
const IS_NODE = typeof globalThis.process?.versions?.node === 'string';
const IN_WORKER = typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;
const DEFAULT_MODEL = './models/mobilenet_v2.veil';

// The IndexedDB layout written by wasm/idbstore.go.
const IDB_NAME = 'veil';
const IDB_STORE = 'models';
// The largest model file accepted, as maxModelBytes in wasm/fetch.go.
const MAX_MODEL_BYTES = 256 << 20;

/** VeilError is the error every veil.js call rejects with; see `code`. */
export class VeilError extends Error {
  constructor(message, code = 'VEIL_INTERNAL', options) {
    super(message, options);
    this.name = 'VeilError';
    this.code = code;
  }
}

function asVeilError(err, fallbackCode = 'VEIL_INTERNAL') {
  if (err instanceof VeilError) return err;
  const message = String(err?.message ?? err);
  return new VeilError(message.startsWith('veil: ') ? message : `veil: ${message}`, err?.code ?? fallbackCode, { cause: err });
}

const disposedError = () => new VeilError('veil: model has been disposed', 'VEIL_DISPOSED');

// ---------------------------------------------------------------------------
// The Go runtime: one veil.wasm instance per JavaScript realm and wasm URL.

let GoClass; // globalThis.Go from our wasm_exec.js
const goShims = {}; // the globals wasm_exec.js made up (fs, process, path)
const compiled = new Map(); // wasm URL -> Promise<WebAssembly.Module>
const runtimes = new Map(); // wasm URL -> Promise<Runtime>

function assetURLs(opts) {
  return {
    wasmURL: new URL(opts.wasmURL ?? './veil.wasm', HERE).href,
    wasmExecURL: new URL(opts.wasmExecURL ?? './wasm_exec.js', HERE).href,
  };
}

/**
 * openNodeFile opens a model file for the engine to read in chunks
 * (bytesFromFile in wasm/fetch.go), so its bytes are not also held by a
 * JavaScript buffer until V8 collects it. close() when the load is done.
 */
async function openNodeFile(pathOrURL) {
  const fs = await import('node:fs');
  const p = String(pathOrURL);
  const fd = fs.openSync(nodePath(p), 'r');
  try {
    const { size } = fs.fstatSync(fd);
    return { path: p, size, readInto: (chunk, pos) => fs.readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos), close: () => fs.closeSync(fd) };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/**
 * readNodeFile reads a file in Node into a Uint8Array. Given reserve, the
 * array starts an ArrayBuffer of at least that many bytes, the rest never
 * touched (nor resident); see WASM_RESERVE.
 */
async function readNodeFile(pathOrURL, reserve = 0) {
  const { open } = await import('node:fs/promises');
  const file = await open(nodePath(String(pathOrURL)), 'r');
  try {
    const { size } = await file.stat();
    let bytes;
    try {
      bytes = new Uint8Array(new ArrayBuffer(Math.max(size, reserve)), 0, size);
    } catch {
      bytes = new Uint8Array(size); // no room for the reservation (a 32-bit or capped address space)
    }
    for (let at = 0; at < size; ) {
      const { bytesRead } = await file.read(bytes, at, size - at, at);
      if (bytesRead === 0) throw new Error(`${pathOrURL}: ${size - at} bytes missing`);
      at += bytesRead;
    }
    return bytes;
  } finally {
    await file.close();
  }
}

/**
 * WASM_RESERVE is the buffer veil.wasm is read into in Node: over 32 MB.
 * glibc's malloc, once it frees a block it had mapped on its own (128 KB
 * to 32 MB), raises its threshold to that size and from then on keeps
 * memory that is freed rather than returning it: veil.wasm's 5 MB, dropped
 * once compiled, left Node's peak RSS ~10 MB higher (Mid in `make bench`'s
 * child, four alternating pairs: 107-108 -> 97.5-102 MB). A larger block
 * leaves the threshold alone.
 */
const WASM_RESERVE = 33 << 20;

/** nodePath is what Node's fs takes for a path or a file: URL string. */
const nodePath = (p) => (p.startsWith('file:') ? new URL(p) : p);

/** compileWasm fetches and compiles veil.wasm once per URL. */
function compileWasm(wasmURL) {
  let p = compiled.get(wasmURL);
  if (!p) {
    p = (async () => {
      try {
        if (IS_NODE && wasmURL.startsWith('file:')) return await WebAssembly.compile(await readNodeFile(wasmURL, WASM_RESERVE));
        const res = await fetch(wasmURL);
        if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
        if (WebAssembly.compileStreaming && res.headers.get('content-type')?.startsWith('application/wasm')) {
          return await WebAssembly.compileStreaming(res);
        }
        return await WebAssembly.compile(await res.arrayBuffer());
      } catch (err) {
        compiled.delete(wasmURL);
        throw new VeilError(`veil: cannot load ${wasmURL}: ${err.message}`, 'VEIL_FETCH', { cause: err });
      }
    })();
    compiled.set(wasmURL, p);
  }
  return p;
}

/** Runtime is one running veil.wasm and its bridge object (wasm/doc.go). */
class Runtime {
  constructor(bridge) {
    this.bridge = bridge;
    this.pending = new Set(); // reject functions of calls in flight
    this.dead = null; // the error calls get once the program has stopped
  }

  static async start(module, wasmExecURL) {
    if (!GoClass) {
      // wasm_exec.js defines globalThis.Go and, where missing, stand-ins for
      // fs, process and path that Go's runtime reads while it starts. Keep
      // them aside so the page's globals stay as they were.
      const names = ['Go', 'fs', 'process', 'path'];
      const before = Object.fromEntries(names.map((n) => [n, Object.getOwnPropertyDescriptor(globalThis, n)]));
      await import(wasmExecURL);
      GoClass = globalThis.Go;
      for (const n of names) {
        if (before[n]) Object.defineProperty(globalThis, n, before[n]);
        else if (n !== 'Go') {
          goShims[n] = globalThis[n];
          delete globalThis[n];
        } else delete globalThis.Go;
      }
    }
    const go = new GoClass();
    const name = `__veil_${Math.random().toString(36).slice(2)}`;
    go.argv = ['veil', name];
    globalThis[name] = host; // main takes it, and puts the bridge in its place
    go.env = {};
    const exit = go.exit?.bind(go);
    go.exit = (code) => {
      go.exitCode = code;
      exit?.(code);
    };
    // The runtime's own output (a crash report) goes through the global fs.
    const write = go.importObject.gojs?.['runtime.wasmWrite'];
    if (write && goShims.fs) {
      go.importObject.gojs['runtime.wasmWrite'] = (sp) => withShims(() => write(sp));
    }
    const instance = await WebAssembly.instantiate(module, go.importObject);
    // Go's runtime starts (and main puts the bridge at globalThis[name])
    // synchronously inside run; its stand-in globals are needed only then.
    const exited = withShims(() => go.run(instance));
    const bridge = globalThis[name];
    delete globalThis[name];
    if (!bridge) throw new VeilError('veil: veil.wasm did not start', 'VEIL_INTERNAL');
    const rt = new Runtime(bridge);
    exited.then(
      () => rt.stopped(new VeilError(`veil: the WebAssembly module stopped (exit code ${go.exitCode ?? '?'})`, 'VEIL_INTERNAL')),
      (err) => rt.stopped(asVeilError(err)),
    );
    return rt;
  }

  stopped(err) {
    this.dead = err;
    for (const reject of this.pending) reject(err);
    this.pending.clear();
  }

  /** call invokes a bridge method; promises are tracked so a crash rejects them. */
  call(method, ...args) {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      this.pending.add(reject);
      const settle = (fn) => (v) => {
        this.pending.delete(reject);
        fn(v);
      };
      let p;
      try {
        p = this.bridge[method](...args);
      } catch (err) {
        settle(reject)(asVeilError(err));
        return;
      }
      Promise.resolve(p).then(settle(resolve), (err) => settle(reject)(asVeilError(err)));
    });
  }
}

// DecompressionStream for raw DEFLATE (not in every browser yet).
const HAS_DEFLATE_RAW = (() => {
  try {
    new DecompressionStream('deflate-raw'); // eslint-disable-line no-new
    return true;
  } catch {
    return false;
  }
})();

/**
 * host is what veil.wasm borrows from JavaScript (wasm/host.go): native
 * browser code for work that Go compiled to wasm does many times slower.
 * Where a function is missing, Go does the work. inflate and sha256 are not
 * lent in Node, where Go's compress/flate and SHA-256 are fast enough and
 * the peak memory is lower without the copies they take (InceptionV3: 192
 * against 227 MB, for 0.15 s of load), nor where deflate-raw or
 * crypto.subtle (plain http pages) are missing.
 */
const host = {
  /**
   * read reads a fetch Response's body into one Uint8Array, calling
   * onProgress(loaded, total) after each chunk (total is 0 when the server
   * does not say). Resolves to {data}, or to {tooLarge: n} once more than
   * limit bytes arrive. onArrived(buf, n), if given, is told after each
   * chunk that buf's first n bytes have arrived, while the body comes into
   * one buffer of the announced size (buf is the data to come).
   */
  async read(res, limit, onProgress, onArrived) {
    const total = Number(res.headers.get('content-length')) || 0;
    const progress = (n) => typeof onProgress === 'function' && onProgress(n, Math.max(total, n)); // compressed responses can exceed content-length
    if (!res.body) {
      const data = new Uint8Array(await res.arrayBuffer());
      if (data.length > limit) return { tooLarge: data.length };
      progress(data.length);
      return { data };
    }
    const read = await readPieces(res.body.getReader(), limit, (n, buf) => {
      progress(n);
      if (buf) onArrived?.(buf, n);
    }, total);
    return read ? { data: concat(read.chunks, read.n) } : { tooLarge: limit + 1 };
  },

  /**
   * inflate decompresses raw DEFLATE streams (a model file's compressed
   * tensors) with DecompressionStream. src holds them end to end; stream i
   * ends at ends[i] and must inflate to exactly sizes[i] bytes. Resolves to
   * {data} (the outputs end to end) or {failed: i, error}.
   */
  inflate: !IS_NODE && HAS_DEFLATE_RAW ? async (src, ends, sizes) => {
    const data = new Uint8Array(sizes.reduce((a, b) => a + b, 0));
    // One after another: in Chromium that is faster than all at once.
    for (let i = 0, start = 0, at = 0; i < ends.length; start = ends[i], at += sizes[i], i++) {
      try {
        const { chunks, n } = await inflateRaw(src.subarray(start, ends[i]), sizes[i]);
        if (n !== sizes[i]) throw new Error(`inflates to ${n} bytes, want ${sizes[i]}`);
        for (let k = 0, to = at; k < chunks.length; to += chunks[k].length, k++) data.set(chunks[k], to);
      } catch (err) {
        return { failed: i, error: String(err?.message ?? err) };
      }
    }
    return { data };
  } : undefined,

  /** sha256 resolves to the SHA-256 of data (a Uint8Array). */
  sha256: !IS_NODE && globalThis.crypto?.subtle ? async (data) => new Uint8Array(await crypto.subtle.digest('SHA-256', data)) : undefined,
};

/**
 * inflateRaw inflates one raw DEFLATE stream, refusing more than limit
 * bytes. It resolves to {chunks, n}: the output as DecompressionStream gave
 * it, n bytes in all, left in pieces because joining them would cost a copy
 * into new memory (the engine copies each piece where it goes).
 */
async function inflateRaw(src, limit) {
  // Written straight in: a Blob's stream would go through the browser process.
  const ds = new DecompressionStream('deflate-raw');
  const writer = ds.writable.getWriter();
  writer.write(src).catch(() => {});
  writer.close().catch(() => {});
  const out = await readPieces(ds.readable.getReader(), limit);
  if (!out) throw new Error(`inflates to more than ${limit} bytes`);
  return out;
}

/**
 * readPieces reads a stream to its end and resolves to {chunks, n}: n bytes
 * in all, in the pieces the stream gave (concat joins them); it calls
 * onChunk(bytes so far, buf) after each chunk, and past limit bytes it
 * cancels the stream and resolves to null. Given the size to expect, it
 * reads into one buffer of that size (buf, which holds the bytes so far;
 * null once more arrive than expected, when it goes on in pieces).
 */
async function readPieces(reader, limit, onChunk, expect = 0) {
  let buf = expect > 0 && expect <= limit ? new Uint8Array(expect) : null;
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { chunks: buf ? [buf.subarray(0, n)] : chunks, n };
    if (n + value.length > limit) {
      reader.cancel().catch(() => {});
      return null;
    }
    if (buf && n + value.length > buf.length) {
      chunks.push(buf.subarray(0, n));
      buf = null;
    }
    if (buf) buf.set(value, n);
    else chunks.push(value);
    n += value.length;
    onChunk?.(n, buf);
  }
}

/** concat joins pieces of n bytes in all into one Uint8Array (a piece alone is returned as it is). */
function concat(chunks, n) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(n);
  for (let i = 0, at = 0; i < chunks.length; at += chunks[i].length, i++) out.set(chunks[i], at);
  return out;
}

/**
 * tensorInflater inflates the compressed tensors of a .veil file (a
 * safetensors file, pkg/veilfile) ahead of the engine, on this thread, as
 * the file arrives: arrived(file, n) says its first n bytes are in, and
 * starts inflating each stream those bytes complete, one after another;
 * result(file) inflates the rest once the whole file is in, and resolves to
 * {names, outputs} for load's opts.inflated (outputs[i]: names[i] inflated,
 * an array of Uint8Array pieces, see inflateRaw), or to null. The header is
 * trusted only for where the streams are: the engine checks the file, and
 * takes an output only at the size the model needs.
 */
function tensorInflater() {
  let streams; // [{name, start, end}] in file order; undefined until the header is in, null if unusable
  let next = 0;
  let chain = Promise.resolve([]);
  const arrived = (file, n) => {
    if (streams === undefined) streams = deflateStreams(file, n);
    while (streams && next < streams.length && streams[next].end <= n) {
      const { start, end } = streams[next++];
      // 16x: veilfile.MaxInflation.
      chain = chain.then((outs) => inflateRaw(file.subarray(start, end), 16 * (end - start) + 64).then((o) => (outs.push(o.chunks), outs)));
      chain.catch(() => {}); // result() sees a failure; until then it is not an unhandled rejection
    }
  };
  return {
    arrived,
    async result(file) {
      try {
        if (!HAS_DEFLATE_RAW) return null;
        arrived(file, file.length);
        if (!streams || next < streams.length) return null;
        return { names: streams.map((t) => t.name), outputs: await chain };
      } catch {
        return null;
      }
    },
  };
}

/**
 * deflateStreams lists the compressed tensors of a .veil file whose first n
 * bytes are in: [{name, start, end}] (byte offsets in the file) in file
 * order; undefined if its header is not all in yet, null if it is unusable.
 */
function deflateStreams(file, n) {
  try {
    const h = veilHeader(file, n);
    if (!h) return h;
    const streams = [];
    for (const [name, t] of Object.entries(h.header)) {
      if (!name.endsWith('.deflate')) continue;
      const [a, b] = t?.data_offsets ?? [];
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 0 || b < a || 8 + h.n + b > file.length) return null;
      streams.push({ name, start: 8 + h.n + a, end: 8 + h.n + b });
    }
    return streams.sort((x, y) => x.start - y.start);
  } catch {
    return null;
  }
}

/**
 * preDigest hashes a .veil file ahead of the engine, as tensorInflater inflates
 * it: the SHA-256 of the file, and of the file with the 64 hex digits of its
 * checksum set to "0" (what the checksum covers, pkg/veilfile). Resolves to
 * [{at, patch, sha256}] (the SHA-256 of the file with patch written at at)
 * for load's opts.digests, or to null. The engine uses a digest only for
 * the bytes it describes.
 */
async function preDigest(file) {
  try {
    const h = host.sha256 && veilHeader(file);
    if (!h) return null;
    const sum = h.header.__metadata__?.['veil.sha256'];
    const whole = { at: 0, patch: new Uint8Array(0), sha256: host.sha256(file) };
    // latin1 decodes one character per byte, so an index is a byte offset.
    const i = typeof sum === 'string' ? new TextDecoder('latin1').decode(file.subarray(8, 8 + h.n)).indexOf(`"veil.sha256":"${sum}"`) : -1;
    if (i < 0 || sum.length !== 64) return [{ ...whole, sha256: await whole.sha256 }];
    const at = 8 + i + 15;
    const patch = new Uint8Array(64).fill(0x30);
    // crypto.subtle copies its input when called: patch the file for the
    // call, and put the checksum back.
    const saved = file.slice(at, at + 64);
    file.set(patch, at);
    const digests = [whole, { at, patch, sha256: host.sha256(file) }];
    file.set(saved, at);
    for (const d of digests) d.sha256 = await d.sha256;
    return digests;
  } catch {
    return null;
  }
}

/**
 * veilHeader parses a .veil (safetensors) file's header: {n, header}, or
 * null; undefined while the header is not all in the first have bytes.
 */
function veilHeader(file, have = file.length) {
  if (have < 8) return have < file.length ? undefined : null;
  const n = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  if (n > file.length - 8) return null;
  if (have < 8 + n) return undefined;
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  return header && typeof header === 'object' ? { n, header } : null;
}

/** withShims runs fn with wasm_exec.js's stand-in globals in place. */
function withShims(fn) {
  const shimmed = Object.keys(goShims).filter((n) => !(n in globalThis));
  for (const n of shimmed) globalThis[n] = goShims[n];
  try {
    return fn();
  } finally {
    for (const n of shimmed) delete globalThis[n];
  }
}

/** runtimeFor returns this realm's runtime for the given assets, starting it once. */
function runtimeFor(assets, module) {
  const key = assets.wasmURL;
  let p = runtimes.get(key);
  if (!p) {
    p = (async () => Runtime.start(module ?? await compileWasm(key), assets.wasmExecURL))();
    runtimes.set(key, p);
    p.catch(() => runtimes.get(key) === p && runtimes.delete(key));
  }
  return p.then((rt) => {
    if (!rt.dead) return rt;
    if (runtimes.get(key) === p) runtimes.delete(key); // stopped: start a new one
    return runtimeFor(assets, module);
  });
}

// ---------------------------------------------------------------------------
// Backends: the same four operations inline or in a worker.

/**
 * deferredWrites holds the cache writes of loads (bridge.load's store) and
 * starts each once a classify has answered, or a second after its load,
 * whichever comes first: a write's synchronous part (50–120 ms of the
 * engine's thread in a Chromium worker) would otherwise hold back the
 * first result. settle() starts those still waiting and resolves once every
 * write is done.
 */
function deferredWrites() {
  const waiting = [];
  const started = [];
  const start = () => {
    for (const store of waiting.splice(0)) started.push(store());
  };
  return {
    add(store) {
      if (typeof store !== 'function') return;
      waiting.push(store);
      setTimeout(start, 1000);
    },
    afterClassify() {
      if (waiting.length) setTimeout(start, 0); // once the answer is out
    },
    settle() {
      start();
      return Promise.allSettled(started);
    },
  };
}

class InlineBackend {
  constructor(rt) {
    this.rt = rt;
    this.inflight = 0;
    this.writes = deferredWrites();
  }

  async load(source, opts) {
    const { store, ...res } = await this.rt.call('load', source, opts);
    this.writes.add(store);
    return res;
  }

  async classify(id, payload, topk) {
    try {
      return await this.rt.call('classify', id, payload, topk);
    } finally {
      this.writes.afterClassify();
    }
  }

  dispose(id) {
    if (!this.rt.dead) this.rt.bridge.dispose(id);
    this.writes.settle(); // the runtime lives on: the writes finish
  }
}

/** WorkerBackend runs a runtime in a dedicated module worker; module is the compiled veil.wasm or a Promise of it. */
class WorkerBackend {
  constructor(assets, module) {
    this.inflight = 0;
    this.nextCall = 1;
    this.calls = new Map(); // call id -> {resolve, reject, onProgress, onWarning}
    this.closing = false;
    this.dead = null;
    this.worker = newVeilWorker();
    this.worker.onmessage = (e) => this.receive(e.data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      this.fail(new VeilError(`veil: the worker failed: ${e.message || 'could not start (is veil.js served with a JavaScript MIME type, and allowed by worker-src?)'}`, 'VEIL_INTERNAL'));
    };
    this.worker.onmessageerror = () => this.fail(new VeilError('veil: a message from the worker could not be read', 'VEIL_INTERNAL'));
    // The worker boots (fetches and runs this file) while the module compiles.
    this.ready = Promise.resolve(module).then((m) => this.request('init', [{ ...assets, module: m }]));
    this.ready.catch(() => {}); // reported by the calls that wait for it
  }

  fail(err) {
    this.dead = err;
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    this.worker.terminate();
  }

  request(op, args, transfer = [], hooks = {}) {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => {
      const call = this.nextCall++;
      this.calls.set(call, { resolve, reject, ...hooks });
      try {
        this.worker.postMessage({ call, op, args }, transfer);
      } catch (err) {
        this.calls.delete(call);
        reject(new VeilError(`veil: cannot send the input to the worker: ${err.message}`, 'VEIL_BAD_INPUT', { cause: err }));
      }
    });
  }

  receive(msg) {
    const c = this.calls.get(msg.call);
    if (!c) return;
    if (msg.progress) return void c.onProgress?.(...msg.progress);
    if (msg.warning) return void (c.onWarning ? c.onWarning(msg.warning) : console.warn(msg.warning));
    this.calls.delete(msg.call);
    if (msg.ok) c.resolve(msg.value);
    else c.reject(new VeilError(msg.error.message, msg.error.code));
    this.maybeTerminate();
  }

  async load(source, opts) {
    await this.ready;
    const { onProgress, onWarning, ...rest } = opts;
    const whole = (b) => b instanceof Uint8Array && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
    const arrays = [source, rest.prefetched, rest.cached?.bytes, ...(rest.inflated?.outputs?.flat() ?? [])];
    const transfer = [...new Set(arrays.filter(whole).map((b) => b.buffer))];
    return this.request('load', [source, rest], transfer, { onProgress, onWarning });
  }

  classify(id, payload, topk, transfer) {
    return this.request('classify', [id, payload, topk], transfer);
  }

  dispose(id) {
    this.closing = true;
    if (!this.dead) this.request('dispose', [id]).catch(() => {});
    this.maybeTerminate();
  }

  maybeTerminate() {
    if (this.closing && this.calls.size === 0 && !this.dead) {
      this.dead = disposedError();
      this.worker.terminate();
    }
  }
}

function newVeilWorker() {
  const opts = { type: 'module', name: WORKER_NAME };
  const here = new URL(HERE);
  if (globalThis.location && here.origin !== globalThis.location.origin) {
    // A worker must be same-origin: start one that imports veil.js from its host.
    const src = `import ${JSON.stringify(HERE)};`;
    return new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })), opts);
  }
  return new Worker(HERE, opts);
}

/** serveWorker answers WorkerBackend's requests inside the worker. */
function serveWorker() {
  let runtime = null; // Promise<Runtime>
  const writes = deferredWrites(); // loads' cache writes, done before the worker is ended
  globalThis.onmessage = async (e) => {
    const { call, op, args } = e.data;
    const post = (msg, transfer = []) => globalThis.postMessage({ call, ...msg }, transfer);
    try {
      if (op === 'init') {
        const [{ module, ...assets }] = args;
        runtime = runtimeFor(assets, module);
        await runtime;
        return post({ ok: true });
      }
      const rt = await runtime;
      if (op === 'load') {
        const [source, opts] = args;
        const res = await rt.call('load', source, {
          ...opts,
          onProgress: (loaded, total) => post({ progress: [loaded, total] }),
          onWarning: (message) => post({ warning: message }),
        });
        const { store, ...value } = res;
        writes.add(store);
        return post({ ok: true, value }, value.bytes ? [value.bytes.buffer] : []);
      }
      if (op === 'classify') {
        try {
          return post({ ok: true, value: await rt.call('classify', ...args) });
        } finally {
          writes.afterClassify();
        }
      }
      if (op === 'dispose') {
        // The page ends the worker once this is answered: not mid-write
        // (but not held back for more than 10 s by a stuck one either).
        await Promise.race([writes.settle(), new Promise((ok) => setTimeout(ok, 10_000))]);
        return post({ ok: true, value: rt.bridge.dispose(args[0]) });
      }
      throw new VeilError(`veil: unknown worker request ${op}`);
    } catch (err) {
      const ve = asVeilError(err);
      post({ ok: false, error: { message: ve.message, code: ve.code } });
    }
  };
}

if (IN_WORKER && globalThis.name === WORKER_NAME) serveWorker();

// ---------------------------------------------------------------------------
// Inputs: everything becomes {bytes} (encoded image) or {rgba, width, height}.

const isBlob = (x) => typeof Blob !== 'undefined' && x instanceof Blob;
const has = (name) => typeof globalThis[name] === 'function';
const isA = (x, name) => has(name) && x instanceof globalThis[name];

function bytesView(x) {
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return null;
}

function describe(x) {
  if (x === null) return 'null';
  if (typeof x !== 'object' && typeof x !== 'function') return typeof x;
  return x.constructor?.name || 'object';
}

/**
 * toPayload turns a classify input into what the engine reads. forWorker
 * says whether to copy caller-owned bytes so they can be transferred to a
 * worker: a copy and a transfer cost a memcpy, where posting the caller's
 * array has it structured-cloned on both threads (an 800x600 ImageData in
 * Chromium: ~40 ms on each).
 */
async function toPayload(input, forWorker) {
  const view = bytesView(input);
  if (view) {
    if (!forWorker) return { payload: { bytes: view }, transfer: [] };
    const copy = view.slice(); // transfer our copy, never the caller's buffer
    return { payload: { bytes: copy }, transfer: [copy.buffer] };
  }
  if (isBlob(input)) {
    const bytes = new Uint8Array(await input.arrayBuffer());
    return { payload: { bytes }, transfer: [bytes.buffer] };
  }
  if (isA(input, 'ImageData') || (input && typeof input === 'object' && bytesView(input.data) && Number.isInteger(input.width) && Number.isInteger(input.height) && !isDrawable(input))) {
    const rgba = forWorker ? bytesView(input.data).slice() : bytesView(input.data);
    return { payload: { rgba, width: input.width, height: input.height }, transfer: forWorker ? [rgba.buffer] : [] };
  }
  if (isDrawable(input)) {
    const { data, width, height } = await drawnPixels(input);
    return { payload: { rgba: data, width, height }, transfer: [data.buffer] };
  }
  throw new VeilError(`veil: cannot classify a ${describe(input)}: pass an image, canvas, ImageBitmap, ImageData, Blob, or encoded image bytes`, 'VEIL_BAD_INPUT');
}

function isDrawable(x) {
  return ['HTMLImageElement', 'SVGImageElement', 'HTMLCanvasElement', 'HTMLVideoElement', 'OffscreenCanvas', 'ImageBitmap', 'VideoFrame']
    .some((name) => isA(x, name));
}

/** drawnPixels draws a drawable on a canvas of its own size and reads RGBA back. */
async function drawnPixels(src) {
  let w, h;
  if (isA(src, 'HTMLImageElement')) {
    if (!src.complete || src.naturalWidth === 0) {
      try {
        await src.decode();
      } catch (err) {
        throw new VeilError(`veil: the image ${src.currentSrc || src.src || ''} could not be loaded or decoded`, 'VEIL_BAD_IMAGE', { cause: err });
      }
    }
    [w, h] = [src.naturalWidth, src.naturalHeight];
  } else if (isA(src, 'HTMLVideoElement')) {
    [w, h] = [src.videoWidth, src.videoHeight];
  } else if (isA(src, 'VideoFrame')) {
    [w, h] = [src.displayWidth, src.displayHeight];
  } else if (isA(src, 'SVGImageElement')) {
    [w, h] = [src.width.baseVal.value, src.height.baseVal.value];
  } else {
    [w, h] = [src.width, src.height];
  }
  w = Math.round(w);
  h = Math.round(h);
  if (!(w > 0 && h > 0)) throw new VeilError(`veil: the ${describe(src)} is ${w}x${h}: nothing to classify`, 'VEIL_BAD_IMAGE');
  const canvas = has('OffscreenCanvas') ? new OffscreenCanvas(w, h) : Object.assign(document.createElement('canvas'), { width: w, height: h });
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new VeilError('veil: cannot get a 2D canvas to read the image', 'VEIL_INTERNAL');
  ctx.drawImage(src, 0, 0, w, h);
  try {
    return ctx.getImageData(0, 0, w, h);
  } catch (err) {
    if (err?.name === 'SecurityError') {
      throw new VeilError('veil: cannot read the pixels of a cross-origin image (serve it with CORS and set crossOrigin="anonymous", or pass its bytes)', 'VEIL_BAD_INPUT', { cause: err });
    }
    throw asVeilError(err);
  }
}

// ---------------------------------------------------------------------------
// The public API.

/** Model is a loaded model; see wasm/README.md. */
class Model {
  #slots; // [{backend, id}]
  #disposed = false;
  #inflight = 0;

  constructor(slots, info) {
    this.#slots = slots;
    this.info = Object.freeze({ ...info, classes: Object.freeze([...info.classes]), adapters: Object.freeze([...info.adapters]) });
  }

  /** classify returns the topk most probable classes for one image. */
  async classify(input, topk = 5) {
    if (this.#disposed) throw disposedError();
    const slot = this.#pick();
    const forWorker = slot.backend instanceof WorkerBackend;
    slot.backend.inflight++;
    this.#inflight++;
    try {
      const { payload, transfer } = await toPayload(input, forWorker);
      return await slot.backend.classify(slot.id, payload, Number(topk) || 0, transfer);
    } finally {
      slot.backend.inflight--;
      if (--this.#inflight === 0 && this.#disposed) this.#release();
    }
  }

  /** classifyBatch classifies each input, spread over the workers; results are in input order. */
  async classifyBatch(inputs, topk = 5) {
    if (this.#disposed) throw disposedError();
    const list = Array.from(inputs ?? []);
    const results = new Array(list.length);
    let next = 0;
    let failed = null;
    // A bounded number in flight: decoded canvases are large.
    const lanes = Math.min(list.length, this.#slots.length * 2);
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (!failed && next < list.length) {
        const i = next++;
        try {
          results[i] = await this.classify(list[i], topk);
        } catch (err) {
          const ve = asVeilError(err);
          failed ??= new VeilError(ve.message.replace(/^veil: /, `veil: input ${i}: `), ve.code, { cause: err });
        }
      }
    }));
    if (failed) throw failed;
    return results;
  }

  /** dispose frees the model (and its workers) once the calls already made have finished; later calls reject. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#inflight === 0) this.#release();
  }

  #release() {
    for (const { backend, id } of this.#slots) backend.dispose(id);
    this.#slots = [];
  }

  #pick() {
    let best = this.#slots[0];
    for (const s of this.#slots) if (s.backend.inflight < best.backend.inflight) best = s;
    return best;
  }
}

/** load reads a model file (URL or bytes) and returns a Model. */
export async function load(source = new URL(DEFAULT_MODEL, HERE), options = {}) {
  if (options === null || typeof options !== 'object') throw new VeilError('veil: load options must be an object', 'VEIL_BAD_INPUT');
  const assets = assetURLs(options);
  const useWorker = options.worker ?? (!IS_NODE && !IN_WORKER && has('Worker'));
  const nWorkers = Math.max(1, Math.floor(options.workers ?? 1));
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') throw new VeilError('veil: onProgress must be a function', 'VEIL_BAD_INPUT');
  const goOpts = {
    cache: options.cache !== false,
    onProgress: options.onProgress,
    onWarning: options.onWarning,
  };
  if (options.hash !== undefined) goOpts.hash = String(options.hash);

  // The engine gets an absolute URL or the file's bytes.
  let src;
  if (typeof source === 'string' || source instanceof URL) {
    const s = String(source);
    if (IS_NODE && !/^https?:/i.test(s)) {
      try {
        src = useWorker ? await readNodeFile(s) : await openNodeFile(s);
      } catch (err) {
        throw new VeilError(`veil: cannot read the model file ${s}: ${err.message}`, 'VEIL_FETCH', { cause: err });
      }
    } else {
      src = new URL(s, globalThis.document?.baseURI ?? globalThis.location?.href ?? HERE).href;
    }
  } else if (isBlob(source)) {
    src = new Uint8Array(await source.arrayBuffer());
  } else if (bytesView(source)) {
    src = bytesView(source).slice(); // ours to transfer; the caller may reuse theirs
  } else {
    throw new VeilError(`veil: load needs a model URL or the model file's bytes, got ${describe(source)}`, 'VEIL_BAD_INPUT');
  }

  if (!useWorker) {
    try {
      const rt = await runtimeFor(assets);
      const backend = new InlineBackend(rt);
      const res = await backend.load(src, goOpts);
      return new Model([{ backend, id: res.id }], res.info);
    } finally {
      src.close?.();
    }
  }

  if (!has('Worker')) throw new VeilError('veil: this environment has no Web Workers; load with {worker: false}', 'VEIL_BAD_INPUT');
  // veil.wasm is requested once the model is (or once the cache's entry is
  // found), at most 100 ms later: while the module compiles, this thread is
  // too busy to see the cache lookup end (in Chromium ~350 ms, against ~30
  // alone), which held the model's download back.
  let requested;
  const modelRequested = new Promise((resolve) => (requested = resolve));
  const prefetch = typeof src === 'string' ? prefetchModel(src, goOpts.cache, options.onProgress, requested) : requested();
  const waited = new Promise((resolve) => setTimeout(resolve, 100));
  const module = Promise.race([modelRequested, waited]).then(() => compileWasm(assets.wasmURL)); // once, shared by the workers
  const backends = Array.from({ length: nWorkers }, () => new WorkerBackend(assets, module));
  try {
    const pre = await prefetch; // the workers start meanwhile
    const first = await backends[0].load(src, { ...goOpts, returnBytes: nWorkers > 1, ...pre });
    const slots = [{ backend: backends[0], id: first.id }];
    const rest = await Promise.all(backends.slice(1).map((b) => b.load(first.bytes.slice(), { cache: false })));
    rest.forEach((res, i) => slots.push({ backend: backends[i + 1], id: res.id }));
    return new Model(slots, first.info);
  } catch (err) {
    for (const b of backends) b.fail(disposedError());
    throw asVeilError(err);
  }
}

/**
 * openCache opens the IndexedDB cache, as wasm/idbstore.go lays it out;
 * onCreate(), if given, is told as soon as this open is creating it.
 */
function openCache(onCreate) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(IDB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(IDB_STORE);
      onCreate?.();
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * cacheEntry looks up url in the IndexedDB cache, as soon as it can:
 * resolves to false if the cache surely lacks it (a database that is being
 * created holds nothing; committing its creation can take a few hundred ms
 * in a new browser profile), to {version, hash, file} if it holds an entry
 * whose file is a Blob (wasm/idbstore.go), and to null on any doubt (the
 * engine then reads the cache itself). Reading the entry costs little here:
 * its file stays in the Blob until asked for.
 */
function cacheEntry(url) {
  return new Promise((resolve) => {
    openCache(() => resolve(false)).then((db) => {
      try {
        const get = db.transaction(IDB_STORE, 'readonly').objectStore(IDB_STORE).get(url);
        get.onsuccess = () => {
          const v = get.result;
          if (v === undefined) return resolve(false);
          const ok = v && v.bytes instanceof Blob && Number.isSafeInteger(v.version) && typeof v.hash === 'string';
          resolve(ok ? { version: v.version, hash: v.hash, file: v.bytes } : null);
        };
        get.onerror = () => resolve(null);
      } catch {
        resolve(null);
      } finally {
        db.close(); // once the read is done
      }
    }, () => resolve(null));
  });
}

/**
 * prefetchModel gets the model at url ready while veil.wasm compiles: it
 * reads the cache's entry for url, or else downloads the file, inflates
 * its tensors (as they arrive: tensorInflater) and hashes it (preDigest).
 * onRequested() is called once the request is out, or once there will be
 * none. Resolves to load's options for the engine: {prefetched, inflated,
 * digests} for a download, {cached, inflated, digests} for the cache's
 * entry (cached: the entry as stored, its file read into a Uint8Array,
 * which the engine checks as any entry); or to null: the cache may have
 * the file but veil.js could not read it, or the download failed (the
 * engine then looks or fetches itself, and reports what went wrong).
 */
async function prefetchModel(url, useCache, onProgress, onRequested) {
  try {
    const entry = useCache && globalThis.indexedDB ? await cacheEntry(url) : false;
    if (entry === null || (entry && entry.file.size > MAX_MODEL_BYTES)) return null;
    const inflater = tensorInflater();
    let data;
    if (entry) {
      onRequested();
      data = new Uint8Array(await entry.file.arrayBuffer());
    } else {
      const response = fetch(url);
      onRequested();
      const res = await response;
      if (!res.ok) return null;
      ({ data } = await host.read(res, MAX_MODEL_BYTES, onProgress, inflater.arrived));
      if (!data) return null;
    }
    const [inflated, digests] = await Promise.all([inflater.result(data), preDigest(data)]);
    const got = entry ? { cached: { version: entry.version, hash: entry.hash, bytes: data } } : { prefetched: data };
    return { ...got, inflated, digests };
  } catch {
    return null;
  } finally {
    onRequested();
  }
}

/** clearCache removes one model URL, or every model, from the IndexedDB cache. */
export async function clearCache(url) {
  if (!globalThis.indexedDB) return;
  const key = url === undefined ? undefined : new URL(String(url), globalThis.document?.baseURI ?? globalThis.location?.href ?? HERE).href;
  const db = await openCache();
  try {
    await new Promise((resolve, reject) => {
      const tx = db.transaction(IDB_STORE, 'readwrite');
      const store = tx.objectStore(IDB_STORE);
      if (key === undefined) store.clear();
      else store.delete(key);
      tx.oncomplete = resolve;
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  } catch (err) {
    throw asVeilError(err);
  } finally {
    db.close();
  }
}
