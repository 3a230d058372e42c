//! Database access: a PostgreSQL pool sized for Lambda.
//!
//! [`Database`] wraps an sqlx [`PgPool`] built from one of three sources,
//! chosen by configuration ([`DbConfig::from_env`]):
//!
//! - `DATABASE_URL` (local development and tests);
//! - `DB_SECRET_ARN`: a Secrets Manager secret in the RDS JSON format, read at
//!   start and re-read once when PostgreSQL rejects the password (SQLSTATE
//!   28P01, e.g. after a rotation);
//! - `DB_IAM_AUTH=true`: RDS IAM auth tokens (15-minute lifetime) renewed
//!   well before they expire and whenever PostgreSQL rejects one.
//!
//! The pool connects lazily, keeps at most `DB_MAX_CONNECTIONS` (default 2)
//! connections and none when idle, and gives up on an acquire after
//! `DB_ACQUIRE_TIMEOUT_MS`. Functions run their work through
//! [`Database::with_retry`] (or [`Database::acquire`] / [`Database::begin`]),
//! which refresh the credentials and retry once on an authentication failure;
//! see `docs/database.md`.
//!
//! Passwords and tokens are held in [`SecretString`] and never logged.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::Mutex;
use tokio::time::Instant;

use portcullis_core::config::{ConfigError, Env};
use portcullis_core::error::ApiError;

/// Default and bounds of `DB_MAX_CONNECTIONS`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 2;
pub const MAX_CONNECTIONS_LIMIT: u32 = 4;
/// Default of `DB_ACQUIRE_TIMEOUT_MS`.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(5000);
/// Default of `DB_IDLE_TIMEOUT_MS`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of `DB_STATEMENT_TIMEOUT_MS` (under API Gateway's 29 s).
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(15);
/// A connection is replaced after this long, whatever its use.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Credentials are re-read at most once per this interval.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);
/// Default of `DB_SECRET_RECHECK_SECS`.
pub const DEFAULT_SECRET_RECHECK: Duration = Duration::from_secs(300);
/// RDS IAM tokens live 15 minutes; a new one is made after this long.
pub const IAM_TOKEN_RENEW_AFTER: Duration = Duration::from_secs(10 * 60);

/// SQLSTATE `invalid_password`: PostgreSQL rejected the password.
pub const SQLSTATE_INVALID_PASSWORD: &str = "28P01";
/// SQLSTATE `invalid_authorization_specification`: RDS answers an expired or
/// malformed IAM token with it ("PAM authentication failed").
pub const SQLSTATE_INVALID_AUTHORIZATION: &str = "28000";

// ---------------------------------------------------------------- errors

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
        hint: &'static str,
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

// ---------------------------------------------------------------- config

/// TLS towards PostgreSQL (`DB_SSL_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(format!("{other:?} is not a TLS mode")),
        }
    }
}

impl SslMode {
    fn to_pg(self) -> PgSslMode {
        match self {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        }
    }

    fn encrypts_always(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// Where the credentials come from.
#[derive(Clone)]
pub enum DbSource {
    /// `DATABASE_URL`, parsed.
    Url(Box<PgConnectOptions>),
    /// `DB_SECRET_ARN` with optional `DB_HOST`/`DB_PORT`/`DB_NAME` overrides.
    Secret {
        arn: String,
        host: Option<String>,
        port: Option<u16>,
        database: Option<String>,
    },
    /// `DB_IAM_AUTH=true`.
    Iam {
        host: String,
        port: u16,
        user: String,
        database: String,
    },
}

impl DbSource {
    /// `url`, `secret` or `iam`.
    pub fn kind(&self) -> &'static str {
        match self {
            DbSource::Url(_) => "url",
            DbSource::Secret { .. } => "secret",
            DbSource::Iam { .. } => "iam",
        }
    }
}

impl fmt::Debug for DbSource {
    // PgConnectOptions' own Debug prints the password: never use it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbSource::Url(o) => f
                .debug_struct("Url")
                .field("host", &o.get_host())
                .field("port", &o.get_port())
                .field("user", &o.get_username())
                .field("database", &o.get_database())
                .finish_non_exhaustive(),
            DbSource::Secret {
                arn,
                host,
                port,
                database,
            } => f
                .debug_struct("Secret")
                .field("arn", arn)
                .field("host", host)
                .field("port", port)
                .field("database", database)
                .finish(),
            DbSource::Iam {
                host,
                port,
                user,
                database,
            } => f
                .debug_struct("Iam")
                .field("host", host)
                .field("port", port)
                .field("user", user)
                .field("database", database)
                .finish(),
        }
    }
}

/// Everything needed to build a [`Database`]. Fields are public so a function
/// can adjust a default (e.g. `migrate` allows longer statements).
#[derive(Debug, Clone)]
pub struct DbConfig {
    pub source: DbSource,
    /// `None` keeps the URL's own `sslmode` (URL source only).
    pub ssl_mode: Option<SslMode>,
    pub ssl_root_cert: Option<PathBuf>,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    /// Zero turns the statement timeout off.
    pub statement_timeout: Duration,
    pub application_name: String,
    pub min_refresh_interval: Duration,
    pub iam_renew_after: Duration,
    /// Secret source: re-read the secret this often in the background
    /// (zero: never; rejections still trigger a re-read).
    pub secret_recheck: Duration,
}

const URL_EXPECTED: &str = "a postgres:// URL (or, instead, DB_SECRET_ARN, or DB_IAM_AUTH=true with \
                            DB_HOST, DB_USER and DB_NAME)";
const PORT_EXPECTED: &str = "a TCP port between 1 and 65535";
const SSL_EXPECTED: &str = "one of disable, prefer, require, verify-ca, verify-full";

