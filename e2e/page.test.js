// Browser end-to-end test of veil's page (web/), served by tools/serve and
// driven in headless Chromium. Run with `make test-e2e` (or `node --test e2e/`
// after `make models wasm`). Writes build/screenshot.png.
//
// The page and tools/classify run the same Go engine on the same int8 .veil
// file and the same PNG bytes, so the probabilities must be the same float32
// values, compared exactly.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

import {
  BUILD, CLASSES, MOCK, buildTools, expectedProbabilities, launchBrowser, makeImages,
  modelAvailable, prepareSite, runDir, startServer,
} from './harness.js';

const CARD = '[data-testid="result"]';
const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const LONG = 10 * 60_000; // InceptionV3 on 8 images in wasm takes a while on 2 cores

let dir; // this run's own directory under build/e2e
let tools;
let files;
let site;
let server;
let browser;
let page;
const requests = []; // every request the browser made: {url, method, postData, fromServiceWorker}
const pageErrors = [];
const cspViolations = [];

function cardFor(file) {
  return page.locator(`${CARD}[data-file="${path.basename(file)}"]`);
}

/** waitForCards waits until n cards exist and none is pending, all done by `model` if given. */
async function waitForCards(n, model) {
  await page.waitForFunction(([n, model]) => {
    const cards = [...document.querySelectorAll('[data-testid="result"]')];
    return cards.length === n && cards.every((c) =>
      c.dataset.status === 'error' || (c.dataset.status === 'done' && (!model || c.dataset.model === model)));
  }, [n, model], { timeout: LONG, polling: 100 });
}

async function waitForModel(key) {
  await page.waitForSelector(`#model-status[data-state="ready"][data-model="${key}"]`, { timeout: LONG });
}

async function readCards() {
  return page.$$eval(CARD, (cards) => cards.map((c) => ({
    file: c.dataset.file,
    status: c.dataset.status,
    topClass: c.dataset.topClass,
    probabilities: c.dataset.probabilities ? JSON.parse(c.dataset.probabilities) : null,
    blurred: c.dataset.blurred,
    unsafe: c.dataset.unsafe ? Number(c.dataset.unsafe) : null,
    model: c.dataset.model,
    error: c.dataset.error,
  })));
}

/**
 * assertSameProbabilities checks each image card against the expected
 * float32 values. Both sides are float32 values printed as decimals (JSON of
 * a float64 in the page, shortest float32 in Go), so Math.fround recovers
 * the exact bits.
 */
function assertSameProbabilities(cards, expected, model) {
  for (const [file, want] of expected) {
    const card = cards.find((c) => c.file === path.basename(file));
    assert.ok(card, `no card for ${path.basename(file)}`);
    assert.equal(card.status, 'done', `${card.file}: status ${card.status} (${card.error ?? ''})`);
    assert.equal(card.model, model, `${card.file}: classified by ${card.model}, want ${model}`);
    const got = card.probabilities.map(Math.fround);
    assert.deepEqual(got, want.map(Math.fround), `${card.file} (${model}): page ${got} vs tools/classify ${want}`);
    const top = CLASSES[want.indexOf(Math.max(...want))];
    assert.equal(card.topClass, top, `${card.file}: top class`);
  }
}

