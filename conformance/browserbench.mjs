// browserbench.mjs times veil (web/veil.js) and nsfwjs (TF.js wasm backend,
// SIMD) on the same bench page in headless Chromium: time to first result,
// cold and warm, and the throughput of a batch. conformance/bench.mjs runs it
// in a child process; alone:
//
//   node conformance/browserbench.mjs [--models a,b] [--batch N] [--parts first,batch] [--repeats N] [--dump DIR]
//
// Progress goes to stderr, one JSON line to stdout:
//   {chromium, blankPeakMB, blankPeaksMB, first: [row...], firstRuns: [row...], batch: [row...]}
//
// Time to first result: navigation start to the first classification's
// result, by performance.now() in the page. Each engine is measured
// --repeats times (default 3), the two engines taking turns (which goes
// first alternates), since one cold run can land a few hundred ms either
// way on this 2-core machine; first holds, for each model, engine and
// load, the run with the median first result, and firstRuns every run. "cold" is a fresh profile (the
// engine's wasm, scripts and model all fetched and compiled); "warm" is the
// same profile after a browser restart: veil's model comes from its
// IndexedDB cache, and everything else from Chromium's HTTP cache after a
// revalidation (the server says Cache-Control: no-cache with an ETag, as
// tools/serve does; Chromium may then also reuse the wasm code it compiled).
// nsfwjs has no cache of its own: its model is the HTTP cache's.
//
// Memory: each first result also reads the peak resident memory (VmHWM,
// Linux's /proc) of the page's renderer process, which runs the page and
// its workers, and the same for a page that loads no engine ("none",
// measured --repeats times before the models): Chromium's own code and
// heaps count in every renderer, so what an engine costs is its peak less
// the blank page's.
//
// Batch: veil.classifyBatch with a pool of 1 and of 2 workers, against nsfwjs
// classifying the same images one after another on one thread, and on
// tfjs-wasm's threads (2, on a cross-origin isolated page).
//
// The server is a small static one in this process (see serve): /web/ is
// web/, /models/ is models/ (.veil files and tfjs/NAME), /node_modules/ is
// conformance/node_modules, /images/ the raw test images, /bench/ the page.
// It sends text and WebAssembly gzipped, as tools/serve does, to both
// engines (veil.wasm: 5.1 MB, 1.4 gzipped; tfjs-backend-wasm-simd.wasm:
// 0.42 MB); model weights go as they are. One unrecorded run of each engine
// comes first, so that compressing a file (once) is not timed.
// Chromium runs as in e2e/harness.js: no host but 127.0.0.1 resolves.
import { createServer } from 'node:http';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// The nsfwjs options of each model, as nsfwjs's own registry gives them.
const NSFWJS_OPTIONS = {
  mobilenet_v2: { size: 224 },
  mobilenet_v2_mid: { type: 'graph' },
  inception_v3: { size: 299 },
};

// The image for the first result: a medium photo-like one, resized by both.
const FIRST_IMAGE = 'portrait_like_600x800';

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

// What tools/serve sends gzipped to a client that accepts it.
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.webmanifest', '.wasm', '.svg', '.txt']);

/**
 * serve starts the static server on a free port of 127.0.0.1. It answers as
 * tools/serve does for caching (no-cache, ETag, 304) and compression (text
 * and WebAssembly gzipped, for either engine's files), and counts what it
 * sends, so a run can say what came over the network.
 */
async function serve(dump) {
  const gzipped = new Map(); // file -> {key, data}, while the file is unchanged
  const mounts = {
    '/web/': join(root, 'web'),
    '/models/': join(root, 'models'),
    '/node_modules/': join(here, 'node_modules'),
    '/images/': dump,
    '/bench/': join(here, 'browser'),
  };
  const stats = { requests: 0, notModified: 0, bytes: 0 };
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const prefix = Object.keys(mounts).find((p) => url.pathname.startsWith(p));
    const file = prefix && normalize(join(mounts[prefix], decodeURIComponent(url.pathname.slice(prefix.length))));
    let st;
    try {
      if (!file || !file.startsWith(mounts[prefix] + sep)) throw new Error('outside');
      st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
    } catch {
      res.writeHead(404).end();
      return;
    }
    stats.requests++;
    const headers = {
      'Cache-Control': 'no-cache',
      ETag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    };
    // tfjs-wasm's threads need SharedArrayBuffer: a cross-origin isolated page.
    if (url.searchParams.get('coi') === '1') {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    const gzip = COMPRESSIBLE.has(extname(file)) && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    if (COMPRESSIBLE.has(extname(file))) headers.Vary = 'Accept-Encoding';
    if (gzip) {
      headers.ETag = headers.ETag.replace(/"$/, '-gzip"');
      headers['Content-Encoding'] = 'gzip';
    }
    if (req.headers['if-none-match'] === headers.ETag) {
      stats.notModified++;
      res.writeHead(304, headers).end();
      return;
    }
    if (gzip) {
      let g = gzipped.get(file);
      if (g?.key !== headers.ETag) gzipped.set(file, (g = { key: headers.ETag, data: gzipSync(readFileSync(file), { level: 9 }) }));
      headers['Content-Length'] = g.data.length;
      res.writeHead(200, headers);
      stats.bytes += req.method === 'HEAD' ? 0 : g.data.length;
      res.end(req.method === 'HEAD' ? undefined : g.data);
      return;
    }
    headers['Content-Length'] = st.size;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    stats.bytes += st.size;
    createReadStream(file).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    stats,
    close: () => new Promise((ok) => { server.close(ok); server.closeAllConnections(); }),
  };
}

function playwright() {
  const require = createRequire(join(root, 'e2e', 'package.json'));
  try {
    return require('playwright-core');
  } catch (err) {
    throw new Error(`playwright-core is not installed in e2e/node_modules: run \`make e2e/node_modules/.ok\` (${err.message})`);
  }
}

/** launch starts headless Chromium on the given profile directory. */
function launch(profile) {
  return playwright().chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
  });
}

