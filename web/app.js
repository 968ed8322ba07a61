// veil's page: picks images, runs the WebAssembly classifier on them in this
// tab, and shows one card per image. Nothing here talks to any server but the
// one the page came from (the CSP enforces it), and no image is ever sent.
//
// Each card carries attributes for the browser tests (e2e/):
//   data-testid="result", data-file, data-status (pending|done|error),
//   data-top-class, data-probabilities (JSON, class order below),
//   data-unsafe, data-blurred, data-model.

/** Class order of data-probabilities and of the bars. */
const CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];
/** Classes whose probabilities add up to the "unsafe" score. */
const UNSAFE_CLASSES = ['Hentai', 'Porn', 'Sexy'];

/** The models `make models` builds, served from /models/NAME.veil. */
const BUILTIN_MODELS = {
  mobilenet_v2: { label: 'MobileNetV2', hint: 'fast' },
  mobilenet_v2_mid: { label: 'MobileNetV2 Mid', hint: 'balanced' },
  inception_v3: { label: 'InceptionV3', hint: 'most accurate' },
};
const DEFAULT_MODEL = 'mobilenet_v2';
const DEFAULT_THRESHOLD = 0.5;

const $ = (sel) => document.querySelector(sel);
const ui = {
  modelSelect: $('#model-select'),
  deviceModels: $('#device-models'),
  modelInput: $('#model-input'),
  modelStatus: $('#model-status'),
  modelProgress: $('#model-progress'),
  modelMessage: $('#model-message'),
  dropZone: $('#drop-zone'),
  chooseButton: $('#choose-button'),
  fileInput: $('#file-input'),
  threshold: $('#threshold'),
  thresholdValue: $('#threshold-value'),
  summary: $('#summary'),
  clearButton: $('#clear-button'),
  results: $('#results'),
  cardTemplate: $('#card-template'),
  offlineNote: $('#offline-note'),
};

// localStorage can throw (disabled storage, private modes); settings are a
// convenience, so failures fall back to defaults.
const settings = {
  get(key, fallback) {
    try {
      const v = localStorage.getItem(`veil.${key}`);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(`veil.${key}`, JSON.stringify(value));
    } catch {
      // Not remembered; nothing else depends on it.
    }
  },
};

const state = {
  engine: null, // the veil.js module
  model: null, // the loaded model, or null while (re)loading
  modelKey: '', // option value of the model in use
  loadToken: 0, // bumps on each model switch; stale loads are dropped
  generation: 0, // bumps on each model switch; stale results are redone
  threshold: clamp01(Number(settings.get('threshold', DEFAULT_THRESHOLD))),
  items: [], // {id, file, el, url, status, probs, revealed}
  nextId: 1,
  pumping: false,
  retired: new Set(), // models switched away from, disposed once idle
  inFlight: null, // the model running a classification right now
  fileModels: new Map(), // option value -> {name, bytes} for dropped .veil files
  pasteCount: 0,
};

/** errorText is an engine error's message without the "veil: " prefix or a final period. */
function errorText(err) {
  return String(err?.message ?? err).replace(/^veil: /, '').replace(/\.$/, '');
}

function clamp01(x) {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : DEFAULT_THRESHOLD;
}

// ---------------------------------------------------------------- model ---

function setModelStatus(kind, message, progress) {
  ui.modelStatus.dataset.state = kind;
  ui.modelMessage.textContent = message;
  if (progress === undefined) {
    ui.modelProgress.hidden = true;
    return;
  }
  ui.modelProgress.hidden = false;
  if (progress === null) {
    ui.modelProgress.removeAttribute('value'); // indeterminate
  } else {
    ui.modelProgress.value = progress;
  }
}

function formatBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

function modelLabel(key) {
  if (BUILTIN_MODELS[key]) return BUILTIN_MODELS[key].label;
  return state.fileModels.get(key)?.name ?? key;
}

// formatAdapters accepts the adapter list in whichever shape the engine
// gives it: names, or objects with a name (and maybe rank and scale).
function formatAdapters(adapters) {
  if (!Array.isArray(adapters) || adapters.length === 0) return 'no adapters merged';
  const names = adapters.map((a) => {
    if (typeof a === 'string') return a;
    const name = String(a.name ?? a.path ?? 'adapter').split(/[\\/]/).pop();
    const extra = [];
    if (a.rank) extra.push(`rank ${a.rank}`);
    const weight = a.weight ?? a.scale;
    if (weight !== undefined && weight !== 1) extra.push(`weight ${weight}`);
    return extra.length ? `${name} (${extra.join(', ')})` : name;
  });
  return `adapters merged: ${names.join(', ')}`;
}

