// Node tests of web/veil.js (built by `make wasm`): run with `make test-js`,
// or `node --test wasm/veil.test.mjs` after `make wasm`.
//
// Two engines are used:
//   - a stand-in build (go build -tags veilfake, made here) whose tiny
//     "fake" model files exercise the API, inputs and error paths quickly;
//   - the real web/veil.wasm on the real .veil models (models/, or
//     $VEIL_MODELS), whose answers must equal tools/classify's bit for bit.
//     Without model files those tests skip, unless VEIL_REQUIRE_MODELS=1.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORK = path.join(ROOT, 'build', 'wasm');
const WEB = path.join(ROOT, 'web');
const FAKE_WASM = path.join(WORK, 'veil-fake.wasm');
const MODELS = path.resolve(ROOT, process.env.VEIL_MODELS ?? 'models');
const REQUIRE_MODELS = process.env.VEIL_REQUIRE_MODELS === '1';
const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

for (const f of ['veil.js', 'veil.wasm', 'wasm_exec.js']) {
  if (!fs.existsSync(path.join(WEB, f))) throw new Error(`web/${f} is missing: run \`make wasm\``);
}
const veil = await import(pathToFileURL(path.join(WEB, 'veil.js')).href);
const { load, VeilError } = veil;

const go = (args) => run('go', args, { cwd: ROOT, maxBuffer: 64 << 20 });

/** fakeModel is a stand-in model file (wasm/internal/fakemodel). */
function fakeModel(size = 8, name = 'fake') {
  return new Uint8Array([...Buffer.from('VEILFAKE'), size, ...Buffer.from(name)]);
}

/** restamp rewrites a .veil file's checksum (pkg/veilfile) after an edit. */
function restamp(file) {
  const text = Buffer.from(file.buffer, file.byteOffset, file.length);
  const key = Buffer.from('"veil.sha256":"');
  const at = text.indexOf(key) + key.length;
  file.fill(0x30, at, at + 64); // '0' × 64, as when the sum was taken
  file.set(Buffer.from(sha256(file)), at);
  return file;
}