impl DbConfig {
    /// Read the database configuration; a missing or malformed variable is
    /// an error naming it.
    pub fn from_env(env: &Env) -> Result<DbConfig, ConfigError> {
        let url = env.get("DATABASE_URL");
        let secret = env.get("DB_SECRET_ARN");
        let iam = env.flag("DB_IAM_AUTH", false)?;

        let chosen: Vec<&str> = [
            url.as_ref().map(|_| "DATABASE_URL"),
            secret.as_ref().map(|_| "DB_SECRET_ARN"),
            iam.then_some("DB_IAM_AUTH"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if chosen.len() > 1 {
            return Err(ConfigError::invalid(
                chosen[1],
                "exactly one database source: DATABASE_URL, DB_SECRET_ARN or DB_IAM_AUTH=true",
                format!("{} is set as well", chosen.join(" and ")),
            ));
        }

        let ssl_mode: Option<SslMode> = env.parse_opt("DB_SSL_MODE", SSL_EXPECTED)?;
        let port: Option<u16> = env.parse_opt("DB_PORT", PORT_EXPECTED)?;
        if port == Some(0) {
            return Err(ConfigError::invalid(
                "DB_PORT",
                PORT_EXPECTED,
                "0 is not a usable port",
            ));
        }

        let source = if let Some(raw) = url {
            let opts = PgConnectOptions::from_str(raw.trim()).map_err(|e| {
                // Never echo the URL: it may hold a password.
                let reason = match e {
                    sqlx::Error::Configuration(c) => c.to_string(),
                    _ => "not a valid URL".to_owned(),
                };
                ConfigError::invalid("DATABASE_URL", URL_EXPECTED, reason)
            })?;
            if !(raw.trim().starts_with("postgres://") || raw.trim().starts_with("postgresql://")) {
                return Err(ConfigError::invalid(
                    "DATABASE_URL",
                    URL_EXPECTED,
                    "the scheme must be postgres:// or postgresql://",
                ));
            }
            DbSource::Url(Box::new(opts))
        } else if let Some(arn) = secret {
            let arn = arn.trim().to_owned();
            if !arn.starts_with("arn:") || !arn.contains(":secretsmanager:") {
                return Err(ConfigError::invalid(
                    "DB_SECRET_ARN",
                    "the ARN of a Secrets Manager secret (arn:aws:secretsmanager:...)",
                    "not a Secrets Manager ARN",
                ));
            }
            DbSource::Secret {
                arn,
                host: env.get("DB_HOST").map(|h| h.trim().to_owned()),
                port,
                database: env.get("DB_NAME").map(|d| d.trim().to_owned()),
            }
        } else if iam {
            let host = env.required(
                "DB_HOST",
                "the RDS endpoint host name (needed by DB_IAM_AUTH)",
            )?;
            let port = port.ok_or_else(|| ConfigError::Missing {
                var: "DB_PORT".to_owned(),
                expected: format!("{PORT_EXPECTED} (needed by DB_IAM_AUTH)"),
            })?;
            let user = env.required(
                "DB_USER",
                "the database role granted rds_iam (needed by DB_IAM_AUTH)",
            )?;
            let database = env.required("DB_NAME", "the database name (needed by DB_IAM_AUTH)")?;
            if ssl_mode.is_some_and(|m| !m.encrypts_always()) {
                return Err(ConfigError::invalid(
                    "DB_SSL_MODE",
                    "require, verify-ca or verify-full (RDS IAM authentication needs TLS)",
                    "a mode that allows plain text",
                ));
            }
            DbSource::Iam {
                host: host.trim().to_owned(),
                port,
                user: user.trim().to_owned(),
                database: database.trim().to_owned(),
            }
        } else {
            return Err(ConfigError::Missing {
                var: "DATABASE_URL".to_owned(),
                expected: URL_EXPECTED.to_owned(),
            });
        };

        let ssl_mode = match (&source, ssl_mode) {
            (_, Some(m)) => Some(m),
            (DbSource::Url(_), None) => None,
            (_, None) => Some(SslMode::Require),
        };
        let ssl_root_cert = env.get("DB_SSL_ROOT_CERT").map(|p| PathBuf::from(p.trim()));
        if ssl_root_cert.as_ref().is_some_and(|path| !path.is_file()) {
            return Err(ConfigError::invalid(
                "DB_SSL_ROOT_CERT",
                "the path of a PEM CA bundle (e.g. the RDS global-bundle.pem)",
                "no such file",
            ));
        }
        if matches!(ssl_mode, Some(SslMode::VerifyCa | SslMode::VerifyFull))
            && ssl_root_cert.is_none()
        {
            return Err(ConfigError::Missing {
                var: "DB_SSL_ROOT_CERT".to_owned(),
                expected:
                    "the path of the RDS CA bundle (needed by DB_SSL_MODE=verify-full/verify-ca)"
                        .to_owned(),
            });
        }

        let max_connections: u32 = env.parse_or(
            "DB_MAX_CONNECTIONS",
            "a whole number between 1 and 4",
            DEFAULT_MAX_CONNECTIONS,
        )?;
        if !(1..=MAX_CONNECTIONS_LIMIT).contains(&max_connections) {
            return Err(ConfigError::invalid(
                "DB_MAX_CONNECTIONS",
                "a whole number between 1 and 4",
                format!("{max_connections} is out of range"),
            ));
        }
        let acquire_timeout = env.millis_or(
            "DB_ACQUIRE_TIMEOUT_MS",
            DEFAULT_ACQUIRE_TIMEOUT,
            Duration::from_millis(100),
            Duration::from_secs(60),
        )?;
        let idle_timeout = env.millis_or(
            "DB_IDLE_TIMEOUT_MS",
            DEFAULT_IDLE_TIMEOUT,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?;
        let statement_timeout = env.millis_or(
            "DB_STATEMENT_TIMEOUT_MS",
            DEFAULT_STATEMENT_TIMEOUT,
            Duration::ZERO,
            Duration::from_secs(900),
        )?;
        let secret_recheck = env.secs_or(
            "DB_SECRET_RECHECK_SECS",
            DEFAULT_SECRET_RECHECK,
            Duration::ZERO,
            Duration::from_secs(86_400),
        )?;
        let application_name = env
            .get("AWS_LAMBDA_FUNCTION_NAME")
            .map(|n| format!("portcullis-{}", n.trim()))
            .unwrap_or_else(|| "portcullis".to_owned());

        Ok(DbConfig {
            source,
            ssl_mode,
            ssl_root_cert,
            max_connections,
            acquire_timeout,
            idle_timeout,
            statement_timeout,
            application_name,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            iam_renew_after: IAM_TOKEN_RENEW_AFTER,
            secret_recheck,
        })
    }

    /// Apply TLS, statement timeout and application name to connect options.
    fn finish(&self, mut opts: PgConnectOptions) -> PgConnectOptions {
        if let Some(mode) = self.ssl_mode {
            opts = opts.ssl_mode(mode.to_pg());
        }
        if let Some(path) = &self.ssl_root_cert {
            opts = opts.ssl_root_cert(path);
        }
        if !self.statement_timeout.is_zero() {
            opts = opts.options([(
                "statement_timeout",
                format!("{}ms", self.statement_timeout.as_millis()),
            )]);
        }
        opts.application_name(&self.application_name)
    }

    fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.max_connections)
            .min_connections(0)
            .acquire_timeout(self.acquire_timeout)
            .idle_timeout(Some(self.idle_timeout))
            .max_lifetime(Some(MAX_LIFETIME))
            // Connections may die while a Lambda environment is frozen.
            .test_before_acquire(true)
    }
}

// ---------------------------------------------------------------- credentials

/// Database credentials parsed from an RDS-format secret.
struct SecretCredentials {
    username: String,
    password: SecretString,
    host: Option<String>,
    port: Option<u16>,
    dbname: Option<String>,
}

/// Parse the RDS secret JSON. Error messages name fields, never values.
fn parse_secret(arn: &str, text: &str) -> Result<SecretCredentials, DbError> {
    let bad = |reason: &str| DbError::SecretFormat {
        arn: arn.to_owned(),
        reason: reason.to_owned(),
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| bad("the secret string is not JSON"))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad("the secret JSON is not an object"))?;
    let string = |field: &str| -> Result<Option<String>, DbError> {
        match obj.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("field \"{field}\" is not a string"))),
        }
    };
    if string("engine")?
        .is_some_and(|e| !matches!(e.as_str(), "postgres" | "postgresql" | "aurora-postgresql"))
    {
        return Err(bad("field \"engine\" is not postgres or aurora-postgresql"));
    }
    let username = string("username")?.ok_or_else(|| bad("field \"username\" is missing"))?;
    let password = match obj.get("password") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => SecretString::from(s.clone()),
        Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
            return Err(bad("field \"password\" is missing or empty"));
        }
        Some(_) => return Err(bad("field \"password\" is not a string")),
    };
    let port = match obj.get("port") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("field \"port\" is not a TCP port"))?,
        ),
        Some(serde_json::Value::String(s)) => Some(
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("field \"port\" is not a TCP port"))?,
        ),
        Some(_) => return Err(bad("field \"port\" is not a TCP port")),
    };
    Ok(SecretCredentials {
        username,
        password,
        host: string("host")?,
        port,
        dbname: string("dbname")?,
    })
}