function describeModel(model, key, source) {
  const info = model.info ?? {};
  const parts = [modelLabel(key)];
  if (info.inputSize) parts.push(`${info.inputSize}×${info.inputSize} int8`);
  parts.push(source);
  parts.push(formatAdapters(info.adapters));
  if (info.cached) parts.push('kept on this device');
  if (info.hash) parts.push(`#${String(info.hash).slice(0, 10)}`);
  return parts.join(' · ');
}

async function loadEngine() {
  if (state.engine) return state.engine;
  try {
    state.engine = await import('./veil.js');
  } catch (err) {
    throw new Error(`the classifier (veil.js) did not load: ${err.message}. Build it with \`make wasm\`.`);
  }
  return state.engine;
}

/** switchModel loads the model of option `key` and re-runs every image on it. */
async function switchModel(key) {
  const token = ++state.loadToken;
  state.generation++;
  if (state.model) state.retired.add(state.model);
  state.model = null;
  state.modelKey = key;
  ui.modelSelect.value = key;
  document.documentElement.dataset.model = '';
  disposeRetired();

  const label = modelLabel(key);
  const fromFile = state.fileModels.get(key);
  setModelStatus('loading', `Loading ${label}…`, null);
  let model;
  try {
    const { load } = await loadEngine();
    if (fromFile) {
      model = await load(fromFile.bytes, { cache: false });
    } else {
      const url = new URL(`models/${key}.veil`, location.href).href;
      // With the server's hash, the engine replaces a cached copy that is
      // out of date; offline there is none, and the cached copy is used.
      const { hash } = await probeModel(key);
      model = await load(url, {
        cache: true,
        hash,
        onProgress(received, total) {
          if (token !== state.loadToken) return;
          const of = total ? ` of ${formatBytes(total)}` : '';
          setModelStatus('loading', `Downloading ${label}… ${formatBytes(received) || '0 KB'}${of}`,
            total ? received / total : null);
        },
      });
    }
  } catch (err) {
    if (token !== state.loadToken) return;
    const notFetched = !fromFile && (!err?.code || err.code === 'VEIL_FETCH');
    let hint = '';
    if (notFetched) hint = navigator.onLine ? ' Is it built? Run `make models`.' : ' You are offline, and it was not kept from an earlier visit.';
    setModelStatus('error', `Could not load ${label}: ${errorText(err)}.${hint}`);
    document.documentElement.dataset.model = 'error';
    return;
  }
  if (token !== state.loadToken) {
    model.dispose?.();
    return;
  }
  state.model = model;
  if (!fromFile) settings.set('model', key);
  const source = fromFile ? `from ${fromFile.name} on this device` : `from models/${key}.veil`;
  setModelStatus('ready', describeModel(model, key, source));
  ui.modelStatus.dataset.model = key;
  document.documentElement.dataset.model = 'ready';
  if (!fromFile) keepForOffline(`models/${key}.veil`);

  // Results of the previous model are redone with this one.
  for (const item of state.items) {
    if (item.status === 'done') markPending(item);
  }
  pump();
}

function disposeRetired() {
  for (const m of state.retired) {
    if (m === state.inFlight) continue;
    state.retired.delete(m);
    try {
      m.dispose?.();
    } catch {
      // Already gone; nothing to free.
    }
  }
}

async function addModelFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const key = `file:${state.fileModels.size + 1}`;
  state.fileModels.set(key, { name: file.name, bytes });
  const opt = document.createElement('option');
  opt.value = key;
  opt.textContent = file.name;
  ui.deviceModels.insertBefore(opt, ui.deviceModels.querySelector('option[value="open-file"]'));
  await switchModel(key);
}

/**
 * probeModel asks the server about a built-in model without downloading it:
 * {status, size, hash}, hash being the SHA-256 from Repr-Digest in hex.
 * Offline it resolves to {status: 0}.
 */