describe('veil page', { timeout: 30 * 60_000 }, () => {
  before(async () => {
    dir = runDir('page');
    [tools, files] = await Promise.all([buildTools(), makeImages(path.join(dir, 'images'))]);
    site = prepareSite(dir);
    server = await startServer(tools.serve, site, path.join(dir, 'serve.log'));
    browser = await launchBrowser();
    browser.context.on('request', (r) => requests.push({
      url: r.url(), method: r.method(), postData: r.postData(), fromServiceWorker: !!r.serviceWorker(),
    }));
    page = await browser.context.newPage();
    // Intercept file choosers from the start: enabling it lazily, inside
    // waitForEvent, can lose the race with the key press that opens one.
    page.on('filechooser', () => {});
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && msg.text().includes('Content Security Policy')) cspViolations.push(msg.text());
    });
    await page.goto(server.url);
    await waitForModel('mobilenet_v2');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('classifies chosen images exactly like tools/classify', { timeout: LONG }, async () => {
    const chosen = [...files.images, files.notImage, files.broken];
    await page.setInputFiles('#file-input', chosen);
    await waitForCards(chosen.length, 'mobilenet_v2');
    const cards = await readCards();
    assert.deepEqual(cards.map((c) => c.file), chosen.map((f) => path.basename(f)), 'cards in the order chosen');

    const expected = await expectedProbabilities(tools.classify, site.models, 'mobilenet_v2', files.images);
    assertSameProbabilities(cards, expected, 'mobilenet_v2');

    const text = cards.find((c) => c.file === 'notes.txt');
    assert.equal(text.status, 'error');
    assert.match(text.error, /Not an image/);
    await assert.doesNotReject(cardFor(files.notImage).locator('.error').waitFor({ state: 'visible' }));
    const broken = cards.find((c) => c.file === 'broken.png');
    assert.equal(broken.status, 'error');
    assert.match(broken.error, /^Could not read this image: /);
    console.log(`# broken.png: ${broken.error}`);

    // Every card shows its time, and every image card its five bars.
    for (const card of await page.$$(`${CARD}[data-status="done"]`)) {
      assert.match(await card.$eval('.time', (e) => e.textContent), /^\d+(\.\d)? m?s$/);
      assert.equal((await card.$$('.bars li')).length, 5);
    }

    // Pictures for the README and for people: light, dark and phone-sized.
    await page.evaluate(() => document.activeElement?.blur());
    await page.screenshot({ path: path.join(BUILD, 'screenshot.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: path.join(BUILD, 'screenshot-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(BUILD, 'screenshot-phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways on a phone by ${overflow}px`);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('passes an accessibility audit (axe-core, WCAG 2 A/AA) in light and dark', async () => {
    // page.evaluate runs outside the page's CSP, which forbids injected scripts.
    await page.evaluate(AXE_SOURCE);
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      const violations = await page.evaluate(async () => {
        const r = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] });
        return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
      });
      assert.deepEqual(violations, [], `${colorScheme} theme`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('blurs unsafe images until clicked, and remembers the threshold', async () => {
    const check = async (threshold) => {
      for (const c of await readCards()) {
        if (c.status !== 'done') continue;
        const want = c.unsafe >= threshold ? 'true' : 'false';
        assert.equal(c.blurred, want, `${c.file}: unsafe ${c.unsafe}, threshold ${threshold}`);
      }
    };
    await check(0.5); // the default

    // The unsafe score is Porn + Hentai + Sexy.
    for (const c of await readCards()) {
      if (c.status !== 'done') continue;
      const p = c.probabilities;
      assert.ok(Math.abs(c.unsafe - (p[1] + p[3] + p[4])) < 1e-12, `${c.file}: unsafe score`);
    }

    // Pick a threshold that blurs some images and not others.
    const scores = (await readCards()).filter((c) => c.status === 'done').map((c) => c.unsafe).sort((a, b) => a - b);
    const mid = scores[Math.floor(scores.length / 2)];
    const pct = Math.max(1, Math.min(99, Math.ceil(mid * 100)));
    await page.locator('#threshold').fill(String(pct));
    await check(pct / 100);
    assert.equal(await page.textContent('#threshold-value'), `${pct}%`);
    const blurredFile = (await readCards()).find((c) => c.blurred === 'true')?.file;
    assert.ok(blurredFile, 'some image is blurred');
    assert.ok((await readCards()).some((c) => c.blurred === 'false' && c.status === 'done'), 'some image is not blurred');

    // Click to show, click to hide again; the keyboard does the same.
    const card = page.locator(`${CARD}[data-file="${blurredFile}"]`);
    const reveal = card.locator('.reveal');
    await reveal.click();
    assert.equal(await card.getAttribute('data-blurred'), 'false');
    assert.equal(await reveal.getAttribute('aria-pressed'), 'true');
    await reveal.click();
    assert.equal(await card.getAttribute('data-blurred'), 'true');
    await reveal.focus();
    await page.keyboard.press('Enter');
    assert.equal(await card.getAttribute('data-blurred'), 'false');
    await page.keyboard.press('Space');
    assert.equal(await card.getAttribute('data-blurred'), 'true');

    // The threshold survives a reload.
    await page.reload();
    await waitForModel('mobilenet_v2');
    assert.equal(await page.inputValue('#threshold'), String(pct));
    await page.locator('#threshold').fill('50');
  });

  test('switches models and re-classifies the images', { timeout: LONG }, async () => {
    // Three images keep InceptionV3's turn short.
    const some = files.images.slice(0, 3);
    if (await page.isVisible('#clear-button')) await page.click('#clear-button');
    await page.setInputFiles('#file-input', some);
    await waitForCards(some.length, 'mobilenet_v2');

    const others = ['mobilenet_v2_mid', 'inception_v3'].filter((m) => modelAvailable(site.models, m));
    assert.ok(others.length > 0, 'models/mobilenet_v2_mid.veil or inception_v3.veil is needed: run `make models`');
    for (const model of others) {
      // Watch the progress bar while the model downloads (it is not cached yet).
      await page.evaluate(() => {
        const bar = document.querySelector('#model-progress');
        window.progressSeen = [];
        new MutationObserver(() => {
          if (!bar.hidden && bar.hasAttribute('value')) window.progressSeen.push(bar.value);
        }).observe(bar, { attributes: true });
      });
      await page.selectOption('#model-select', model);
      await waitForModel(model);
      const seen = await page.evaluate(() => window.progressSeen);
      assert.ok(seen.length > 0, `no download progress shown for ${model}`);
      assert.ok(seen.every((v) => v >= 0 && v <= 1), `progress values ${seen}`);
      assert.equal(await page.isHidden('#model-progress'), true, 'the progress bar goes away');
      await waitForCards(some.length, model);
      const expected = await expectedProbabilities(tools.classify, site.models, model, some);
      assertSameProbabilities(await readCards(), expected, model);
      assert.match(await page.textContent('#model-message'), /from models\/.*\.veil/);
    }

    // A .veil file from the device: the same bytes as mobilenet_v2, under another name.
    const own = path.join(dir, 'my-model.veil');
    fs.copyFileSync(path.join(site.models, 'mobilenet_v2.veil'), own);
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.selectOption('#model-select', 'open-file'),
    ]);
    await chooser.setFiles(own);
    await waitForModel('file:1');
    await waitForCards(some.length, 'file:1');
    assert.match(await page.textContent('#model-message'), /my-model\.veil on this device/);
    assert.match(await page.textContent('#model-message'), /adapters/);
    const expected = await expectedProbabilities(tools.classify, site.models, 'mobilenet_v2', some);
    assertSameProbabilities(await readCards(), expected, 'file:1');

    await page.selectOption('#model-select', 'mobilenet_v2');
    await waitForModel('mobilenet_v2');
    await waitForCards(some.length, 'mobilenet_v2');
  });

  test('takes images by keyboard, drag and drop, and paste', { timeout: LONG }, async () => {
    await page.click('#clear-button');
    assert.equal(await page.locator(CARD).count(), 0);

    // From the top of the page, Tab reaches the file picker and Enter opens it.
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('Tab');
    let focused = '';
    for (let i = 0; i < 12 && focused !== 'choose-button'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    assert.equal(focused, 'choose-button', 'Tab reaches "Choose files"');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
    assert.ok(chooser.isMultiple());
    await chooser.setFiles(files.images[0]);
    await waitForCards(1, 'mobilenet_v2');

    // Drop and paste hand the page File objects, as a browser would.
    const bytes = [...fs.readFileSync(files.images[1])];
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
      const zone = document.querySelector('#drop-zone');
      zone.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await page.evaluate((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'image.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }, bytes);
    await waitForCards(3, 'mobilenet_v2');
    const cards = await readCards();
    assert.deepEqual(cards.map((c) => c.file), [path.basename(files.images[0]), 'dropped.png', 'pasted-1.png']);
    assert.deepEqual(cards[1].probabilities, cards[2].probabilities, 'dropped and pasted copies of one image agree');
    const expected = await expectedProbabilities(tools.classify, site.models, 'mobilenet_v2', [files.images[1]]);
    assert.deepEqual(cards[1].probabilities.map(Math.fround), expected.get(files.images[1]).map(Math.fround));
  });

  test('keeps working offline once loaded', { timeout: LONG }, async () => {
    await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 60_000 });
    // Let the service worker finish storing what it fetched.
    await page.waitForFunction(async () => {
      const cache = await caches.open('veil-v1');
      const urls = (await cache.keys()).map((r) => new URL(r.url).pathname);
      return ['/', '/app.js', '/veil.js', '/veil.wasm', '/models/mobilenet_v2.veil'].every((u) => urls.includes(u));
    }, null, { timeout: 60_000, polling: 250 });

    await server.stop(); // no server at all from here on
    await page.reload();
    await waitForModel('mobilenet_v2');
    await page.setInputFiles('#file-input', files.images.slice(0, 2));
    await waitForCards(2, 'mobilenet_v2');
    const expected = await expectedProbabilities(tools.classify, site.models, 'mobilenet_v2', files.images.slice(0, 2));
    assertSameProbabilities(await readCards(), expected, 'mobilenet_v2');
  });

  test('contacts no other origin and sends no image anywhere', async () => {
    // The CSP must stop even a deliberate attempt.
    const probe = await page.evaluate(async () => {
      let violation = '';
      document.addEventListener('securitypolicyviolation', (e) => { violation = e.violatedDirective; }, { once: true });
      try {
        await fetch('https://example.com/upload', { method: 'POST', body: 'x' });
        return { fetched: true, violation };
      } catch {
        await new Promise((r) => setTimeout(r, 100));
        return { fetched: false, violation };
      }
    });
    assert.equal(probe.fetched, false, 'a fetch to another origin succeeded');
    assert.equal(probe.violation, 'connect-src');
    cspViolations.splice(0); // the probe's own report

    assert.ok(requests.length > 0, 'no request was recorded');
    const origin = server.origin;
    for (const r of requests) {
      const u = new URL(r.url);
      if (u.protocol === 'blob:' || u.protocol === 'data:') continue;
      assert.equal(u.origin, origin, `request to another origin: ${r.method} ${r.url}`);
      assert.ok(['GET', 'HEAD'].includes(r.method), `${r.method} ${r.url}`);
      assert.equal(r.postData, null, `${r.url} carried a body`);
    }
    const paths = new Set(requests.map((r) => new URL(r.url).pathname));
    for (const f of files.images) {
      assert.ok(![...paths].some((p) => p.includes(path.basename(f, '.png'))), `an image name was requested: ${f}`);
    }
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
    assert.deepEqual(cspViolations, [], 'the page itself broke its CSP');
    if (MOCK) console.log('# mock mode: expected values came from e2e/mock/veil.js, not tools/classify');
  });
});
