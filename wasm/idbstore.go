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
// {version: number, hash: string, bytes: Uint8Array, size: number, stored: number (ms since epoch)}.
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

var _ modelcache.Store = (*idbModelStore)(nil)

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
	_, store, err := s.objectStore(ctx, idb.TransactionReadOnly)
	if err != nil {
		return modelcache.Entry{}, false, err
	}
	req, err := store.Get(js.ValueOf(url))
	if err != nil {
		return modelcache.Entry{}, false, err
	}
	v, err := req.Await(ctx)
	if err != nil {
		return modelcache.Entry{}, false, err
	}
	if v.IsUndefined() {
		return modelcache.Entry{}, false, nil
	}
	return entryFromJS(safejs.Safe(v)), true, nil
}

// entryFromJS reads a stored value. Anything malformed gives an entry
// with Version 0, which the cache drops.
func entryFromJS(v safejs.Value) modelcache.Entry {
	var e modelcache.Entry
	if v.Type() != safejs.TypeObject {
		return e
	}
	e.Hash, _ = get(v, "hash").String()
	data, err := bytesFromJS(get(v, "bytes"))
	if err != nil {
		return modelcache.Entry{}
	}
	e.Data = data
	if ver := get(v, "version"); ver.Type() == safejs.TypeNumber {
		e.Version, _ = ver.Int()
	}
	return e
}

func (s *idbModelStore) Put(ctx context.Context, url string, e modelcache.Entry) error {
	txn, store, err := s.objectStore(ctx, idb.TransactionReadWrite)
	if err != nil {
		return err
	}
	data := js.Global().Get("Uint8Array").New(len(e.Data))
	js.CopyBytesToJS(data, e.Data)
	value := js.ValueOf(map[string]any{
		"version": e.Version,
		"hash":    e.Hash,
		"bytes":   data,
		"size":    len(e.Data),
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
