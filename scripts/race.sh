#!/usr/bin/env bash
# The end-to-end race (issue #7): three Workers under `wrangler dev` (workerd) on loopback, in front of the same
# counting upstream, driven by wrk at a fixed concurrency, in interleaved rounds:
#   pass-through  bench/passthrough/worker.mjs: forwards only (the floor)
#   edge-access   this project, built with the race policy (bench/gen.mjs: 100k CIDRs, 50 origins, 21 rules,
#                 an ES256 issuer with a bundled JWKS)
#   jose          bench/jose/worker.mjs: the same checks by hand in JavaScript with the `jose` package
# Writes target/bench/race.json and target/bench/race.md and prints the table. See bench/README.md.
#
# Knobs (environment): RACE_CONNECTIONS (32), RACE_THREADS (2), RACE_DURATION (15 s), RACE_WARMUP (5 s),
# RACE_ROUNDS (3), RACE_TOKENS (64 distinct tokens in the rotation), RACE_SAMPLE_ALLOWED (policy
# logging.sample_allowed, 0.01: the format's default), RACE_WORKERS ("pass-through edge-access jose"), RACE_OUT (target/bench),
# RACE_NO_TOKEN (1: the variant without issuer, token rule and tokens, for finding where time goes),
# RACE_CARGO_TARGET_DIR (target/race-cargo), RACE_BUILD_ONLY (1: generate and build, then stop), RACE_WRANGLER_ARGS (extra `wrangler dev` arguments, e.g. "--log-level warn"), RACE_TIMEOUT (1800 s: the whole
# run, build included, is stopped after that).
#
# Everything started here runs in its own process group and is stopped (TERM, then KILL) on exit, on error, on
# Ctrl-C and on the timeout.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

RACE_TIMEOUT="${RACE_TIMEOUT:-1800}"
if [[ -z "${RACE_INNER:-}" ]]; then
  # Bound the whole run: timeout sends TERM to the inner run, whose trap stops what it started.
  RACE_INNER=1 exec timeout --kill-after=30 "$RACE_TIMEOUT" "$0" "$@"
fi

CONNECTIONS="${RACE_CONNECTIONS:-32}"
THREADS="${RACE_THREADS:-2}"
DURATION="${RACE_DURATION:-15}"
WARMUP="${RACE_WARMUP:-5}"
ROUNDS="${RACE_ROUNDS:-3}"
TOKENS="${RACE_TOKENS:-64}"
SAMPLE_ALLOWED="${RACE_SAMPLE_ALLOWED:-0.01}"
NO_TOKEN="${RACE_NO_TOKEN:-}"
CARGO_DIR="${RACE_CARGO_TARGET_DIR:-$ROOT/target/race-cargo}"
read -r -a WORKERS <<<"${RACE_WORKERS:-pass-through edge-access jose}"
read -r -a WRANGLER_ARGS <<<"${RACE_WRANGLER_ARGS:-}"
OUT="${RACE_OUT:-target/bench}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$OUT/race"
LOGS="$WORK/logs"
mkdir -p "$WORK" "$LOGS"
COMPAT_DATE="$(sed -n 's/^compatibility_date = "\(.*\)"/\1/p' wrangler.toml)"

