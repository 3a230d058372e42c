//! Failures of start-up and of work done outside a request (bootstrap).
//! Request failures are `shared::ApiError`.

/// A `keys` start-up or bootstrap failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] shared::ConfigError),
    #[error(transparent)]
    Platform(#[from] shared::platform::PlatformError),
    #[error(transparent)]
    Db(#[from] shared::db::DbError),
    #[error(
        "database error: {0}; check that the database is reachable and migrated (make migrate)"
    )]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Invalid(String),
}
