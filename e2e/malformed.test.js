// The malformed-input table (internal/malformed, written to build/malformed
// by `make malformed`) through the page in headless Chromium: every file is
// chosen through #file-input at once; each card must end with a result
// (the same float32 probabilities as tools/classify) or a clear error of the
// expected kind, the page must not crash, and it must still classify a good
// image afterwards. Run by `make test-e2e`, or `node --test
// e2e/malformed.test.js` after `make models wasm malformed`.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import {
  BUILD, CLASSES, MOCK, ROOT, buildTools, expectedProbabilities, launchBrowser, prepareSite, runDir, startServer,
} from './harness.js';

const run = promisify(execFile);
const CARD = '[data-testid="result"]';
const LONG = 10 * 60_000;
const TABLE = path.join(BUILD, 'malformed');

// What the page says for each kind of error. Files whose first bytes are no
// image are stopped by the page itself ("Not an image", "empty"); the rest
// carry the engine's message after "Could not read this image: ".
const PAGE_PATTERNS = {
  format: /^(Not an image|This file is empty\.|Could not read this image: (invalid (JPEG|PNG|GIF|WebP)|unknown format))/,
  unsupported: /^Could not read this image: unsupported (JPEG|PNG|GIF|WebP): /,
  limit: /^Could not read this image: .*limit (is|of) \d+/,
};

const skip = MOCK ? 'mock mode: the engine is not under test' : false;

let dir;
let tools;
let server;
let browser;
let page;
let manifest;
const pageErrors = [];

async function readCards() {
  return page.$$eval(CARD, (cards) => cards.map((c) => ({
    file: c.dataset.file,
    status: c.dataset.status,
    probabilities: c.dataset.probabilities ? JSON.parse(c.dataset.probabilities) : null,
    error: c.dataset.error,
    shownError: c.querySelector('.error')?.textContent ?? '',
  })));
}

async function waitForCards(n) {
  await page.waitForFunction((n) => {
    const cards = [...document.querySelectorAll('[data-testid="result"]')];
    return cards.length === n && cards.every((c) => c.dataset.status === 'done' || c.dataset.status === 'error');
  }, n, { timeout: LONG, polling: 200 });
}

describe('malformed inputs through the page', { skip, timeout: 20 * 60_000 }, () => {
  before(async () => {
    if (!fs.existsSync(path.join(TABLE, 'manifest.json'))) {
      await run('go', ['run', './internal/malformed/dump', '-o', TABLE], { cwd: ROOT });
    }
    manifest = JSON.parse(fs.readFileSync(path.join(TABLE, 'manifest.json'), 'utf8'));
    dir = runDir('malformed');
    tools = await buildTools();
    server = await startServer(tools.serve, prepareSite(dir), path.join(dir, 'serve.log'));
    browser = await launchBrowser();
    page = await browser.context.newPage();
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('crash', () => pageErrors.push('the page crashed'));
    await page.goto(server.url);
    await page.waitForSelector('#model-status[data-state="ready"][data-model="mobilenet_v2"]', { timeout: LONG });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('shows a result or a clear error for every case, as tools/classify', { timeout: LONG }, async (t) => {
    const files = manifest.cases.map((c) => path.join(TABLE, c.file));
    await page.setInputFiles('#file-input', files);
    await waitForCards(files.length);
    const cards = await readCards();
    assert.deepEqual(cards.map((c) => c.file), manifest.cases.map((c) => c.file), 'a card per file, in order');

    const okFiles = manifest.cases.filter((c) => c.expect === 'ok').map((c) => path.join(TABLE, c.file));
    const models = path.join(ROOT, 'models');
    const expected = await expectedProbabilities(tools.classify, process.env.VEIL_MODELS ?? models, 'mobilenet_v2', okFiles);
    const counts = {};
    for (const [i, c] of manifest.cases.entries()) {
      const card = cards[i];
      counts[c.expect] = (counts[c.expect] ?? 0) + 1;
      if (c.expect === 'ok') {
        assert.equal(card.status, 'done', `${c.file}: ${card.error}`);
        const want = expected.get(path.join(TABLE, c.file)).map(Math.fround);
        assert.deepEqual(card.probabilities.map(Math.fround), want, `${c.file}: page vs tools/classify`);
        continue;
      }
      assert.equal(card.status, 'error', `${c.file}: classified, want a ${c.expect} error`);
      assert.match(card.error, PAGE_PATTERNS[c.expect], `${c.file}: want a ${c.expect} error`);
      assert.equal(card.shownError, card.error, `${c.file}: the error is shown on the card`);
      assert.doesNotMatch(card.error, /VEIL_|undefined|\[object /, c.file);
    }
    const byFile = Object.fromEntries(cards.map((c) => [c.file, c]));
    for (const c of manifest.cases.filter((x) => x.same_as && !x.tolerance)) {
      const same = manifest.cases.find((x) => x.name === c.same_as);
      assert.deepEqual(byFile[c.file].probabilities, byFile[same.file].probabilities, `${c.file} vs ${same.file}`);
    }
    t.diagnostic(`cases: ${JSON.stringify(counts)}`);
    for (const c of cards.filter((x) => x.status === 'error').slice(0, 6)) t.diagnostic(`${c.file}: ${c.error}`);
    await page.screenshot({ path: path.join(BUILD, 'screenshot-malformed.png'), fullPage: true });
  });

  test('still works afterwards, with no uncaught error', { timeout: LONG }, async () => {
    await page.click('#clear-button');
    const good = path.join(TABLE, 'png_rgb.png');
    await page.setInputFiles('#file-input', [good]);
    await waitForCards(1);
    const [card] = await readCards();
    assert.equal(card.status, 'done', card.error);
    assert.equal(card.probabilities.length, CLASSES.length);
    assert.deepEqual(pageErrors, []);
  });
});
