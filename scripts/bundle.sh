#!/usr/bin/env bash
# make bundle: what `wrangler deploy` would upload, in dist/, and the Wasm size raw and gzipped.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
step "bundle: wrangler deploy --dry-run --outdir dist"
CI=true npx wrangler deploy --dry-run --outdir dist
wasm=$(find dist -name '*.wasm' | head -n1)
raw=$(wc -c <"$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
awk -v w="$wasm" -v r="$raw" -v g="$gz" 'BEGIN { printf "bundle: %s: %d bytes raw, %d bytes gzipped (%.1f KiB)\n", w, r, g, g / 1024 }'
