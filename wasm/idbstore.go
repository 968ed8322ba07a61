//go:build js && wasm

package main

import (
	"context"
	"errors"
	"sync"
	"syscall/js"
	"time"

	"github.com/hack-pad/go-indexeddb/idb"
	"github.com/hack-pad/safejs"
	"github.com/veil-ml/veil/wasm/internal/modelcache"
)

// The IndexedDB layout: database "veil" (version 1), object store "models",
// out-of-line keys (the model URL), values
// {version: number, hash: string, bytes: Blob, size: number, stored: number (ms since epoch)}.
// bytes is a Blob: the worker's put then costs a copy of the file into the
// Blob (18-39 ms for Mid's 3.7 MB in Chromium on the bench machine) where a
// Uint8Array value is serialized inside put (51 ms), before the load can
// answer; reading either back takes about as long (40-75 ms). Entries that
// earlier builds wrote with a Uint8Array are read too.
const (
	idbName    = "veil"
	idbVersion = 1
	idbStore   = "models"
)

// idbOpenTimeout bounds opening the database: an open blocked by another
// tab's connection must not stall a model load forever.
const idbOpenTimeout = 5 * time.Second

// idbModelStore is a modelcache.Store in IndexedDB.
type idbModelStore struct {
	factory *idb.Factory

	once sync.Once
	db   *idb.Database
	err  error // why the database could not be opened
}

var (
	_ modelcache.Store = (*idbModelStore)(nil)
	_ modelcache.Store = loadStore{}
)

// newIDBModelStore returns the store over globalThis.indexedDB, or nil if
// this environment has none (Node).
func newIDBModelStore() *idbModelStore {
	f, err := safejs.Global().Get("indexedDB")
	if err != nil || f.Type() != safejs.TypeObject {
		return nil
	}
	factory, err := idb.WrapFactory(safejs.Unsafe(f))
	if err != nil {
		return nil
	}
	return &idbModelStore{factory: factory}
}

func (s *idbModelStore) open(ctx context.Context) (*idb.Database, error) {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, idbOpenTimeout)
		defer cancel()
		req, err := s.factory.Open(ctx, idbName, idbVersion, func(db *idb.Database, oldVersion, newVersion uint) error {
			_, err := db.CreateObjectStore(idbStore, idb.ObjectStoreOptions{})
			return err
		})
		if err != nil {
			s.err = err
			return
		}
		s.db, s.err = req.Await(ctx)
		if s.err == nil && ctx.Err() != nil {
			s.err = errors.New("timed out opening IndexedDB")
		}
	})
	return s.db, s.err
}

// openAhead opens the database in the background; the channel is closed
// once the open is done (or has failed).
func (s *idbModelStore) openAhead() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		s.open(context.Background())
		close(done)
	}()
	return done
}

// objectStore starts a transaction on the models store.
func (s *idbModelStore) objectStore(ctx context.Context, mode idb.TransactionMode) (*idb.Transaction, *idb.ObjectStore, error) {
	db, err := s.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	txn, err := db.Transaction(mode, idbStore)
	if err != nil {
		return nil, nil, err
	}
	store, err := txn.ObjectStore(idbStore)
	if err != nil {
		return nil, nil, err
	}
	return txn, store, nil
}

func (s *idbModelStore) Get(ctx context.Context, url string) (modelcache.Entry, bool, error) {
	e, ok, err := s.get(ctx, url)
	return modelcache.Entry{Version: e.Version, Hash: e.Hash, Data: e.data}, ok, err
}

// Put copies e.Data into a JavaScript array now (modelcache.Store).
func (s *idbModelStore) Put(url string, e modelcache.Entry) func(context.Context) error {
	return s.putFrom(url, e, js.Undefined())
}

// putFrom is Put where u8 may already be e.Data's JavaScript array (else
// it is undefined); the returned call holds u8, not e.Data.
func (s *idbModelStore) putFrom(url string, e modelcache.Entry, u8 js.Value) func(context.Context) error {
	if u8.Type() != js.TypeObject {
		u8 = js.Global().Get("Uint8Array").New(len(e.Data))
		js.CopyBytesToJS(u8, e.Data)
	}
	version, hash, size := e.Version, e.Hash, len(e.Data)
	return func(ctx context.Context) error { return s.put(ctx, url, version, hash, u8, size) }
}

