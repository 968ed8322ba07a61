// Shared set-up for veil's browser tests: builds and starts tools/serve on a
// free port, generates the test images, launches Debian's Chromium through
// playwright-core, and runs tools/classify for the expected answers.
//
// Environment:
//   CHROMIUM        browser binary (default /usr/bin/chromium)
//   VEIL_MODELS     directory of the NAME.veil files (default models/, as
//                   for tools/classify)
//   VEIL_E2E_MOCK=1 serve e2e/mock/veil.js and mock model files instead of
//                   the real wasm engine and models (for working on the page
//                   before `make wasm` works; expected values come from the
//                   mock, not from tools/classify)

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

import { mockProbabilities } from './mock/veil.js';

const run = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD = path.join(ROOT, 'build');
export const WORK = path.join(BUILD, 'e2e');
export const MOCK = process.env.VEIL_E2E_MOCK === '1';
export const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
export const MODEL_NAMES = ['mobilenet_v2', 'mobilenet_v2_mid', 'inception_v3'];

/** The conformance images the tests classify (see internal/testimages). */
export const IMAGE_NAMES = [
  'ref_a_224', 'ref_b', 'portrait_like_600x800', 'cartoon_face_512',
  'fractal_colour_224', 'fractal_landscape_1024x683', 'skin_blobs_many_1280x960', 'wood_rings_700x400',
];

async function go(args, opts = {}) {
  return run('go', args, { cwd: ROOT, maxBuffer: 64 << 20, ...opts });
}

/**
 * buildTools compiles tools/serve and tools/classify into build/e2e/bin.
 * Each binary is built under a temporary name and renamed, so test files
 * running at the same time never see a half-written one.
 */
export async function buildTools() {
  const bin = path.join(WORK, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const out = {};
  for (const tool of ['serve', 'classify']) {
    const tmp = path.join(bin, `.${tool}.${process.pid}`);
    await go(['build', '-o', tmp, `./tools/${tool}`]);
    out[tool] = path.join(bin, tool);
    fs.renameSync(tmp, out[tool]);
  }
  return out;
}

/**
 * runDir returns a new directory under build/e2e for one test file's run,
 * so that two runs (two people, or two test files) never share files.
 */
export function runDir(prefix) {
  fs.mkdirSync(WORK, { recursive: true });
  return fs.mkdtempSync(path.join(WORK, `${prefix}-`));
}

/**
 * makeImages writes the test images into dir as PNG files, plus a text
 * file that is not an image and a truncated PNG, and returns their paths.
 */
export async function makeImages(dir) {
  await go(['run', './internal/testimages/dump', '-png', '-o', dir, '-only', IMAGE_NAMES.join(',')]);
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.rgb')) fs.rmSync(path.join(dir, f)); // only the PNGs are used
  }
  const notImage = path.join(dir, 'notes.txt');
  fs.writeFileSync(notImage, 'This is a text file, not an image.\n');
  // A PNG cut short: it looks like an image, but the engine cannot decode it.
  const broken = path.join(dir, 'broken.png');
  fs.writeFileSync(broken, fs.readFileSync(path.join(dir, `${IMAGE_NAMES[0]}.png`)).subarray(0, 100));
  return {
    images: IMAGE_NAMES.map((n) => path.join(dir, `${n}.png`)),
    notImage,
    broken,
  };
}

/**
 * prepareSite returns the page and model directories to serve: web/ and
 * models/ themselves, or, in mock mode, a copy of web/ with the mock veil.js
 * and mock model files made in dir.
 */
export function prepareSite(dir) {
  const web = path.join(ROOT, 'web');
  const models = process.env.VEIL_MODELS ? path.resolve(process.env.VEIL_MODELS) : path.join(ROOT, 'models');
  if (!MOCK) {
    for (const f of ['veil.js', 'veil.wasm', 'wasm_exec.js']) {
      if (!fs.existsSync(path.join(web, f))) {
        throw new Error(`web/${f} is missing: run \`make wasm\` (or set VEIL_E2E_MOCK=1)`);
      }
    }
    if (!fs.existsSync(path.join(models, 'mobilenet_v2.veil'))) {
      throw new Error('models/mobilenet_v2.veil is missing: run `make models`');
    }
    return { web, models };
  }
  const site = path.join(dir, 'mock-site');
  fs.cpSync(web, path.join(site, 'web'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'e2e', 'mock', 'veil.js'), path.join(site, 'web', 'veil.js'));
  fs.mkdirSync(path.join(site, 'models'));
  for (const name of MODEL_NAMES) {
    fs.writeFileSync(path.join(site, 'models', `${name}.veil`), mockModelFile(name));
  }
  return { web: path.join(site, 'web'), models: path.join(site, 'models') };
}

/** mockModelFile is a model file the mock veil.js accepts, padded to look downloadable. */
export function mockModelFile(name, adapters = []) {
  const header = JSON.stringify({ veilMock: 1, name, inputSize: name === 'inception_v3' ? 299 : 224, adapters });
  return Buffer.concat([Buffer.from(`${header}\n`), Buffer.alloc(400 << 10, 0x2e)]);
}

/** startServer runs tools/serve on a free port, logging to logFile, and returns {url, origin, stop}. */
export async function startServer(serveBin, { web, models }, logFile) {
  const log = fs.openSync(logFile, 'w');
  const child = spawn(serveBin, ['-dir', web, '-models', models, '-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', log],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('tools/serve did not start within 30 s')), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tools/serve exited with status ${code}; see ${logFile}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      fs.closeSync(log);
    },
  };
}

/**
 * launchBrowser starts headless Chromium with a fresh profile in which no
 * host name resolves: a request to any origin but 127.0.0.1 could not leave
 * the machine even if the page tried (the test also checks that it does not).
 */
export async function launchBrowser() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'veil-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
    ],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * expectedProbabilities returns, per file path, the five probabilities in
 * class order that the page must show for that file with model `name`:
 * tools/classify's answer on the same int8 .veil file (or the mock's).
 */
export async function expectedProbabilities(classifyBin, modelsDir, name, files) {
  const out = new Map();
  if (MOCK) {
    for (const f of files) out.set(f, mockProbabilities(new Uint8Array(fs.readFileSync(f)), name));
    return out;
  }
  const model = path.join(modelsDir, `${name}.veil`);
  const { stdout } = await run(classifyBin, ['-json', '-model', model, ...files], { cwd: ROOT, maxBuffer: 64 << 20 });
  for (const line of stdout.trim().split('\n')) {
    const r = JSON.parse(line);
    if (r.error) throw new Error(`tools/classify ${r.file}: ${r.error}`);
    const byName = new Map(r.predictions.map((p) => [p.className, p.probability]));
    out.set(r.file, CLASSES.map((c) => byName.get(c)));
  }
  return out;
}

/** modelAvailable reports whether the served models include NAME.veil. */
export function modelAvailable(modelsDir, name) {
  return fs.existsSync(path.join(modelsDir, `${name}.veil`));
}
