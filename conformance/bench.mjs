// bench.mjs times veil (web/veil.js: the wasm engine in Node) against nsfwjs
// (TF.js wasm backend with SIMD, one thread, and the pure-JS cpu backend) on
// the same images, each engine in a child process of one run so that peak RSS
// is its own; then both in headless Chromium (conformance/browserbench.mjs):
// time to first result, cold and warm, with the page's peak memory, and
// images/second on a batch. It
// prints tables and writes build/bench.json, with the machine they ran on and
// the sizes a page downloads (engine wasm, model files).
//
//   node conformance/bench.mjs [--models a,b] [--images N] [--passes N] [--native FILE] [--native-simd FILE]
//
// Images come from the dump of internal/testimages (bash conformance/run.sh
// writes build/testimages): pixels, no decoding, for every engine. --native
// names a file with `go test -bench Int8` output to include veil native;
// --native-simd the same built with Go 1.27's simd package (AVX2 kernels).
//
// Environment (for shorter runs):
//   BENCH_MODELS=a,b   the models (default: all three; --models wins)
//   BENCH_NODE=0       skip the engines in Node
//   BENCH_BROWSER=0    skip Chromium
//   BENCH_BATCH=N      images in Chromium's batch (default 32; 0 skips it)
//   BENCH_CPU=N        run every engine in Node pinned to CPU N (taskset), so
//                      that all of them run on one core: a VM's cores can
//                      differ in speed (README)
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { chromiumVersion } from "./browserbench.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const require = createRequire(import.meta.url);
const MODELS = {
  mobilenet_v2: { nsfwjs: "MobileNetV2", options: { size: 224 }, native: "BenchmarkInt8MobileNetV2-" },
  mobilenet_v2_mid: { nsfwjs: "MobileNetV2Mid", options: { type: "graph" }, native: "BenchmarkInt8MobileNetV2Mid-" },
  inception_v3: { nsfwjs: "InceptionV3", options: { size: 299 }, native: "BenchmarkInt8InceptionV3-" },
};
const ENGINES = ["veil-wasm", "nsfwjs-wasm-simd", "nsfwjs-cpu"];

const { values: flags } = parseArgs({
  options: {
    engine: { type: "string" },
    model: { type: "string" },
    models: { type: "string", default: process.env.BENCH_MODELS || Object.keys(MODELS).join(",") },
    images: { type: "string", default: "6" },
    passes: { type: "string", default: "2" },
    dump: { type: "string", default: join(root, "build/testimages") },
    native: { type: "string" },
    "native-simd": { type: "string" },
  },
});

function images(n) {
  const index = JSON.parse(readFileSync(join(flags.dump, "index.json"), "utf8"));
  // Small and medium images: the engines' time, not the resize of 12 MP.
  return index.filter((e) => e.w * e.h <= 1_000_000).slice(0, n).map((e) => ({
    name: e.name, w: e.w, h: e.h, pix: new Uint8Array(readFileSync(join(flags.dump, e.file))),
  }));
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[s.length >> 1]; };

