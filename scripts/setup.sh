#!/usr/bin/env bash
# Installs what is missing, and says so; each step skips itself when already done.
# First run on a fresh machine: ~15 minutes (two `cargo install`s). Later runs: a second or two.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "setup: rust target wasm32-unknown-unknown: present"
else
  step "setup: rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(worker-build --version 2>/dev/null || true)" == *"$WORKER_BUILD_VERSION"* ]]; then
  echo "setup: worker-build $WORKER_BUILD_VERSION: present"
else
  step "setup: cargo install worker-build $WORKER_BUILD_VERSION (about 7 minutes the first time)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi

if [[ "$(wasm-bindgen --version 2>/dev/null || true)" == *"$WASM_BINDGEN_VERSION"* ]]; then
  echo "setup: wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  # `--locked` fails for this version (a webpki-roots lock conflict), so it is left off.
  step "setup: cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 6 minutes the first time)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# node_modules/.edge-access-lock is a copy of the lock file it was installed from.
if [[ -x node_modules/.bin/wrangler && -x node_modules/.bin/wasm-opt ]] \
  && cmp -s package-lock.json node_modules/.edge-access-lock; then
  echo "setup: npm packages (wrangler, binaryen, jose, playwright-core, express): present"
else
  step "setup: npm ci (wrangler 4.86.0, binaryen 132.0.0; jose, playwright-core, express, method-override and cookie-parser for the tests)"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.edge-access-lock
fi

as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() { # package...
  if [[ $apt_updated -eq 0 ]]; then
    as_root apt-get update
    apt_updated=1
  fi
  as_root apt-get install -y --no-install-recommends "$@"
}

# The browser end-to-end test (tests/e2e/browser.rs) drives Debian's Chromium through playwright-core, which
# downloads no browser of its own.
if [[ -x /usr/bin/chromium ]]; then
  echo "setup: chromium (Debian package, for the browser e2e test): present"
else
  step "setup: apt-get install chromium (Debian's package, for the browser e2e test; about a minute)"
  apt_install chromium
fi

# The differential oracle (tests/e2e/oracle/) puts the filter in front of real origins: Debian's nginx and PHP's
# built-in server (the Express app comes with the npm packages above). Only the binaries are used; the test runs
# them as its own foreground processes with generated configs, so the packages' services are not needed.
if [[ -x /usr/sbin/nginx && -x /usr/bin/php ]]; then
  echo "setup: nginx and php-cli (Debian packages, for the oracle e2e test): present"
else
  step "setup: apt-get install nginx php-cli (Debian's packages, for the oracle e2e test)"
  apt_install nginx php-cli
fi