# --- process groups: everything started below is reaped on exit --------------------------------------------
PGIDS=()
stop_groups() {
  local pg alive
  ((${#PGIDS[@]})) || return 0
  for pg in "${PGIDS[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pg in "${PGIDS[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pg in "${PGIDS[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  PGIDS=()
}
on_exit() {
  local rc=$?
  stop_groups
  exit "$rc"
}
trap on_exit EXIT
trap 'echo "race: interrupted" >&2; exit 130' INT TERM HUP

# start LOGFILE CMD...: runs CMD in a new session (its own process group: setsid does not fork here, so the
# pid is the group id), output to LOGFILE.
start() {
  local log=$1
  shift
  setsid "$@" >"$log" 2>&1 </dev/null &
  PGIDS+=("$!")
}

# CPU time (ms, user + system) used so far by the live processes of process group $1: with `requests`, the CPU one
# request costs, which a busy shared machine disturbs far less than wall-clock throughput.
TICK_MS=$((1000 / $(getconf CLK_TCK)))
group_cpu_ms() {
  local total=0 pid t
  for pid in $(pgrep -g "$1" || true); do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo $((total * TICK_MS))
}

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

die() {
  echo "race: $*" >&2
  exit 1
}

# --- tools ---------------------------------------------------------------------------------------------------
[[ -x node_modules/.bin/wrangler && -d node_modules/jose ]] || scripts/setup.sh
if ! command -v wrk >/dev/null; then
  step "race: apt-get install wrk"
  if [[ "$(id -u)" -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; else sudo apt-get install -y wrk; fi
fi
WRK_VERSION="$( (wrk -v 2>&1 || true) | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)"

# --- inputs and builds ---------------------------------------------------------------------------------------
step "race: generating the policy, the jose Worker's data and the requests"
node bench/gen.mjs --out "$WORK" --tokens "$TOKENS" --sample-allowed "$SAMPLE_ALLOWED" ${NO_TOKEN:+--no-token}

# edge-access: rebuilt only when the policy or the crate changed since the last race build.
stamp="$( (sha256sum "$WORK/policy.json"; git ls-files -s src build.rs Cargo.toml Cargo.lock; git diff HEAD -- src build.rs Cargo.toml Cargo.lock) | sha256sum | cut -c1-64)"
if [[ " ${WORKERS[*]} " != *" edge-access "* ]]; then
  echo "race: edge-access is not in RACE_WORKERS: not built"
elif [[ -f "$WORK/edge-access/index.js" && "$(cat "$WORK/edge-access.stamp" 2>/dev/null)" == "$stamp" ]]; then
  echo "race: edge-access build is up to date"
else
  step "race: building edge-access with the race policy (log: $LOGS/build.log)"
  if ! EDGE_ACCESS_POLICY="$WORK/policy.json" CARGO_TARGET_DIR="$CARGO_DIR" \
    scripts/build.sh "$WORK/edge-access" >"$LOGS/build.log" 2>&1; then
    tail -30 "$LOGS/build.log" >&2
    die "the edge-access build failed"
  fi
  tail -1 "$LOGS/build.log"
  echo "$stamp" >"$WORK/edge-access.stamp"
fi
cp bench/jose/worker.mjs "$WORK/jose/worker.mjs"
if [[ -n "${RACE_BUILD_ONLY:-}" ]]; then
  echo "race: RACE_BUILD_ONLY: built, not racing"
  exit 0
fi

main_of() {
  case $1 in
    pass-through) echo "$ROOT/bench/passthrough/worker.mjs" ;;
    edge-access) echo "$WORK/edge-access/index.js" ;;
    jose) echo "$WORK/jose/worker.mjs" ;;
    *) die "unknown worker $1" ;;
  esac
}

# --- upstream ------------------------------------------------------------------------------------------------
rm -f "$WORK/upstream.port"
start "$LOGS/upstream.log" node bench/upstream.mjs "$WORK/upstream.port"
UPSTREAM_PGID=${PGIDS[-1]}
for _ in $(seq 100); do [[ -s "$WORK/upstream.port" ]] && break; sleep 0.1; done
[[ -s "$WORK/upstream.port" ]] || die "the upstream did not start ($(cat "$LOGS/upstream.log"))"
UPSTREAM="http://127.0.0.1:$(cat "$WORK/upstream.port")"
upstream_counts() { curl -fsS --max-time 5 "$UPSTREAM/__race/count"; }

# --- the Workers under wrangler dev --------------------------------------------------------------------------
# The first generated request, as curl arguments (a request the race sends: it must be forwarded).
first() { node -e 'const r=require(process.argv[1]).first; console.log(r[process.argv[2]])' "$WORK/expect.json" "$1"; }
F_PATH=$(first path) F_ORIGIN=$(first origin) F_IP=$(first ip) F_TOKEN=$(first token)
probe() { # URL [with-token] -> HTTP status
  local auth=()
  [[ ${2:-} == token && -z $NO_TOKEN ]] && auth=(-H "Authorization: Bearer $F_TOKEN")
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$1$F_PATH" -H 'Host: api.example.com' \
    -H "Origin: $F_ORIGIN" -H "CF-Connecting-IP: $F_IP" "${auth[@]}" || true
}

declare -A URL PGID
for w in "${WORKERS[@]}"; do
  dir="$WORK/$w"
  mkdir -p "$dir"
  port=$(free_port)
  inspector=$(free_port)
  cat >"$dir/wrangler.toml" <<TOML
name = "race-$w"
main = "$(main_of "$w")"
compatibility_date = "$COMPAT_DATE"
vars = { ORIGIN_URL = "$UPSTREAM" }
TOML
  step "race: starting $w under wrangler dev on 127.0.0.1:$port"
  start "$LOGS/wrangler-$w.log" env -C "$dir" CI=true WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true \
    CLOUDFLARE_CF_FETCH_ENABLED=false "$ROOT/node_modules/.bin/wrangler" dev --config "$dir/wrangler.toml" \
    --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" --show-interactive-dev-session=false \
    ${WRANGLER_ARGS[@]+"${WRANGLER_ARGS[@]}"}
  pgid=${PGIDS[-1]}
  URL[$w]="http://127.0.0.1:$port"
  PGID[$w]=$pgid
  status=000
  for _ in $(seq 240); do
    status=$(probe "${URL[$w]}" token)
    [[ $status == 200 ]] && break
    kill -0 -- "-$pgid" 2>/dev/null || break
    sleep 0.5
  done
  [[ $status == 200 ]] || { tail -30 "$LOGS/wrangler-$w.log" >&2; die "$w did not forward a race request (status $status)"; }
  # The checks are real: without the token, edge-access and jose refuse (401); pass-through forwards anyway.
  bare=$(probe "${URL[$w]}")
  case $w in
    *) [[ -z $NO_TOKEN ]] || { [[ $bare == 200 ]] || die "$w answered $bare (no-token variant: expected 200)"; } ;;&
    pass-through) [[ $bare == 200 ]] || die "pass-through answered $bare without a token" ;;
    *) [[ -n $NO_TOKEN || $bare == 401 ]] || die "$w answered $bare to a request without a token (expected 401)" ;;
  esac
  echo "race: $w ready (${URL[$w]}): with the token $status, without $bare"
