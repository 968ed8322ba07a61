# veil build. `make run` serves the page; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
NSFWJS_DIR := build/nsfwjs
TFJS_DIR := models/tfjs
MODEL_NAMES := mobilenet_v2 mobilenet_v2_mid inception_v3

.PHONY: all models test test-native test-wasm clean

all: models

# models: the three nsfwjs models in the standard TF.js layout (model.json + shards).
models: $(TFJS_DIR)/.ok

$(NSFWJS_DIR)/package.ok: scripts/fetch-nsfwjs.sh
	bash scripts/fetch-nsfwjs.sh $(NSFWJS_DIR)

$(TFJS_DIR)/.ok: $(NSFWJS_DIR)/package.ok scripts/unwrap-nsfwjs.cjs
	node scripts/unwrap-nsfwjs.cjs $(NSFWJS_DIR)/package $(TFJS_DIR)
	touch $@

test: test-native test-wasm

test-native: models
	$(GO) vet ./...
	$(GO) test ./...

test-wasm: models
	PATH="$$($(GO) env GOROOT)/lib/wasm:$$PATH" GOOS=js GOARCH=wasm $(GO) test ./...

clean:
	rm -rf build models
