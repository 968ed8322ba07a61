//go:build js && wasm && veilfake

package main

// The veilfake build also reads fakemodel files, for testing veil.js
// without real models: go build -tags veilfake ./wasm.
func init() { acceptFakeModels() }