done

# --- the rounds ----------------------------------------------------------------------------------------------
RUNS="$WORK/runs.jsonl"
: >"$RUNS"
run_wrk() { # URL SECONDS LOG -> the RACE_RESULT JSON
  RACE_REQUESTS="$WORK/requests.lua" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${2}s" --timeout 10s \
    -s bench/race.lua "$1" >"$3" 2>&1 &
  wait $! || { cat "$3" >&2; die "wrk failed against $1"; }
  sed -n 's/^RACE_RESULT //p' "$3"
}
n=${#WORKERS[@]}
for ((r = 1; r <= ROUNDS; r++)); do
  for ((k = 0; k < n; k++)); do
    # Each round starts one Worker later (ABC, BCA, CAB), so no Worker always runs first or last.
    w=${WORKERS[$(((k + r - 1) % n))]}
    step "race: round $r/$ROUNDS: $w (warm-up ${WARMUP}s, then ${DURATION}s at $CONNECTIONS connections)"
    run_wrk "${URL[$w]}" "$WARMUP" "$LOGS/wrk-$w-$r-warmup.log" >/dev/null
    before=$(upstream_counts)
    load=$(cut -d' ' -f1 /proc/loadavg)
    cpu_w0=$(group_cpu_ms "${PGID[$w]}") cpu_u0=$(group_cpu_ms "$UPSTREAM_PGID")
    result=$(run_wrk "${URL[$w]}" "$DURATION" "$LOGS/wrk-$w-$r.log")
    cpu_w1=$(group_cpu_ms "${PGID[$w]}") cpu_u1=$(group_cpu_ms "$UPSTREAM_PGID")
    sleep 0.5 # let requests in flight when wrk stopped reach the upstream
    after=$(upstream_counts)
    [[ -n $result ]] || { cat "$LOGS/wrk-$w-$r.log" >&2; die "wrk printed no result for $w"; }
    node -e '
      const [w, r, res, b, a, load, cw, cu] = process.argv.slice(1);
      const x = JSON.parse(res), before = JSON.parse(b), after = JSON.parse(a);
      x.worker = w; x.round = Number(r); x.loadavg_1m_before = Number(load);
      x.upstream = after.count - before.count;
      x.upstream_with_subject = after.with_subject - before.with_subject;
      x.cpu_ms_worker_group = Number(cw); x.cpu_ms_upstream = Number(cu);
      x.cpu_ms_per_request = Number((Number(cw) / x.requests).toFixed(3));
      x.upstream_cpu_ms_per_request = Number((Number(cu) / x.requests).toFixed(3));
      console.log(JSON.stringify(x));
    ' "$w" "$r" "$result" "$before" "$after" "$load" $((cpu_w1 - cpu_w0)) $((cpu_u1 - cpu_u0)) >>"$RUNS"
    tail -1 "$RUNS" | node -e '
      const x = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const e = x.socket_errors;
      console.log(`race:   ${x.rps.toFixed(0)} req/s, p50 ${x.p50_ms.toFixed(2)} ms, p99 ${x.p99_ms.toFixed(2)} ms, ` +
        `${x.requests} requests, ${x.non_200} not 200, socket errors ${e.connect + e.read + e.write + e.timeout}, ` +
        `upstream received ${x.upstream} (${x.upstream_with_subject} with X-Auth-Subject), load ${x.loadavg_1m_before}, ` +
        `CPU per request: ${x.cpu_ms_per_request} ms in wrangler dev + workerd, ${x.upstream_cpu_ms_per_request} ms upstream`);'
  done
done

stop_groups

# --- the report ----------------------------------------------------------------------------------------------
step "race: report"
MACHINE="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB"
node bench/report.mjs --runs "$RUNS" --json "$OUT/race.json" --md "$OUT/race.md" \
  --machine "$MACHINE" --load-generator "wrk $WRK_VERSION" --connections "$CONNECTIONS" --threads "$THREADS" \
  --duration "$DURATION" --warmup "$WARMUP" --rounds "$ROUNDS" --tokens "$TOKENS" --sample-allowed "$SAMPLE_ALLOWED" ${NO_TOKEN:+--no-token}
