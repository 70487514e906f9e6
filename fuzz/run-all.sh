#!/usr/bin/env bash
# Runs every fuzz target in turn (one at a time: the machine is shared), each for SECONDS (default 600), in
# libFuzzer's fork mode so that a crash is recorded under fuzz/artifacts/<target>/ and the run goes on. New inputs
# go to fuzz/target/work-corpus/<target>; the checked-in corpus is only read. Logs: fuzz/target/logs/<target>.log.
# Usage: fuzz/run-all.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy_file token origin client_ip path jwks)
declare -A max_len=([policy_file]=65536 [token]=16384 [origin]=1024 [client_ip]=4096 [path]=4096 [jwks]=65536)
mkdir -p fuzz/target/logs
for t in "${targets[@]}"; do
    mkdir -p "fuzz/target/work-corpus/$t" "fuzz/artifacts/$t"
    echo "== $t: ${seconds}s, max_len ${max_len[$t]}"
    cargo +nightly fuzz run "$t" "fuzz/target/work-corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="${max_len[$t]}" -timeout=10 \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        >"fuzz/target/logs/$t.log" 2>&1 || echo "   $t exited with $?"
    grep -E '^#[0-9]+: ' "fuzz/target/logs/$t.log" | tail -1 || true
    ls "fuzz/artifacts/$t" | head
done
