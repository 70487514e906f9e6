#!/usr/bin/env bash
# Benchmarks the policy engine and token checks natively (criterion, benches/engine.rs) and in Wasm under Node
# (wasm-bindgen-test's criterion, benches/engine_wasm.rs): the same workloads (benches/workload/), side by side.
# Signatures: RustCrypto natively, WebCrypto in Wasm. `make bench` (scripts/bench-all.sh) runs this and the rest.
#
#   scripts/bench.sh                  # everything, bench profile (inherits release: opt-level "s", as shipped)
#   scripts/bench.sh ip               # one group (parse, compile, execute, ip, origin, startup, token, verify,
#                                     # decision): engine-ip.{json,md}
#   scripts/bench.sh --opt-level 3    # at another opt-level (0-3, s, z); written to engine-opt3.{json,md}
#   scripts/bench.sh --repeat 3       # run everything 3 times, keep each benchmark's lowest median (noisy hosts)
#   scripts/bench.sh --native-only | --wasm-only
#
# Writes target/bench/engine.json ({"group/name": {"native_ns", "wasm_ns", "ratio"}}: medians in nanoseconds,
# ratio = wasm / native) and target/bench/engine.md, and prints the Markdown table. One run takes about 5 minutes
# on a 2-core machine once built; building both targets from scratch about 5 more. Builds go to target/bench-cargo,
# apart from the ordinary target dir. EDGE_ACCESS_BENCH_QUICK=1 (at build time) shrinks every budget.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

usage() { sed -n '2,17p' "$0"; }
opt_level=""
group=""
repeat=1
native=1
wasm=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --opt-level) opt_level="${2:?--opt-level needs a value}"; shift 2 ;;
    --opt-level=*) opt_level="${1#*=}"; shift ;;
    --repeat) repeat="${2:?--repeat needs a count}"; shift 2 ;;
    --repeat=*) repeat="${1#*=}"; shift ;;
    --native-only) wasm=0; shift ;;
    --wasm-only) native=0; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) group="$1"; shift ;;
  esac
done
case "$group" in
  "" | parse | compile | execute | ip | origin | startup | token | verify | decision) ;;
  *) echo "unknown group \`$group\`: parse, compile, execute, ip, origin, startup, token, verify or decision" >&2; exit 2 ;;
esac
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "--repeat: a count of 1 or more" >&2; exit 2; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench-cargo}"
export CRITERION_HOME="$ROOT/target/criterion"
out="$ROOT/target/bench"
mkdir -p "$out" "$CRITERION_HOME"

profile=()
suffix=""
label='bench profile (inherits release: opt-level "s", fat LTO, codegen-units 1)'
if [[ -n "$opt_level" ]]; then
  case "$opt_level" in
    [0-3]) profile=(--config "profile.bench.opt-level=$opt_level") ;;
    s | z) profile=(--config "profile.bench.opt-level=\"$opt_level\"") ;;
    *) echo "--opt-level: 0, 1, 2, 3, s or z" >&2; exit 2 ;;
  esac
  suffix="-opt$opt_level"
  label="bench profile with opt-level \"$opt_level\" (fat LTO, codegen-units 1)"
fi
# A one-group run has results of its own and leaves the full ones alone.
if [[ -n "$group" ]]; then suffix="$suffix-$group"; fi
if [[ $repeat -gt 1 ]]; then
  label="$label; lowest median of $repeat runs"
fi

# The Node half: `extract` reads one run's results, `report` merges runs into the JSON and the table.
results() {
  node - "$@" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [mode, ...args] = process.argv.slice(2);
const order = ['parse', 'compile', 'execute', 'ip', 'origin', 'startup', 'token', 'verify', 'decision'];

// Both harnesses print `name   time: [low typical high]`, a name longer than 23 characters on a line of its own
// before its `time:` line: what ran, in order, with criterion's typical time (slope or mean).
const unit = { ps: 1e-3, ns: 1, 'µs': 1e3, us: 1e3, ms: 1e6, s: 1e9 };
function printed(file) {
  const found = new Map();
  if (!fs.existsSync(file)) return found;
  let pending = null;
  for (const line of fs.readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n')) {
    const timed = line.match(/^(\S*)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]/);
    if (timed) {
      const name = timed[1] || pending;
      if (name) found.set(name, Number(timed[2]) * unit[timed[3]]);
      pending = null;
    } else {
      pending = /^[a-z0-9_]+\/[A-Za-z0-9_]+$/.test(line.trim()) ? line.trim() : null;
    }
  }
  return found;
}