/**
 * rendererPeakMB returns the largest peak resident memory (VmHWM, MB) among
 * the renderer processes of the Chromium running on profile, but for its
 * browser UI's: that is the page under test with its workers (the others
 * are a blank first tab and a spare). null without Linux's /proc.
 */
function rendererPeakMB(profile) {
  let pids;
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return null;
  }
  let peak = null;
  for (const pid of pids) {
    try {
      // Chromium rewrites a renderer's argv as one line: split on spaces too.
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      if (!args.includes('--type=renderer') || !args.includes(`--user-data-dir=${profile}`) || args.includes('--top-chrome-webui')) continue;
      const kb = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m)?.[1]);
      if (kb > 0) peak = Math.max(peak ?? 0, kb / 1024);
    } catch {
      // the process has ended
    }
  }
  return peak;
}

/**
 * measure loads the bench page with cfg in a fresh tab and returns its
 * result, what the server sent, and (given the context's profile) the
 * renderer's peak memory.
 */
async function measure(context, server, cfg, timeoutMs, profile) {
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => (m.type() === 'error' || m.type() === 'warning') && logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  const before = { ...server.stats };
  try {
    const q = cfg.threads > 1 ? '?coi=1' : '';
    await page.goto(`${server.origin}/bench/index.html${q}#${encodeURIComponent(JSON.stringify(cfg))}`, { waitUntil: 'domcontentloaded' });
    let timer;
    const timeout = new Promise((_, fail) => { timer = setTimeout(() => fail(new Error(`no result within ${timeoutMs / 1000} s`)), timeoutMs); });
    const result = await Promise.race([page.evaluate(() => window.benchDone), timeout]).finally(() => clearTimeout(timer));
    const served = Object.fromEntries(Object.keys(before).map((k) => [k, server.stats[k] - before[k]]));
    return { ...result, served, peakMB: profile ? rendererPeakMB(profile) : null };
  } catch (err) {
    throw new Error(`${cfg.engine} ${cfg.model} ${cfg.mode}: ${err.message}${logs.length ? `\npage said:\n  ${logs.join('\n  ')}` : ''}`);
  } finally {
    await page.close();
  }
}

function imageList(dump, n) {
  const index = JSON.parse(readFileSync(join(dump, 'index.json'), 'utf8'));
  // As bench.mjs: the first N images of at most 1 MP.
  const small = index.filter((e) => e.w * e.h <= 1_000_000).map(({ name, w, h }) => ({ name, w, h }));
  return { first: index.find((e) => e.name === FIRST_IMAGE) ?? small[0], batch: small.slice(0, n) };
}

