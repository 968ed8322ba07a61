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

.PHONY: all models test test-native test-wasm golden fuzz conformance bench clean run serve-build test-e2e

all: models

# models: the three nsfwjs models in the standard TF.js layout (model.json +
# shards), then the int8 .veil files made from them.
VEIL_MODELS := $(addprefix models/,$(addsuffix .veil,$(MODEL_NAMES)))
models: $(TFJS_DIR)/.ok $(VEIL_MODELS)

# An int8 model is rebuilt when the quantizer or the engine changes.
QUANT_SRC := $(shell find pkg/infer pkg/quantize pkg/veilfile pkg/calibset pkg/lora tools/quantize -name '*.go' ! -name '*_test.go' 2>/dev/null)
models/%.veil: $(TFJS_DIR)/.ok $(QUANT_SRC)
	$(GO) run ./tools/quantize -q -model $* -o $@.tmp > build/quantize-$*.txt
	mv $@.tmp $@

$(NSFWJS_DIR)/package.ok: scripts/fetch-nsfwjs.sh
	bash scripts/fetch-nsfwjs.sh $(NSFWJS_DIR)

$(TFJS_DIR)/.ok: $(NSFWJS_DIR)/package.ok scripts/unwrap-nsfwjs.cjs
	node scripts/unwrap-nsfwjs.cjs $(NSFWJS_DIR)/package $(TFJS_DIR)
	mkdir -p build
	touch $@

test: test-native test-wasm test-js test-e2e

# VEIL_REQUIRE_MODELS turns "model files missing" skips into failures.
test-native: models
	$(GO) vet ./...
	VEIL_REQUIRE_MODELS=1 $(GO) test -timeout 30m ./...

# The same tests compiled to WebAssembly and run by Node (go_js_wasm_exec).
test-wasm: models
	PATH="$(GOROOT_WASM):$$PATH" GOOS=js GOARCH=wasm $(GO) vet ./...
	PATH="$(GOROOT_WASM):$$PATH" GOOS=js GOARCH=wasm $(GO) test -timeout 30m ./...

# golden: regenerate testdata/golden/*.json by running real nsfwjs (TF.js) in
# Node: the MobileNets on the pure-JS cpu backend, InceptionV3 on the wasm
# backend (cpu takes ~45 s per image there; the two agree to 1.4e-6).
golden: models
	bash conformance/run.sh --backend cpu --models mobilenet_v2,mobilenet_v2_mid
	bash conformance/run.sh --backend wasm --models inception_v3

# run: prepare the default model, build the wasm, serve web/ (PORT overrides 8080).
run: models wasm
	$(GO) run ./tools/serve -dir web -models models -addr 127.0.0.1:$${PORT:-8080}

# serve-build: the static server alone, as build/bin/serve.
serve-build:
	$(GO) build -o build/bin/serve ./tools/serve

# test-e2e: the page in headless Chromium (Debian's /usr/bin/chromium, or
# $$CHROMIUM) against tools/classify; writes build/screenshot*.png.
test-e2e: models wasm e2e/node_modules/.ok
	node --test --test-concurrency=1 e2e/

e2e/node_modules/.ok: e2e/package.json e2e/package-lock.json
	cd e2e && npm ci --no-audit --no-fund
	touch $@

# wasm: the WebAssembly module and its JavaScript API into web/: veil.wasm,
# wasm_exec.js (from the Go that built it) and veil.js (see wasm/README.md).
.PHONY: wasm test-js
wasm:
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags=-s -o web/veil.wasm ./wasm
	cp "$(GOROOT_WASM)/wasm_exec.js" web/wasm_exec.js
	cp wasm/veil.js web/veil.js

# test-js: web/veil.js under Node (wasm/veil.test.mjs): the API and its errors
# on a stand-in model (-tags veilfake), and the real models against tools/classify.
test-js: wasm
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags=-s -tags veilfake -o build/wasm/veil-fake.wasm ./wasm
	node --test wasm/veil.test.mjs

# fuzz: every fuzz target for FUZZTIME each (targets are found, not listed by hand).
FUZZTIME ?= 60s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg internal tools 2>/dev/null); do \
	  dir=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "== $$dir $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; \
	done

# conformance: the float and int8 engines against nsfwjs on every image and model.
conformance: models
	VEIL_REQUIRE_MODELS=1 VEIL_FULL_CONFORMANCE=1 $(GO) test -count=1 -v -run 'MatchesNSFWJS|AgainstGolden' ./pkg/... | grep -E 'Δ|^(ok|FAIL|---)'

# bench: veil (wasm in Node, native) against nsfwjs (tfjs wasm+SIMD, tfjs cpu)
# on the same images in one run; table on stdout, build/bench.json.
bench: models wasm
	cd conformance && npm ci --no-audit --no-fund --silent
	$(GO) run ./internal/testimages/dump -o build/testimages >/dev/null
	$(GO) test -run '^$$' -bench 'Int8(MobileNetV2|MobileNetV2Mid|InceptionV3)$$' -benchtime 5x ./pkg/infer | tee build/bench-native.txt
	node conformance/bench.mjs --native build/bench-native.txt

clean:
	rm -rf build models