const fakeOpts = { wasmURL: pathToFileURL(FAKE_WASM).href };
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** rejectsWith asserts that p rejects with a VeilError of the given code. */
async function rejectsWith(p, code, pattern) {
  await assert.rejects(p, (err) => {
    assert.ok(err instanceof VeilError && err instanceof Error, `not a VeilError: ${err}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /^veil: /);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

// Test images: generated PNGs with their raw RGB (internal/testimages), and
// JPEG/WebP/PNG files of the decode package's tests.
const IMAGE_NAMES = ['ref_a_224', 'ref_b', 'cartoon_face_512', 'fractal_landscape_1024x683', 'aspect_3x1000', 'flat_skin_400x300'];
const DECODE_FILES = ['j420.jpg', 'jprog.jpg', 'jcmyk.jpg', 'lossy.webp', 'lossless_alpha.webp', 'src_alpha.png'];
let images; // [{name, file, bytes, w, h, rgb}]

before(async () => {
  fs.mkdirSync(WORK, { recursive: true });
  const dir = path.join(WORK, 'testimages');
  await Promise.all([
    run('go', ['build', '-trimpath', '-ldflags=-s', '-tags', 'veilfake', '-o', FAKE_WASM, './wasm'], {
      cwd: ROOT, env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' },
    }),
    go(['run', './internal/testimages/dump', '-png', '-o', dir, '-only', IMAGE_NAMES.join(',')]),
  ]);
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  images = index.map((e) => ({
    name: e.name,
    file: path.join(dir, `${e.name}.png`),
    bytes: fs.readFileSync(path.join(dir, `${e.name}.png`)),
    w: e.w,
    h: e.h,
    rgb: fs.readFileSync(path.join(dir, `${e.name}.rgb`)),
  }));
  for (const f of DECODE_FILES) {
    const file = path.join(ROOT, 'pkg/infer/decode/testdata', f);
    images.push({ name: f, file, bytes: fs.readFileSync(file) });
  }
});

/** rgba widens RGB to RGBA with the given alpha. */
function rgba(rgb, alpha = 255) {
  const out = new Uint8ClampedArray((rgb.length / 3) * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    out[j] = rgb[i];
    out[j + 1] = rgb[i + 1];
    out[j + 2] = rgb[i + 2];
    out[j + 3] = alpha;
  }
  return out;
}

function checkPredictions(preds, k = 5) {
  assert.equal(preds.length, k);
  for (let i = 0; i < preds.length; i++) {
    assert.deepEqual(Object.keys(preds[i]), ['className', 'probability']);
    assert.ok(CLASSES.includes(preds[i].className));
    assert.ok(preds[i].probability >= 0 && preds[i].probability <= 1);
    if (i) assert.ok(preds[i].probability <= preds[i - 1].probability, 'not sorted');
  }
}

describe('veil.js API (stand-in model)', () => {
  // The stand-in engine is built in the top-level before hook.
  let model;
  before(async () => {
    model = await load(fakeModel(8, 'tiny'), fakeOpts);
  });
  after(() => model?.dispose());

  it('loads from bytes of every kind and describes the model', async () => {
    const file = fakeModel(8, 'tiny');
    const sources = [file, file.buffer.slice(0), Buffer.from(file), new Blob([file]), new DataView(file.buffer.slice(0))];
    for (const src of sources) {
      const progress = [];
      const m = await load(src, { ...fakeOpts, onProgress: (l, t) => progress.push([l, t]) });
      assert.deepEqual({ ...m.info }, {
        name: 'tiny', inputSize: 8, classes: CLASSES, adapters: [], hash: sha256(file),
        size: file.length, format: 'fake', source: '', cached: false,
      });
      assert.ok(Object.isFrozen(m.info));
      assert.deepEqual(progress, [[file.length, file.length]]);
      m.dispose();
    }
  });

  it('leaves the global scope as it was', () => {
    // wasm_exec.js defines Go, fs and path; the bridge is handed over through a global.
    for (const name of ['Go', 'fs', 'path']) assert.ok(!(name in globalThis), `globalThis.${name} leaked`);
    assert.deepEqual(Object.keys(globalThis).filter((k) => k.startsWith('__veil')), []);
  });

  it('loads from a file path and an http URL, with progress', async () => {
    const file = fakeModel(8, 'served');
    const p = path.join(WORK, 'served.veil');
    fs.writeFileSync(p, file);
    const fromPath = await load(p, fakeOpts);
    assert.equal(fromPath.info.name, 'served');
    fromPath.dispose();

    const big = Buffer.concat([Buffer.from(file), Buffer.alloc(3000, 0x2e)]); // name padded with dots
    const server = http.createServer(async (req, res) => {
      if (req.url !== '/m.veil') {
        res.writeHead(404, 'Not Found').end();
        return;
      }
      res.writeHead(200, { 'content-length': big.length });
      for (let i = 0; i < big.length; i += 1000) {
        res.write(big.subarray(i, i + 1000));
        await new Promise((r) => setTimeout(r, 5));
      }
      res.end();
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${server.address().port}`;
      const progress = [];
      const m = await load(`${base}/m.veil`, { ...fakeOpts, onProgress: (l, t) => progress.push([l, t]) });
      assert.equal(m.info.source, `${base}/m.veil`);
      assert.equal(m.info.cached, false); // Node has no IndexedDB
      assert.equal(m.info.hash, sha256(big));
      assert.ok(progress.length >= 2, `progress ${JSON.stringify(progress)}`);
      assert.deepEqual(progress.at(-1), [big.length, big.length]);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] > progress[i - 1][0]);
      m.dispose();
      await rejectsWith(load(`${base}/missing.veil`, fakeOpts), 'VEIL_FETCH', /HTTP 404/);
      await rejectsWith(load(`${base}/m.veil`, { ...fakeOpts, hash: 'ab'.repeat(32) }), 'VEIL_BAD_MODEL', /hash mismatch/);
    } finally {
      server.close();
    }
  });

  it('takes every kind of image bytes and gives the same answer', async () => {
    const img = images.find((i) => i.name === 'cartoon_face_512');
    const want = await model.classify(img.bytes);
    checkPredictions(want);
    const b = img.bytes;
    const padded = new Uint8Array(b.length + 10);
    padded.set(b, 5);
    const inputs = [
      new Uint8Array(b), b.buffer.slice(b.byteOffset, b.byteOffset + b.length), new DataView(padded.buffer, 5, b.length),
      padded.subarray(5, 5 + b.length), new Blob([b]),
    ];
    for (const input of inputs) assert.deepEqual(await model.classify(input), want, input.constructor.name);
  });

  it('classifies RGBA pixels as the decoded PNG', async () => {
    for (const img of images.filter((i) => i.rgb)) {
      const fromBytes = await model.classify(img.bytes, 0);
      // Alpha is dropped, as tf.browser.fromPixels does.
      for (const alpha of [255, 0]) {
        const fromPixels = await model.classify({ data: rgba(img.rgb, alpha), width: img.w, height: img.h }, 0);
        assert.deepEqual(fromPixels, fromBytes, `${img.name} alpha ${alpha}`);
      }
    }
  });

  it('returns the top k, most probable first', async () => {
    const img = images[0].bytes;
    checkPredictions(await model.classify(img), 5);
    checkPredictions(await model.classify(img, 2), 2);
    checkPredictions(await model.classify(img, 0), 5);
    checkPredictions(await model.classify(img, 99), 5);
    assert.deepEqual(await model.classify(img, 2), (await model.classify(img, 5)).slice(0, 2));
  });

  it('classifies batches in order and names the failing input', async () => {
    const inputs = images.map((i) => i.bytes);
    const want = [];
    for (const x of inputs) want.push(await model.classify(x, 3));
    assert.deepEqual(await model.classifyBatch(inputs, 3), want);
    assert.deepEqual(await model.classifyBatch([]), []);
    await rejectsWith(model.classifyBatch([inputs[0], Buffer.from('not an image'), inputs[1]]), 'VEIL_BAD_IMAGE', /^veil: input 1: /);
  });

  it('answers 100 concurrent calls each with its own result', async () => {
    const want = await Promise.all(images.map((i) => model.classify(i.bytes, 0)));
    const calls = Array.from({ length: 100 }, (_, n) => model.classify(images[n % images.length].bytes, 0));
    const got = await Promise.all(calls);
    got.forEach((g, n) => assert.deepEqual(g, want[n % images.length], `call ${n}`));
  });

  it('rejects bad inputs with clear errors', async () => {
    await rejectsWith(model.classify(Buffer.from('hello, not an image')), 'VEIL_BAD_IMAGE', /cannot read the image: decode: unknown format/);
    await rejectsWith(model.classify(new Uint8Array(0)), 'VEIL_BAD_IMAGE', /empty/);
    await rejectsWith(model.classify(images[0].bytes.subarray(0, 200)), 'VEIL_BAD_IMAGE');
    for (const bad of [undefined, null, 42, 'photo.jpg', {}, [1, 2, 3]]) {
      await rejectsWith(model.classify(bad), 'VEIL_BAD_INPUT', /cannot classify a/);
    }
    await rejectsWith(model.classify({ data: new Uint8ClampedArray(7), width: 2, height: 1 }), 'VEIL_BAD_INPUT', /needs 8 bytes, have 7/);
  });

  it('rejects files that are not models', async () => {
    const cases = [
      [new Uint8Array(0), /empty/],
      [Buffer.from('\x00\x01 garbage'), /not a usable \.veil model file/],
      [Buffer.from('<!doctype html><h1>404</h1>'), /HTML/],
      [Buffer.from('{"modelTopology": {}}'), /TF\.js model\.json/],
    ];
    for (const [bytes, pattern] of cases) await rejectsWith(load(bytes, fakeOpts), 'VEIL_BAD_MODEL', pattern);
    await rejectsWith(load(42, fakeOpts), 'VEIL_BAD_INPUT', /model URL or the model file's bytes/);
    await rejectsWith(load(path.join(WORK, 'no-such-model.veil'), fakeOpts), 'VEIL_FETCH', /cannot read the model file/);
    await rejectsWith(load(fakeModel(), { ...fakeOpts, worker: true }), 'VEIL_BAD_INPUT', /no Web Workers/);
    await rejectsWith(load(fakeModel(), { wasmURL: pathToFileURL(path.join(WORK, 'missing.wasm')).href }), 'VEIL_FETCH', /cannot load/);
  });

  it('disposes: running calls finish, later calls reject', async () => {
    const m = await load(fakeModel(), fakeOpts);
    const running = m.classify(images[0].bytes);
    m.dispose();
    m.dispose(); // twice is fine
    checkPredictions(await running);
    await rejectsWith(m.classify(images[0].bytes), 'VEIL_DISPOSED', /^veil: model has been disposed$/);
    await rejectsWith(m.classifyBatch([images[0].bytes]), 'VEIL_DISPOSED');
    // Other models are unaffected.
    checkPredictions(await model.classify(images[0].bytes));
  });
});

