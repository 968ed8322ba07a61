// Browser test of veil.js itself (wasm/README.md), in headless Chromium
// against tools/serve: worker mode keeps the main thread free, the
// IndexedDB model cache (a second load makes no request; a corrupted entry
// is dropped and fetched again), every input kind gives tools/classify's
// exact answer, errors cross the worker as VeilErrors, and 100 concurrent
// calls resolve correctly. Run with `make test-e2e` (or `node --test
// e2e/wasm.test.mjs` after `make models wasm`).
//
// The site served is a copy of web/'s veil.js, veil.wasm and wasm_exec.js,
// a blank page to run scripts in, the test images, the real
// models/mobilenet_v2.veil, and a stand-in engine (veil-fake.wasm, built
// with -tags veilfake) with its tiny model file for the 100-call test.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { CLASSES, MOCK, ROOT, WORK, buildTools, expectedProbabilities, launchBrowser } from './harness.js';

const run = promisify(execFile);
const LONG = 10 * 60_000;
const MODEL = 'mobilenet_v2';
const MODEL_URL = `/models/${MODEL}.veil`;

const skip = MOCK ? 'mock mode: veil.js is not under test' : false;
// Our own directory: the page test (harness.js) may run at the same time.
const BASE = path.join(WORK, 'wasm-site');
const SERVE_LOG = path.join(BASE, 'serve.log');
const IMAGE_NAMES = ['ref_b', 'portrait_like_600x800', 'cartoon_face_512', 'fractal_landscape_1024x683', 'wood_rings_700x400'];

let tools;
let files;
let site;
let server;
let browser;
let page;
let expected; // Map file -> probabilities in class order
const pageErrors = [];

