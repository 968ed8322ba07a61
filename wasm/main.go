//go:build js && wasm

package main

import (
	"os"
	"syscall/js"

	"github.com/hack-pad/safejs"
)

func main() {
	name := "veil"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	// veil.js puts its host object where the bridge is to go (host.go).
	host = js.Global().Get(name)
	b := newBridge()
	js.Global().Set(name, b.object())
	<-b.done
}

func safe(v js.Value) safejs.Value { return safejs.Safe(v) }
