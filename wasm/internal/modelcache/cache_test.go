package modelcache

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"unsafe"
	"weak"
)

// A "model file" for these tests: the magic "MODEL" and any payload.
func verifyFake(data []byte) error {
	if !bytes.HasPrefix(data, []byte("MODEL")) {
		return errors.New("not a model file")
	}
	return nil
}

const url = "https://example.test/models/m.veil"

type fetcher struct {
	data  []byte
	err   error
	calls int
}

func (f *fetcher) fetch(context.Context) ([]byte, error) {
	f.calls++
	return append([]byte(nil), f.data...), f.err
}

func newCache(s Store) (*Cache, *[]error) {
	var warns []error
	return &Cache{Store: s, Verify: verifyFake, Warn: func(err error) { warns = append(warns, err) }}, &warns
}

func load(t *testing.T, c *Cache, f *fetcher, hash string, noCache bool) (Result, error) {
	t.Helper()
	return c.Load(context.Background(), Request{URL: url, Hash: hash, NoCache: noCache, Fetch: f.fetch})
}

func TestLoadSecondTimeFromCache(t *testing.T) {
	s := &MemStore{}
	c, warns := newCache(s)
	f := &fetcher{data: []byte("MODEL one")}
	for i, want := range []Source{FromNetwork, FromCache, FromCache} {
		res, err := load(t, c, f, "", false)
		if err != nil {
			t.Fatalf("load %d: %v", i, err)
		}
		if res.Source != want || string(res.Data) != "MODEL one" || res.Hash != Hash(f.data) {
			t.Fatalf("load %d: got %v %q %s, want %v", i, res.Source, res.Data, res.Hash, want)
		}
	}
	if f.calls != 1 || s.Puts != 1 {
		t.Errorf("fetches %d, puts %d; want 1, 1", f.calls, s.Puts)
	}
	if len(*warns) != 0 {
		t.Errorf("warnings: %v", *warns)
	}
}

func TestLoadDropsBadEntries(t *testing.T) {
	good := []byte("MODEL good")
	tests := []struct {
		name  string
		entry Entry
		hash  string // expected by the request
	}{
		{"flipped byte", Entry{Version: EntryVersion, Hash: Hash(good), Data: []byte("MODEL gooe")}, ""},
		{"truncated", Entry{Version: EntryVersion, Hash: Hash(good), Data: good[:7]}, ""},
		{"empty", Entry{Version: EntryVersion, Hash: Hash(good)}, ""},
		{"old version", Entry{Version: EntryVersion - 1, Hash: Hash(good), Data: good}, ""},
		{"fails verify", Entry{Version: EntryVersion, Hash: Hash([]byte("junk")), Data: []byte("junk")}, ""},
		{"stale against expected hash", Entry{Version: EntryVersion, Hash: Hash([]byte("MODEL old")), Data: []byte("MODEL old")}, Hash(good)},
		{"upper-case expected hash", Entry{Version: EntryVersion, Hash: Hash([]byte("MODEL old")), Data: []byte("MODEL old")}, strings.ToUpper(Hash(good))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &MemStore{}
			s.Set(url, tt.entry)
			c, warns := newCache(s)
			f := &fetcher{data: good}
			res, err := load(t, c, f, tt.hash, false)
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != FromNetwork || !bytes.Equal(res.Data, good) || f.calls != 1 {
				t.Fatalf("got %v %q after %d fetches; want the download", res.Source, res.Data, f.calls)
			}
			if s.Deletes != 1 || len(*warns) != 1 || !strings.Contains((*warns)[0].Error(), "dropping") {
				t.Errorf("deletes %d, warnings %v; want the entry dropped with one warning", s.Deletes, *warns)
			}
			if e, _ := s.Entry(url); !bytes.Equal(e.Data, good) || e.Hash != Hash(good) {
				t.Errorf("store holds %q %s after reload, want the good file", e.Data, e.Hash)
			}
			if res, _ := load(t, c, f, tt.hash, false); res.Source != FromCache {
				t.Errorf("third load from %v, want cache", res.Source)
			}
		})
	}
}

