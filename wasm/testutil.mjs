// Helpers shared by the Node tests of veil.js that need the malformed-input
// table or the engine's memory size (malformed.test.mjs, soak.test.mjs).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** fakeModel is a stand-in model file (wasm/internal/fakemodel) of input size s. */
export function fakeModel(size = 8, name = 'fake') {
  return new Uint8Array([...Buffer.from('VEILFAKE'), size, ...Buffer.from(name)]);
}

/**
 * loadManifest returns build/malformed/manifest.json (internal/malformed),
 * writing the table first if it is not there.
 */
export async function loadManifest(root) {
  const dir = path.join(root, 'build', 'malformed');
  const file = path.join(dir, 'manifest.json');
  if (!fs.existsSync(file)) await run('go', ['run', './internal/malformed/dump', '-o', dir], { cwd: root });
  return { dir, manifest: JSON.parse(fs.readFileSync(file, 'utf8')) };
}

/**
 * trackWasmMemory records every WebAssembly instance created from now on
 * (veil.js starts Go's through WebAssembly.instantiate) and returns
 * {bytes()}: the summed size of their linear memories. Go's heap lives in
 * that memory, which only grows, so its size is the engine's peak footprint.
 * Call it before veil.js starts an engine.
 */
export function trackWasmMemory() {
  const instances = [];
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = async function (...args) {
    const res = await instantiate.apply(this, args);
    instances.push(res instanceof WebAssembly.Instance ? res : res.instance);
    return res;
  };
  return {
    bytes: () => instances.reduce((n, i) => n + (i.exports.mem?.buffer.byteLength ?? 0), 0),
    count: () => instances.length,
  };
}

/** withTimeout rejects if p has not settled within ms (a hang guard). */
export function withTimeout(p, ms, message) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (no answer within ${ms} ms)`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}