fn secret_error<R>(
    arn: &str,
    err: SdkError<aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError, R>,
) -> DbError
where
    R: fmt::Debug,
{
    let (code, hint) = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
            "unreachable".to_owned(),
            "Secrets Manager could not be reached: from a VPC add a secretsmanager interface endpoint or a NAT \
             route; locally check AWS_ENDPOINT_URL",
        ),
        _ => {
            let code = err.code().unwrap_or("unknown error").to_owned();
            let hint = match code.as_str() {
                "AccessDeniedException" => {
                    "grant secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key) to the function role"
                }
                "ResourceNotFoundException" => {
                    "no such secret in this account and region; check DB_SECRET_ARN"
                }
                "DecryptionFailure" => {
                    "grant kms:Decrypt on the secret's KMS key to the function role"
                }
                "InvalidRequestException" => {
                    "the secret may be scheduled for deletion; restore it or point DB_SECRET_ARN at another one"
                }
                _ => "see the AWS error code; check DB_SECRET_ARN and the function role",
            };
            (code, hint)
        }
    };
    DbError::SecretUnavailable {
        arn: arn.to_owned(),
        code,
        hint,
        detail: DisplayErrorContext(&err).to_string(),
    }
}

/// Re-creates connect options with fresh credentials.
enum Refresher {
    Secret {
        client: aws_sdk_secretsmanager::Client,
        arn: String,
        host: Option<String>,
        port: Option<u16>,
        database: Option<String>,
    },
    Iam {
        sdk: Box<SdkConfig>,
        host: String,
        port: u16,
        user: String,
        database: String,
    },
}

impl Refresher {
    /// Where the credentials come from, for messages.
    fn origin(&self) -> String {
        match self {
            Refresher::Secret { arn, .. } => format!("secret {arn}"),
            Refresher::Iam { user, .. } => format!("an RDS IAM token for user {user}"),
        }
    }

    fn hint(&self) -> String {
        match self {
            Refresher::Secret { .. } => {
                "the secret was re-read and its username/password still do not match the \
                                         database role; fix the secret (or finish the rotation)"
                    .to_owned()
            }
            Refresher::Iam { user, .. } => format!(
                "grant rds_iam to role {user}, enable IAM authentication on the instance, and allow rds-db:connect \
                 for that user to the function role"
            ),
        }
    }

