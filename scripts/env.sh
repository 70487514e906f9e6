# Sourced by the other scripts: where the tools live and the environment they need.
# worker-build cannot download wasm-bindgen or wasm-opt on a closed network; it reads these first.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$ROOT/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
export WASM_OPT_BIN="$ROOT/node_modules/.bin/wasm-opt"
# Keep wrangler quiet and offline.
export WRANGLER_SEND_METRICS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false
WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