async function probeModel(key) {
  try {
    const resp = await fetch(`models/${key}.veil`, { method: 'HEAD', cache: 'no-store' });
    return {
      status: resp.status,
      size: Number(resp.headers.get('Content-Length')) || 0,
      hash: digestToHex(resp.headers.get('Repr-Digest')),
    };
  } catch {
    return { status: 0, size: 0, hash: '' };
  }
}

/** digestToHex turns `sha-256=:BASE64:` (RFC 9530) into lower-case hex, or ''. */
function digestToHex(header) {
  const m = /sha-256=:([A-Za-z0-9+/=]+):/.exec(header ?? '');
  if (!m) return '';
  try {
    return [...atob(m[1])].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
  } catch {
    return '';
  }
}

// annotateModelSizes adds each built-in model's download size to the picker
// and marks the ones the server does not have. Offline, it changes nothing.
async function annotateModelSizes() {
  await Promise.all(Object.keys(BUILTIN_MODELS).map(async (key) => {
    const opt = ui.modelSelect.querySelector(`option[value="${key}"]`);
    const m = BUILTIN_MODELS[key];
    const { status, size } = await probeModel(key);
    if (status === 404) {
      opt.textContent = `${m.label} · not built`;
    } else if (status === 200) {
      opt.textContent = `${m.label} · ${m.hint}${size ? ` · ${formatBytes(size)}` : ''}`;
    }
  }));
}

// --------------------------------------------------------------- images ---

const SUPPORTED = 'JPEG, PNG, GIF and WebP';

/** sniffImage returns the format named by the file's first bytes, or ''. */
async function sniffImage(file) {
  const b = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  const ascii = (from, to) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'JPEG';
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'PNG';
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  return '';
}

function notAnImageMessage(file) {
  if (file.size === 0) return 'This file is empty.';
  if (file.type.startsWith('image/')) {
    const kind = file.type.slice(6).toUpperCase().replace(/^SVG\+XML$/, 'SVG');
    // Named like a format veil reads, but the bytes say otherwise: blaming
    // the format would be wrong.
    if (['JPEG', 'PNG', 'GIF', 'WEBP'].includes(kind)) {
      return `Not an image: the name says ${kind}, but the content is not a JPEG, PNG, GIF or WebP image.`;
    }
    return `${kind} images are not supported; veil reads ${SUPPORTED}.`;
  }
  const what = file.type ? ` (${file.type})` : '';
  return `Not an image${what}. veil reads ${SUPPORTED}.`;
}

function isModelFile(file) {
  return file.name.toLowerCase().endsWith('.veil');
}

async function addFiles(fileList) {
  const files = [...fileList];
  const modelFile = files.find(isModelFile);
  const images = files.filter((f) => !isModelFile(f));
  if (modelFile) addModelFile(modelFile);
  for (const file of images) {
    const item = { id: state.nextId++, file, el: createCard(file), url: '', status: 'new', probs: null, revealed: false };
    state.items.push(item);
    ui.results.append(item.el);
    // Sniffing is quick but async; do it in order so cards keep the order chosen.
    const format = await sniffImage(file).catch(() => '');
    if (!format) {
      showError(item, notAnImageMessage(file));
      continue;
    }
    item.url = URL.createObjectURL(file);
    item.el.querySelector('img').src = item.url;
    markPending(item);
  }
  updateSummary();
  pump();
}

function createCard(file) {
  const el = ui.cardTemplate.content.firstElementChild.cloneNode(true);
  el.dataset.file = file.name;
  const name = el.querySelector('.file-name');
  name.textContent = file.name;
  name.title = file.name;
  el.querySelector('img').alt = file.name;
  el.setAttribute('aria-label', file.name);
  const bars = el.querySelector('.bars');
  for (const cls of CLASSES) {
    const li = document.createElement('li');
    li.dataset.class = cls;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = cls;
    const track = document.createElement('span');
    track.className = 'track';
    track.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.className = 'fill';
    track.append(fill);
    const value = document.createElement('span');
    value.className = 'value';
    value.textContent = '–';
    li.append(label, track, value);
    bars.append(li);
  }
  const reveal = el.querySelector('.reveal');
  reveal.addEventListener('click', () => {
    const item = state.items.find((i) => i.el === el);
    if (!item) return;
    item.revealed = !item.revealed;
    applyBlur(item);
    updateSummary();
  });
  return el;
}

function markPending(item) {
  item.status = 'pending';
  item.el.dataset.status = 'pending';
  item.el.setAttribute('aria-busy', 'true');
}