    async fn connect_options(&self, cfg: &DbConfig) -> Result<Fresh, DbError> {
        match self {
            Refresher::Secret {
                client,
                arn,
                host,
                port,
                database,
            } => {
                let out = client
                    .get_secret_value()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| secret_error(arn, e))?;
                let text = out.secret_string().ok_or_else(|| DbError::SecretFormat {
                    arn: arn.clone(),
                    reason: "it has no SecretString (binary secrets are not supported)".to_owned(),
                })?;
                let creds = parse_secret(arn, text)?;
                let host = host.clone().or(creds.host).ok_or_else(|| {
                    DbError::Config(ConfigError::Missing {
                        var: "DB_HOST".to_owned(),
                        expected: format!("the database host (secret {arn} has no \"host\" field)"),
                    })
                })?;
                let opts = PgConnectOptions::new_without_pgpass()
                    .host(&host)
                    .port(port.or(creds.port).unwrap_or(5432))
                    .username(&creds.username)
                    .password(creds.password.expose_secret())
                    .database(
                        database
                            .as_deref()
                            .or(creds.dbname.as_deref())
                            .unwrap_or("postgres"),
                    );
                Ok(Fresh {
                    options: cfg.finish(opts),
                    version: out.version_id().map(str::to_owned),
                })
            }
            Refresher::Iam {
                sdk,
                host,
                port,
                user,
                database,
            } => {
                let token = iam_token(sdk, host, *port, user).await?;
                let opts = PgConnectOptions::new_without_pgpass()
                    .host(host)
                    .port(*port)
                    .username(user)
                    .password(token.expose_secret())
                    .database(database);
                Ok(Fresh {
                    options: cfg.finish(opts),
                    version: None,
                })
            }
        }
    }
}

/// A fresh RDS IAM auth token (a presigned `rds-db:connect` URL, valid 15 min).
pub async fn iam_token(
    sdk: &SdkConfig,
    host: &str,
    port: u16,
    user: &str,
) -> Result<SecretString, DbError> {
    use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};
    let err = |reason: String| DbError::IamToken {
        user: user.to_owned(),
        host: host.to_owned(),
        port,
        reason,
    };
    let mut builder = Config::builder()
        .hostname(host)
        .port(u64::from(port))
        .username(user)
        .expires_in(900);
    if let Some(region) = sdk.region() {
        builder = builder.region(region.clone());
    }
    let config = builder.build().map_err(|e| err(e.to_string()))?;
    let token = AuthTokenGenerator::new(config)
        .auth_token(sdk)
        .await
        .map_err(|e| err(e.to_string()))?;
    Ok(SecretString::from(token.to_string()))
}

/// Connect options with fresh credentials.
struct Fresh {
    options: PgConnectOptions,
    /// The secret's VersionId (secret source).
    version: Option<String>,
}

// ---------------------------------------------------------------- Database

struct RefreshState {
    last_refresh: Option<Instant>,
    issued_at: Instant,
    secret_version: Option<String>,
}

impl RefreshState {
    fn new(secret_version: Option<String>) -> Mutex<RefreshState> {
        Mutex::new(RefreshState {
            last_refresh: None,
            issued_at: Instant::now(),
            secret_version,
        })
    }
}

struct Inner {
    pool: PgPool,
    config: Option<DbConfig>,
    refresher: Option<Refresher>,
    generation: AtomicU64,
    refreshes: AtomicU64,
    state: Mutex<RefreshState>,
}

