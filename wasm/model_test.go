//go:build js && wasm

package main

import (
	"runtime/debug"
	"testing"
)

// TestGCOffOverlapping checks that loads that overlap, ending in either
// order, leave the GC target as it was before the first, and keep the
// collector off until the last ends.
func TestGCOffOverlapping(t *testing.T) {
	const before = 77
	old := debug.SetGCPercent(before)
	defer debug.SetGCPercent(old)
	target := func() int {
		p := debug.SetGCPercent(0)
		debug.SetGCPercent(p)
		return p
	}
	for _, firstEndsFirst := range []bool{true, false} {
		a := gcOff()
		b := gcOff()
		if got := target(); got != loadGCPercent {
			t.Fatalf("target %d with two loads on, want %d", got, loadGCPercent)
		}
		first, second := a, b
		if !firstEndsFirst {
			first, second = b, a
		}
		first()
		first() // a second call changes nothing
		if got := target(); got != loadGCPercent {
			t.Errorf("target %d with one load still on, want %d", got, loadGCPercent)
		}
		second()
		if got := target(); got != before {
			t.Errorf("target %d after both loads, want %d", got, before)
		}
	}
}
