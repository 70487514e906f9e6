#!/usr/bin/env bash
# Startup benchmark: how long a fresh Wasm instance takes to serve its first decision, for the reference policy
# (100k CIDRs, 50 origins, 20 rules, an ES256 issuer) and for a policy with a 1M-prefix IPv4 list.
#
#   scripts/startup.sh                 # 15 fresh Node processes per policy (STARTUP_SAMPLES=n to change)
#
# 1. The policy files come from the benchmark workloads (deterministic, written to target/bench/policies/, never
#    committed): `EDGE_ACCESS_BENCH_POLICIES=dir cargo bench --bench engine`, with one request per policy and the
#    answer the native engine gives it.
# 2. Per policy, the crate is built for wasm32 with that policy bundled (EDGE_ACCESS_POLICY) and the `bench-startup`
#    feature, which adds one export, `bench_first_decision` (src/bench_startup.rs): the Worker's request path
#    without the worker::Request conversion and without forwarding. Not the shipped Worker module: that one needs
#    Wasm exception handling (`try_table`), which Node 20 cannot compile. Then plain `wasm-bindgen --target web` and
#    `wasm-opt -Oz`, as the Worker build does.
# 3. scripts/startup.mjs times, in one fresh process per sample: compile (new WebAssembly.Module), instantiate
#    (new WebAssembly.Instance with the glue's imports, and the start function), and the first decision (policy
#    loaded on first use). "Ready" is instantiate + first decision. Medians to target/bench/startup.json.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

samples="${STARTUP_SAMPLES:-15}"
[[ "$samples" =~ ^[1-9][0-9]*$ ]] || { echo "STARTUP_SAMPLES: a count of 1 or more" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench-cargo}"
out="$ROOT/target/bench"
policies="$out/policies"
mkdir -p "$policies"

step "startup: policy files into ${policies#"$ROOT"/} (EDGE_ACCESS_BENCH_POLICIES=... cargo bench --bench engine)"
EDGE_ACCESS_BENCH_POLICIES="$policies" cargo bench --bench engine

specs=()
for name in reference list-1m; do
  pkg="$out/startup/$name"
  step "startup: $name: cargo build --release --lib --target wasm32-unknown-unknown --features bench-startup"
  EDGE_ACCESS_POLICY="$policies/$name.json" \
    cargo build --release --lib --target wasm32-unknown-unknown --features bench-startup
  rm -rf "$pkg"
  mkdir -p "$pkg"
  wasm-bindgen --target web --out-dir "$pkg" --out-name edge_access \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/edge_access.wasm"
  wasm-opt "$pkg/edge_access_bg.wasm" -o "$pkg/edge_access_bg.wasm" -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-multivalue
  echo '{ "type": "module" }' >"$pkg/package.json"
  specs+=("$name=$pkg")
done

step "startup: $samples fresh Node processes per policy"
node scripts/startup.mjs run "$out/startup.json" "$samples" "$policies/requests.json" "${specs[@]}"
echo "written: target/bench/startup.json"
