//! Wasm benchmarks of the policy engine, under Node, with wasm-bindgen-test's built-in criterion. The workloads live
//! in `benches/workload/`, shared with the native benchmarks (`benches/engine.rs`), so the two measure exactly the
//! same thing; each benchmark is named `group/name` as natively.
//!
//!     cargo bench --target wasm32-unknown-unknown --bench engine_wasm           # everything
//!     cargo bench --target wasm32-unknown-unknown --bench engine_wasm -- ip     # the `ip` group only
//!
//! (`.cargo/config.toml` makes `wasm-bindgen-test-runner` the runner.) The runner prints criterion's typical time
//! (slope or mean) per benchmark and writes every estimate, median included, to `$WASM_BINDGEN_BENCH_RESULT`
//! (default `target/wbg_benchmark.json`); `scripts/bench.sh` reads the medians from there.
//!
//! Empty on other targets: the native benchmarks are `benches/engine.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(target_arch = "wasm32")]

mod workload;

use wasm_bindgen_test::{console_log, wasm_bindgen_bench, Criterion};

use workload::{Budget, Harness, RESAMPLES};

/// Runs a workload group on wasm-bindgen-test's criterion, one `group/name` benchmark at a time.
struct Wasm<'c> {
    c: &'c mut Criterion,
    group: &'static str,
}

impl Harness for Wasm<'_> {
    fn bench<S, R, O>(&mut self, group: &str, name: &str, budget: Budget, setup: S)
    where
        S: FnOnce() -> R,
        R: FnMut() -> O,
    {
        assert_eq!(
            group, self.group,
            "a workload benchmarks into its own group"
        );
        // This criterion is configured by value; the runner filters whole groups, so set up right away.
        *self.c = std::mem::take(self.c)
            .sample_size(budget.sample_size)
            .warm_up_time(budget.warm_up)
            .measurement_time(budget.measurement)
            .nresamples(RESAMPLES);
        let mut routine = setup();
        self.c
            .bench_function(&format!("{group}/{name}"), |b| b.iter(&mut routine));
    }

    fn note(&mut self, line: &str) {
        console_log!("{line}");
    }
}

fn run(c: &mut Criterion, group: &'static str, body: fn(&mut Wasm<'_>)) {
    body(&mut Wasm { c, group });
}

#[wasm_bindgen_bench]
fn parse(c: &mut Criterion) {
    run(c, "parse", |h| workload::parse(h));
}

#[wasm_bindgen_bench]
fn compile(c: &mut Criterion) {
    run(c, "compile", |h| workload::compile(h));
}

#[wasm_bindgen_bench]
fn execute(c: &mut Criterion) {
    run(c, "execute", |h| workload::execute(h));
}

#[wasm_bindgen_bench]
fn ip(c: &mut Criterion) {
    run(c, "ip", |h| workload::ip(h));
}

#[wasm_bindgen_bench]
fn origin(c: &mut Criterion) {
    run(c, "origin", |h| workload::origin(h));
}

#[wasm_bindgen_bench]
fn startup(c: &mut Criterion) {
    run(c, "startup", |h| workload::startup(h));
}
