#!/usr/bin/env bash
# make test: every tier in order, one summary line each, and every process it started stopped even on failure.
#   fmt, clippy (native, wasm32), native tests, wasm-bindgen-test under Node, the Worker's size budget (160 KB
#   gzipped), end-to-end against wrangler dev.
# Tiers after a failing one still run, so one run shows everything that is wrong; the exit code is non-zero if
# any tier failed.
set -uo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

logs="$ROOT/target/test-logs"
mkdir -p "$logs"
export E2E_PGID_DIR="$logs/pgids"
rm -rf "$E2E_PGID_DIR" && mkdir -p "$E2E_PGID_DIR"

reap() {
  # Process groups the e2e harness started and did not get to stop (it normally stops them itself).
  for f in "$E2E_PGID_DIR"/*; do
    [[ -e "$f" ]] || continue
    kill -TERM -- "-$(basename "$f" .pgid)" 2>/dev/null || true
    rm -f "$f"
  done
}
trap reap EXIT INT TERM

summary=()
failed=0
total_pass=0
total_fail=0

# Sums the `test result:` lines of a cargo test log: prints "passed failed ignored".
count() {
  awk '/test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1); if ($(i) ~ /^ignored/) g += $(i-1) } }
       END { printf "%d %d %d\n", p, f, g }' "$1"
}

check() { # name, command...
  local name=$1; shift
  step "$name: $*"
  if "$@" >"$logs/$name.log" 2>&1; then
    summary+=("$(printf '%-16s ok' "$name")")
  else
    cat "$logs/$name.log"
    summary+=("$(printf '%-16s FAILED (log: %s)' "$name" "target/test-logs/$name.log")")
    failed=1
  fi
}

tests() { # name, command...
  local name=$1; shift
  step "$name: $*"
  "$@" 2>&1 | tee "$logs/$name.log"
  local rc=${PIPESTATUS[0]}
  read -r p f g < <(count "$logs/$name.log")
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [[ $rc -eq 0 && $p -gt 0 ]]; then
    summary+=("$(printf '%-16s %d passed, %d failed, %d ignored' "$name" "$p" "$f" "$g")")
  else
    [[ $p -eq 0 && $rc -eq 0 ]] && echo "$name: no test ran"
    summary+=("$(printf '%-16s FAILED: %d passed, %d failed, %d ignored (exit %d)' "$name" "$p" "$f" "$g" "$rc")")
    failed=1
  fi
}

check fmt cargo fmt --check
check clippy-native cargo clippy --all-targets --features e2e -- -D warnings
check clippy-wasm32 cargo clippy --target wasm32-unknown-unknown --lib --tests -- -D warnings
tests native cargo test
tests wasm cargo test --target wasm32-unknown-unknown --lib --tests
step "e2e: build the Worker with the end-to-end policy"
# Its own target dir, so switching policies does not rebuild the default one (and vice versa).
if EDGE_ACCESS_POLICY=tests/e2e/policy.json CARGO_TARGET_DIR="$ROOT/target/e2e-cargo" \
  scripts/build.sh target/e2e-worker >"$logs/e2e-build.log" 2>&1; then
  # The size budget, on the Worker whose policy uses every feature; the line is printed on every run.
  step "size: scripts/size.sh target/e2e-worker/index_bg.wasm"
  if size_line=$(scripts/size.sh target/e2e-worker/index_bg.wasm 2>&1); then
    echo "$size_line"
    summary+=("$(printf '%-16s ok: %s' size "${size_line#size: }")")
  else
    echo "$size_line"
    summary+=("$(printf '%-16s FAILED: %s' size "$(tr '\n' ' ' <<<"${size_line#size: }")")")
    failed=1
  fi
  tests e2e env E2E_WORKER="$ROOT/target/e2e-worker/index.js" cargo test --features e2e --test e2e
else
  cat "$logs/e2e-build.log"
  summary+=("$(printf '%-16s FAILED: the Worker did not build (log: target/test-logs/e2e-build.log)' e2e)")
  failed=1
fi

echo
echo "== make test summary =="
printf '%s\n' "${summary[@]}"
echo "total: $total_pass passed, $total_fail failed"
exit $failed
