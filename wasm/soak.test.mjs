// Soak: many classifications through web/veil.js under Node, with the
// engine's memory (the Go wasm linear memory), the JavaScript heap and the
// process RSS sampled. After a warm-up (the first fifth of the calls), the
// heap (engine memory + JavaScript heap) and the RSS must each grow by less
// than 5%.
//
//   make test-js   1,000 calls on the stand-in model (-tags veilfake), ~20 s
//   make soak      1,000 calls on models/mobilenet_v2.veil, ~10 min
//
// Environment: VEIL_SOAK_MODEL (a .veil file; default: the stand-in model),
// VEIL_SOAK_CALLS (default 1000), VEIL_SOAK_REPORT (write the samples as
// JSON to this file). Inputs cycle through the malformed-input table
// (internal/malformed): images of every kind and size, and the errors, so
// that failing calls are soaked too.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

import { fakeModel, loadManifest, trackWasmMemory, withTimeout } from './testutil.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FAKE_WASM = path.join(ROOT, 'build', 'wasm', 'veil-fake.wasm');
const MODEL = process.env.VEIL_SOAK_MODEL;
const CALLS = Number(process.env.VEIL_SOAK_CALLS ?? 1000);
const WARMUP = Math.max(10, Math.round(CALLS / 5));
const SAMPLE_EVERY = Math.max(1, Math.round(CALLS / 40));
const ENDS = 5; // samples averaged at each end
const MAX_GROWTH = 0.05;

const memory = trackWasmMemory();
const { load } = await import(pathToFileURL(path.join(ROOT, 'web', 'veil.js')).href);
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

it(`${CALLS} classifications (${MODEL ?? 'stand-in model'}) grow memory by less than ${MAX_GROWTH * 100}%`, { timeout: 60 * 60_000 }, async (t) => {
  const { dir, manifest } = await loadManifest(ROOT);
  // Everything but the 64 MiB file: it would make the test about one input.
  const cases = manifest.cases.filter((c) => c.size < 1 << 20);
  const inputs = cases.map((c) => ({ ...c, bytes: new Uint8Array(fs.readFileSync(path.join(dir, c.file))) }));

  let model;
  if (MODEL) {
    model = await load(path.resolve(ROOT, MODEL));
  } else {
    assert.ok(fs.existsSync(FAKE_WASM), `${FAKE_WASM} is missing: run \`make test-js\``);
    model = await load(fakeModel(224, 'soak'), { wasmURL: pathToFileURL(FAKE_WASM).href });
  }

  const samples = [];
  const sample = (call) => {
    gc();
    const m = process.memoryUsage();
    samples.push({ call, wasm: memory.bytes(), heapUsed: m.heapUsed, rss: m.rss });
  };
  const first = new Map(); // case name -> first outcome: every later call must give the same
  const t0 = performance.now();
  for (let call = 1; call <= CALLS; call++) {
    const input = inputs[call % inputs.length];
    let got;
    try {
      got = JSON.stringify(await withTimeout(model.classify(input.bytes, 0), 60_000, `call ${call} (${input.name}) hung`));
    } catch (err) {
      if (!err.code) throw err;
      got = `${err.code}: ${err.message}`;
    }
    if (!first.has(input.name)) first.set(input.name, got);
    else assert.equal(got, first.get(input.name), `call ${call} (${input.name}) answered differently`);
    if (call === WARMUP || call % SAMPLE_EVERY === 0) sample(call);
  }
  const ms = (performance.now() - t0) / CALLS;
  model.dispose();

  // The JavaScript heap saws up and down by about a megabyte (values the Go
  // side holds until its finalizers run), so each end is the mean of a few
  // samples. "heap" is the engine's memory plus the JavaScript heap.
  for (const s of samples) s.heap = s.wasm + s.heapUsed;
  const after = samples.filter((s) => s.call >= WARMUP);
  const ends = [after.slice(0, ENDS), after.slice(-ENDS)];
  const mean = (ss, k) => ss.reduce((n, s) => n + s[k], 0) / ss.length;
  const growth = {};
  const mb = (b) => (b / 1e6).toFixed(1);
  t.diagnostic(`${CALLS} calls, ${ms.toFixed(1)} ms each; calls ${ends[0][0].call}-${ends[0].at(-1).call} vs ${ends[1][0].call}-${ends[1].at(-1).call}:`);
  for (const k of ['heap', 'wasm', 'heapUsed', 'rss']) {
    const [a, b] = ends.map((ss) => mean(ss, k));
    growth[k] = (b - a) / a;
    const range = `${mb(Math.min(...after.map((s) => s[k])))}-${mb(Math.max(...after.map((s) => s[k])))}`;
    t.diagnostic(`  ${k}: ${mb(a)} MB -> ${mb(b)} MB (${(growth[k] * 100).toFixed(2)}%), range ${range} MB`);
  }
  if (process.env.VEIL_SOAK_REPORT) {
    fs.writeFileSync(process.env.VEIL_SOAK_REPORT, `${JSON.stringify({ model: MODEL ?? 'fake', calls: CALLS, msPerCall: ms, growth, samples }, null, 1)}\n`);
  }
  for (const k of ['heap', 'rss']) {
    assert.ok(growth[k] < MAX_GROWTH, `${k} grew ${(growth[k] * 100).toFixed(2)}%; samples ${JSON.stringify(samples.map((s) => s[k]))}`);
  }
});