/// The process's database handle: cheap to clone, build it once per process.
#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("source", &self.source_kind())
            .field("refreshes", &self.refresh_count())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Read the configuration and build the pool; loads the AWS SDK
    /// configuration only when a secret or IAM auth needs it. Functions that
    /// already hold an `SdkConfig` should call [`Database::connect`].
    pub async fn from_env(env: &Env) -> Result<Database, DbError> {
        let config = DbConfig::from_env(env)?;
        let sdk = match config.source {
            DbSource::Url(_) => None,
            _ => Some(portcullis_core::aws::sdk_config().await),
        };
        Self::connect(config, sdk.as_ref()).await
    }

    /// Build the pool from a configuration. A secret is read now (so a bad
    /// secret fails start-up); connections are opened on first use.
    /// `sdk` is needed for the secret and IAM sources.
    pub async fn connect(config: DbConfig, sdk: Option<&SdkConfig>) -> Result<Database, DbError> {
        let needs_sdk = || {
            DbError::Config(ConfigError::Missing {
                var: "AWS_REGION".to_owned(),
                expected: "an AWS SDK configuration (the secret and IAM sources call AWS)"
                    .to_owned(),
            })
        };
        let refresher = match &config.source {
            DbSource::Url(_) => None,
            DbSource::Secret {
                arn,
                host,
                port,
                database,
            } => Some(Refresher::Secret {
                client: aws_sdk_secretsmanager::Client::new(sdk.ok_or_else(needs_sdk)?),
                arn: arn.clone(),
                host: host.clone(),
                port: *port,
                database: database.clone(),
            }),
            DbSource::Iam {
                host,
                port,
                user,
                database,
            } => Some(Refresher::Iam {
                sdk: Box::new(sdk.ok_or_else(needs_sdk)?.clone()),
                host: host.clone(),
                port: *port,
                user: user.clone(),
                database: database.clone(),
            }),
        };
        let fresh = match (&config.source, &refresher) {
            (DbSource::Url(opts), _) => Fresh {
                options: config.finish((**opts).clone()),
                version: None,
            },
            (_, Some(r)) => r.connect_options(&config).await?,
            (_, None) => unreachable!("secret and IAM sources always have a refresher"),
        };
        let pool = config.pool_options().connect_lazy_with(fresh.options);
        tracing::info!(
            source = config.source.kind(),
            max_connections = config.max_connections,
            acquire_timeout_ms = config.acquire_timeout.as_millis() as u64,
            "database pool ready (connects lazily)"
        );
        let background = match refresher {
            Some(Refresher::Iam { .. }) => Some(config.iam_renew_after),
            Some(Refresher::Secret { .. }) if !config.secret_recheck.is_zero() => {
                Some(config.secret_recheck)
            }
            _ => None,
        };
        let db = Database {
            inner: Arc::new(Inner {
                pool,
                config: Some(config),
                refresher,
                generation: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                state: RefreshState::new(fresh.version),
            }),
        };
        if let Some(every) = background {
            spawn_background_refresh(Arc::downgrade(&db.inner), every);
        }
        Ok(db)
    }

    /// Wrap an existing pool (tests with `#[sqlx::test]`, the local gateway).
    /// Such a database never refreshes credentials.
    pub fn from_pool(pool: PgPool) -> Database {
        Database {
            inner: Arc::new(Inner {
                pool,
                config: None,
                refresher: None,
                generation: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                state: RefreshState::new(None),
            }),
        }
    }

    /// The pool itself. Its connect options are kept current by
    /// `with_retry`/`acquire`/`begin`; code that uses the pool directly gets no
    /// retry when PostgreSQL rejects rotated credentials.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// `url`, `secret`, `iam`, or `pool` (built with [`Database::from_pool`]).
    pub fn source_kind(&self) -> &'static str {
        self.inner
            .config
            .as_ref()
            .map_or("pool", |c| c.source.kind())
    }

    /// How many times credentials were refreshed since start (re-read secret,
    /// new IAM token).
    pub fn refresh_count(&self) -> u64 {
        self.inner.refreshes.load(Ordering::SeqCst)
    }

    /// Run `op` with the pool; when PostgreSQL rejects the credentials
    /// (28P01, or 28000 for IAM tokens), refresh them once and run `op` again.
    ///
    /// Authentication fails only while a connection is being opened, before
    /// any statement of that attempt ran; still, keep multi-statement work in
    /// one transaction inside `op` so a second run starts clean.
    pub async fn with_retry<T, F, Fut>(&self, mut op: F) -> Result<T, DbError>
    where
        F: FnMut(PgPool) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        self.renew_if_due().await?;
        let seen = self.inner.generation.load(Ordering::SeqCst);
        match op(self.inner.pool.clone()).await {
            Ok(v) => Ok(v),
            Err(e) if is_auth_failure(&e) => {
                if self.refresh(seen).await? {
                    op(self.inner.pool.clone())
                        .await
                        .map_err(|e| self.classify(e))
                } else {
                    Err(self.classify(e))
                }
            }
            Err(e) => Err(DbError::from(e)),
        }
    }

    /// A pooled connection (with the credential retry of `with_retry`).
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, DbError> {
        self.with_retry(|pool| async move { pool.acquire().await })
            .await
    }

    /// A transaction (with the credential retry of `with_retry`).
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, DbError> {
        self.with_retry(|pool| async move { pool.begin().await })
            .await
    }

    /// `select 1` through the pool: for health checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.with_retry(
            |pool| async move { sqlx::query("select 1").execute(&pool).await.map(|_| ()) },
        )
        .await
    }

    /// Turn a final error into a `DbError`, explaining auth failures.
    fn classify(&self, e: sqlx::Error) -> DbError {
        if !is_auth_failure(&e) {
            return DbError::from(e);
        }
        let code = e
            .as_database_error()
            .and_then(|d| d.code().map(|c| c.into_owned()))
            .unwrap_or_default();
        match &self.inner.refresher {
            Some(r) => DbError::AuthRejected {
                origin: r.origin(),
                code,
                hint: r.hint(),
                source: e,
            },
            None => DbError::AuthRejected {
                origin: "DATABASE_URL".to_owned(),
                code,
                hint: "fix the user name and password in DATABASE_URL".to_owned(),
                source: e,
            },
        }
    }

    /// Single-flight credential refresh after an auth failure seen at
    /// generation `seen`. Returns whether retrying makes sense.
    async fn refresh(&self, seen: u64) -> Result<bool, DbError> {
        let (Some(refresher), Some(config)) = (&self.inner.refresher, &self.inner.config) else {
            return Ok(false);
        };
        let mut state = self.inner.state.lock().await;
        if self.inner.generation.load(Ordering::SeqCst) != seen {
            // Another task refreshed while we waited: use its result.
            return Ok(true);
        }
        if state
            .last_refresh
            .is_some_and(|last| last.elapsed() < config.min_refresh_interval)
        {
            tracing::warn!(
                source = config.source.kind(),
                "PostgreSQL rejected fresh credentials; not re-reading them again so soon"
            );
            return Ok(false);
        }
        tracing::warn!(
            source = config.source.kind(),
            "PostgreSQL rejected the credentials; refreshing them once"
        );
        // Throttle failed fetches as well: an unreachable Secrets Manager
        // must not be asked again by every failing call.
        state.last_refresh = Some(Instant::now());
        let fresh = refresher.connect_options(config).await?;
        install(&self.inner, &mut state, fresh);
        Ok(true)
    }

    /// Secret source: re-read the secret now and, when its version changed,
    /// give new connections the new credentials. Returns whether it changed.
    /// A background task calls this every `DB_SECRET_RECHECK_SECS`, so code
    /// that uses `pool()` directly also recovers from a rotation.
    pub async fn recheck_credentials(&self) -> Result<bool, DbError> {
        recheck_secret(&self.inner).await
    }

    /// IAM: make a new token when the current one is older than
    /// `iam_renew_after` (tokens live 15 minutes).
    async fn renew_if_due(&self) -> Result<(), DbError> {
        renew_if_due(&self.inner).await
    }
}

