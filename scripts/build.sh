#!/usr/bin/env bash
# Builds the Worker (worker-build --release) into build/, or into the directory given as the first argument
# (relative to the repository root). EDGE_ACCESS_POLICY=path picks another policy file; an invalid policy fails
# here, with every error named by file, rule id and field.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
out="${1:-build}"
step "build: worker-build --release --out-dir $out (policy: ${EDGE_ACCESS_POLICY:-policy.json})"
worker-build --release --out-dir "$out"
# worker-build runs wasm-opt with --debuginfo, which keeps the ~100 KB name section; nothing at runtime reads it.
wasm="$out/index_bg.wasm"
wasm-opt "$wasm" -o "$wasm" --strip-debug --strip-producers \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  --enable-reference-types --enable-multivalue --enable-exception-handling
echo "build: $wasm: $(wc -c <"$wasm") bytes, $(gzip -9 -c "$wasm" | wc -c) gzipped"
