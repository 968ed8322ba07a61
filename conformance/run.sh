#!/usr/bin/env bash
# run.sh regenerates testdata/golden/*.json from the real nsfwjs.
#
#   bash conformance/run.sh                      # all models, cpu backend
#   bash conformance/run.sh --models inception_v3 --backend wasm
#   bash conformance/run.sh --compare --compare-out testdata/golden/backend_noise.json
#
# Steps: dump the Go test images to build/testimages, install the pinned npm
# packages (npm ci) when node_modules is missing or stale, then run
# conformance/golden.mjs with the given flags. Run from anywhere.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

dump_dir="build/testimages"
go run ./internal/testimages/dump -o "$dump_dir"

# npm ci only when the lock file is newer than the installed tree.
if [[ ! -f conformance/node_modules/.package-lock.json ||
      conformance/package-lock.json -nt conformance/node_modules/.package-lock.json ]]; then
  (cd conformance && npm ci --no-audit --no-fund)
fi

exec node conformance/golden.mjs --dump "$dump_dir" "$@"
