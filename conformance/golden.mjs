#!/usr/bin/env node
// golden.mjs runs the real nsfwjs (npm nsfwjs@4.4.0 on @tensorflow/tfjs
// 4.22.0) over veil's conformance images and writes one golden file per
// model to testdata/golden/<model>.json.
//
// Images come from `go run ./internal/testimages/dump -o DIR` (raw RGB +
// index.json). Before any golden is written, the REFERENCE.md sanity inputs
// A and B are rebuilt here in JS, checked against the dumped ref_* images,
// and classified: the probabilities must match REFERENCE.md or the run fails.
//
// Usage (from the repository root; conformance/run.sh wraps it):
//   node conformance/golden.mjs [--backend cpu|wasm] [--models a,b]
//        [--dump DIR] [--out DIR] [--only img1,img2]
//   node conformance/golden.mjs --compare [--models a,b] [--only img1,img2]
//
// --compare classifies a handful of images on both the cpu and the wasm
// backend and reports max |Δprob| per model: the reference's own noise floor.
// Progress goes to stderr; --compare prints its JSON summary on stdout.

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, renameSync, rmSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");
const require = createRequire(import.meta.url);

// nsfwjs announces the chosen model with console.info (stdout); keep stdout
// for data.
console.info = (...args) =>
  process.stderr.write(args.filter((a) => !String(a).startsWith("color:")).join(" ").replace(/%c/g, "") + "\n");

const CLASSES = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"];

// The three bundled models: golden file key, nsfwjs name, input size.
const MODELS = [
  { key: "mobilenet_v2", name: "MobileNetV2", size: 224 },
  { key: "mobilenet_v2_mid", name: "MobileNetV2Mid", size: 224 },
  { key: "inception_v3", name: "InceptionV3", size: 299 },
];

// REFERENCE.md "Two quick sanity inputs", nsfwjs 4.4.0 on the tfjs cpu
// backend, class order Drawing, Hentai, Neutral, Porn, Sexy.
const SMOKE = {
  MobileNetV2: {
    A: [0.8848747, 0.01898811, 0.09158453, 0.003643507, 0.0009091072],
    B: [0.1291623, 0.009462758, 0.8596094, 0.001519836, 0.0002456635],
  },
  MobileNetV2Mid: {
    A: [0.07226516, 0.02306166, 0.9024103, 0.0009701527, 0.001292759],
    B: [0.01679055, 0.001216154, 0.981848, 6.056366e-5, 8.477436e-5],
  },
  InceptionV3: {
    A: [0.4218872, 0.05320311, 0.5001335, 0.01816574, 0.006610465],
    B: [0.1669771, 0.01674063, 0.803265, 0.009469044, 0.003548174],
  },
};
// REFERENCE.md prints 7 significant digits of cpu results, so the cpu run
// must agree to rounding. The wasm backend differs from cpu by ~1e-5.
const SMOKE_TOLERANCE = { cpu: 1e-6, wasm: 1e-4 };

// Images classified on both backends by --compare.
const COMPARE_IMAGES = [
  "ref_a_224", "ref_a_299", "ref_b", "noise_white_224", "fractal_colour_299",
  "skin_blob_480x640", "portrait_like_600x800", "cartoon_face_512", "wood_rings_512",
];

function usage(code) {
  process.stderr.write(`usage: node conformance/golden.mjs [flags]

Writes testdata/golden/<model>.json from the real nsfwjs on TF.js.

Flags:
  --backend cpu|wasm  TF.js backend (default cpu, the pure-JS float32 reference)
  --models a,b        models: mobilenet_v2, mobilenet_v2_mid, inception_v3 or the
                      nsfwjs names MobileNetV2, MobileNetV2Mid, InceptionV3 (default all)
  --dump DIR          image dump from internal/testimages/dump (default build/testimages)
  --out DIR           output directory (default testdata/golden)
  --only a,b          classify only these images (golden files then hold only them)
  --compare           classify a few images on cpu and wasm; print max |dprob| as JSON
  --compare-out FILE  also write the --compare summary to FILE

Examples:
  node conformance/golden.mjs --models mobilenet_v2
  node conformance/golden.mjs --backend wasm --models inception_v3
  node conformance/golden.mjs --compare --compare-out testdata/golden/backend_noise.json
`);
  process.exit(code);
}

function parseFlags() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        backend: { type: "string", default: "cpu" },
        models: { type: "string" },
        dump: { type: "string", default: join(repo, "build", "testimages") },
        out: { type: "string", default: join(repo, "testdata", "golden") },
        only: { type: "string" },
        compare: { type: "boolean", default: false },
        "compare-out": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: false,
    });
  } catch (e) {
    process.stderr.write(`golden: ${e.message}\n`);
    usage(2);
  }
  const f = parsed.values;
  if (f.help) usage(0);
  if (!["cpu", "wasm"].includes(f.backend)) {
    process.stderr.write(`golden: --backend must be cpu or wasm, not ${f.backend}\n`);
    usage(2);
  }
  let models = MODELS;
  if (f.models) {
    models = f.models.split(",").map((m) => {
      const found = MODELS.find((d) => d.key === m.trim() || d.name === m.trim());
      if (!found) {
        process.stderr.write(`golden: unknown model ${m}\n`);
        usage(2);
      }
      return found;
    });
  }
  return { ...f, models, only: f.only ? f.only.split(",").map((s) => s.trim()) : null };
}

