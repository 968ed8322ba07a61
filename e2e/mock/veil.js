// A stand-in for the real veil.js (built by `make wasm`), used only by the
// e2e tests in mock mode (VEIL_E2E_MOCK=1) to develop the page while the
// WebAssembly engine is not built. Never shipped: the tests copy web/ to a
// temporary directory and put this file there as veil.js.
//
// It follows the real API (wasm/README.md): load(urlOrBytes, {cache,
// onProgress}) -> {info, classify, classifyBatch, dispose}. A mock model file
// is JSON ({"veilMock":1,"name":...}) followed by padding; the mock
// "probabilities" are a hash of the image bytes and the model name, so the
// test can recompute them in Node with mockProbabilities.

export const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

function fnv1a(bytes, seed) {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function isImage(b) {
  const s = (from, to) => String.fromCharCode(...b.subarray(from, to));
  return (b[0] === 0xff && b[1] === 0xd8) || (b[0] === 0x89 && s(1, 4) === 'PNG') ||
    s(0, 4) === 'GIF8' || (s(0, 4) === 'RIFF' && s(8, 12) === 'WEBP');
}

/** mockProbabilities: five float32 values in class order that sum to ~1. */
export function mockProbabilities(bytes, modelName) {
  const seed = fnv1a(new TextEncoder().encode(modelName), 0);
  const raw = CLASSES.map((_, i) => 1 + (fnv1a(bytes, seed + i * 7919) % 1000));
  // Make one class dominate so the cards look like real results.
  const top = fnv1a(bytes, seed) % CLASSES.length;
  raw[top] *= 8;
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((r) => Math.fround(r / sum));
}

async function toBytes(input) {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (input instanceof Blob) return new Uint8Array(await input.arrayBuffer());
  throw new Error('mock veil: unsupported input');
}

async function fetchWithProgress(url, onProgress) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  const total = Number(resp.headers.get('Content-Length')) || 0;
  const reader = resp.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress?.(received, total);
    await new Promise((r) => setTimeout(r, 20)); // slow enough to see the bar
  }
  const out = new Uint8Array(received);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

export async function load(src, opts = {}) {
  const bytes = typeof src === 'string' || src instanceof URL
    ? await fetchWithProgress(String(src), opts.onProgress)
    : await toBytes(src);
  const end = bytes.indexOf(0x0a);
  let meta;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes.subarray(0, end < 0 ? bytes.length : end)));
  } catch {
    throw new Error('not a veil model file');
  }
  if (!meta.veilMock) throw new Error('not a veil model file');
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const hash = [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
  let disposed = false;
  const model = {
    info: { name: meta.name, inputSize: meta.inputSize ?? 224, classes: CLASSES, adapters: meta.adapters ?? [], hash },
    async classify(input, topK = 5) {
      if (disposed) throw new Error('model disposed');
      const b = await toBytes(input);
      if (!isImage(b)) throw new Error('veil: decode: unknown image format');
      if (b.length < 200) throw new Error('veil: decode: unexpected EOF'); // the mock's idea of a broken file
      await new Promise((r) => setTimeout(r, 40));
      const probs = mockProbabilities(b, meta.name);
      return CLASSES.map((className, i) => ({ className, probability: probs[i] }))
        .sort((a, b2) => b2.probability - a.probability)
        .slice(0, topK);
    },
    async classifyBatch(inputs, topK) {
      const out = [];
      for (const x of inputs) out.push(await model.classify(x, topK));
      return out;
    },
    dispose() {
      disposed = true;
    },
  };
  return model;
}