func TestLoadNoCache(t *testing.T) {
	s := &MemStore{}
	s.Set(url, Entry{Version: EntryVersion, Hash: Hash([]byte("MODEL cached")), Data: []byte("MODEL cached")})
	c, _ := newCache(s)
	f := &fetcher{data: []byte("MODEL fresh")}
	res, err := load(t, c, f, "", true)
	if err != nil || string(res.Data) != "MODEL fresh" || res.Source != FromNetwork {
		t.Fatalf("got %q %v %v; want the download", res.Data, res.Source, err)
	}
	if s.Gets+s.Puts+s.Deletes != 0 {
		t.Errorf("NoCache touched the store: %d gets, %d puts, %d deletes", s.Gets, s.Puts, s.Deletes)
	}
	// A Cache without a Store behaves the same.
	var none Cache
	if res, err := none.Load(context.Background(), Request{URL: url, Fetch: f.fetch}); err != nil || res.Source != FromNetwork {
		t.Fatalf("nil store: %v %v", res.Source, err)
	}
}

func TestLoadStoreFailuresDegrade(t *testing.T) {
	quota := errors.New("QuotaExceededError: the quota has been exceeded")
	tests := []struct {
		name  string
		store *MemStore
	}{
		{"get fails", &MemStore{GetErr: errors.New("InvalidStateError")}},
		{"put fails", &MemStore{PutErr: quota}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, warns := newCache(tt.store)
			f := &fetcher{data: []byte("MODEL x")}
			for i := 0; i < 2; i++ {
				res, err := load(t, c, f, "", false)
				if err != nil || string(res.Data) != "MODEL x" {
					t.Fatalf("load %d: %q %v", i, res.Data, err)
				}
			}
			if f.calls != 2 || len(*warns) != 2 {
				t.Errorf("fetches %d, warnings %v; want 2 fetches and 2 warnings", f.calls, *warns)
			}
		})
	}
	t.Run("delete fails", func(t *testing.T) {
		s := &MemStore{DeleteErr: errors.New("nope")}
		s.Set(url, Entry{Version: EntryVersion, Hash: "0", Data: []byte("MODEL")})
		c, warns := newCache(s)
		if _, err := load(t, c, &fetcher{data: []byte("MODEL y")}, "", false); err != nil {
			t.Fatal(err)
		}
		if len(*warns) != 2 {
			t.Errorf("warnings %v, want drop + delete failure", *warns)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	t.Run("fetch fails", func(t *testing.T) {
		s := &MemStore{}
		c, _ := newCache(s)
		_, err := load(t, c, &fetcher{err: errors.New("HTTP 404")}, "", false)
		if err == nil || err.Error() != "HTTP 404" || s.Puts != 0 {
			t.Fatalf("err %v, puts %d", err, s.Puts)
		}
	})
	t.Run("download not a model", func(t *testing.T) {
		s := &MemStore{}
		c, _ := newCache(s)
		_, err := load(t, c, &fetcher{data: []byte("<html>404</html>")}, "", false)
		if err == nil || !strings.Contains(err.Error(), "not a model file") || s.Puts != 0 {
			t.Fatalf("err %v, puts %d; want the verify error and nothing stored", err, s.Puts)
		}
	})
	t.Run("download has the wrong hash", func(t *testing.T) {
		s := &MemStore{}
		c, _ := newCache(s)
		_, err := load(t, c, &fetcher{data: []byte("MODEL a")}, Hash([]byte("MODEL b")), false)
		if !errors.Is(err, ErrHashMismatch) || s.Puts != 0 {
			t.Fatalf("err %v, puts %d; want ErrHashMismatch and nothing stored", err, s.Puts)
		}
	})
}

func TestDeleteClear(t *testing.T) {
	s := &MemStore{}
	c, _ := newCache(s)
	f := &fetcher{data: []byte("MODEL")}
	load(t, c, f, "", false)
	if err := c.Delete(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Entry(url); ok {
		t.Fatal("entry still there after Delete")
	}
	load(t, c, f, "", false)
	if err := c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Entry(url); ok {
		t.Fatal("entry still there after Clear")
	}
	var none Cache
	if none.Delete(context.Background(), url) != nil || none.Clear(context.Background()) != nil {
		t.Fatal("nil store Delete/Clear failed")
	}
}

func TestLoadStoreLater(t *testing.T) {
	s := &MemStore{}
	c, warns := newCache(s)
	f := &fetcher{data: []byte("MODEL later")}
	req := Request{URL: url, StoreLater: true, Fetch: f.fetch}
	res, err := c.Load(context.Background(), req)
	if err != nil || res.Source != FromNetwork || res.Store == nil {
		t.Fatalf("got %v, %v, Store set %v; want a download with Store set", res.Source, err, res.Store != nil)
	}
	if s.Puts != 0 {
		t.Fatalf("%d puts before Store was called", s.Puts)
	}
	res.Store()
	if res, err = c.Load(context.Background(), req); err != nil || res.Source != FromCache || res.Store != nil {
		t.Fatalf("after Store: %v, %v, Store set %v; want a cache hit with nothing to store", res.Source, err, res.Store != nil)
	}
	if f.calls != 1 || s.Puts != 1 || len(*warns) != 0 {
		t.Errorf("fetches %d, puts %d, warnings %v; want 1, 1, none", f.calls, s.Puts, *warns)
	}

	// A failing store is reported when Store runs, not by Load.
	bad := &MemStore{PutErr: errors.New("QuotaExceededError")}
	c, warns = newCache(bad)
	res, err = c.Load(context.Background(), Request{URL: url, StoreLater: true, Fetch: (&fetcher{data: []byte("MODEL z")}).fetch})
	if err != nil || len(*warns) != 0 {
		t.Fatalf("load: %v, warnings %v", err, *warns)
	}
	res.Store()
	if len(*warns) != 1 || !strings.Contains((*warns)[0].Error(), "QuotaExceededError") {
		t.Errorf("warnings %v; want the put failure", *warns)
	}
	// Without a store, or with NoCache, there is nothing to store.
	for _, c := range []*Cache{{}, {Store: &MemStore{}}} {
		res, err := c.Load(context.Background(), Request{URL: url, StoreLater: true, NoCache: c.Store != nil, Fetch: (&fetcher{data: []byte("MODEL")}).fetch})
		if err != nil || res.Store != nil {
			t.Errorf("store %v: %v, Store set %v", c.Store, err, res.Store != nil)
		}
	}
}

// A download stored later is not kept alive until then.
func TestLoadStoreLaterLetsTheDownloadGo(t *testing.T) {
	s := &MemStore{}
	c, warns := newCache(s)
	data := append([]byte("MODEL "), make([]byte, 1<<16)...)
	downloaded := weak.Make(unsafe.SliceData(data))
	fetch := func(context.Context) ([]byte, error) { return data, nil }
	res, err := c.Load(context.Background(), Request{URL: url, StoreLater: true, Fetch: fetch})
	if err != nil || res.Store == nil {
		t.Fatalf("load: %v, Store set %v", err, res.Store != nil)
	}
	data, res.Data, fetch = nil, nil, nil
	runtime.GC()
	if downloaded.Value() != nil {
		t.Error("Result.Store keeps the download alive")
	}
	res.Store()
	if e, ok := s.Entry(url); !ok || len(e.Data) != 6+1<<16 || s.Puts != 1 || len(*warns) != 0 {
		t.Errorf("stored %v (%d bytes), %d puts, warnings %v", ok, len(e.Data), s.Puts, *warns)
	}
}

func TestLoadAbsent(t *testing.T) {
	s := &MemStore{}
	c, warns := newCache(s)
	f := &fetcher{data: []byte("MODEL one")}
	req := Request{URL: url, Absent: true, Fetch: f.fetch}
	res, err := c.Load(context.Background(), req)
	if err != nil || res.Source != FromNetwork {
		t.Fatalf("first load: %v, %v", res.Source, err)
	}
	if s.Gets != 0 || s.Puts != 1 {
		t.Errorf("first load: gets %d, puts %d; want 0, 1 (no look, and the download stored)", s.Gets, s.Puts)
	}
	// Absent only skips the look: a load without it finds the stored file.
	req.Absent = false
	if res, err := c.Load(context.Background(), req); err != nil || res.Source != FromCache {
		t.Fatalf("second load: %v, %v; want from the cache", res.Source, err)
	}
	if f.calls != 1 || len(*warns) != 0 {
		t.Errorf("fetches %d, warnings %v; want 1, none", f.calls, *warns)
	}
}
