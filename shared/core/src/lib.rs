//! `portcullis-core`: what every Portcullis crate needs.
//!
//! - [`config`]: typed configuration from environment variables.
//! - [`path`]: the one path rule of private services (what may follow
//!   `/v1/services/<name>/`), shared by the proxy, the authorizer and the
//!   identity service kit.
//! - [`cookies`]: which `Set-Cookie` headers of a private service may reach
//!   the browser (its own public path only).
//! - [`cors`]: the CORS policy every HTTP function applies (origin allowlist,
//!   preflights); its Lambda glue needs feature `http`.
//! - [`error`]: the HTTP-facing error, rendered as RFC 9457 problem+json.
//! - [`telemetry`]: tracing set-up for Lambda and local runs.
//! - [`metrics`]: the metric catalogue and its CloudWatch Embedded Metric
//!   Format emitter (one JSON line on stdout per record).
//! - [`runtime`]: how every binary starts and stops (the start-up error,
//!   `run_event` / `run_http` / `run_with_cli` with features `lambda` /
//!   `http`, the shutdown signal with feature `runtime`).
//! - [`http`] (feature `http`): helpers for API Gateway proxy handlers.
//!
//! What faces AWS (region, endpoints, credentials, SigV4, SDK configuration,
//! Secrets Manager) is `portcullis-aws` (`shared/aws`).

pub mod config;
pub mod cookies;
pub mod cors;
pub mod error;
#[cfg(feature = "http")]
pub mod http;
pub mod metrics;
pub mod path;
pub mod runtime;
pub mod telemetry;
#[cfg(feature = "runtime")]
pub mod trace;

pub use config::{ConfigError, Env};
pub use cors::CorsPolicy;
pub use error::{ApiError, Problem};
