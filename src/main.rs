//! `edge-access`: the operator CLI. It runs the very same policy compiler, engine and token checks as the
//! Worker, natively: `check`, `explain`, `test`, `schema` and `token` (see `src/cli`).

#[cfg(not(target_arch = "wasm32"))]
mod cli;

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    cli::main()
}