// child: one engine, one model; prints one JSON line.
async function child() {
  const imgs = images(Number(flags.images));
  const passes = Number(flags.passes);
  const def = MODELS[flags.model];
  // Each image is put once, before its timed calls, into the form its
  // engine takes, as an application would: new canvas-style RGBA for veil,
  // a new int32 tensor for nsfwjs (disposed after the image's calls). One
  // input is alive at a time for either engine.
  let classify, prepare, release = () => {}, loadMs;
  const t0 = performance.now();
  if (flags.engine === "veil-wasm") {
    const { load } = await import(join(root, "web/veil.js"));
    const model = await load(join(root, "models", flags.model + ".veil"), { cache: false });
    loadMs = performance.now() - t0;
    prepare = (img) => {
      const rgba = new Uint8ClampedArray(img.w * img.h * 4);
      for (let i = 0, j = 0; i < img.pix.length; i += 3, j += 4) {
        rgba[j] = img.pix[i]; rgba[j + 1] = img.pix[i + 1]; rgba[j + 2] = img.pix[i + 2]; rgba[j + 3] = 255;
      }
      return { data: rgba, width: img.w, height: img.h };
    };
    classify = (input) => model.classify(input, 5);
  } else {
    const tf = await import("@tensorflow/tfjs");
    const nsfwjs = await import("nsfwjs");
    if (flags.engine === "nsfwjs-wasm-simd") {
      const wasm = await import("@tensorflow/tfjs-backend-wasm");
      wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "/"));
      wasm.setThreadsCount?.(1);
      await tf.setBackend("wasm");
      await tf.ready();
      if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) throw new Error("tfjs wasm: no SIMD");
    } else {
      await tf.setBackend("cpu");
      await tf.ready();
    }
    const model = await nsfwjs.load(def.nsfwjs, def.options);
    loadMs = performance.now() - t0;
    prepare = (img) => tf.tensor3d(img.pix, [img.h, img.w, 3], "int32");
    release = (t) => t.dispose();
    classify = (input) => model.classify(input, 5);
  }
  const warm = prepare(imgs[0]);
  await classify(warm); // warm-up
  release(warm);
  const times = [];
  for (const img of imgs) {
    const input = prepare(img);
    for (let p = 0; p < passes; p++) {
      const s = performance.now();
      await classify(input);
      times.push(performance.now() - s);
    }
    release(input);
  }
  const rssMB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ engine: flags.engine, model: flags.model, loadMs, medianMs: median(times), minMs: Math.min(...times), runs: times.length, rssMB }));
}

function nativeResults(file) {
  if (!file) return {};
  const out = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = line.match(/^(BenchmarkInt8\S+-)\d+\s+\d+\s+([\d.]+) ns\/op/);
    if (m) for (const [name, def] of Object.entries(MODELS)) if (def.native === m[1]) out[name] = Number(m[2]) / 1e6;
  }
  return out;
}

/** machine describes where the figures come from. */
function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const cpu = cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const go = spawnSync("go", ["version"], { encoding: "utf8" }).stdout?.trim() ?? "unknown";
  return { cpu, cores: cpus().length, pinnedCPU: process.env.BENCH_CPU ?? null, node: process.version, go, chromium: chromiumVersion() };
}

const fmt = (v, d = 1) => (v == null || Number.isNaN(v) ? "-" : v.toFixed(d));

