//! Wasm benchmarks of the policy engine and token checks, under Node, with wasm-bindgen-test's built-in criterion.
//! The workloads live in `benches/workload/`, shared with the native benchmarks (`benches/engine.rs`), so the two
//! measure exactly the same thing; each benchmark is named `group/name` as natively. Signatures are checked with
//! WebCrypto (`crypto.subtle`, Node's OpenSSL here; the Worker's verifier), each check an awaited promise.
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

use std::future::Future;

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
        self.configure(budget);
        // The runner filters whole groups, so set up right away.
        let mut routine = setup();
        self.c
            .bench_function(&format!("{group}/{name}"), |b| b.iter(&mut routine));
    }

    /// Each iteration awaits one future (WebCrypto's promises, for signature checks): criterion's `iter_future`,
    /// so a sample is a loop of awaited calls and the per-iteration median comes out as for the synchronous ones.
    fn bench_async<S, R, F, O>(
        &mut self,
        group: &str,
        name: &str,
        budget: Budget,
        setup: S,
    ) -> impl Future<Output = ()>
    where
        S: FnOnce() -> R,
        R: FnMut() -> F + Clone + 'static,
        F: Future<Output = O>,
    {
        assert_eq!(
            group, self.group,
            "a workload benchmarks into its own group"
        );
        self.configure(budget);
        let routine = setup();
        let id = format!("{group}/{name}");
        async move {
            self.c
                .bench_async_function(&id, move |b| {
                    let mut routine = routine.clone();
                    Box::pin(async move { b.iter_future(&mut routine).await })
                })
                .await;
        }
    }

    fn note(&mut self, line: &str) {
        console_log!("{line}");
    }
}

impl Wasm<'_> {
    /// This criterion is configured by value, before each benchmark.
    fn configure(&mut self, budget: Budget) {
        let budget = budget.effective();
        *self.c = std::mem::take(self.c)
            .sample_size(budget.sample_size)
            .warm_up_time(budget.warm_up)
            .measurement_time(budget.measurement)
            .nresamples(RESAMPLES);
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

#[wasm_bindgen_bench]
async fn token(c: &mut Criterion) {
    workload::token(&mut Wasm { c, group: "token" }).await;
}

#[wasm_bindgen_bench]
async fn verify(c: &mut Criterion) {
    workload::verify(&mut Wasm { c, group: "verify" }).await;
}

#[wasm_bindgen_bench]
async fn decision(c: &mut Criterion) {
    workload::decision(&mut Wasm {
        c,
        group: "decision",
    })
    .await;
}
