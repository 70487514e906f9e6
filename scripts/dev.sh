#!/usr/bin/env bash
# make dev: the filter under wrangler dev on 127.0.0.1:8787 with the bundled policy, in front of a demo upstream
# on 127.0.0.1:8788 that answers with what reached it. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PORT="${PORT:-8787}"
UPSTREAM_PORT="${UPSTREAM_PORT:-8788}"

PORT="$UPSTREAM_PORT" node dev/upstream.mjs &
upstream=$!
trap 'kill "$upstream" 2>/dev/null || true' EXIT INT TERM

base="http://127.0.0.1:$PORT"
cat <<TXT

edge-access is starting on $base with ${EDGE_ACCESS_POLICY:-policy.json}, in front of the demo upstream on
http://127.0.0.1:$UPSTREAM_PORT. Once wrangler says "Ready", try these in another terminal:

  # allowed: forwarded, the upstream answers with what reached it
  curl -i $base/hello -H 'CF-Connecting-IP: 198.51.100.7'

  # denied: 192.0.2.1 is on the "blocked" list -> 403 {"code":"ip_denied"}
  curl -i $base/hello -H 'CF-Connecting-IP: 192.0.2.1'

  # the admin area exists only for the office (203.0.113.0/24); everyone else gets a plain 404
  curl -i $base/admin/users -H 'CF-Connecting-IP: 198.51.100.7'
  curl -i $base/admin/users -H 'CF-Connecting-IP: 203.0.113.9'

  # browsers may call only from our own apps -> 403 {"code":"origin_denied"}
  curl -i $base/api -H 'CF-Connecting-IP: 198.51.100.7' -H 'Origin: https://app.example.com.evil.net'

Each decision is logged below as one JSON line.

TXT
CI=true npx wrangler dev --ip 127.0.0.1 --port "$PORT" --var "ORIGIN_URL:http://127.0.0.1:$UPSTREAM_PORT"
