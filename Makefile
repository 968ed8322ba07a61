# veil build.
#
#   make run     serve the page with the default model at http://127.0.0.1:8080
#   make test    every test: native, wasm under Node, conformance against nsfwjs goldens
#
# See README.md for the other targets.
SHELL := /bin/bash
GO ?= go
NSFWJS_DIR := build/nsfwjs
TFJS_DIR := models/tfjs
MODEL_NAMES := mobilenet_v2 mobilenet_v2_mid inception_v3
GOROOT_WASM := $(shell $(GO) env GOROOT)/lib/wasm

.PHONY: all models test test-native test-wasm golden fuzz clean

all: models

# models: the three nsfwjs models in the standard TF.js layout (model.json +
# shards), then the int8 .veil files made from them.
models: $(TFJS_DIR)/.ok

$(NSFWJS_DIR)/package.ok: scripts/fetch-nsfwjs.sh
	bash scripts/fetch-nsfwjs.sh $(NSFWJS_DIR)

$(TFJS_DIR)/.ok: $(NSFWJS_DIR)/package.ok scripts/unwrap-nsfwjs.cjs
	node scripts/unwrap-nsfwjs.cjs $(NSFWJS_DIR)/package $(TFJS_DIR)
	touch $@

test: test-native test-wasm

# VEIL_REQUIRE_MODELS turns "model files missing" skips into failures.
test-native: models
	$(GO) vet ./...
	VEIL_REQUIRE_MODELS=1 $(GO) test -timeout 30m ./...

# The same tests compiled to WebAssembly and run by Node (go_js_wasm_exec).
test-wasm: models
	PATH="$(GOROOT_WASM):$$PATH" GOOS=js GOARCH=wasm $(GO) vet ./...
	PATH="$(GOROOT_WASM):$$PATH" GOOS=js GOARCH=wasm $(GO) test -timeout 30m ./...

# golden: regenerate testdata/golden/*.json by running real nsfwjs (TF.js) in Node.
golden: models
	bash conformance/run.sh

clean:
	rm -rf build models
