//! `shared`: the common crate of every Portcullis function.
//!
//! - [`config`]: typed configuration from environment variables.
//! - [`error`]: the HTTP-facing error, rendered as RFC 9457 problem+json.
//! - [`telemetry`]: tracing set-up for Lambda and local runs.
//! - [`aws`]: SDK configuration that honours endpoint overrides.
//! - [`http`]: helpers for API Gateway proxy handlers.
//! - [`db`]: PostgreSQL pool for Lambda (URL, Secrets Manager, RDS IAM).
//! - [`auth`]: API keys and scopes.
//! - [`identity`]: signed identity headers for private services.
//! - [`platform`]: the `platform.yaml` registry.
//! - [`ecs`]: ECS helpers for the job functions.

pub mod auth;
pub mod aws;
pub mod config;
pub mod db;
pub mod ecs;
pub mod error;
pub mod http;
pub mod identity;
pub mod platform;
pub mod telemetry;

pub use config::{ConfigError, Env};
pub use error::{ApiError, Problem};
