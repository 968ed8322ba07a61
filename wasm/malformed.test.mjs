// The malformed-input table (internal/malformed) through web/veil.js under
// Node: every case gives a result or a VeilError of the expected kind, within
// a time limit, and the answers equal tools/classify's bit for bit; the
// decompression bombs are refused within a second without growing the
// engine's memory by 100 MB; and concurrent calls mixing good and bad
// inputs each get their own answer.
//
// Run by `make test-js`, which first writes build/malformed
// (go run ./internal/malformed/dump -o build/malformed) and the stand-in
// engine build/wasm/veil-fake.wasm.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { fakeModel, loadManifest, trackWasmMemory, withTimeout } from './testutil.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODELS = path.resolve(ROOT, process.env.VEIL_MODELS ?? 'models');
const REQUIRE_MODELS = process.env.VEIL_REQUIRE_MODELS === '1';
const FAKE_WASM = path.join(ROOT, 'build', 'wasm', 'veil-fake.wasm');
const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
const CALL_TIMEOUT = 60_000; // a hang guard; a real-model call takes about 0.5 s

const memory = trackWasmMemory(); // before veil.js instantiates anything
const { load, VeilError } = await import(pathToFileURL(path.join(ROOT, 'web', 'veil.js')).href);
const { dir: DIR, manifest } = await loadManifest(ROOT);
const patterns = Object.fromEntries(Object.entries(manifest.patterns).map(([k, p]) => [k, new RegExp(p)]));

/** outcome classifies one case: {probs} in class order, or {code, message}. */
async function outcome(model, c) {
  const bytes = fs.readFileSync(path.join(DIR, c.file));
  try {
    const preds = await withTimeout(model.classify(bytes, 0), CALL_TIMEOUT, `${c.name} hung`);
    const byName = Object.fromEntries(preds.map((p) => [p.className, p.probability]));
    return { probs: CLASSES.map((k) => byName[k]) };
  } catch (err) {
    assert.ok(err instanceof VeilError, `${c.name}: not a VeilError: ${err}`);
    return { code: err.code, message: err.message };
  }
}

/** checkOutcome asserts the case's expectation on one outcome. */
function checkOutcome(c, got) {
  if (c.expect === 'ok') {
    assert.ok(got.probs, `${c.name}: ${got.message}`);
    assert.equal(got.probs.length, 5);
    const sum = got.probs.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-3, `${c.name}: probabilities sum to ${sum}`);
    return;
  }
  assert.ok(!got.probs, `${c.name}: classified, want a ${c.expect} error`);
  assert.equal(got.code, 'VEIL_BAD_IMAGE', `${c.name}: ${got.message}`);
  assert.match(got.message, /^veil: cannot read the image: decode: /, c.name);
  assert.match(got.message, patterns[c.expect], `${c.name}: want a ${c.expect} error`);
  for (const [kind, p] of Object.entries(patterns)) {
    if (kind !== c.expect) assert.doesNotMatch(got.message, p, `${c.name}: also reads as ${kind}`);
  }
}

/** checkSameAs asserts the SameAs relations among the ok outcomes. */
function checkSameAs(results) {
  for (const c of manifest.cases.filter((c) => c.same_as)) {
    const a = results.get(c.name).probs;
    const b = results.get(c.same_as).probs;
    if (!c.tolerance) {
      assert.deepEqual(a, b, `${c.name} must classify exactly like ${c.same_as}`);
      continue;
    }
    const top = (p) => p.indexOf(Math.max(...p));
    assert.equal(top(a), top(b), `${c.name}: top class differs from ${c.same_as}`);
    const d = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    assert.ok(d <= c.tolerance, `${c.name} vs ${c.same_as}: max |Δp| ${d}`);
  }
}

const realModel = path.join(MODELS, 'mobilenet_v2.veil');
const skipReal = !fs.existsSync(realModel) && !REQUIRE_MODELS ? `no ${realModel} (run \`make models\`)` : false;

