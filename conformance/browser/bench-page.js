// bench-page.js runs one measurement in the bench page, as told by the JSON
// in the URL's hash (conformance/browserbench.mjs writes it):
//
//   {engine: "veil"|"nsfwjs"|"none", mode: "first"|"batch", model, nsfwjsOptions,
//    workers, threads, images: [{name, w, h}]}
//
// "first" classifies images[0] once: the time to first result. Engine
// "none" loads nothing: the page's own memory, to set the others against. "batch"
// classifies one image to warm up, then all of images: veil with
// classifyBatch over its worker pool, nsfwjs one after another (it has no
// batch call). Images are raw RGB from build/testimages made into ImageData,
// the same pixels for both engines, with no decoding.
//
// Times are performance.now(): ms since navigation start. window.benchDone
// resolves to the result, or rejects with the error.

const cfg = JSON.parse(decodeURIComponent(location.hash.slice(1)));

async function imageData({ name, w, h }) {
  const res = await fetch(`/images/${name}.rgb`);
  if (!res.ok) throw new Error(`/images/${name}.rgb: HTTP ${res.status}`);
  const rgb = new Uint8Array(await res.arrayBuffer());
  const rgba = new Uint8ClampedArray(w * h * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgba[j] = rgb[i];
    rgba[j + 1] = rgb[i + 1];
    rgba[j + 2] = rgb[i + 2];
    rgba[j + 3] = 255;
  }
  return new ImageData(rgba, w, h);
}

// Each engine returns its milestones and classify / batch functions.
const engines = {
  async veil() {
    const { load } = await import('/web/veil.js');
    const t = { imported: performance.now() };
    // The first progress call comes once the wasm is compiled, the worker and
    // Go runtime are up and the model's bytes arrive (a cache hit: are read).
    const onProgress = () => { t.engine ??= performance.now(); };
    const model = await load(`/models/${cfg.model}.veil`, { onProgress, ...(cfg.workers && { workers: cfg.workers }) });
    t.loaded = performance.now();
    return {
      t,
      info: { cached: model.info.cached },
      classify: (img) => model.classify(img, 5),
      batch: (imgs) => model.classifyBatch(imgs, 5),
    };
  },

  async nsfwjs() {
    const tf = await import('@tensorflow/tfjs');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const nsfwjs = await import('nsfwjs/core');
    const t = { imported: performance.now() };
    wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
    if (cfg.threads > 1) {
      if (!crossOriginIsolated) throw new Error('tfjs threads need a cross-origin isolated page');
      wasm.setThreadsCount(cfg.threads);
    } else {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    }
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not start');
    await tf.ready();
    if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) throw new Error('tfjs wasm: no SIMD');
    t.engine = performance.now(); // the wasm backend is compiled and ready
    // nsfwjs.load runs one prediction on zeros before it resolves.
    const model = await nsfwjs.load(`/models/tfjs/${cfg.model}/`, cfg.nsfwjsOptions);
    t.loaded = performance.now();
    return {
      t,
      // What was asked for: wasm.getThreadsCount() says 1 here even after setThreadsCount(2).
      info: { threads: cfg.threads > 1 ? cfg.threads : 1, threadedWasm: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT') },
      classify: (img) => model.classify(img, 5),
      async batch(imgs) {
        const out = [];
        for (const img of imgs) out.push(await model.classify(img, 5));
        return out;
      },
    };
  },
};

async function run() {
  const images = cfg.mode === 'first' ? cfg.images.slice(0, 1) : cfg.images;
  const pixels = Promise.all(images.map(imageData)); // alongside the engine's load
  const engine = await engines[cfg.engine]();
  const imgs = await pixels;
  const { t } = engine;
  if (cfg.mode === 'first') {
    t.pixels = performance.now();
    const top = (await engine.classify(imgs[0]))[0];
    t.result = performance.now();
    return { t, info: engine.info, top };
  }
  await engine.classify(imgs[0]); // warm-up
  const start = performance.now();
  const results = await engine.batch(imgs);
  const ms = performance.now() - start;
  if (results.length !== imgs.length) throw new Error(`${results.length} results for ${imgs.length} images`);
  return { t, info: engine.info, n: imgs.length, ms, top: results.map((r) => r[0].className) };
}

window.benchDone = cfg.engine === 'none' ? Promise.resolve({ t: {}, info: {} }) : run();