/** firstResult measures one engine and model cold, then warm after a restart on the same profile. */
async function firstResult(server, images, engine, model) {
  const profile = mkdtempSync(join(tmpdir(), 'veil-bench-profile-'));
  const cfg = { engine, model, mode: 'first', images: [images.first], nsfwjsOptions: NSFWJS_OPTIONS[model] };
  const rows = [];
  try {
    for (const load of ['cold', 'warm']) {
      const context = await launch(profile);
      try {
        // The persistent context's first tab is left alone: measure opens its own.
        const r = await measure(context, server, cfg, 10 * 60_000, profile);
        rows.push({
          model, engine, load,
          importMs: r.t.imported,
          engineMs: r.t.engine,
          loadMs: r.t.loaded,
          classifyMs: r.t.result - r.t.pixels,
          firstResultMs: r.t.result,
          peakMB: r.peakMB,
          top: r.top.className,
          ...r.info,
          served: r.served,
        });
      } finally {
        await context.close();
      }
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  return rows;
}

/** blankPeakMB is the renderer's peak memory for the bench page without an engine, in a fresh profile. */
async function blankPeakMB(server) {
  const profile = mkdtempSync(join(tmpdir(), 'veil-bench-profile-'));
  try {
    const context = await launch(profile);
    try {
      return (await measure(context, server, { engine: 'none', mode: 'first' }, 60_000, profile)).peakMB;
    } finally {
      await context.close();
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** batches measures every batch configuration of one model in one browser. */
async function batches(server, images, model) {
  const configs = [
    { engine: 'veil', workers: 1 },
    { engine: 'veil', workers: 2 },
    { engine: 'nsfwjs', threads: 1 },
    { engine: 'nsfwjs', threads: 2 },
  ];
  const profile = mkdtempSync(join(tmpdir(), 'veil-bench-profile-'));
  const context = await launch(profile);
  const rows = [];
  try {
    for (const c of configs) {
      const label = c.engine === 'veil' ? `veil, ${c.workers} worker${c.workers > 1 ? 's' : ''}` : `nsfwjs wasm-SIMD, ${c.threads} thread${c.threads > 1 ? 's' : ''}`;
      process.stderr.write(`bench: chromium batch of ${images.batch.length}, ${model}, ${label}\n`);
      const cfg = { ...c, model, mode: 'batch', images: images.batch, nsfwjsOptions: NSFWJS_OPTIONS[model] };
      try {
        const r = await measure(context, server, cfg, 5 * 60_000 + images.batch.length * 60_000);
        rows.push({ model, engine: c.engine, label, workers: c.workers, ...r.info, n: r.n, ms: r.ms, imagesPerSec: (r.n * 1000) / r.ms, top: r.top });
      } catch (err) {
        // tfjs threads are optional: say why they are missing, go on.
        if (c.engine !== 'nsfwjs' || c.threads === 1) throw err;
        process.stderr.write(`bench: ${err.message}\n`);
        rows.push({ model, engine: c.engine, label, threads: c.threads, error: err.message.split('\n')[0] });
      }
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return rows;
}

/** medianRun returns the run with the median first result (of an even count, the lower middle one). */
function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => a.firstResultMs - b.firstResultMs);
  return { ...sorted[(sorted.length - 1) >> 1], runsMs: runs.map((r) => r.firstResultMs) };
}

export function chromiumVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

async function main() {
  const { values: flags } = parseArgs({
    options: {
      models: { type: 'string', default: Object.keys(NSFWJS_OPTIONS).join(',') },
      batch: { type: 'string', default: '32' },
      dump: { type: 'string', default: join(root, 'build/testimages') },
      parts: { type: 'string', default: 'first,batch' },
      repeats: { type: 'string', default: process.env.BENCH_FIRST_REPEATS || '3' },
    },
  });
  const repeats = Number(flags.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a whole number ≥ 1, got ${flags.repeats}`);
  for (const f of ['veil.js', 'veil.wasm', 'wasm_exec.js']) {
    if (!existsSync(join(root, 'web', f))) throw new Error(`web/${f} is missing: run \`make wasm\``);
  }
  const images = imageList(flags.dump, Number(flags.batch));
  const server = await serve(flags.dump);
  const out = { chromium: chromiumVersion(), firstImage: images.first, batchImages: images.batch.length, first: [], firstRuns: [], batch: [] };
  try {
    // An unrecorded run of each engine first: the server gzips each file
    // once (as tools/serve does), and that is not the engines' time.
    process.stderr.write('bench: chromium, one unrecorded run of each engine (the server compresses their files)\n');
    for (const engine of ['veil', 'nsfwjs']) await firstResult(server, images, engine, flags.models.split(',')[0]);
    if (flags.parts.includes('first')) {
      process.stderr.write(`bench: chromium, the bench page without an engine (${repeats} runs)\n`);
      const blank = [];
      for (let run = 0; run < repeats; run++) blank.push(await blankPeakMB(server));
      out.blankPeaksMB = blank;
      out.blankPeakMB = blank.includes(null) ? null : [...blank].sort((a, b) => a - b)[(blank.length - 1) >> 1];
    }
    for (const model of flags.models.split(',')) {
      for (let run = 0; run < (flags.parts.includes('first') ? repeats : 0); run++) {
        for (const engine of run % 2 ? ['nsfwjs', 'veil'] : ['veil', 'nsfwjs']) {
          process.stderr.write(`bench: chromium first result, ${model}, ${engine}, cold and warm (run ${run + 1} of ${repeats})\n`);
          out.firstRuns.push(...(await firstResult(server, images, engine, model)).map((r) => ({ ...r, run })));
        }
      }
      for (const engine of ['veil', 'nsfwjs']) {
        for (const load of ['cold', 'warm']) {
          const runs = out.firstRuns.filter((r) => r.model === model && r.engine === engine && r.load === load);
          if (runs.length) out.first.push(medianRun(runs));
        }
      }
      if (flags.parts.includes('batch') && Number(flags.batch) > 0) out.batch.push(...(await batches(server, images, model)));
    }
  } finally {
    await server.close();
  }
  console.log(JSON.stringify(out));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`browserbench: ${err.stack || err}`);
    process.exit(1);
  });
}