const log = (msg) => process.stderr.write(`golden: ${msg}\n`);

function fail(msg) {
  process.stderr.write(`golden: FAIL: ${msg}\n`);
  process.exit(1);
}

let tf;
let nsfwjs;

async function useBackend(name) {
  if (tf.getBackend() === name) return;
  if (name === "wasm" && !tf.findBackend("wasm")) {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/"));
  }
  if (!(await tf.setBackend(name))) fail(`cannot initialise the ${name} backend`);
  await tf.ready();
  if (name === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    log(`backend wasm (simd=${simd}, threads=${threads})`);
  } else {
    log(`backend ${name}`);
  }
}

// refA and refB rebuild REFERENCE.md's sanity inputs as RGB bytes.
function refA(s) {
  const pix = new Uint8Array(s * s * 3);
  for (let y = 0; y < s; y++)
    for (let x = 0; x < s; x++) {
      const i = (y * s + x) * 3;
      pix[i] = Math.floor((255 * x) / (s - 1));
      pix[i + 1] = Math.floor((255 * y) / (s - 1));
      pix[i + 2] = Math.floor((255 * (x + y)) / (2 * (s - 1)));
    }
  return { name: `ref_a_${s}`, w: s, h: s, pix };
}

function refB() {
  const w = 320, h = 240;
  const pix = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 3; c++)
        pix[(y * w + x) * 3 + c] = (5 * x + 3 * y + 80 * c + Math.floor((x * y) / 16)) % 256;
  return { name: "ref_b", w, h, pix };
}

function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

function loadIndex(dumpDir) {
  const path = join(dumpDir, "index.json");
  if (!existsSync(path)) fail(`${path} missing: run go run ./internal/testimages/dump -o ${dumpDir}`);
  return JSON.parse(readFileSync(path, "utf8"));
}

function readImage(dumpDir, e) {
  const pix = new Uint8Array(readFileSync(join(dumpDir, e.file)));
  if (pix.length !== e.w * e.h * 3) fail(`${e.file}: ${pix.length} bytes, want ${e.w}x${e.h}x3`);
  if (sha256(pix) !== e.sha256) fail(`${e.file}: sha256 differs from index.json`);
  return { name: e.name, w: e.w, h: e.h, pix, sha256: e.sha256 };
}

// classify runs nsfwjs's own classify() and returns the probabilities in
// class order.
async function classify(model, img) {
  const t = tf.tensor3d(img.pix, [img.h, img.w, 3], "int32");
  try {
    const preds = await model.classify(t, CLASSES.length);
    const probs = new Array(CLASSES.length).fill(NaN);
    for (const p of preds) probs[CLASSES.indexOf(p.className)] = p.probability;
    if (probs.some((p) => Number.isNaN(p))) fail(`${img.name}: classes missing in ${JSON.stringify(preds)}`);
    return probs;
  } finally {
    t.dispose();
  }
}

