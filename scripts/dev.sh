#!/usr/bin/env bash
# make dev: the filter under wrangler dev on 127.0.0.1:8787 with the bundled policy, in front of a demo upstream
# on 127.0.0.1:8788 that answers with what reached it. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PORT="${PORT:-8787}"
UPSTREAM_PORT="${UPSTREAM_PORT:-8788}"

# The demo policy's `demo` issuer takes HS256 tokens signed with this secret. Local development only: on
# Cloudflare, set a real one with `wrangler secret put DEMO_JWT_SECRET` (or remove the issuer).
DEMO_JWT_SECRET="demo-secret-for-local-development-only-0123456789"
step "dev: building the edge-access CLI to mint demo tokens"
cargo build -q --bin edge-access
cli="$ROOT/target/debug/edge-access"
mint() { "$cli" token --secret "$DEMO_JWT_SECRET" --iss https://demo.edge-access.local --aud demo-api \
  --sub demo-user --ttl 86400 --claim "roles=$1"; }
reader_token=$(mint '["reader"]')
admin_token=$(mint '["reader","admin"]')

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

  # /api/private needs a demo token: without one -> 401 with WWW-Authenticate; with one the upstream sees
  # X-Auth-Subject: demo-user (a client's own X-Auth-Subject is always removed)
  curl -i $base/api/private/profile -H 'CF-Connecting-IP: 198.51.100.7'
  curl -i $base/api/private/profile -H 'CF-Connecting-IP: 198.51.100.7' -H 'X-Auth-Subject: admin' \
    -H 'Authorization: Bearer $reader_token'

  # /api/admin needs the admin role: the reader token -> 403 {"code":"claim_mismatch"}, the admin token -> 200
  curl -i $base/api/admin/users -H 'CF-Connecting-IP: 198.51.100.7' -H 'Authorization: Bearer $reader_token'
  curl -i $base/api/admin/users -H 'CF-Connecting-IP: 198.51.100.7' -H 'Authorization: Bearer $admin_token'

  # why a request is decided as it is (the same engine, natively):
  cargo run -q -- explain --url http://127.0.0.1:$PORT/admin/users --ip 198.51.100.7

Each decision is logged below as one JSON line.

TXT
CI=true npx wrangler dev --ip 127.0.0.1 --port "$PORT" --var "ORIGIN_URL:http://127.0.0.1:$UPSTREAM_PORT" \
  --var "DEMO_JWT_SECRET:$DEMO_JWT_SECRET"
