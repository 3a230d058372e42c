//! Cold-start benchmark harness: spawn each Lambda
//! binary against a mock Lambda Runtime API and measure what a cold start
//! costs. See `docs/benchmarks.md` (Cold start) and `make bench-coldstart`.
//!
//! - [`runtime_api`]: the mock Runtime API on 127.0.0.1.
//! - [`measure`]: one spawn: time to the first `/next`, first invocation, peak RSS.
//! - [`profile`]: each function's start-up environment and first event.
//! - [`setup`]: the scratch database, the emulator secret, the signed token.
//! - [`report`]: the Markdown table.
//! - [`delay`]: injected latency in front of the AWS emulator.

pub mod delay;
pub mod measure;
pub mod profile;
pub mod report;
pub mod runtime_api;
pub mod setup;