async function loadModel(def) {
  const t0 = performance.now();
  // The bundled models register their own options (size 299 for InceptionV3,
  // type "graph" for MobileNetV2Mid); pass them anyway, as the README shows.
  const options = def.name === "MobileNetV2Mid" ? { type: "graph" } : { size: def.size };
  const model = await nsfwjs.load(def.name, options);
  log(`${def.name}: loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return model;
}

// smokeTest checks REFERENCE.md inputs A and B against the dump and against
// the published probabilities. It fails the process on any mismatch.
async function smokeTest(def, model, backend, index, dumpDir) {
  const inputs = { A: refA(def.size), B: refB() };
  for (const [label, img] of Object.entries(inputs)) {
    const e = index.find((x) => x.name === img.name);
    if (e) {
      const dumped = readImage(dumpDir, e);
      if (dumped.sha256 !== sha256(img.pix)) fail(`${img.name}: Go dump differs from REFERENCE.md formula`);
    }
    const got = await classify(model, img);
    const want = SMOKE[def.name][label];
    const diff = Math.max(...got.map((g, i) => Math.abs(g - want[i])));
    const tol = SMOKE_TOLERANCE[backend];
    if (!(diff <= tol)) {
      fail(`${def.name} input ${label} on ${backend}: got [${got.join(", ")}], REFERENCE.md [${want.join(", ")}], max |d| ${diff.toExponential(2)} > ${tol}`);
    }
    log(`${def.name}: smoke input ${label} ok (max |d| ${diff.toExponential(2)} <= ${tol})`);
  }
}

// goldenJSON renders one image per line so that diffs stay readable.
function goldenJSON(g) {
  const head = {
    model: g.model,
    backend: g.backend,
    tfjs_version: g.tfjs_version,
    nsfwjs_version: g.nsfwjs_version,
    classes: g.classes,
    command: g.command,
  };
  const lines = Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  const block = (key, m) => {
    const rows = Object.entries(m).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    return `  ${JSON.stringify(key)}: {\n${rows.join(",\n")}\n  }`;
  };
  lines.push(block("probabilities", g.probabilities), block("pixel_sha256", g.pixel_sha256));
  return `{\n${lines.join(",\n")}\n}\n`;
}

function writeAtomic(path, text) {
  writeFileSync(path + ".tmp", text);
  renameSync(path + ".tmp", path);
}

function versions() {
  return {
    tfjs: tf.version.tfjs,
    // nsfwjs does not export its package.json; read it from node_modules.
    nsfwjs: JSON.parse(readFileSync(join(here, "node_modules", "nsfwjs", "package.json"), "utf8")).version,
  };
}

async function generate(flags) {
  const index = loadIndex(flags.dump);
  let entries = index;
  if (flags.only) {
    entries = flags.only.map((n) => index.find((e) => e.name === n) || fail(`image ${n} not in ${flags.dump}/index.json`));
  }
  await useBackend(flags.backend);
  const v = versions();
  mkdirSync(flags.out, { recursive: true });
  for (const def of flags.models) {
    const model = await loadModel(def);
    await smokeTest(def, model, flags.backend, index, flags.dump);
    const g = {
      model: def.name,
      backend: flags.backend,
      tfjs_version: v.tfjs,
      nsfwjs_version: v.nsfwjs,
      classes: CLASSES,
      command: `bash conformance/run.sh --backend ${flags.backend} --models ${def.key}` +
        (flags.only ? ` --only ${flags.only.join(",")}` : ""),
      probabilities: {},
      pixel_sha256: {},
    };
    const outPath = join(flags.out, `${def.key}.json`);
    const t0 = performance.now();
    for (const [i, e] of entries.entries()) {
      const img = readImage(flags.dump, e);
      const t1 = performance.now();
      g.probabilities[e.name] = await classify(model, img);
      g.pixel_sha256[e.name] = img.sha256;
      log(`${def.name} [${i + 1}/${entries.length}] ${e.name} ${e.w}x${e.h}: ${((performance.now() - t1) / 1000).toFixed(2)} s  [${g.probabilities[e.name].map((p) => p.toFixed(4)).join(" ")}]`);
      writeAtomic(outPath + ".partial", goldenJSON(g));
    }
    const secs = (performance.now() - t0) / 1000;
    writeAtomic(outPath, goldenJSON(g));
    rmSync(outPath + ".partial", { force: true });
    log(`${def.name}: ${entries.length} images in ${secs.toFixed(1)} s (${(secs / entries.length).toFixed(2)} s/image), tensors alive ${tf.memory().numTensors}; wrote ${outPath}`);
    model.dispose();
  }
}

async function compare(flags) {
  const index = loadIndex(flags.dump);
  const names = flags.only || COMPARE_IMAGES;
  const images = names.map((n) => readImage(flags.dump, index.find((e) => e.name === n) || fail(`image ${n} not in index`)));
  const result = {};
  for (const def of flags.models) {
    const probs = {};
    for (const backend of ["cpu", "wasm"]) {
      await useBackend(backend);
      const model = await loadModel(def);
      probs[backend] = [];
      for (const img of images) {
        probs[backend].push(await classify(model, img));
      }
      model.dispose();
    }
    const perImage = {};
    let maxAbs = 0;
    images.forEach((img, i) => {
      const d = Math.max(...probs.cpu[i].map((p, c) => Math.abs(p - probs.wasm[i][c])));
      perImage[img.name] = d;
      maxAbs = Math.max(maxAbs, d);
    });
    result[def.key] = { model: def.name, max_abs_diff: maxAbs, per_image: perImage };
    log(`${def.name}: max |cpu - wasm| = ${maxAbs.toExponential(3)} over ${images.length} images`);
  }
  const v = versions();
  const summary = { tfjs_version: v.tfjs, nsfwjs_version: v.nsfwjs, images: names, models: result };
  const text = JSON.stringify(summary, null, 2) + "\n";
  process.stdout.write(text);
  if (flags["compare-out"]) writeAtomic(flags["compare-out"], text);
}

async function main() {
  const flags = parseFlags();
  tf = await import("@tensorflow/tfjs");
  nsfwjs = await import("nsfwjs");
  tf.enableProdMode();
  if (flags.compare) await compare(flags);
  else await generate(flags);
}

main().catch((e) => fail(e.stack || String(e)));
