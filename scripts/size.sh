#!/usr/bin/env bash
# The Worker's size budget (issue #7, raised by issues #14 and #16): fails when the release Wasm exceeds 160 KB (160,000 bytes) gzipped, and
# prints the size either way. A deterministic check, not a timing: `make test` runs it on the end-to-end Worker,
# whose policy uses every feature (bundled, remote and HMAC keys, CORS, rate limits, every condition).
#
#   scripts/size.sh [path/to/index_bg.wasm]     (default: build/index_bg.wasm)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
BUDGET_GZ=160000
wasm="${1:-build/index_bg.wasm}"
[[ -f "$wasm" ]] || { echo "size: $wasm does not exist (build the Worker first: scripts/build.sh)" >&2; exit 1; }
raw=$(wc -c <"$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "size: $wasm: $raw bytes, $gz gzipped (budget $BUDGET_GZ gzipped, $((BUDGET_GZ - gz)) to spare)"
if ((gz > BUDGET_GZ)); then
  echo "size: over budget by $((gz - BUDGET_GZ)) bytes gzipped" >&2
  exit 1
fi
