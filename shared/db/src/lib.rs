//! Database access: a PostgreSQL pool sized for Lambda.
//!
//! [`Database`] wraps an sqlx pool built from one of three sources, chosen by
//! configuration ([`DbConfig::from_env`]):
//!
//! - `DATABASE_URL` (local development and tests);
//! - `DB_SECRET_ARN` (feature `secrets-manager`, on by default): a Secrets
//!   Manager secret in the RDS JSON format, read at start and re-read once
//!   when PostgreSQL rejects the password (SQLSTATE 28P01, e.g. after a
//!   rotation);
//! - `DB_IAM_AUTH=true`: RDS IAM auth tokens (15-minute lifetime), signed
//!   locally by `portcullis-aws` (SigV4, no SDK client), renewed well before they expire and whenever
//!   PostgreSQL rejects one.
//!
//! Modules: [`config`] (the variables), [`credentials`] (secret and IAM
//! credentials), [`pool`] (the pool,
//! the retry, [`LazyDatabase`]), [`error`].
//!
//! The pool connects lazily, keeps at most `DB_MAX_CONNECTIONS` (default 2)
//! connections and none when idle, and gives up on an acquire after
//! `DB_ACQUIRE_TIMEOUT_MS`. [`Database`] is the only way to a connection:
//! [`Database::with_retry`], [`Database::acquire`], [`Database::begin`] and
//! [`Database::ping`] refresh the credentials and retry once on an
//! authentication failure; see `docs/database.md`.
//!
//! Passwords and tokens are held in `SecretString` and never logged.

pub mod config;
pub mod credentials;
pub mod error;
pub mod pool;

pub use config::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MIN_REFRESH_INTERVAL, DEFAULT_SECRET_RECHECK, DEFAULT_STATEMENT_TIMEOUT, DatabaseUrl,
    DbConfig, DbSource, IAM_TOKEN_RENEW_AFTER, MAX_CONNECTIONS_LIMIT, MAX_LIFETIME, SslMode,
};
pub use credentials::{AwsAccess, iam_credentials};
pub use error::{
    DbError, SQLSTATE_INVALID_AUTHORIZATION, SQLSTATE_INVALID_PASSWORD, is_auth_failure,
};
pub use pool::{Database, LazyDatabase};
/// The AWS credentials RDS IAM tokens are signed with (`portcullis-aws`).
pub use portcullis_aws::IamCredentials;

/// Run `statement` (one database operation: a query, a transaction) as an
/// X-Ray subsegment `PostgreSQL` named `operation` of a traced invocation
/// (`portcullis_core::trace`): the database calls of a request appear next
/// to its AWS calls. Untraced invocations pay one task-local read.
pub async fn traced<T, E, F>(operation: &str, statement: F) -> Result<T, E>
where
    F: std::future::Future<Output = Result<T, E>>,
{
    portcullis_core::trace::subsegment(
        "PostgreSQL",
        portcullis_core::trace::Namespace::Remote,
        operation,
        statement,
    )
    .await
}

/// Whether this build reads `DB_SECRET_ARN` (the `secrets-manager` feature).
pub fn secrets_manager() -> bool {
    cfg!(feature = "secrets-manager")
}