function formatPercent(p) {
  if (p > 0 && p < 0.001) return '<0.1%';
  return `${(p * 100).toFixed(1)}%`;
}

function formatMs(ms) {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

function unsafeScore(probs) {
  return UNSAFE_CLASSES.reduce((sum, cls) => sum + probs[CLASSES.indexOf(cls)], 0);
}

/** showResult fills a card from the engine's predictions. */
function showResult(item, predictions, ms) {
  const byName = new Map(predictions.map((p) => [p.className, p.probability]));
  const probs = CLASSES.map((cls) => byName.get(cls) ?? 0);
  let top = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[top]) top = i;
  item.probs = probs;
  item.status = 'done';

  const el = item.el;
  el.removeAttribute('aria-busy');
  el.dataset.status = 'done';
  el.dataset.topClass = CLASSES[top];
  el.dataset.probabilities = JSON.stringify(probs);
  el.dataset.unsafe = String(unsafeScore(probs));
  el.dataset.model = state.modelKey;
  el.dataset.timeMs = ms.toFixed(1);
  el.querySelector('.badge').textContent = CLASSES[top];
  el.querySelector('.top-prob').textContent = formatPercent(probs[top]);
  el.querySelector('.time').textContent = formatMs(ms);
  el.querySelector('.time').title = `classified by ${modelLabel(state.modelKey)} in ${formatMs(ms)}`;
  el.querySelectorAll('.bars li').forEach((li, i) => {
    li.classList.toggle('top', i === top);
    li.querySelector('.fill').style.setProperty('--p', String(probs[i]));
    li.querySelector('.value').textContent = formatPercent(probs[i]);
  });
  el.querySelector('.unsafe').textContent = `Unsafe ${formatPercent(unsafeScore(probs))}`;
  applyBlur(item);
}

function showError(item, message) {
  item.status = 'error';
  const el = item.el;
  el.removeAttribute('aria-busy');
  el.dataset.status = 'error';
  el.dataset.error = message;
  el.dataset.blurred = 'false';
  el.querySelector('.error').textContent = message;
  el.querySelector('.bars').hidden = true;
  el.querySelector('.verdict').hidden = true;
}

/** applyBlur blurs a card whose unsafe score reaches the threshold, unless the user revealed it. */
function applyBlur(item) {
  const el = item.el;
  const reveal = el.querySelector('.reveal');
  if (item.status !== 'done') {
    reveal.hidden = true;
    return;
  }
  const over = unsafeScore(item.probs) >= state.threshold;
  const blurred = over && !item.revealed;
  el.dataset.unsafeOver = String(over);
  el.dataset.blurred = String(blurred);
  reveal.hidden = !over;
  reveal.setAttribute('aria-pressed', String(item.revealed));
  reveal.querySelector('.reveal-text').textContent = blurred ? 'Sensitive · click to show' : 'Hide';
  reveal.querySelector('.reveal-name').textContent = ` (${item.file.name})`;
}

function updateSummary() {
  const n = state.items.length;
  ui.clearButton.hidden = n === 0;
  if (n === 0) {
    ui.summary.textContent = '';
    return;
  }
  const count = (pred) => state.items.filter(pred).length;
  const parts = [`${n} ${n === 1 ? 'file' : 'files'}`];
  const pending = count((i) => i.status === 'pending' || i.status === 'running' || i.status === 'new');
  const blurred = count((i) => i.el.dataset.blurred === 'true');
  const failed = count((i) => i.status === 'error');
  if (pending) parts.push(`${pending} to go`);
  if (blurred) parts.push(`${blurred} blurred`);
  if (failed) parts.push(`${failed} not readable`);
  ui.summary.textContent = parts.join(' · ');
}

/** pump classifies pending images one at a time with the current model. */
async function pump() {
  if (state.pumping) return;
  state.pumping = true;
  try {
    for (;;) {
      const model = state.model;
      const item = state.items.find((i) => i.status === 'pending');
      if (!model || !item) break;
      const generation = state.generation;
      item.status = 'running';
      state.inFlight = model;
      let predictions;
      let error;
      const t0 = performance.now();
      try {
        predictions = await model.classify(item.file, CLASSES.length);
      } catch (err) {
        error = err;
      }
      const ms = performance.now() - t0;
      state.inFlight = null;
      disposeRetired();
      if (!state.items.includes(item)) continue; // cleared meanwhile
      if (generation !== state.generation) {
        markPending(item); // the model changed: redo with the new one
        continue;
      }
      if (error) {
        // The engine's message names its layers ("cannot read the image:
        // decode: invalid PNG: ..."); the card already says what failed.
        const why = errorText(error).replace(/^(cannot read the image: )?(decode: )?/, '');
        showError(item, `Could not read this image: ${why}.`);
      } else {
        showResult(item, predictions, ms);
      }
      updateSummary();
      // Let the card paint before the next image blocks the thread.
      await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
    }
  } finally {
    state.pumping = false;
    updateSummary();
  }
}

