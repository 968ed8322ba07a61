// veil's service worker: keeps the page working offline once it has loaded.
//
// Network first, cache as fallback, for same-origin GET requests only: a
// rebuilt page, engine or model is used as soon as the server has it, and
// whatever was last fetched (the page, veil.js, the wasm, the models used)
// is there when the network is not. It never touches other origins (the CSP
// forbids connecting to them anyway) and never sees an image: images are
// read from local files, not fetched.

const CACHE = 'veil-v1';
const SHELL = ['./', 'index.html', 'style.css', 'app.js', 'icon.svg', 'manifest.webmanifest',
  'veil.js', 'wasm_exec.js', 'veil.wasm'];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // One missing file (say, the wasm not built yet) must not stop the rest.
    await Promise.all(SHELL.map((url) => cache.add(url).catch(() => {})));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// The page asks for a model it loaded before this worker controlled it (on
// the first visit) to be kept too. The copy comes from the HTTP cache.
self.addEventListener('message', (event) => {
  const url = event.data?.keep;
  if (typeof url !== 'string' || new URL(url, self.location.href).origin !== self.location.origin) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    if (!(await cache.match(url))) await cache.add(url).catch(() => {});
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin || req.headers.has('range')) return;
  event.respondWith((async () => {
    try {
      const resp = await fetch(req);
      if (resp.ok && resp.status === 200 && resp.type === 'basic') {
        const copy = resp.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(req, copy)).catch(() => {}));
      }
      return resp;
    } catch (err) {
      const cached = await caches.match(req, { ignoreSearch: true });
      if (cached) return cached;
      if (req.mode === 'navigate') {
        const page = await caches.match('./');
        if (page) return page;
      }
      throw err;
    }
  })());
});
