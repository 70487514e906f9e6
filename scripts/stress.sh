#!/usr/bin/env bash
# make stress: load and faults against the real Worker under wrangler dev (tests/stress), then broken policies
# through scripts/build.sh. Loopback only; bounded in requests and time; every process it started is stopped on
# the way out, even on failure or Ctrl-C.
#   STRESS_REQUESTS (200000), STRESS_CONCURRENCY (64), STRESS_HEAP_GROWTH_MB (8): the load phase;
#   STRESS_RSS_GROWTH_MB (unset: RSS reported, not judged; see tests/stress/main.rs);
#   STRESS_WORKER: another Worker's main module for the load phase (the baseline for its memory figures:
#   STRESS_WORKER=tests/stress/trivial-worker.mjs scripts/stress.sh load; its denied classes then fail, by design);
#   arguments select phases: scripts/stress.sh load | faults | policy (default: all three).
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

logs="$ROOT/target/test-logs"
mkdir -p "$logs"
export E2E_PGID_DIR="$logs/stress-pgids"
rm -rf "$E2E_PGID_DIR" && mkdir -p "$E2E_PGID_DIR"
suite_pgid=""

reap() {
  # The suite's own group (the test binary, its jwt-servers), then the wrangler groups it did not get to stop.
  [[ -n "$suite_pgid" ]] && kill -TERM -- "-$suite_pgid" 2>/dev/null
  for f in "$E2E_PGID_DIR"/*; do
    [[ -e "$f" ]] || continue
    kill -TERM -- "-$(basename "$f" .pgid)" 2>/dev/null || true
    rm -f "$f"
  done
}
trap reap EXIT
trap 'exit 130' INT TERM

step "stress: build the Worker with the end-to-end policy (target/e2e-worker)"
if ! EDGE_ACCESS_POLICY=tests/e2e/policy.json CARGO_TARGET_DIR="$ROOT/target/e2e-cargo" \
  scripts/build.sh target/e2e-worker >"$logs/stress-build.log" 2>&1; then
  cat "$logs/stress-build.log"
  echo "stress: the Worker did not build (log: target/test-logs/stress-build.log)"
  exit 1
fi

step "stress: build the suite (cargo test --features e2e --test stress --no-run)"
cargo test --features e2e --test stress --no-run || exit 1

step "stress: run (log: target/test-logs/stress.log)"
# In a process group of its own, so whatever it starts outside wrangler's groups is stopped with it. A hard
# bound on top of the suite's own timeouts: 30 minutes.
export E2E_WORKER="${STRESS_WORKER:-$ROOT/target/e2e-worker/index.js}"
setsid timeout --kill-after=10 1800 cargo test --features e2e --test stress -- "$@" \
  > >(tee "$logs/stress.log") 2>&1 &
suite_pgid=$!
wait "$suite_pgid"
rc=$?
suite_pgid=""
exit $rc
