// Package modelcache keeps downloaded model files so that a page loads a
// model from the network once.
//
// A Cache sits in front of a fetch: Load looks the URL up in a Store,
// re-checks the entry every time (its SHA-256 must match the hash stored
// beside it, the caller's expected hash if any, and the model file's own
// checksum through Verify), and drops any entry that fails — corrupt,
// truncated, written by an older format, or stale against an expected hash —
// before fetching the file again. A Store that fails (no IndexedDB, private
// browsing, quota exceeded) never fails a load: the cache degrades to
// fetching every time and reports why through Warn.
//
// Entries are keyed by URL; the value holds the file bytes and their
// SHA-256 (lower-case hex). The package knows nothing of JavaScript: the
// IndexedDB Store lives in package main (wasm/) and tests use MemStore.
package modelcache