function clearAll() {
  for (const item of state.items) {
    if (item.url) URL.revokeObjectURL(item.url);
    item.el.remove();
  }
  state.items = [];
  updateSummary();
  ui.chooseButton.focus();
}

// ----------------------------------------------------------- threshold ---

function showThreshold() {
  const pct = Math.round(state.threshold * 100);
  ui.threshold.value = String(pct);
  ui.thresholdValue.textContent = `${pct}%`;
}

ui.threshold.addEventListener('input', () => {
  state.threshold = clamp01(Number(ui.threshold.value) / 100);
  settings.set('threshold', state.threshold);
  showThreshold();
  for (const item of state.items) applyBlur(item);
  updateSummary();
});

// ---------------------------------------------------------------- input ---

ui.chooseButton.addEventListener('click', () => ui.fileInput.click());
ui.fileInput.addEventListener('change', () => {
  addFiles(ui.fileInput.files);
  ui.fileInput.value = '';
});
ui.modelInput.addEventListener('change', () => {
  const file = ui.modelInput.files[0];
  ui.modelInput.value = '';
  if (file) addModelFile(file);
});
ui.modelSelect.addEventListener('change', () => {
  if (ui.modelSelect.value === 'open-file') {
    // Not a model: keep showing the current one and ask for a file.
    ui.modelSelect.value = state.modelKey;
    ui.modelInput.click();
    return;
  }
  switchModel(ui.modelSelect.value);
});
ui.clearButton.addEventListener('click', clearAll);

function hasFiles(event) {
  return [...(event.dataTransfer?.types ?? [])].includes('Files');
}

let dragDepth = 0;
window.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth++;
  document.body.classList.add('dragging');
});
window.addEventListener('dragover', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
});
window.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) document.body.classList.remove('dragging');
});
window.addEventListener('drop', (e) => {
  dragDepth = 0;
  document.body.classList.remove('dragging');
  if (!hasFiles(e)) return;
  e.preventDefault();
  addFiles(e.dataTransfer.files);
});

window.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length === 0) return;
  e.preventDefault();
  // Pasted images are all called "image.png"; number them.
  addFiles(files.map((f) => {
    state.pasteCount++;
    const ext = f.type === 'image/jpeg' ? 'jpg' : (f.type.split('/')[1] || 'png');
    return f.name && f.name !== 'image.png' ? f : new File([f], `pasted-${state.pasteCount}.${ext}`, { type: f.type });
  }));
});

// -------------------------------------------------------------- offline ---

function showOnlineState() {
  const controlled = 'serviceWorker' in navigator && navigator.serviceWorker.controller;
  if (!navigator.onLine) {
    ui.offlineNote.textContent = 'You are offline; veil keeps working with the models it has loaded.';
  } else if (controlled) {
    ui.offlineNote.textContent = 'Works offline once loaded.';
  } else {
    ui.offlineNote.textContent = '';
  }
}

/** keepForOffline asks the service worker to keep a copy of url. */
function keepForOffline(url) {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.ready
    .then((reg) => reg.active?.postMessage({ keep: new URL(url, location.href).href }))
    .catch(() => {});
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    await navigator.serviceWorker.register('sw.js');
    navigator.serviceWorker.addEventListener('controllerchange', showOnlineState);
  } catch {
    // No offline support; everything else works.
  }
  showOnlineState();
}
window.addEventListener('online', showOnlineState);
window.addEventListener('offline', showOnlineState);

// ---------------------------------------------------------------- start ---

showThreshold();
registerServiceWorker();
annotateModelSizes();
{
  const remembered = settings.get('model', DEFAULT_MODEL);
  switchModel(BUILTIN_MODELS[remembered] ? remembered : DEFAULT_MODEL);
}
