#!/usr/bin/env bash
# fetch-nsfwjs.sh downloads the pinned nsfwjs npm tarball, checks its
# integrity, and unpacks it. A tarball whose hash does not match the pin
# (corrupted or partial download) is deleted and fetched once more; a second
# mismatch fails the build. Re-running with a good tarball in place is a no-op.
set -euo pipefail

VERSION=4.4.0
INTEGRITY=sha512-krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA==
DIR=${1:-build/nsfwjs}
TGZ=$DIR/nsfwjs-$VERSION.tgz
STAMP=$DIR/package.ok

integrity() { echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

mkdir -p "$DIR"
if [[ -f $STAMP && -f $TGZ && "$(cat "$STAMP")" == "$INTEGRITY" ]]; then
  exit 0
fi

for attempt in 1 2; do
  if [[ ! -f $TGZ ]]; then
    echo "fetch-nsfwjs: downloading nsfwjs@$VERSION from the npm registry" >&2
    rm -f "$DIR"/nsfwjs-*.tgz.part
    (cd "$DIR" && npm pack "nsfwjs@$VERSION" --silent >/dev/null)
  fi
  got=$(integrity "$TGZ")
  if [[ $got == "$INTEGRITY" ]]; then
    rm -rf "$DIR/package" "$DIR/package.tmp"
    mkdir -p "$DIR/package.tmp"
    tar xzf "$TGZ" -C "$DIR/package.tmp" --strip-components=1
    mv "$DIR/package.tmp" "$DIR/package"
    echo "$INTEGRITY" >"$STAMP"
    exit 0
  fi
  echo "fetch-nsfwjs: $TGZ: integrity mismatch (got $got), discarding (attempt $attempt)" >&2
  rm -f "$TGZ" "$STAMP"
done
echo "fetch-nsfwjs: could not obtain an intact nsfwjs@$VERSION" >&2
exit 1