describe('malformed inputs through veil.js, real model', { skip: skipReal }, () => {
  let model;
  const results = new Map();
  before(async () => {
    model = await load(realModel);
  });

  it(`gives each of the ${manifest.cases.length} cases a result or a clear error`, async (t) => {
    const counts = {};
    for (const c of manifest.cases) {
      const got = await outcome(model, c);
      checkOutcome(c, got);
      results.set(c.name, got);
      counts[c.expect] = (counts[c.expect] ?? 0) + 1;
    }
    checkSameAs(results);
    t.diagnostic(`cases: ${JSON.stringify(counts)}`);
  });

  it('answers exactly as tools/classify on the same files', async () => {
    const bin = path.join(ROOT, 'build', 'wasm', 'classify');
    await run('go', ['build', '-o', bin, './tools/classify'], { cwd: ROOT, env: { ...process.env, GOOS: '', GOARCH: '' } });
    let stdout;
    try {
      ({ stdout } = await run(bin, ['-json', '-r', '-model', realModel, DIR], { cwd: ROOT, maxBuffer: 64 << 20 }));
      assert.fail('tools/classify succeeded on the malformed table');
    } catch (err) {
      assert.equal(err.code, 1, String(err));
      stdout = err.stdout;
    }
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, manifest.cases.length);
    for (const r of lines) {
      const c = manifest.cases.find((x) => x.file === path.basename(r.file));
      const got = results.get(c.name);
      if (r.error) {
        assert.equal(got.message, `veil: cannot read the image: ${r.error}`, c.name);
        continue;
      }
      const byName = Object.fromEntries(r.predictions.map((p) => [p.className, Math.fround(p.probability)]));
      assert.deepEqual(got.probs, CLASSES.map((k) => byName[k]), c.name);
    }
  });

  it('refuses decompression bombs within 1 s and without growing memory by 100 MB', async (t) => {
    await model.classify(fs.readFileSync(path.join(DIR, 'png_rgb.png')), 0); // buffers allocated
    for (const name of ['png_bomb_100000x100000', 'jpeg_bomb_65535x65535']) {
      const c = manifest.cases.find((x) => x.name === name);
      const wasmBefore = memory.bytes();
      const rssBefore = process.memoryUsage().rss;
      const t0 = performance.now();
      const got = await outcome(model, c);
      const ms = performance.now() - t0;
      const wasmGrowth = memory.bytes() - wasmBefore;
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      checkOutcome(c, got);
      t.diagnostic(`${name}: refused in ${ms.toFixed(1)} ms; wasm memory grew ${wasmGrowth} bytes (now ${(memory.bytes() / 1e6).toFixed(1)} MB), RSS grew ${(rssGrowth / 1e6).toFixed(1)} MB`);
      assert.ok(ms < 1000, `${name}: ${ms} ms`);
      assert.ok(wasmGrowth < 100e6, `${name}: wasm memory grew ${wasmGrowth}`);
      assert.ok(rssGrowth < 100e6, `${name}: RSS grew ${rssGrowth}`);
    }
  });
});

describe('malformed inputs through veil.js, stand-in model', () => {
  let model;
  before(async () => {
    if (!fs.existsSync(FAKE_WASM)) throw new Error(`${FAKE_WASM} is missing: run \`make test-js\``);
    model = await load(fakeModel(224, 'malformed'), { wasmURL: pathToFileURL(FAKE_WASM).href });
  });

  it('gives each case the same outcome serially and all at once', async () => {
    const serial = new Map();
    for (const c of manifest.cases) {
      const got = await outcome(model, c);
      checkOutcome(c, got);
      serial.set(c.name, got);
    }
    checkSameAs(serial);
    // Every case in flight together, twice over: good and bad inputs mixed.
    const all = [...manifest.cases, ...manifest.cases];
    const together = await Promise.all(all.map((c) => outcome(model, c)));
    together.forEach((got, i) => assert.deepEqual(got, serial.get(all[i].name), `${all[i].name} (call ${i})`));
  });

  it('refuses decompression bombs within 1 s without growing memory by 100 MB', async (t) => {
    for (const name of ['png_bomb_100000x100000', 'jpeg_bomb_65535x65535', 'gif_bomb_65535x65535']) {
      const c = manifest.cases.find((x) => x.name === name);
      const wasmBefore = memory.bytes();
      const t0 = performance.now();
      const got = await outcome(model, c);
      const ms = performance.now() - t0;
      checkOutcome(c, got);
      const growth = memory.bytes() - wasmBefore;
      t.diagnostic(`${name}: refused in ${ms.toFixed(1)} ms, wasm memory grew ${growth} bytes`);
      assert.ok(ms < 1000, `${name}: ${ms} ms`);
      assert.ok(growth < 100e6);
    }
  });
});
