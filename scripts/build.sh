#!/usr/bin/env bash
# Builds the Worker into build/ (worker-build --release). EDGE_ACCESS_POLICY=path picks another policy file;
# an invalid policy fails here, with every error named by file, rule id and field.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
step "build: worker-build --release (policy: ${EDGE_ACCESS_POLICY:-policy.json})"
worker-build --release