async fn renew_if_due(inner: &Inner) -> Result<(), DbError> {
    let (Some(refresher @ Refresher::Iam { .. }), Some(config)) = (&inner.refresher, &inner.config)
    else {
        return Ok(());
    };
    if inner.state.lock().await.issued_at.elapsed() < config.iam_renew_after {
        return Ok(());
    }
    let mut state = inner.state.lock().await;
    if state.issued_at.elapsed() < config.iam_renew_after {
        return Ok(()); // renewed while we waited
    }
    let fresh = refresher.connect_options(config).await?;
    install(inner, &mut state, fresh);
    tracing::info!("RDS IAM auth token renewed");
    Ok(())
}

/// Give new connections fresh credentials; open connections are untouched.
fn install(inner: &Inner, state: &mut RefreshState, fresh: Fresh) {
    inner.pool.set_connect_options(fresh.options);
    state.issued_at = Instant::now();
    state.secret_version = fresh.version;
    inner.generation.fetch_add(1, Ordering::SeqCst);
    inner.refreshes.fetch_add(1, Ordering::SeqCst);
}

async fn recheck_secret(inner: &Inner) -> Result<bool, DbError> {
    let (Some(refresher @ Refresher::Secret { .. }), Some(config)) =
        (&inner.refresher, &inner.config)
    else {
        return Ok(false);
    };
    let mut state = inner.state.lock().await;
    let fresh = refresher.connect_options(config).await?;
    if fresh.version.is_none() || fresh.version == state.secret_version {
        return Ok(false);
    }
    install(inner, &mut state, fresh);
    tracing::info!("the database secret changed; new connections use the new credentials");
    Ok(true)
}

