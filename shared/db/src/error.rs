//! [`DbError`]: why the database could not be used. Every message says what to do.

use portcullis_core::config::ConfigError;
use portcullis_core::error::ApiError;

/// SQLSTATE `invalid_password`: PostgreSQL rejected the password.
pub const SQLSTATE_INVALID_PASSWORD: &str = "28P01";
/// SQLSTATE `invalid_authorization_specification`: RDS answers an expired or
/// malformed IAM token with it ("PAM authentication failed").
pub const SQLSTATE_INVALID_AUTHORIZATION: &str = "28000";

/// Why the database could not be used. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A variable is missing or malformed (start-up).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Secrets Manager refused or could not be reached.
    #[error("cannot read secret {arn}: {code}; {hint}")]
    SecretUnavailable {
        arn: String,
        code: String,
        hint: String,
        detail: String,
    },
    /// The secret exists but is not usable database credentials.
    #[error(
        "secret {arn} is not usable database credentials: {reason}; store RDS-format JSON \
         {{\"username\": ..., \"password\": ...}} with optional host, port, dbname, engine"
    )]
    SecretFormat { arn: String, reason: String },
    /// An RDS IAM auth token could not be made.
    #[error(
        "cannot create an RDS IAM auth token for user {user} at {host}:{port}: {reason}; \
         make sure AWS credentials and a region are available to the function"
    )]
    IamToken {
        user: String,
        host: String,
        port: u16,
        reason: String,
    },
    /// PostgreSQL rejected the credentials, also after they were refreshed.
    #[error("PostgreSQL rejected the credentials from {origin} (SQLSTATE {code}); {hint}")]
    AuthRejected {
        origin: String,
        code: String,
        hint: String,
        #[source]
        source: sqlx::Error,
    },
    /// No connection within the acquire timeout.
    #[error(
        "the database did not hand out a connection within DB_ACQUIRE_TIMEOUT_MS; it may be \
         unreachable (check DB_HOST, security groups, that the instance is up) or all \
         DB_MAX_CONNECTIONS connections are busy"
    )]
    Timeout,
    /// Any other database error (constraint violations included).
    #[error("database error: {0}")]
    Query(#[source] sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => DbError::Timeout,
            other => DbError::Query(other),
        }
    }
}

impl DbError {
    /// The underlying sqlx error, when there is one.
    pub fn as_sqlx(&self) -> Option<&sqlx::Error> {
        match self {
            DbError::Query(e) | DbError::AuthRejected { source: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The SQLSTATE of a database error.
    pub fn sqlstate(&self) -> Option<String> {
        self.as_sqlx()
            .and_then(|e| e.as_database_error())
            .and_then(|d| d.code().map(|c| c.into_owned()))
    }

    /// The constraint a database error names (unique, check, foreign key).
    pub fn constraint(&self) -> Option<&str> {
        self.as_sqlx()
            .and_then(|e| e.as_database_error())
            .and_then(|d| d.constraint())
    }

    /// True for a unique violation (SQLSTATE 23505).
    pub fn is_unique_violation(&self) -> bool {
        self.sqlstate().as_deref() == Some("23505")
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Query(sqlx::Error::PoolTimedOut) | DbError::Timeout => ApiError::Unavailable {
                detail: "the database is not answering; retry shortly".to_owned(),
            },
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// True when `e` says PostgreSQL rejected the password or token.
pub fn is_auth_failure(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == SQLSTATE_INVALID_PASSWORD || c == SQLSTATE_INVALID_AUTHORIZATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_timeout_becomes_an_unavailable_api_error() {
        let err = DbError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(err, DbError::Timeout));
        assert!(err.to_string().contains("DB_ACQUIRE_TIMEOUT_MS"));
        assert_eq!(
            ApiError::from(err).status(),
            ApiError::Unavailable {
                detail: String::new()
            }
            .status()
        );
    }
}
