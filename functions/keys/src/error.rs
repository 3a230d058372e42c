//! Failures of start-up and of work done outside a request (bootstrap).
//! Request failures are `portcullis_core::ApiError`.

/// A `keys` start-up or bootstrap failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] portcullis_core::ConfigError),
    #[error(transparent)]
    Platform(#[from] portcullis_platform::PlatformError),
    #[error(transparent)]
    Db(#[from] portcullis_db::DbError),
    #[error("{0}")]
    Invalid(String),
}