/** prepareSite lays out build/e2e/wasm-site/{web,models} and returns them with the image paths. */
async function prepareSite() {
  fs.rmSync(BASE, { recursive: true, force: true });
  const web = path.join(BASE, 'web');
  const models = path.join(BASE, 'models');
  fs.mkdirSync(path.join(web, 'images'), { recursive: true });
  fs.mkdirSync(models);
  await run('go', ['run', './internal/testimages/dump', '-png', '-o', path.join(web, 'images'), '-only', IMAGE_NAMES.join(',')], { cwd: ROOT });
  const images = IMAGE_NAMES.map((n) => path.join(web, 'images', `${n}.png`));
  for (const f of ['veil.js', 'veil.wasm', 'wasm_exec.js']) {
    const src = path.join(ROOT, 'web', f);
    if (!fs.existsSync(src)) throw new Error(`web/${f} is missing: run \`make wasm\``);
    fs.copyFileSync(src, path.join(web, f));
  }
  const model = path.join(ROOT, 'models', `${MODEL}.veil`);
  if (!fs.existsSync(model)) throw new Error(`models/${MODEL}.veil is missing: run \`make models\``);
  fs.copyFileSync(model, path.join(models, `${MODEL}.veil`));
  fs.writeFileSync(path.join(web, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>veil.js test</title>\n');
  // veil's worker, counting the DecompressionStreams it makes: it answers
  // "inflateCount?" with {inflateCount}, a message veil.js ignores. Static
  // imports, the counter's first: a worker delivers the messages that
  // arrive while its script awaits (a dynamic import) to the listeners it
  // has then, and veil.js's would miss the first request.
  fs.writeFileSync(path.join(web, 'count-inflates-patch.js'), [
    'const Original = globalThis.DecompressionStream;',
    'let n = 0;',
    'globalThis.DecompressionStream = class extends Original { constructor(f) { super(f); n++; } };',
    'addEventListener("message", (e) => e.data === "inflateCount?" && postMessage({ inflateCount: n }));',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(web, 'count-inflates.js'), 'import "./count-inflates-patch.js";\nimport "./veil.js";\n');
  fs.writeFileSync(path.join(web, 'images', 'notes.txt'), 'not an image\n');
  await run('go', ['build', '-trimpath', '-ldflags=-s', '-tags', 'veilfake', '-o', path.join(web, 'veil-fake.wasm'), './wasm'], {
    cwd: ROOT, env: { ...process.env, GOOS: 'js', GOARCH: 'wasm' },
  });
  fs.writeFileSync(path.join(models, 'fake.veil'), Buffer.concat([Buffer.from('VEILFAKE'), Buffer.from([16]), Buffer.from('fake')]));
  writeBadDeflates(model, models);
  return { web, models, images };
}

/**
 * writeBadDeflates writes models/bad-deflate-{corrupt,short,long}.veil: the
 * model with one compressed weight tensor replaced by a stream that is not
 * DEFLATE, that inflates to too few bytes, or to too many, and the file's
 * checksum restamped, so that only inflating can find the fault. It returns
 * the tensor's name and its size.
 */
function writeBadDeflates(model, dir) {
  const file = fs.readFileSync(model);
  const n = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + n).toString());
  const [name, { data_offsets: [a, b] }] = Object.entries(header).find(([k, v]) => k.endsWith('.weight.deflate') && v.data_offsets[1] - v.data_offsets[0] > 2000);
  const want = zlib.inflateRawSync(file.subarray(8 + n + a, 8 + n + b)).length;
  const stored = (len) => Buffer.from([0x01, len & 0xff, len >> 8, ~len & 0xff, (~len >> 8) & 0xff, ...new Uint8Array(len)]); // a final stored block
  const streams = { corrupt: Buffer.from([0xff, 0xff, 0xff]), short: stored(100), long: zlib.deflateRawSync(new Uint8Array(want + 1000)) };
  for (const [kind, stream] of Object.entries(streams)) {
    const bad = Buffer.from(file);
    bad.fill(0, 8 + n + a, 8 + n + b);
    stream.copy(bad, 8 + n + a);
    const key = Buffer.from('"veil.sha256":"');
    const at = bad.indexOf(key) + key.length;
    bad.fill(0x30, at, at + 64);
    bad.write(createHash('sha256').update(bad).digest('hex'), at);
    fs.writeFileSync(path.join(dir, `bad-deflate-${kind}.veil`), bad);
  }
  return { name, want };
}

/** startServer runs tools/serve on a free port, logging requests to SERVE_LOG. */
async function startServer(serveBin, { web, models }) {
  const log = fs.openSync(SERVE_LOG, 'w');
  const child = spawn(serveBin, ['-dir', web, '-models', models, '-addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', log] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('tools/serve did not start within 30 s')), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0].trim());
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tools/serve exited with status ${code}; see ${SERVE_LOG}`));
    });
  });
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      fs.closeSync(log);
    },
  };
}

/** modelRequests counts the server's GETs of a model file so far (tools/serve logs each request). */
function modelRequests(urlPath = MODEL_URL) {
  const log = fs.readFileSync(SERVE_LOG, 'utf8');
  return log.split('\n').filter((l) => l.startsWith(`serve: GET ${urlPath} `)).length;
}

/** inPage runs fn(arg) in the blank page, with veil.js imported as window.veil. */
async function inPage(fn, arg) {
  await page.evaluate(async () => {
    window.veil ??= await import('/veil.js');
  });
  return page.evaluate(fn, arg);
}

const names = () => files.images.map((f) => path.basename(f));

describe('veil.js in Chromium', { skip, timeout: 30 * 60_000 }, () => {
  before(async () => {
    fs.mkdirSync(WORK, { recursive: true });
    [tools, site] = await Promise.all([buildTools(), prepareSite()]);
    files = { images: site.images };
    server = await startServer(tools.serve, site);
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    await page.goto(`${server.url.replace(/\/$/, '')}/blank.html`);
    expected = await expectedProbabilities(tools.classify, site.models, MODEL, files.images);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('runs in a worker by default, off the main thread, with tools/classify\'s answers', { timeout: LONG }, async (t) => {
    const res = await inPage(async (images) => {
      const { veil } = window;
      const progress = [];
      const model = await veil.load('models/mobilenet_v2.veil', { cache: false, onProgress: (l, t) => progress.push([l, t]) });
      // Watch the main thread while the worker computes.
      let last = performance.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 10);
      const t0 = performance.now();
      const out = {};
      for (const name of images) {
        const bytes = await (await fetch(`/images/${name}`)).arrayBuffer();
        out[name] = await model.classify(bytes, 0);
      }
      const ms = (performance.now() - t0) / images.length;
      clearInterval(timer);
      const info = { ...model.info };
      return { out, ms, maxGap, progress, info };
    }, names());
    assert.ok(page.workers().length >= 1, 'no worker was started');
    assert.ok(res.maxGap < 250, `main thread blocked for ${res.maxGap.toFixed(0)} ms while classifying (${res.ms.toFixed(0)} ms per image)`);
    assert.equal(res.info.name, MODEL);
    assert.equal(res.info.cached, false);
    assert.ok(res.progress.length >= 1);
    assert.deepEqual(res.progress.at(-1), [res.info.size, res.info.size]);
    for (const f of files.images) {
      const got = res.out[path.basename(f)];
      const byName = Object.fromEntries(got.map((p) => [p.className, p.probability]));
      assert.deepEqual(CLASSES.map((c) => byName[c]), expected.get(f).map(Math.fround), path.basename(f));
    }
    t.diagnostic(`worker: ${res.ms.toFixed(0)} ms per image, longest main-thread gap ${res.maxGap.toFixed(0)} ms`);
  });

  test('every input kind gives the same answer as the PNG bytes', { timeout: LONG }, async () => {
    const name = names()[0];
    const got = await inPage(async (name) => {
      const { veil } = window;
      const model = await veil.load('models/mobilenet_v2.veil', { cache: false });
      const url = `/images/${name}`;
      const blob = await (await fetch(url)).blob();
      const img = new Image();
      img.src = url; // not awaited: classify waits for it
      const bitmap = await createImageBitmap(blob);
      const canvas = document.createElement('canvas');
      [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
      canvas.getContext('2d').drawImage(bitmap, 0, 0);
      const offscreen = new OffscreenCanvas(bitmap.width, bitmap.height);
      offscreen.getContext('2d').drawImage(bitmap, 0, 0);
      const imageData = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const inputs = {
        blob, file: new File([blob], name), arrayBuffer: await blob.arrayBuffer(), uint8array: new Uint8Array(await blob.arrayBuffer()),
        img, canvas, offscreen, bitmap, imageData,
      };
      const out = {};
      for (const [k, v] of Object.entries(inputs)) out[k] = await model.classify(v, 0);
      model.dispose();
      return out;
    }, name);
    const want = expected.get(files.images[0]).map(Math.fround);
    for (const [kind, preds] of Object.entries(got)) {
      const byName = Object.fromEntries(preds.map((p) => [p.className, p.probability]));
      assert.deepEqual(CLASSES.map((c) => byName[c]), want, kind);
    }
  });

  test('a model disposed as soon as it is loaded still leaves its download in the cache', { timeout: LONG }, async () => {
    // Ending the worker mid-write would abort the write: dispose waits for it.
    const loads = await inPage(async () => {
      const { veil } = window;
      await veil.clearCache();
      const out = [];
      for (let i = 0; i < 3; i++) {
        const model = await veil.load('models/mobilenet_v2.veil');
        out.push(model.info.cached);
        model.dispose();
        await new Promise((ok) => setTimeout(ok, 50)); // the worker ends
      }
      return out;
    });
    assert.deepEqual(loads, [false, true, true], 'loads from the cache');
  });

  test('caches the model in IndexedDB and recovers from a corrupted entry', { timeout: LONG }, async () => {
    await inPage(() => window.veil.clearCache());
    const load = (opts = {}) => inPage(async (opts) => {
      const { veil } = window;
      const warnings = [];
      const model = await veil.load('models/mobilenet_v2.veil', { ...opts, onWarning: (w) => warnings.push(w) });
      const bytes = await (await fetch('/images/' + opts.image)).arrayBuffer();
      const preds = await model.classify(bytes, 0);
      model.dispose();
      return { info: { ...model.info }, warnings, preds };
    }, { image: names()[1], ...opts });
    const want = expected.get(files.images[1]).map(Math.fround);
    const check = (r, what) => {
      const byName = Object.fromEntries(r.preds.map((p) => [p.className, p.probability]));
      assert.deepEqual(CLASSES.map((c) => byName[c]), want, what);
    };

    let n = modelRequests();
    const first = await load();
    assert.equal(first.info.cached, false, 'first load from the cache');
    assert.equal(modelRequests(), n + 1, 'first load made no request');
    check(first, 'first load');

    n = modelRequests();
    const second = await load();
    assert.equal(second.info.cached, true, 'second load not from the cache');
    assert.equal(modelRequests(), n, 'second load requested the model');
    assert.deepEqual(second.warnings, []);
    check(second, 'second load');

    // rewriteEntry reads the stored entry (its bytes must be a Blob), flips
    // one byte of the file if asked, and stores it back as a Blob or, with
    // asArray, as a Uint8Array (what earlier builds wrote).
    const rewriteEntry = (flip, asArray) => page.evaluate(async ([flip, asArray]) => {
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open('veil', 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => resolve(open.result);
      });
      const key = new URL('models/mobilenet_v2.veil', document.baseURI).href;
      const request = (r) => new Promise((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      const entry = await request(db.transaction('models').objectStore('models').get(key));
      if (!entry) throw new Error(`no cache entry for ${key}`);
      if (!(entry.bytes instanceof Blob)) throw new Error(`the entry's bytes are a ${entry.bytes?.constructor?.name}, not a Blob`);
      const bytes = new Uint8Array(await entry.bytes.arrayBuffer());
      if (flip) bytes[bytes.length >> 1] ^= 0x10;
      const tx = db.transaction('models', 'readwrite');
      tx.objectStore('models').put({ ...entry, bytes: asArray ? bytes : new Blob([bytes]) }, key);
      await new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
      });
      db.close();
      return true;
    }, [flip, asArray]);

    // Flip one byte of the stored file.
    assert.ok(await rewriteEntry(true, false));
    n = modelRequests();
    const third = await load();
    assert.equal(third.info.cached, false, 'the corrupted entry was used');
    assert.equal(modelRequests(), n + 1, 'the model was not fetched again');
    assert.equal(third.warnings.length, 1);
    assert.match(third.warnings[0], /dropping .*corrupt entry/);
    check(third, 'after corruption');

    n = modelRequests();
    const fourth = await load();
    assert.equal(fourth.info.cached, true, 'the entry was not replaced');
    assert.equal(modelRequests(), n);

    // An entry an earlier build wrote, its bytes a Uint8Array, is still read.
    assert.ok(await rewriteEntry(false, true));
    n = modelRequests();
    const older = await load();
    assert.equal(older.info.cached, true, 'an entry holding a Uint8Array was not used');
    assert.equal(modelRequests(), n);
    assert.deepEqual(older.warnings, []);
    check(older, 'from a Uint8Array entry');

    // cache: false neither reads nor writes.
    n = modelRequests();
    const bypass = await load({ cache: false });
    assert.equal(bypass.info.cached, false);
    assert.equal(modelRequests(), n + 1);

    // A stale entry (the page expects another hash) is dropped and the download refused.
    const stale = await inPage(async () => {
      const { veil } = window;
      try {
        await veil.load('models/mobilenet_v2.veil', { hash: 'ab'.repeat(32), onWarning: () => {} });
        return null;
      } catch (err) {
        return { code: err.code, message: err.message };
      }
    });
    assert.equal(stale.code, 'VEIL_BAD_MODEL');
    assert.match(stale.message, /hash mismatch/);

    await inPage(() => window.veil.clearCache('models/mobilenet_v2.veil'));
    n = modelRequests();
    assert.equal((await load()).info.cached, false, 'clearCache(url) left the entry');
    assert.equal(modelRequests(), n + 1);
  });

  test('100 concurrent classify calls over a pool of workers all resolve correctly', { timeout: LONG }, async () => {
    const res = await inPage(async (images) => {
      const { veil } = window;
      const model = await veil.load('models/fake.veil', { wasmURL: '/veil-fake.wasm', workers: 2, cache: false });
      const bytes = await Promise.all(images.map(async (n) => new Uint8Array(await (await fetch(`/images/${n}`)).arrayBuffer())));
      const want = [];
      for (const b of bytes) want.push(JSON.stringify(await model.classify(b, 0)));
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => model.classify(bytes[i % bytes.length], 0)));
      const wrong = got.map((g, i) => JSON.stringify(g) === want[i % bytes.length] ? -1 : i).filter((i) => i >= 0);
      const batch = await model.classifyBatch(bytes.map((b) => new Blob([b])), 0);
      const batchOK = batch.every((b, i) => JSON.stringify(b) === want[i]);
      model.dispose();
      return { wrong, batchOK, distinct: new Set(want).size };
    }, names());
    assert.deepEqual(res.wrong, [], 'calls with a wrong answer');
    assert.ok(res.batchOK, 'classifyBatch answers differ');
    assert.ok(res.distinct > 1, 'the images are not told apart');
  });

  test('the page inflates each compressed tensor once, as the model downloads or comes from the cache', { timeout: LONG }, async () => {
    const file = fs.readFileSync(path.join(site.models, `${MODEL}.veil`));
    const header = JSON.parse(file.subarray(8, 8 + Number(file.readBigUInt64LE(0))).toString());
    const want = Object.keys(header).filter((k) => k.endsWith('.deflate')).length;
    const loads = await inPage(async (url) => {
      // Count the DecompressionStreams made on the page, and in veil's
      // worker, started from count-inflates.js instead (see prepareSite).
      const { DecompressionStream: Original, Worker: OriginalWorker } = window;
      let workers, n;
      window.DecompressionStream = class extends Original {
        constructor(format) {
          super(format);
          n++;
        }
      };
      window.Worker = class extends OriginalWorker {
        constructor(script, opts) {
          super(new URL('count-inflates.js', location.href), opts);
          workers.push(this);
        }
      };
      const image = await (await fetch('/images/ref_b.png')).blob();
      const loadOnce = async (opts) => {
        workers = [];
        n = 0;
        const model = await window.veil.load(url, opts);
        const top = (await model.classify(image, 1))[0];
        const inWorker = await Promise.all(workers.map((w) => new Promise((resolve) => {
          w.addEventListener('message', (e) => e.data?.inflateCount !== undefined && resolve(e.data.inflateCount));
          w.postMessage('inflateCount?');
        })));
        model.dispose();
        return { opts, cached: model.info.cached, n, inWorker, top };
      };
      try {
        await window.veil.clearCache(url);
        // Downloaded without the cache, downloaded into it, read from it.
        return [await loadOnce({ cache: false }), await loadOnce({}), await loadOnce({})];
      } finally {
        window.DecompressionStream = Original;
        window.Worker = OriginalWorker;
      }
    }, MODEL_URL);
    assert.ok(want > 10, `${MODEL}.veil has ${want} compressed tensors`);
    assert.deepEqual(loads.map((l) => l.cached), [false, false, true], 'loads from the cache');
    const probs = expected.get(files.images.find((f) => path.basename(f) === 'ref_b.png'));
    for (const [i, got] of loads.entries()) {
      assert.equal(got.n, want, `load ${i + 1}: DecompressionStreams made on the page`);
      // One in the worker: veil.js's check, as it starts, that deflate-raw is supported.
      assert.deepEqual(got.inWorker, [1], `load ${i + 1}: DecompressionStreams made in the worker (more: it inflated again what the page had)`);
      assert.equal(got.top.className, CLASSES[probs.indexOf(Math.max(...probs))], `load ${i + 1}`);
    }
  });

  // In the browser, veil.js inflates with DecompressionStream (host.inflate
  // in the worker, after tensorInflater on the page gave up on the bad stream).
  test('a model whose compressed tensor does not inflate to its size is refused, naming the tensor', { timeout: LONG }, async () => {
    const { name, want } = writeBadDeflates(path.join(ROOT, 'models', `${MODEL}.veil`), path.join(BASE, 'models'));
    const tensor = name.replaceAll('.', '\\.');
    for (const [kind, pattern] of [
      ['corrupt', /invalid block type/i], // zlib's words: Go's compress/flate would say "corrupt input"
      ['short', /inflates to 100 bytes|junk/i],
      ['long', new RegExp(`inflates to more than ${want} bytes`)],
    ]) {
      const got = await inPage(async (url) => {
        try {
          (await window.veil.load(url, { cache: false })).dispose();
          return null;
        } catch (err) {
          return { code: err.code, message: err.message };
        }
      }, `models/bad-deflate-${kind}.veil`);
      assert.equal(got?.code, 'VEIL_BAD_MODEL', `${kind}: ${JSON.stringify(got)}`);
      assert.match(got.message, new RegExp(`${tensor}.*(${pattern.source})`, 'i'), kind);
    }
  });

  test('errors cross the worker as VeilErrors, and dispose ends the workers', { timeout: LONG }, async () => {
    const before = page.workers().length;
    const res = await inPage(async () => {
      const { veil } = window;
      const model = await veil.load('models/fake.veil', { wasmURL: '/veil-fake.wasm', cache: false });
      const errs = {};
      const grab = async (k, p) => {
        try {
          await p;
          errs[k] = null;
        } catch (err) {
          errs[k] = { code: err.code, message: err.message, isError: err instanceof Error, isVeil: err instanceof veil.VeilError };
        }
      };
      await grab('badImage', model.classify(await (await fetch('/images/notes.txt')).arrayBuffer()));
      await grab('badInput', model.classify(document.body));
      await grab('brokenImg', model.classify(Object.assign(new Image(), { src: '/images/missing.png' })));
      await grab('badModel', veil.load(new Uint8Array([1, 2, 3]), { wasmURL: '/veil-fake.wasm' }));
      await grab('missingModel', veil.load('models/missing.veil', { wasmURL: '/veil-fake.wasm' }));
      model.dispose();
      await grab('disposed', model.classify(new Uint8Array([1])));
      return errs;
    });
    const want = {
      badImage: 'VEIL_BAD_IMAGE', badInput: 'VEIL_BAD_INPUT', brokenImg: 'VEIL_BAD_IMAGE',
      badModel: 'VEIL_BAD_MODEL', missingModel: 'VEIL_FETCH', disposed: 'VEIL_DISPOSED',
    };
    for (const [k, code] of Object.entries(want)) {
      assert.ok(res[k], `${k} did not reject`);
      assert.equal(res[k].code, code, `${k}: ${res[k].message}`);
      assert.ok(res[k].isError && res[k].isVeil, `${k} is not a VeilError`);
      assert.match(res[k].message, /^veil: /);
    }
    assert.match(res.missingModel.message, /HTTP 404/);
    // Workers of disposed models end (the page has no model left).
    await page.waitForFunction(() => true);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(page.workers().length <= before, `${page.workers().length} workers left, had ${before}`);
    assert.deepEqual(pageErrors, []);
  });
});
