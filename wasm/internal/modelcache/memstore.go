package modelcache

import (
	"context"
	"sync"
)

// MemStore is a Store in memory, for tests. Its hooks, when set, replace
// the result of the matching call, to simulate a failing store.
type MemStore struct {
	mu      sync.Mutex
	entries map[string]Entry

	GetErr, PutErr, DeleteErr error
	Gets, Puts, Deletes       int // calls made
}

var _ Store = (*MemStore)(nil)

func (m *MemStore) Get(_ context.Context, url string) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Gets++
	if m.GetErr != nil {
		return Entry{}, false, m.GetErr
	}
	e, ok := m.entries[url]
	e.Data = append([]byte(nil), e.Data...)
	return e, ok, nil
}

func (m *MemStore) Put(url string, e Entry) func(context.Context) error {
	e.Data = append([]byte(nil), e.Data...)
	return func(context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.Puts++
		if m.PutErr != nil {
			return m.PutErr
		}
		if m.entries == nil {
			m.entries = map[string]Entry{}
		}
		m.entries[url] = e
		return nil
	}
}

func (m *MemStore) Delete(_ context.Context, url string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Deletes++
	if m.DeleteErr != nil {
		return m.DeleteErr
	}
	delete(m.entries, url)
	return nil
}

func (m *MemStore) Clear(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries = nil
	return nil
}

// Entry returns the entry stored for url; tests use it to corrupt entries
// through Set.
func (m *MemStore) Entry(url string) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[url]
	return e, ok
}

// Set stores e for url without counting a Put.
func (m *MemStore) Set(url string, e Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string]Entry{}
	}
	m.entries[url] = e
}