function extract([criterionHome, stampFile, nativeLog, wasmLog, wasmResult, runOut]) {
  const since = fs.statSync(stampFile).mtimeMs;
  // Native medians: criterion's <group>/<name>/new/estimates.json, when written by this run.
  const native = {};
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'estimates.json' && path.basename(dir) === 'new' && fs.statSync(p).mtimeMs >= since) {
        const id = JSON.parse(fs.readFileSync(path.join(dir, 'benchmark.json'), 'utf8')).full_id;
        native[id] = JSON.parse(fs.readFileSync(p, 'utf8')).median.point_estimate;
      }
    }
  };
  walk(criterionHome);
  // Wasm medians: the runner's result file has every estimate of every benchmark it ever ran; take the ones the
  // printed output says ran now. Without the file, fall back to the printed typical time.
  const wasmPrinted = printed(wasmLog);
  const wasm = Object.fromEntries(wasmPrinted);
  if (wasmPrinted.size > 0) {
    let file = {};
    try {
      file = JSON.parse(fs.readFileSync(wasmResult, 'utf8'));
    } catch (e) {
      console.error(`warning: no Wasm result file (${e.message}): using the printed typical times, not medians`);
    }
    for (const name of wasmPrinted.keys()) {
      const m = file[name]?.estimates?.median?.point_estimate;
      if (typeof m === 'number') wasm[name] = m;
    }
  }
  const ran = [...new Set([...printed(nativeLog).keys(), ...wasmPrinted.keys()])];
  fs.writeFileSync(runOut, JSON.stringify({ ran, native, wasm }, null, 2) + '\n');
}

function report([jsonOut, mdOut, label, ...runFiles]) {
  const runs = runFiles.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const lowest = (side, name) => {
    const values = runs.map((r) => r[side][name]).filter((v) => typeof v === 'number');
    return values.length ? Math.min(...values) : null;
  };
  const ran = runs[0].ran;
  const names = [...new Set(runs.flatMap((r) => [...Object.keys(r.native), ...Object.keys(r.wasm)]))];
  // Groups in a fixed order; within a group, the order the benchmarks ran in.
  names.sort((a, b) => {
    const [ga, gb] = [a, b].map((n) => order.indexOf(n.split('/')[0]));
    const [ra, rb] = [a, b].map((n) => (ran.includes(n) ? ran.indexOf(n) : ran.length));
    return ga - gb || ra - rb || a.localeCompare(b);
  });
  if (names.length === 0) {
    console.error('no benchmark results found');
    process.exit(1);
  }
  const round = (x, digits) => (x === null ? null : Number(x.toFixed(digits)));
  const result = {};
  for (const n of names) {
    const [nat, wa] = [lowest('native', n), lowest('wasm', n)];
    result[n] = {
      native_ns: round(nat, 1),
      wasm_ns: round(wa, 1),
      ratio: nat && wa ? round(wa / nat, 2) : null,
    };
  }
  fs.writeFileSync(jsonOut, JSON.stringify(result, null, 2) + '\n');
  const fmt = (ns) => {
    if (ns === null) return '-';
    if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
    if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
    return `${ns.toFixed(1)} ns`;
  };
  const md = [
    `Medians, ${label}.`,
    '',
    '| benchmark | native | wasm | wasm/native |',
    '|---|--:|--:|--:|',
    ...names.map((n) => {
      const r = result[n];
      return `| ${n} | ${fmt(r.native_ns)} | ${fmt(r.wasm_ns)} | ${r.ratio === null ? '-' : r.ratio.toFixed(2)} |`;
    }),
  ].join('\n');
  fs.writeFileSync(mdOut, md + '\n');
  console.log(`\n${md}\n`);
  console.log(`written: ${path.relative(process.cwd(), jsonOut)}, ${path.relative(process.cwd(), mdOut)}`);
}

({ extract, report })[mode](args);
EOF
}

runs=()
for ((rep = 1; rep <= repeat; rep++)); do
  tag="$suffix"
  if [[ $repeat -gt 1 ]]; then tag="$suffix-$rep"; fi
  native_log="$out/native$tag.log"
  wasm_log="$out/wasm$tag.log"
  # The Wasm runner imports this file to print changes against the last run, then dumps every estimate back.
  wasm_result="$out/wbg_benchmark$suffix.json"
  stamp="$out/.stamp$tag"
  rm -f "$native_log" "$wasm_log"
  touch "$stamp"
  if [[ $native -eq 1 ]]; then
    start=$SECONDS
    step "native ($rep/$repeat): cargo bench ${profile[*]} --bench engine${group:+ -- ^$group/}"
    cargo bench "${profile[@]}" --bench engine -- ${group:+"^$group/"} 2>&1 | tee "$native_log"
    echo "native: $((SECONDS - start)) s"
  fi
  if [[ $wasm -eq 1 ]]; then
    start=$SECONDS
    step "wasm ($rep/$repeat): cargo bench ${profile[*]} --target wasm32-unknown-unknown --bench engine_wasm${group:+ -- --exact $group}"
    # The runner filters by benchmark function (one per group) by substring: --exact keeps `ip` to `ip`.
    WASM_BINDGEN_BENCH_RESULT="$wasm_result" \
      cargo bench "${profile[@]}" --target wasm32-unknown-unknown --bench engine_wasm -- ${group:+--exact "$group"} \
      2>&1 | tee "$wasm_log"
    echo "wasm: $((SECONDS - start)) s"
  fi
  results extract "$CRITERION_HOME" "$stamp" "$native_log" "$wasm_log" "$wasm_result" "$out/run$tag.json"
  rm -f "$stamp"
  runs+=("$out/run$tag.json")
done
results report "$out/engine$suffix.json" "$out/engine$suffix.md" "$label" "${runs[@]}"