function nodeBench(models) {
  const native = nativeResults(flags.native);
  const nativeSIMD = nativeResults(flags["native-simd"]);
  const rows = [];
  for (const model of models) {
    for (const engine of ENGINES) {
      // The cpu backend takes ~15-50 s per InceptionV3 image: one pass of 2.
      const extra = engine === "nsfwjs-cpu" && model === "inception_v3" ? ["--images", "2", "--passes", "1"] : ["--images", flags.images, "--passes", flags.passes];
      process.stderr.write(`bench: ${model} on ${engine}\n`);
      const args = [fileURLToPath(import.meta.url), "--engine", engine, "--model", model, "--dump", flags.dump, ...extra];
      const pin = process.env.BENCH_CPU ? ["taskset", "-c", process.env.BENCH_CPU, process.execPath] : [process.execPath];
      const r = spawnSync(pin[0], [...pin.slice(1), ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`${model} ${engine}: ${r.error?.message ?? r.stderr}`);
      rows.push(JSON.parse(r.stdout.trim().split("\n").pop()));
    }
    if (native[model] !== undefined) rows.push({ engine: "veil-native", model, medianMs: native[model] });
    if (nativeSIMD[model] !== undefined) rows.push({ engine: "veil-native-simd", model, medianMs: nativeSIMD[model] });
  }
  const get = (m, e) => rows.find((r) => r.model === m && r.engine === e);
  const lines = ["| model | engine | median ms/image | min ms | load ms | peak RSS MB | vs nsfwjs wasm-SIMD | vs nsfwjs cpu |", "|---|---|---|---|---|---|---|---|"];
  for (const r of rows) {
    const simd = get(r.model, "nsfwjs-wasm-simd"), cpu = get(r.model, "nsfwjs-cpu");
    lines.push(`| ${r.model} | ${r.engine} | ${fmt(r.medianMs)} | ${fmt(r.minMs)} | ${fmt(r.loadMs, 0)} | ${fmt(r.rssMB, 0)} | ${fmt(r.medianMs / simd.medianMs, 2)}x | ${fmt(r.medianMs / cpu.medianMs, 3)}x |`);
  }
  return { rows, table: lines.join("\n") };
}

function browserBench(models) {
  const batch = process.env.BENCH_BATCH ?? "32";
  const r = spawnSync(process.execPath, [join(here, "browserbench.mjs"), "--models", models.join(","), "--batch", batch, "--dump", flags.dump], { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`browserbench.mjs exited with status ${r.status}`);
  const out = JSON.parse(r.stdout.trim().split("\n").pop());

  const first = ["| model | engine | load | script ms | engine ready ms | model loaded ms | first classify ms | first result ms | vs nsfwjs | every run, ms | served MB | from cache | renderer peak MB (over blank) | vs nsfwjs |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"];
  // The median of every run's renderer peak, less the blank page's.
  const peakOver = (f) => median(out.firstRuns.filter((x) => x.model === f.model && x.engine === f.engine && x.load === f.load).map((x) => x.peakMB)) - out.blankPeakMB;
  for (const f of out.first) {
    const ns = out.first.find((x) => x.model === f.model && x.engine === "nsfwjs" && x.load === f.load);
    const cache = f.engine === "veil" ? (f.cached ? "model: IndexedDB" : "no") : f.served.notModified === f.served.requests ? "HTTP (all 304)" : "no";
    const mem = out.blankPeakMB == null ? "- | -" : `+${fmt(peakOver(f), 0)} | ${fmt(peakOver(f) / peakOver(ns), 2)}x`;
    first.push(`| ${f.model} | ${f.engine} | ${f.load} | ${fmt(f.importMs, 0)} | ${fmt(f.engineMs, 0)} | ${fmt(f.loadMs, 0)} | ${fmt(f.classifyMs, 0)} | ${fmt(f.firstResultMs, 0)} | ${fmt(f.firstResultMs / ns.firstResultMs, 2)}x | ${f.runsMs.map((ms) => fmt(ms, 0)).join(" / ")} | ${fmt(f.served.bytes / 1e6)} | ${cache} | ${mem} |`);
  }
  const thr = [`| model | engine | images | ms | images/s | vs nsfwjs 1 thread |`, "|---|---|---|---|---|---|"];
  for (const b of out.batch) {
    const ns = out.batch.find((x) => x.model === b.model && x.engine === "nsfwjs" && x.threads === 1);
    thr.push(b.error ? `| ${b.model} | ${b.label} | - | - | failed: ${b.error} | - |` : `| ${b.model} | ${b.label} | ${b.n} | ${fmt(b.ms, 0)} | ${fmt(b.imagesPerSec, 2)} | ${fmt(b.imagesPerSec / ns.imagesPerSec, 2)}x |`);
  }
  const img = out.firstImage;
  const tables = [
    `Time to first result, headless Chromium: ms since navigation start at each step (scripts imported; engine ready: veil's wasm, worker and first model bytes (from the cache: the whole model, so it equals model loaded), nsfwjs's tfjs-wasm backend; model loaded, for nsfwjs after its warm-up prediction), then the first classify of ${img.name} (${img.w}x${img.h}). Cold: a fresh profile; warm: the same profile after a browser restart. Each engine ran ${out.firstRuns.length / Math.max(1, out.first.length)} times, the two taking turns; the row is the run with the median first result, and its ratio is against nsfwjs's median. Renderer peak: the median over the runs of the peak resident memory of the page's renderer process (page and workers), less that of the same page without an engine (${fmt(out.blankPeakMB, 0)} MB, median of ${out.blankPeaksMB?.length ?? 0}).`,
    first.join("\n"),
  ];
  if (out.batch.length) tables.push(`Throughput, headless Chromium, batch of ${out.batchImages} (veil: classifyBatch over its worker pool; nsfwjs: classify one after another):`, thr.join("\n"));
  return { result: out, table: tables.join("\n\n") };
}

/**
 * sizes compares what each engine downloads: veil.wasm against tfjs-wasm's
 * SIMD binary (raw and gzip -9), and each .veil file against nsfwjs's
 * weight shards for the same model.
 */
function sizes(models) {
  const gz = (b) => gzipSync(b, { level: 9 }).length;
  const mb = (n) => (n / 1e6).toFixed(2);
  const veilWasm = readFileSync(join(root, "web/veil.wasm"));
  const tfWasm = readFileSync(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm")), "tfjs-backend-wasm-simd.wasm"));
  const out = { veilWasm: { raw: veilWasm.length, gzip: gz(veilWasm) }, tfjsWasmSIMD: { raw: tfWasm.length, gzip: gz(tfWasm) }, models: {} };
  // The JavaScript each page imports (see browser/index.html's import map).
  const js = (files) => files.map((f) => readFileSync(f)).reduce((a, b) => ({ raw: a.raw + b.length, gzip: a.gzip + gz(b) }), { raw: 0, gzip: 0 });
  const nm = (p) => join(here, "node_modules", p);
  out.veilJS = js([join(root, "web/veil.js"), join(root, "web/wasm_exec.js")]);
  out.nsfwjsJS = js([nm("@tensorflow/tfjs/dist/tf.fesm.min.js"), nm("@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.min.js"), nm("nsfwjs/dist/esm/core.js")]);
  const both = (a, b) => `${mb(a.raw + b.raw)} / ${mb(a.gzip + b.gzip)}`;
  const lines = ["| file | veil | nsfwjs | ratio |", "|---|---|---|---|",
    `| engine wasm, raw / gzip MB | ${mb(out.veilWasm.raw)} / ${mb(out.veilWasm.gzip)} | ${mb(out.tfjsWasmSIMD.raw)} / ${mb(out.tfjsWasmSIMD.gzip)} (tfjs-backend-wasm-simd) | ${(out.veilWasm.gzip / out.tfjsWasmSIMD.gzip).toFixed(2)}x gzip |`,
    `| engine JavaScript, raw / gzip MB | ${mb(out.veilJS.raw)} / ${mb(out.veilJS.gzip)} (veil.js, wasm_exec.js) | ${mb(out.nsfwjsJS.raw)} / ${mb(out.nsfwjsJS.gzip)} (tfjs, tfjs-backend-wasm, nsfwjs) | ${(out.veilJS.gzip / out.nsfwjsJS.gzip).toFixed(2)}x gzip |`,
    `| engine, all, raw / gzip MB | ${both(out.veilWasm, out.veilJS)} | ${both(out.tfjsWasmSIMD, out.nsfwjsJS)} | ${((out.veilWasm.gzip + out.veilJS.gzip) / (out.tfjsWasmSIMD.gzip + out.nsfwjsJS.gzip)).toFixed(2)}x gzip |`];
  for (const model of models) {
    const veil = statSync(join(root, "models", model + ".veil")).size;
    const dir = join(root, "models/tfjs", model);
    const weights = readdirSync(dir).filter((f) => f.endsWith(".bin")).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
    out.models[model] = { veil, nsfwjsWeights: weights };
    lines.push(`| ${model}, MB | ${mb(veil)} | ${mb(weights)} | ${(veil / weights).toFixed(2)}x |`);
  }
  return { result: out, table: lines.join("\n") };
}

function parent() {
  const models = flags.models.split(",");
  const out = { date: new Date().toISOString(), machine: machine() };
  const m = out.machine;
  const tables = [`Machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; ${m.go}; ${m.chromium}`];
  const size = sizes(models);
  out.sizes = size.result;
  tables.push("Sizes (what a page downloads):", size.table);
  if (process.env.BENCH_NODE !== "0") {
    const node = nodeBench(models);
    out.rows = node.rows;
    tables.push("Node, per image:", node.table);
  }
  if (process.env.BENCH_BROWSER !== "0") {
    const browser = browserBench(models);
    out.browser = browser.result;
    tables.push(browser.table);
  }
  console.log(tables.join("\n\n"));
  mkdirSync(join(root, "build"), { recursive: true });
  writeFileSync(join(root, "build/bench.json"), JSON.stringify(out, null, 1));
}

if (flags.engine) await child(); else parent();
