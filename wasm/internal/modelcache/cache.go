package modelcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// EntryVersion is the layout version of Entry. An entry stored with another
// version is dropped on read, so a change to what is stored only needs a bump.
const EntryVersion = 1

// Entry is one cached model file.
type Entry struct {
	Version int    // EntryVersion when written
	Hash    string // SHA-256 of Data, lower-case hex
	Data    []byte // the model file, as downloaded
}

// Store holds entries by URL. Get returns ok=false, err=nil for a URL it
// does not hold. Put takes what it needs of e at once (a copy of its Data,
// or whatever else holds those bytes) and returns the call that stores it,
// which holds that rather than e.Data: for a download held back
// (Request.StoreLater) the caller can let the download go while it puts the
// model to use (in wasm, the model's buffers then reuse the file's memory
// rather than grow the heap). Implementations must be safe for concurrent
// use: two Loads may run at once.
type Store interface {
	Get(ctx context.Context, url string) (e Entry, ok bool, err error)
	Put(url string, e Entry) (store func(ctx context.Context) error)
	Delete(ctx context.Context, url string) error
	Clear(ctx context.Context) error
}

// Source tells where Load found a model file.
type Source int

const (
	FromNetwork Source = iota // fetched (and stored, if the store accepted it)
	FromCache                 // a verified cache entry; no request was made
)

func (s Source) String() string {
	if s == FromCache {
		return "cache"
	}
	return "network"
}

// Cache verifies and fills a Store. The zero Cache (nil Store) never caches.
type Cache struct {
	Store Store

	// Verify checks that data is a usable model file (its format and its
	// checksum); an entry it rejects is dropped and fetched again, and a
	// download it rejects is not stored.
	Verify func(data []byte) error

	// Warn, if set, is told about store failures that Load works around.
	Warn func(err error)

	// SHA256, if set, hashes in place of crypto/sha256 (the wasm module
	// passes the browser's crypto.subtle, native code).
	SHA256 func(data []byte) [32]byte
}

// Request is one Load.
type Request struct {
	URL     string
	Hash    string // expected SHA-256 (hex), or "" to accept any file that verifies
	NoCache bool   // neither read nor write the store

	// Absent says the caller has just found the store without URL (veil.js
	// looks before it downloads): Load does not look again, and stores
	// the download as usual.
	Absent bool

	// StoreLater leaves storing a download to Result.Store, so that the
	// caller can put the model to use first: a browser's IndexedDB write
	// of a few MB takes a few hundred ms to commit.
	StoreLater bool

	// Fetch downloads the file; it is called at most once per Load.
	Fetch func(ctx context.Context) ([]byte, error)
}

// Result is what Load found.
type Result struct {
	Data   []byte
	Hash   string // SHA-256 of Data, lower-case hex
	Source Source

	// Store, set when Request.StoreLater held a download back, stores it
	// (failures go to Cache.Warn).
	Store func()
}

// Hash returns the SHA-256 of data in lower-case hex, the form Entry and
// Request use.
func Hash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// hash is Hash through c.SHA256 when set.
func (c *Cache) hash(data []byte) string {
	if c.SHA256 == nil {
		return Hash(data)
	}
	h := c.SHA256(data)
	return hex.EncodeToString(h[:])
}

// ErrHashMismatch is returned (wrapped) when a download does not have the
// hash the Request expected.
var ErrHashMismatch = errors.New("hash mismatch")

// Load returns the model file at r.URL: from the store if a verified entry
// is there, else from r.Fetch, storing the download when it verifies.
// Store failures are reported to Warn and otherwise ignored; errors from
// Fetch and Verify of a download are returned.
func (c *Cache) Load(ctx context.Context, r Request) (Result, error) {
	want := strings.ToLower(r.Hash)
	useStore := c.Store != nil && !r.NoCache
	if useStore && !r.Absent {
		if res, ok := c.lookup(ctx, r.URL, want); ok {
			return res, nil
		}
	}

	data, err := r.Fetch(ctx)
	if err != nil {
		return Result{}, err
	}
	hash := c.hash(data)
	if want != "" && hash != want {
		return Result{}, fmt.Errorf("%s: %w: the file has SHA-256 %s, expected %s", r.URL, ErrHashMismatch, hash, want)
	}
	if c.Verify != nil {
		if err := c.Verify(data); err != nil {
			return Result{}, err
		}
	}
	res := Result{Data: data, Hash: hash, Source: FromNetwork}
	if useStore {
		store := c.put(ctx, r.URL, Entry{Version: EntryVersion, Hash: hash, Data: data})
		if r.StoreLater {
			res.Store = store
		} else {
			store()
		}
	}
	return res, nil
}

// put returns the call that stores e, reporting a failure to Warn. It holds
// what Store.Put took, not c (whose Store and Verify may hold the download)
// nor e.Data.
func (c *Cache) put(ctx context.Context, url string, e Entry) func() {
	store, warn := c.Store.Put(url, e), c.Warn
	return func() {
		if err := store(ctx); err != nil && warn != nil {
			warn(fmt.Errorf("model cache: cannot store %s (loading without cache): %w", url, err))
		}
	}
}

// lookup returns a verified entry for url, dropping one that fails a check.
func (c *Cache) lookup(ctx context.Context, url, want string) (Result, bool) {
	e, ok, err := c.Store.Get(ctx, url)
	if err != nil {
		c.warn(fmt.Errorf("model cache: cannot read %s: %w", url, err))
		return Result{}, false
	}
	if !ok {
		return Result{}, false
	}
	if why := c.check(e, want); why != nil {
		c.warn(fmt.Errorf("model cache: dropping %s: %w", url, why))
		if err := c.Store.Delete(ctx, url); err != nil {
			c.warn(fmt.Errorf("model cache: cannot delete %s: %w", url, err))
		}
		return Result{}, false
	}
	return Result{Data: e.Data, Hash: e.Hash, Source: FromCache}, true
}

// check returns why e cannot be used, or nil.
func (c *Cache) check(e Entry, want string) error {
	if e.Version != EntryVersion {
		return fmt.Errorf("entry version %d, want %d", e.Version, EntryVersion)
	}
	got := c.hash(e.Data)
	if got != e.Hash {
		return fmt.Errorf("corrupt entry: %d bytes with SHA-256 %s, stored hash %s", len(e.Data), got, e.Hash)
	}
	if want != "" && got != want {
		return fmt.Errorf("stale entry: SHA-256 %s, expected %s", got, want)
	}
	if c.Verify != nil {
		if err := c.Verify(e.Data); err != nil {
			return fmt.Errorf("entry is not a valid model file: %w", err)
		}
	}
	return nil
}

func (c *Cache) warn(err error) {
	if c.Warn != nil {
		c.Warn(err)
	}
}

// Delete removes url from the store; Clear empties it. Both are no-ops
// without a Store.
func (c *Cache) Delete(ctx context.Context, url string) error {
	if c.Store == nil {
		return nil
	}
	return c.Store.Delete(ctx, url)
}

// Clear removes every entry.
func (c *Cache) Clear(ctx context.Context) error {
	if c.Store == nil {
		return nil
	}
	return c.Store.Clear(ctx)
}
