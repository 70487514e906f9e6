# edge-access: `make dev` runs the filter locally with the bundled demo policy; `make test` runs every tier.
# Both install what is missing first (see `make setup`), so a fresh clone needs nothing else.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

.PHONY: help setup build dev test stress bench bundle deploy clean

help:
	@echo "make dev     run the filter under wrangler dev on 127.0.0.1:8787 with the demo policy"
	@echo "make test    fmt, clippy (native + wasm32), native tests, wasm tests, end-to-end tests"
	@echo "make stress  load (200,000 requests at concurrency 64) and faults against wrangler dev; broken policies"
	@echo "make bench   every benchmark into target/bench/*.json and BENCHMARKS.md (~25 min; BENCH_QUICK=1 for a smoke run)"
	@echo "make setup   install the toolchain pieces that are missing (idempotent)"
	@echo "make build   build the Worker (build/) with the bundled policy (EDGE_ACCESS_POLICY=path to change it)"
	@echo "make bundle  wrangler deploy --dry-run into dist/ and print the Wasm size"
	@echo "make deploy  wrangler deploy (needs Cloudflare credentials)"

setup:
	@scripts/setup.sh

build: setup
	@scripts/build.sh

dev: setup
	@scripts/dev.sh

test: setup
	@scripts/test.sh

stress: setup
	@scripts/stress.sh

bench: setup
	@scripts/bench-all.sh

bundle: setup
	@scripts/bundle.sh

deploy: setup build
	npx wrangler deploy

clean:
	rm -rf build dist target .wrangler