// The real engine and models: identical to the native CLI.
const realModels = ['mobilenet_v2', 'mobilenet_v2_mid', 'inception_v3'].filter((n) => fs.existsSync(path.join(MODELS, `${n}.veil`)));
const skipReal = realModels.length === 0 && !REQUIRE_MODELS ? `no .veil models in ${MODELS} (run \`make models\`)` : false;

describe('veil.js with the real models', { skip: skipReal }, () => {
  let classifyBin;
  before(async () => {
    assert.ok(realModels.length > 0, `VEIL_REQUIRE_MODELS=1 but no .veil models in ${MODELS}`);
    classifyBin = path.join(WORK, 'classify');
    await run('go', ['build', '-o', classifyBin, './tools/classify'], {
      cwd: ROOT, env: { ...process.env, GOOS: '', GOARCH: '' },
    });
  });

  for (const name of realModels) {
    it(`${name}: probabilities equal tools/classify's exactly`, async (t) => {
      const modelFile = path.join(MODELS, `${name}.veil`);
      // The large models are slow in wasm: fewer images.
      const subset = name === 'mobilenet_v2' ? images : images.filter((_, i) => i % 4 === 0);
      const { stdout } = await run(classifyBin, ['-json', '-model', modelFile, ...subset.map((i) => i.file)], { cwd: ROOT, maxBuffer: 64 << 20 });
      const want = new Map(stdout.trim().split('\n').map((l) => JSON.parse(l)).map((r) => {
        assert.ok(!r.error, `tools/classify ${r.file}: ${r.error}`);
        return [r.file, r.predictions];
      }));

      const t0 = performance.now();
      const model = await load(modelFile);
      const loadMs = performance.now() - t0;
      assert.equal(model.info.name, name);
      assert.equal(model.info.hash, sha256(fs.readFileSync(modelFile)));
      assert.deepEqual(model.info.classes, CLASSES);
      let ms = 0;
      for (const img of subset) {
        const t = performance.now();
        const got = await model.classify(img.bytes, 0);
        ms += performance.now() - t;
        const exp = want.get(img.file);
        assert.deepEqual(got.map((p) => p.className), exp.map((p) => p.className), img.name);
        // The CLI prints float32 in shortest form; veil.js gives the float32 as a double.
        assert.deepEqual(got.map((p) => p.probability), exp.map((p) => Math.fround(p.probability)), img.name);
      }
      t.diagnostic(`${name}: load ${loadMs.toFixed(0)} ms, ${(ms / subset.length).toFixed(0)} ms per image through veil.js (Node, inline)`);

      // Pixels give the bytes' answer too.
      const img = subset.find((i) => i.rgb);
      assert.deepEqual(await model.classify({ data: rgba(img.rgb), width: img.w, height: img.h }, 0), await model.classify(img.bytes, 0));
      model.dispose();
    });
  }

  // In Node the compressed tensors are inflated by Go's compress/flate
  // (pkg/veilfile has the same cases); e2e/wasm.test.mjs runs them through
  // veil.js's DecompressionStream in Chromium.
  it('rejects compressed tensors that do not inflate to their size, naming them', async () => {
    const file = new Uint8Array(fs.readFileSync(path.join(MODELS, `${realModels[0]}.veil`)));
    const n = Number(Buffer.from(file.buffer, file.byteOffset, 8).readBigUInt64LE(0));
    const header = JSON.parse(Buffer.from(file.subarray(8, 8 + n)).toString());
    const [name, { data_offsets: [a, b] }] = Object.entries(header).find(([k, v]) => k.endsWith('.weight.deflate') && v.data_offsets[1] - v.data_offsets[0] > 2000);
    const want = zlib.inflateRawSync(file.subarray(8 + n + a, 8 + n + b)).length;
    const stored = (len) => [0x01, len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff, ...new Uint8Array(len)]; // a final stored block
    const cases = [
      [[0xff, 0xff, 0xff], /inflate/], // reserved block type
      [stored(100), /unexpected EOF/],
      [zlib.deflateRawSync(new Uint8Array(want + 1000)), new RegExp(`inflates to more than ${want} bytes`)],
    ];
    for (const [stream, pattern] of cases) {
      const bad = file.slice();
      bad.fill(0, 8 + n + a, 8 + n + b);
      bad.set(stream, 8 + n + a); // what follows the stream is zeros
      await rejectsWith(load(restamp(bad)), 'VEIL_BAD_MODEL', new RegExp(`${name.replaceAll('.', '\\.')}.*${pattern.source}`, 'i'));
    }
    // The untouched file, restamped, still loads.
    (await load(restamp(file.slice()))).dispose();
  });

  it('rejects a corrupted model file', async () => {
    const file = new Uint8Array(fs.readFileSync(path.join(MODELS, `${realModels[0]}.veil`)));
    file[file.length - 100] ^= 0x40;
    await rejectsWith(load(file), 'VEIL_BAD_MODEL', /checksum mismatch/);
    await rejectsWith(load(file.subarray(0, file.length >> 1)), 'VEIL_BAD_MODEL');
  });
});
