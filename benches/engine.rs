//! Native benchmarks of the policy engine and token checks (criterion). The workloads live in `benches/workload/`,
//! shared with the Wasm benchmarks (`benches/engine_wasm.rs`), so the two measure exactly the same thing.
//! Signatures are checked with RustCrypto here (the CLI's verifier), with WebCrypto in Wasm (the Worker's).
//!
//!     cargo bench --bench engine                 # everything
//!     cargo bench --bench engine -- ip/v4_1m     # a filter, as criterion reads it
//!
//! `scripts/bench.sh` runs both targets and writes `target/bench/engine.json` with the medians side by side.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(not(target_arch = "wasm32"))]
mod workload;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::future::Future;

    use criterion::measurement::WallTime;
    use criterion::{BenchmarkGroup, Criterion};

    use edge_access::verify::now_or_never;

    use crate::workload::{self, Budget, Harness, RESAMPLES};

    /// Runs a workload group as one criterion group (`target/criterion/<group>/<name>/`).
    struct Native<'a> {
        group: BenchmarkGroup<'a, WallTime>,
        name: &'static str,
    }

    impl Harness for Native<'_> {
        fn bench<S, R, O>(&mut self, group: &str, name: &str, budget: Budget, setup: S)
        where
            S: FnOnce() -> R,
            R: FnMut() -> O,
        {
            assert_eq!(group, self.name, "a workload benchmarks into its own group");
            let budget = budget.effective();
            let mut setup = Some(setup);
            let mut routine: Option<R> = None;
            self.group
                .sample_size(budget.sample_size)
                .warm_up_time(budget.warm_up)
                .measurement_time(budget.measurement)
                .nresamples(RESAMPLES)
                .bench_function(name, |b| {
                    // Criterion calls this closure for warm-up and measurement alike, and not at all when the
                    // filter skips the benchmark: set up on first use only.
                    let routine =
                        routine.get_or_insert_with(|| (setup.take().expect("setup runs once"))());
                    b.iter(routine);
                });
        }

        /// RustCrypto's futures are ready at once: each iteration polls one to completion.
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
            self.bench(group, name, budget, || {
                let mut routine = setup();
                move || now_or_never(routine()).expect("native verification never waits")
            });
            std::future::ready(())
        }

        fn note(&mut self, line: &str) {
            eprintln!("{line}");
        }
    }

    /// Runs an async workload group: natively it never waits, so it is polled once to completion.
    macro_rules! run_async {
        ($c:expr, $name:literal, $body:path) => {{
            let mut h = Native {
                group: $c.benchmark_group($name),
                name: $name,
            };
            now_or_never($body(&mut h)).expect("native workloads never wait");
            h.group.finish();
        }};
    }

    fn run(c: &mut Criterion, name: &'static str, body: fn(&mut Native<'_>)) {
        let mut h = Native {
            group: c.benchmark_group(name),
            name,
        };
        body(&mut h);
        h.group.finish();
    }

    pub fn parse(c: &mut Criterion) {
        run(c, "parse", |h| workload::parse(h));
    }

    pub fn compile(c: &mut Criterion) {
        run(c, "compile", |h| workload::compile(h));
    }

    pub fn execute(c: &mut Criterion) {
        run(c, "execute", |h| workload::execute(h));
    }

    pub fn ip(c: &mut Criterion) {
        run(c, "ip", |h| workload::ip(h));
    }

    pub fn origin(c: &mut Criterion) {
        run(c, "origin", |h| workload::origin(h));
    }

    pub fn startup(c: &mut Criterion) {
        run(c, "startup", |h| workload::startup(h));
    }

    pub fn token(c: &mut Criterion) {
        run_async!(c, "token", workload::token);
    }

    pub fn verify(c: &mut Criterion) {
        run_async!(c, "verify", workload::verify);
    }

    pub fn decision(c: &mut Criterion) {
        run_async!(c, "decision", workload::decision);
    }
}

#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_group!(
    benches,
    native::parse,
    native::compile,
    native::execute,
    native::ip,
    native::origin,
    native::startup,
    native::token,
    native::verify,
    native::decision
);
/// `criterion_main!`, unless `EDGE_ACCESS_BENCH_POLICIES=dir` asks for the startup benchmark's policy files
/// instead (`scripts/startup.sh`): they come from the same generators as the workloads.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    if let Some(dir) = std::env::var_os("EDGE_ACCESS_BENCH_POLICIES") {
        workload::write_startup_policies(std::path::Path::new(&dir));
        return;
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}

/// On wasm32 this target is empty: the Wasm benchmarks are `benches/engine_wasm.rs`.
#[cfg(target_arch = "wasm32")]
fn main() {}