// loadStore is s for one load: the entries it reads, and the download it
// stores, keep their JavaScript arrays in known (see jsBytes).
type loadStore struct {
	*idbModelStore
	known *jsOrigins
	page  *storedEntry // the entry veil.js read for this load, if it did (opts.cached): Get returns it
}

func (s loadStore) Get(ctx context.Context, url string) (modelcache.Entry, bool, error) {
	var (
		e   storedEntry
		ok  bool
		err error
	)
	if s.page != nil {
		e, ok = *s.page, true
	} else {
		e, ok, err = s.get(ctx, url)
	}
	if ok {
		s.known.add(e.jsBytes)
	}
	return modelcache.Entry{Version: e.Version, Hash: e.Hash, Data: e.data}, ok, err
}

// Put takes the download's JavaScript array, which veil.js or fetchModel
// filled, rather than copying it.
func (s loadStore) Put(url string, e modelcache.Entry) func(context.Context) error {
	return s.putFrom(url, e, s.known.of(e.Data).u8)
}

// storedEntry is an entry as read, with its bytes' JavaScript array.
type storedEntry struct {
	Version int
	Hash    string
	jsBytes
}

func (s *idbModelStore) get(ctx context.Context, url string) (storedEntry, bool, error) {
	_, store, err := s.objectStore(ctx, idb.TransactionReadOnly)
	if err != nil {
		return storedEntry{}, false, err
	}
	req, err := store.Get(js.ValueOf(url))
	if err != nil {
		return storedEntry{}, false, err
	}
	v, err := req.Await(ctx)
	if err != nil {
		return storedEntry{}, false, err
	}
	if v.IsUndefined() {
		return storedEntry{}, false, nil
	}
	return entryFromJS(safejs.Safe(v)), true, nil
}

// entryFromJS reads a stored value, waiting for its Blob's bytes. Anything
// malformed gives an entry with Version 0, which the cache drops.
func entryFromJS(v safejs.Value) storedEntry {
	var e storedEntry
	if v.Type() != safejs.TypeObject {
		return e
	}
	e.Hash, _ = get(v, "hash").String()
	file := get(v, "bytes")
	if blob, _ := safejs.Global().Get("Blob"); blob.Type() == safejs.TypeFunction {
		if ok, _ := file.InstanceOf(blob); ok {
			// A Blob is read asynchronously; a read that fails (its
			// file gone) leaves an entry the cache drops.
			p, err := file.Call("arrayBuffer")
			if err != nil {
				return storedEntry{}
			}
			if file, err = await(p); err != nil {
				return storedEntry{}
			}
		}
	}
	b, err := ownBytesFromJS(file)
	if err != nil {
		return storedEntry{}
	}
	e.jsBytes = b
	if ver := get(v, "version"); ver.Type() == safejs.TypeNumber {
		e.Version, _ = ver.Int()
	}
	return e
}

// put stores the entry {version, hash, bytes: file, size}; u8 holds the
// file's size bytes.
func (s *idbModelStore) put(ctx context.Context, url string, version int, hash string, u8 js.Value, size int) error {
	txn, store, err := s.objectStore(ctx, idb.TransactionReadWrite)
	if err != nil {
		return err
	}
	file := u8
	if blob := js.Global().Get("Blob"); blob.Type() == js.TypeFunction {
		file = blob.New([]any{u8})
	}
	value := js.ValueOf(map[string]any{
		"version": version,
		"hash":    hash,
		"bytes":   file,
		"size":    size,
		"stored":  js.Global().Get("Date").Call("now"),
	})
	if _, err := store.PutKey(js.ValueOf(url), value); err != nil {
		return err
	}
	// Quota errors abort the transaction rather than fail the request.
	return txn.Await(ctx)
}

func (s *idbModelStore) Delete(ctx context.Context, url string) error {
	txn, store, err := s.objectStore(ctx, idb.TransactionReadWrite)
	if err != nil {
		return err
	}
	if _, err := store.Delete(js.ValueOf(url)); err != nil {
		return err
	}
	return txn.Await(ctx)
}

func (s *idbModelStore) Clear(ctx context.Context) error {
	txn, store, err := s.objectStore(ctx, idb.TransactionReadWrite)
	if err != nil {
		return err
	}
	if _, err := store.Clear(); err != nil {
		return err
	}
	return txn.Await(ctx)
}
