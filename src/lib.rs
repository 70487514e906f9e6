//! edge-access: a Cloudflare Worker that checks every request's client IP, Origin and token claims against
//! rules bundled into the module, and turns away what the rules forbid before the request reaches the origin.
//!
//! Three layers, data flowing one way:
//! - [`policy`]: the rules file, parsed, validated and compiled once into an immutable [`policy::Policy`];
//! - [`engine`]: pure and synchronous, `(Policy, RequestFacts, now) -> Decision`;
//! - `edge` (wasm32 only): turns a `worker::Request` into facts, asks the engine, denies or forwards.
//!
//! The native CLI (`edge-access`) runs the same engine.

pub mod bundled;
pub mod engine;
pub mod policy;
pub mod token;
pub mod verify;

#[cfg(target_arch = "wasm32")]
mod edge;

// Startup measurement only (`scripts/startup.sh`); off by default, never in the shipped Worker.
#[cfg(all(target_arch = "wasm32", feature = "bench-startup"))]
mod bench_startup;