/// Renew IAM tokens / re-check the secret in the background too, so code
/// that uses `pool()` directly keeps working. Stops when the database is
/// dropped. (While a Lambda environment is frozen nothing runs; the checks
/// in `with_retry` cover the first calls after a thaw.)
fn spawn_background_refresh(inner: Weak<Inner>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every.max(Duration::from_secs(10))).await;
            let Some(inner) = inner.upgrade() else { break };
            let result = match inner.refresher {
                Some(Refresher::Iam { .. }) => renew_if_due(&inner).await,
                _ => recheck_secret(&inner).await.map(|_| ()),
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot refresh the database credentials");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn err_var(pairs: &[(&str, &str)]) -> String {
        let err = DbConfig::from_env(&env(pairs)).expect_err("configuration must be rejected");
        let msg = err.to_string();
        assert!(
            msg.contains(err.var()),
            "message {msg:?} must name {}",
            err.var()
        );
        err.var().to_owned()
    }

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

    #[test]
    fn no_source_at_all_names_database_url() {
        assert_eq!(err_var(&[]), "DATABASE_URL");
    }

    #[test]
    fn malformed_database_url_is_named_without_echoing_it() {
        let err =
            DbConfig::from_env(&env(&[("DATABASE_URL", "mysql://u:hunter2@h/db")])).unwrap_err();
        assert_eq!(err.var(), "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(
            err_var(&[("DATABASE_URL", "postgres://u@h:notaport/db")]),
            "DATABASE_URL"
        );
    }

    #[test]
    fn database_url_source_keeps_the_urls_tls_mode_by_default() {
        let cfg = DbConfig::from_env(&env(&[(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/x",
        )]))
        .unwrap();
        assert_eq!(cfg.source.kind(), "url");
        assert_eq!(cfg.ssl_mode, None);
        assert_eq!(cfg.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(cfg.acquire_timeout, DEFAULT_ACQUIRE_TIMEOUT);
    }

    #[test]
    fn two_sources_at_once_are_rejected() {
        let var = err_var(&[("DATABASE_URL", "postgres://h/db"), ("DB_SECRET_ARN", ARN)]);
        assert_eq!(var, "DB_SECRET_ARN");
        let var = err_var(&[("DB_SECRET_ARN", ARN), ("DB_IAM_AUTH", "true")]);
        assert_eq!(var, "DB_IAM_AUTH");
    }

    #[test]
    fn secret_arn_that_is_not_an_arn_is_named() {
        assert_eq!(
            err_var(&[("DB_SECRET_ARN", "my-db-secret")]),
            "DB_SECRET_ARN"
        );
        assert_eq!(
            err_var(&[("DB_SECRET_ARN", "arn:aws:s3:::bucket")]),
            "DB_SECRET_ARN"
        );
    }

    #[test]
    fn secret_source_requires_tls_by_default_and_takes_overrides() {
        let cfg = DbConfig::from_env(&env(&[
            ("DB_SECRET_ARN", ARN),
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "6432"),
            ("DB_NAME", "portcullis"),
        ]))
        .unwrap();
        assert_eq!(cfg.ssl_mode, Some(SslMode::Require));
        match cfg.source {
            DbSource::Secret {
                arn,
                host,
                port,
                database,
            } => {
                assert_eq!(arn, ARN);
                assert_eq!(host.as_deref(), Some("db.internal"));
                assert_eq!(port, Some(6432));
                assert_eq!(database.as_deref(), Some("portcullis"));
            }
            other => panic!("secret source expected, got {other:?}"),
        }
    }

    #[test]
    fn malformed_port_is_named() {
        assert_eq!(
            err_var(&[("DB_SECRET_ARN", ARN), ("DB_PORT", "five")]),
            "DB_PORT"
        );
        assert_eq!(
            err_var(&[("DB_SECRET_ARN", ARN), ("DB_PORT", "0")]),
            "DB_PORT"
        );
        assert_eq!(
            err_var(&[("DB_SECRET_ARN", ARN), ("DB_PORT", "70000")]),
            "DB_PORT"
        );
    }

    #[test]
    fn iam_auth_names_each_missing_variable() {
        let full = [
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", "db.example"),
            ("DB_PORT", "5432"),
            ("DB_USER", "app"),
            ("DB_NAME", "portcullis"),
        ];
        for missing in ["DB_HOST", "DB_PORT", "DB_USER", "DB_NAME"] {
            let pairs: Vec<_> = full
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            assert_eq!(err_var(&pairs), missing);
        }
        let cfg = DbConfig::from_env(&env(&full)).unwrap();
        assert_eq!(cfg.source.kind(), "iam");
        assert_eq!(cfg.ssl_mode, Some(SslMode::Require));
    }

    #[test]
    fn iam_auth_refuses_plain_text_tls_modes() {
        let pairs = [
            ("DB_IAM_AUTH", "yes"),
            ("DB_HOST", "db.example"),
            ("DB_PORT", "5432"),
            ("DB_USER", "app"),
            ("DB_NAME", "portcullis"),
            ("DB_SSL_MODE", "prefer"),
        ];
        assert_eq!(err_var(&pairs), "DB_SSL_MODE");
    }

    #[test]
    fn malformed_iam_flag_is_named() {
        assert_eq!(err_var(&[("DB_IAM_AUTH", "sometimes")]), "DB_IAM_AUTH");
    }

    #[test]
    fn unknown_tls_mode_is_named() {
        assert_eq!(
            err_var(&[
                ("DATABASE_URL", "postgres://h/db"),
                ("DB_SSL_MODE", "strict")
            ]),
            "DB_SSL_MODE"
        );
    }

    #[test]
    fn verify_full_needs_a_root_certificate_that_exists() {
        let base = [("DB_SECRET_ARN", ARN), ("DB_SSL_MODE", "verify-full")];
        assert_eq!(err_var(&base), "DB_SSL_ROOT_CERT");
        let mut missing_file = base.to_vec();
        missing_file.push(("DB_SSL_ROOT_CERT", "/nonexistent/rds-global-bundle.pem"));
        assert_eq!(err_var(&missing_file), "DB_SSL_ROOT_CERT");

        let dir = std::env::temp_dir().join(format!("portcullis-db-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("bundle.pem");
        std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let pem_str = pem.to_string_lossy().to_string();
        let mut ok = base.to_vec();
        ok.push(("DB_SSL_ROOT_CERT", &pem_str));
        let cfg = DbConfig::from_env(&env(&ok)).unwrap();
        assert_eq!(cfg.ssl_mode, Some(SslMode::VerifyFull));
        assert_eq!(cfg.ssl_root_cert.as_deref(), Some(pem.as_path()));
    }

    #[test]
    fn pool_size_is_bounded_to_one_to_four() {
        let url = ("DATABASE_URL", "postgres://h/db");
        for bad in ["0", "5", "-1", "two"] {
            assert_eq!(
                err_var(&[url, ("DB_MAX_CONNECTIONS", bad)]),
                "DB_MAX_CONNECTIONS"
            );
        }
        let cfg = DbConfig::from_env(&env(&[url, ("DB_MAX_CONNECTIONS", "4")])).unwrap();
        assert_eq!(cfg.max_connections, 4);
    }

    #[test]
    fn timeouts_are_validated_and_named() {
        let url = ("DATABASE_URL", "postgres://h/db");
        assert_eq!(
            err_var(&[url, ("DB_ACQUIRE_TIMEOUT_MS", "soon")]),
            "DB_ACQUIRE_TIMEOUT_MS"
        );
        assert_eq!(
            err_var(&[url, ("DB_ACQUIRE_TIMEOUT_MS", "10")]),
            "DB_ACQUIRE_TIMEOUT_MS"
        );
        assert_eq!(
            err_var(&[url, ("DB_IDLE_TIMEOUT_MS", "0")]),
            "DB_IDLE_TIMEOUT_MS"
        );
        assert_eq!(
            err_var(&[("DB_SECRET_ARN", ARN), ("DB_SECRET_RECHECK_SECS", "often")]),
            "DB_SECRET_RECHECK_SECS"
        );
        assert_eq!(
            err_var(&[url, ("DB_STATEMENT_TIMEOUT_MS", "x")]),
            "DB_STATEMENT_TIMEOUT_MS"
        );
        let cfg = DbConfig::from_env(&env(&[
            url,
            ("DB_ACQUIRE_TIMEOUT_MS", "250"),
            ("DB_STATEMENT_TIMEOUT_MS", "0"),
        ]))
        .unwrap();
        assert_eq!(cfg.acquire_timeout, Duration::from_millis(250));
        assert!(cfg.statement_timeout.is_zero());
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let cfg = DbConfig::from_env(&env(&[(
            "DATABASE_URL",
            "postgres://app:hunter2@db:5432/x",
        )]))
        .unwrap();
        let printed = format!("{cfg:?}");
        assert!(
            printed.contains("app") && !printed.contains("hunter2"),
            "{printed}"
        );
    }

    #[test]
    fn statement_timeout_is_sent_as_a_startup_option() {
        let cfg = DbConfig::from_env(&env(&[
            ("DATABASE_URL", "postgres://h/db"),
            ("DB_STATEMENT_TIMEOUT_MS", "1234"),
        ]))
        .unwrap();
        let DbSource::Url(opts) = &cfg.source else {
            panic!("url source")
        };
        let finished = cfg.finish((**opts).clone());
        assert!(
            finished
                .get_options()
                .unwrap_or_default()
                .contains("statement_timeout=1234ms")
        );
    }

    #[test]
    fn rds_secret_with_all_fields_is_parsed() {
        let creds = parse_secret(
            ARN,
            r#"{"username":"app","password":"pw","engine":"postgres","host":"h","port":5433,"dbname":"d"}"#,
        )
        .unwrap();
        assert_eq!(creds.username, "app");
        assert_eq!(creds.password.expose_secret(), "pw");
        assert_eq!(creds.host.as_deref(), Some("h"));
        assert_eq!(creds.port, Some(5433));
        assert_eq!(creds.dbname.as_deref(), Some("d"));
        let minimal =
            parse_secret(ARN, r#"{"username":"app","password":"pw","port":"6432"}"#).unwrap();
        assert_eq!(minimal.port, Some(6432));
        assert_eq!(minimal.host, None);
    }

    #[test]
    fn malformed_secrets_are_rejected_without_echoing_values() {
        for (text, needle) in [
            ("not json hunter2", "not JSON"),
            (r#"["hunter2"]"#, "not an object"),
            (r#"{"password":"hunter2"}"#, "username"),
            (r#"{"username":"app"}"#, "password"),
            (r#"{"username":"app","password":""}"#, "password"),
            (r#"{"username":"app","password":987654}"#, "password"),
            (
                r#"{"username":"app","password":"hunter2","port":"hunter2"}"#,
                "port",
            ),
            (
                r#"{"username":"app","password":"hunter2","port":99999}"#,
                "port",
            ),
            (
                r#"{"username":"app","password":"hunter2","engine":"mysql"}"#,
                "engine",
            ),
        ] {
            let err = parse_secret(ARN, text)
                .err()
                .unwrap_or_else(|| panic!("{text} must be rejected"));
            let msg = err.to_string();
            assert!(matches!(err, DbError::SecretFormat { .. }), "{msg}");
            assert!(msg.contains(needle) && msg.contains(ARN), "{msg}");
            assert!(!msg.contains("hunter2") && !msg.contains("987654"), "{msg}");
        }
    }

    #[test]
    fn pool_timeout_becomes_an_unavailable_api_error() {
        let err = DbError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(err, DbError::Timeout));
        assert!(err.to_string().contains("DB_ACQUIRE_TIMEOUT_MS"));
        assert_eq!(
            ApiError::from(err).status(),
            portcullis_core::ApiError::Unavailable {
                detail: String::new()
            }
            .status()
        );
    }

    #[tokio::test]
    async fn iam_token_is_a_presigned_connect_url_for_the_user() {
        let sdk = SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIDTEST", "secret", None, None, "test",
                    ),
                ),
            )
            .time_source(aws_smithy_async_time())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let token = iam_token(&sdk, "db.example.eu-west-1.rds.amazonaws.com", 5432, "app")
            .await
            .unwrap();
        let t = token.expose_secret();
        assert!(
            t.starts_with("db.example.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app"),
            "{t}"
        );
        assert!(
            t.contains("X-Amz-Expires=900") && t.contains("eu-west-1%2Frds-db"),
            "{t}"
        );
    }

    fn aws_smithy_async_time() -> aws_types::sdk_config::SharedTimeSource {
        aws_types::sdk_config::SharedTimeSource::default()
    }

    #[tokio::test]
    async fn iam_token_without_credentials_says_what_is_missing() {
        let sdk = SdkConfig::builder()
            .region(aws_types::region::Region::new("eu-west-1"))
            .time_source(aws_smithy_async_time())
            .build();
        let err = iam_token(&sdk, "db.example", 5432, "app")
            .await
            .unwrap_err();
        assert!(matches!(err, DbError::IamToken { .. }), "{err}");
        assert!(err.to_string().contains("credentials"), "{err}");
    }

    fn static_sdk() -> SdkConfig {
        SdkConfig::builder()
            .region(aws_types::region::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "AKIDTEST", "secret", None, None, "test",
                    ),
                ),
            )
            .time_source(aws_smithy_async_time())
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    async fn iam_database(renew_after: Duration) -> Database {
        // Nothing listens on port 1: connecting fails fast with a timeout,
        // which is not an authentication failure, so only renewals count.
        let mut config = DbConfig::from_env(&env(&[
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", "127.0.0.1"),
            ("DB_PORT", "1"),
            ("DB_USER", "app"),
            ("DB_NAME", "portcullis"),
            ("DB_ACQUIRE_TIMEOUT_MS", "100"),
        ]))
        .unwrap();
        config.iam_renew_after = renew_after;
        Database::connect(config, Some(&static_sdk()))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn iam_token_is_renewed_once_it_is_due() {
        let db = iam_database(Duration::ZERO).await;
        assert_eq!(db.source_kind(), "iam");
        assert!(matches!(db.ping().await, Err(DbError::Timeout)));
        assert_eq!(db.refresh_count(), 1);
        assert!(matches!(db.acquire().await, Err(DbError::Timeout)));
        assert_eq!(db.refresh_count(), 2);
    }

    #[tokio::test]
    async fn fresh_iam_token_is_reused() {
        let db = iam_database(IAM_TOKEN_RENEW_AFTER).await;
        assert!(matches!(db.ping().await, Err(DbError::Timeout)));
        assert!(matches!(db.begin().await, Err(DbError::Timeout)));
        assert_eq!(db.refresh_count(), 0);
    }

    #[tokio::test]
    async fn secret_source_without_an_sdk_configuration_is_refused() {
        let config = DbConfig::from_env(&env(&[("DB_SECRET_ARN", ARN), ("DB_HOST", "h")])).unwrap();
        let err = Database::connect(config, None).await.unwrap_err();
        assert!(matches!(err, DbError::Config(_)), "{err}");
    }
}
