#!/usr/bin/env bash
# make bench: every benchmark, machine-readable results in target/bench/*.json, and BENCHMARKS.md written from them.
#
#   make bench                 # about 25 minutes on a 2-core machine, builds included
#   BENCH_QUICK=1 make bench   # a smoke run (shorter budgets, 5 startup samples): about half that; the report says so
#
# Steps (each writes its JSON; the report reads only those files):
#   1. scripts/bench.sh      engine and token benchmarks, native (criterion) and Wasm (Node): target/bench/engine.json
#   2. scripts/startup.sh    instantiation to first decision, reference and 1M-prefix policies: target/bench/startup.json
#   3. scripts/build.sh      the shipped Worker with the bundled policy.json, for its size: target/bench/size.json
#   4. scripts/race.sh       the Workers under load, when the script exists: target/bench/race.json
#      bench/inproc.mjs      the race's JS Workers called in-process with the upstream stubbed: their own work per
#                            request, without wrangler dev: target/bench/inproc.json
#   5. scripts/bench-report.mjs  BENCHMARKS.md from the JSON files and target/bench/meta.json (this machine, these commands)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

quick=0
if [[ -n "${BENCH_QUICK:-}" && "${BENCH_QUICK}" != 0 ]]; then quick=1; fi
out="$ROOT/target/bench"
mkdir -p "$out"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/bench-cargo}"
started=$SECONDS
started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
# Results of an earlier run must not pass for this one's.
rm -f "$out"/{engine,startup,size,race,inproc,meta}.json "$out/race.md"

commands=()
timed() { # name, command...: runs it, records the command and its duration
  local name="$1" t=$SECONDS
  shift
  step "bench: $*"
  "$@"
  durations+=("$name=$((SECONDS - t))")
}
durations=()

if [[ $quick -eq 1 ]]; then
  export EDGE_ACCESS_BENCH_QUICK=1 STARTUP_SAMPLES="${STARTUP_SAMPLES:-5}"
  commands+=("BENCH_QUICK=1 make bench")
else
  unset EDGE_ACCESS_BENCH_QUICK
  commands+=("make bench")
fi
commands+=("scripts/bench.sh" "scripts/startup.sh" "scripts/build.sh target/bench/worker")

timed engine scripts/bench.sh
timed startup scripts/startup.sh

timed size scripts/build.sh target/bench/worker
wasm="$out/worker/index_bg.wasm"
printf '{ "policy": "policy.json", "wasm_bytes": %d, "wasm_gzip_bytes": %d }\n' \
  "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)" >"$out/size.json"

if [[ -f scripts/race.sh ]]; then
  commands+=("scripts/race.sh")
  timed race bash scripts/race.sh
  commands+=("node bench/inproc.mjs")
  timed inproc node bench/inproc.mjs "$out/race" "$out/inproc.json"
else
  echo "bench: scripts/race.sh is not here: the race is reported as not run"
fi

# This machine and this run, for the report.
node - "$out/meta.json" "$started_at" "$((SECONDS - started))" "$quick" "$load_before" "${commands[@]}" -- "${durations[@]}" <<'EOF'
const fs = require('node:fs');
const os = require('node:os');
const { execSync } = require('node:child_process');
const [file, date, seconds, quick, loadBefore, ...rest] = process.argv.slice(2);
const split = rest.indexOf('--');
const cpu = (fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m) || [])[1] || os.cpus()[0]?.model;
const meta = {
  date,
  quick: quick === '1',
  duration_s: Number(seconds),
  steps_s: Object.fromEntries(rest.slice(split + 1).map((d) => d.split('=')).map(([k, v]) => [k, Number(v)])),
  commands: rest.slice(0, split),
  machine: {
    nproc: Number(execSync('nproc', { encoding: 'utf8' }).trim()),
    cpu: cpu?.trim() ?? 'unknown',
    memory_gib: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    rustc: execSync('rustc --version', { encoding: 'utf8' }).trim(),
    // 1, 5 and 15 minute load averages when the run began and ended: a loaded machine stretches every figure.
    load_before: loadBefore,
    load_after: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  },
};
fs.writeFileSync(file, JSON.stringify(meta, null, 2) + '\n');
EOF

step "bench: node scripts/bench-report.mjs (BENCHMARKS.md)"
node scripts/bench-report.mjs "$out" BENCHMARKS.md
echo "bench: done in $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
