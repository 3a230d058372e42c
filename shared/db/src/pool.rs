//! [`Database`]: the pool, and the only way to a connection; every path
//! ([`Database::with_retry`], [`Database::acquire`], [`Database::begin`],
//! [`Database::ping`]) refreshes the credentials and retries once when
//! PostgreSQL rejects them. [`LazyDatabase`]: the same, built on first use.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::{Mutex, OnceCell};
use tokio::time::Instant;

use portcullis_core::config::{ConfigError, Env};

use crate::config::{DbConfig, DbSource};
use crate::credentials::{AwsAccess, Fresh, Refresher};
use crate::error::{DbError, is_auth_failure};

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
    /// Read the configuration and build the pool. AWS access for the secret
    /// and IAM sources: with the `secrets-manager` feature, the SDK
    /// configuration of `env` (`portcullis_aws::sdk_config_in`, loaded
    /// only for those sources): for `Env::Process` the default credential
    /// chain (tools such as `create-admin-key` may run with a profile or a
    /// task role), for `Env::Map` the map's own region and credentials;
    /// without the feature, the credential variables of `env`.
    /// Functions that already hold an `SdkConfig` should call `Database::connect`.
    pub async fn from_env(env: &Env) -> Result<Database, DbError> {
        #[cfg(feature = "secrets-manager")]
        {
            let config = DbConfig::from_env(env)?;
            let aws = match config.source {
                DbSource::Url(_) => AwsAccess::none(),
                _ => AwsAccess::from_sdk(&portcullis_aws::sdk_config_in(env).await?),
            };
            Self::connect_with(config, aws).await
        }
        #[cfg(not(feature = "secrets-manager"))]
        {
            LazyDatabase::from_env(env)?.get().await.cloned()
        }
    }

    /// Build the pool from a configuration, with AWS access from one SDK
    /// configuration (`None`: only `DATABASE_URL` works). See
    /// [`Database::connect_with`].
    #[cfg(feature = "secrets-manager")]
    pub async fn connect(
        config: DbConfig,
        sdk: Option<&aws_config::SdkConfig>,
    ) -> Result<Database, DbError> {
        let aws = sdk.map(AwsAccess::from_sdk).unwrap_or_default();
        Self::connect_with(config, aws).await
    }

    /// Build the pool from a configuration and explicit AWS access (the
    /// injection point for credentials). A secret is read now (so a bad
    /// secret fails start-up); connections are opened on first use.
    pub async fn connect_with(config: DbConfig, aws: AwsAccess) -> Result<Database, DbError> {
        let refresher = Refresher::for_source(&config.source, aws)?;
        let fresh = match (config.url_connect_options()?, &refresher) {
            (Some(options), _) => Fresh {
                options,
                version: None,
            },
            (None, Some(r)) => r.connect_options(&config).await?,
            (None, None) => {
                return Err(DbError::Config(ConfigError::Missing {
                    var: "DATABASE_URL".to_owned(),
                    expected: "a database source".to_owned(),
                }));
            }
        };
        let pool = config.pool_options().connect_lazy_with(fresh.options);
        tracing::info!(
            source = config.source.kind(),
            max_connections = config.max_connections,
            acquire_timeout_ms = config.acquire_timeout.as_millis() as u64,
            "database pool ready (connects lazily)"
        );
        let background = match &refresher {
            Some(r) if r.is_iam() => Some(config.iam_renew_after),
            Some(_) if !config.secret_recheck.is_zero() => Some(config.secret_recheck),
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

    /// Being removed: callers move to `with_retry`/`acquire`/`begin`. The
    /// bare pool gets no retry when PostgreSQL rejects rotated credentials.
    #[doc(hidden)]
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

    /// Run `op` with the pool (an executor: `.fetch_one(&pool)`); when
    /// PostgreSQL rejects the credentials (28P01, or 28000 for IAM tokens),
    /// refresh them once and run `op` again.
    ///
    /// Authentication fails only while a connection is being opened, before
    /// any statement of that attempt ran; still, keep multi-statement work in
    /// one transaction inside `op` so a second run starts clean.
    pub async fn with_retry<T, F, Fut>(&self, mut op: F) -> Result<T, DbError>
    where
        F: FnMut(PgPool) -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        renew_if_due(&self.inner).await?;
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

    /// A pooled connection (with the credential retry of `with_retry`). Its
    /// `&mut *conn` is an executor; once it is open, credentials no longer
    /// matter, so statements on it need no retry.
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

    /// Secret source: re-read the secret now and, when its version changed,
    /// give new connections the new credentials. Returns whether it changed.
    /// A background task calls this every `DB_SECRET_RECHECK_SECS`.
    pub async fn recheck_credentials(&self) -> Result<bool, DbError> {
        recheck_secret(&self.inner).await
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
}

/// IAM: make a new token when the current one is older than
/// `iam_renew_after` (tokens live 15 minutes).
async fn renew_if_due(inner: &Inner) -> Result<(), DbError> {
    let (Some(refresher), Some(config)) = (&inner.refresher, &inner.config) else {
        return Ok(());
    };
    if !refresher.is_iam() || inner.state.lock().await.issued_at.elapsed() < config.iam_renew_after
    {
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
    let (Some(refresher), Some(config)) = (&inner.refresher, &inner.config) else {
        return Ok(false);
    };
    if refresher.is_iam() {
        return Ok(false);
    }
    let mut state = inner.state.lock().await;
    let fresh = refresher.connect_options(config).await?;
    if fresh.version.is_none() || fresh.version == state.secret_version {
        return Ok(false);
    }
    install(inner, &mut state, fresh);
    tracing::info!("the database secret changed; new connections use the new credentials");
    Ok(true)
}

/// Renew IAM tokens / re-check the secret in the background too, so idle
/// environments come back with valid credentials. Stops when the database
/// is dropped. (While a Lambda environment is frozen nothing runs; the
/// checks in `with_retry` cover the first calls after a thaw.)
fn spawn_background_refresh(inner: Weak<Inner>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every.max(Duration::from_secs(10))).await;
            let Some(inner) = inner.upgrade() else { break };
            let iam = inner.refresher.as_ref().is_some_and(Refresher::is_iam);
            let result = if iam {
                renew_if_due(&inner).await
            } else {
                recheck_secret(&inner).await.map(|_| ())
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot refresh the database credentials");
            }
        }
    });
}

/// How a [`LazyDatabase`] gets its AWS access when it is built.
#[derive(Debug)]
enum AwsPlan {
    Given(AwsAccess),
    /// Load the SDK configuration of the environment the database was
    /// configured from (secret source, `secrets-manager`).
    #[cfg(feature = "secrets-manager")]
    LoadSdk(portcullis_aws::SdkSource),
}

/// A [`Database`] whose configuration is read and checked now, and whose
/// pool (sqlx connect options, credentials, SDK configuration) is built on
/// the first [`LazyDatabase::get`]: a function that may never need the
/// database (the authorizer's JWT path) pays nothing for it at init.
#[derive(Debug)]
pub struct LazyDatabase {
    plan: Option<(DbConfig, AwsPlan)>,
    cell: OnceCell<Database>,
}

impl LazyDatabase {
    /// Read and check the configuration now (a bad variable is named);
    /// build nothing. For `DB_IAM_AUTH` the Lambda credential variables of
    /// `env` are checked now as well; for `DB_SECRET_ARN` (`secrets-manager`)
    /// the AWS region and credentials of an `Env::Map` (its SDK
    /// configuration is loaded on first use).
    pub fn from_env(env: &Env) -> Result<LazyDatabase, ConfigError> {
        let config = DbConfig::from_env(env)?;
        let plan = match config.source {
            DbSource::Url(_) => AwsPlan::Given(AwsAccess::none()),
            #[cfg(feature = "secrets-manager")]
            DbSource::Secret { .. } => AwsPlan::LoadSdk(portcullis_aws::SdkSource::from_env(env)?),
            #[cfg(not(feature = "secrets-manager"))]
            DbSource::Secret { .. } => AwsPlan::Given(AwsAccess::none()),
            // The same with or without the feature (cargo unifies features in
            // a workspace build): a lazy database signs IAM tokens with the
            // Lambda credential variables, checked now.
            DbSource::Iam { .. } => {
                AwsPlan::Given(AwsAccess::none().with_iam(crate::iam_credentials(env)?))
            }
        };
        Ok(LazyDatabase {
            plan: Some((config, plan)),
            cell: OnceCell::new(),
        })
    }

    /// Built on first use from this configuration and AWS access.
    pub fn new(config: DbConfig, aws: AwsAccess) -> LazyDatabase {
        LazyDatabase {
            plan: Some((config, AwsPlan::Given(aws))),
            cell: OnceCell::new(),
        }
    }

    /// Already built.
    pub fn ready(db: Database) -> LazyDatabase {
        LazyDatabase {
            plan: None,
            cell: OnceCell::new_with(Some(db)),
        }
    }

    /// The database, built now if this is the first call (concurrent first
    /// calls share one build; a failed build is retried by the next call).
    pub async fn get(&self) -> Result<&Database, DbError> {
        self.cell
            .get_or_try_init(|| async {
                let Some((config, plan)) = &self.plan else {
                    return Err(DbError::Config(ConfigError::Missing {
                        var: "DATABASE_URL".to_owned(),
                        expected: "a database configuration".to_owned(),
                    }));
                };
                let aws = match plan {
                    AwsPlan::Given(aws) => aws.clone(),
                    #[cfg(feature = "secrets-manager")]
                    AwsPlan::LoadSdk(source) => AwsAccess::from_sdk(&source.load().await),
                };
                Database::connect_with(config.clone(), aws).await
            })
            .await
    }

    /// The database if it was built already.
    pub fn get_if_built(&self) -> Option<&Database> {
        self.cell.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IAM_TOKEN_RENEW_AFTER;
    use aws_credential_types::Credentials;
    use portcullis_aws::IamCredentials;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn static_credentials() -> IamCredentials {
        IamCredentials::new(
            "us-east-1",
            Credentials::new("AKIDTEST", "secret", None, None, "test"),
        )
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
        Database::connect_with(config, AwsAccess::none().with_iam(static_credentials()))
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
    async fn iam_source_without_credentials_is_refused_naming_them() {
        let config = DbConfig::from_env(&env(&[
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", "db.example"),
            ("DB_PORT", "5432"),
            ("DB_USER", "app"),
            ("DB_NAME", "portcullis"),
        ]))
        .unwrap();
        let err = Database::connect_with(config, AwsAccess::none())
            .await
            .unwrap_err();
        let DbError::Config(c) = &err else {
            panic!("configuration error expected, got {err}")
        };
        assert_eq!(c.var(), "AWS_ACCESS_KEY_ID");
    }

    #[cfg(feature = "secrets-manager")]
    #[tokio::test]
    async fn secret_source_without_an_sdk_configuration_is_refused() {
        const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        let config = DbConfig::from_env(&env(&[("DB_SECRET_ARN", ARN), ("DB_HOST", "h")])).unwrap();
        let err = Database::connect(config, None).await.unwrap_err();
        assert!(matches!(err, DbError::Config(_)), "{err}");
    }

    #[tokio::test]
    async fn a_lazy_database_builds_nothing_until_first_use() {
        let lazy = LazyDatabase::from_env(&env(&[
            ("DATABASE_URL", "postgres://nobody@db.invalid:1/none"),
            ("DB_ACQUIRE_TIMEOUT_MS", "100"),
        ]))
        .unwrap();
        assert!(lazy.get_if_built().is_none());
        let db = lazy.get().await.expect("the pool itself connects lazily");
        assert_eq!(db.source_kind(), "url");
        assert!(lazy.get_if_built().is_some());
        // Same handle on every call.
        let again = lazy.get().await.unwrap();
        assert!(Arc::ptr_eq(&db.inner, &again.inner));
    }

    #[tokio::test]
    async fn a_lazy_database_still_checks_its_variables_at_once() {
        let err = LazyDatabase::from_env(&env(&[("DATABASE_URL", "mysql://h/db")])).unwrap_err();
        assert_eq!(err.var(), "DATABASE_URL");
        let err = LazyDatabase::from_env(&env(&[("DB_IAM_AUTH", "true")])).unwrap_err();
        assert_eq!(err.var(), "DB_HOST");
    }

    #[cfg(not(feature = "secrets-manager"))]
    #[tokio::test]
    async fn without_secrets_manager_iam_credentials_come_from_the_lambda_environment() {
        let iam = [
            ("DB_IAM_AUTH", "true"),
            ("DB_HOST", "127.0.0.1"),
            ("DB_PORT", "1"),
            ("DB_USER", "app"),
            ("DB_NAME", "portcullis"),
            ("DB_ACQUIRE_TIMEOUT_MS", "100"),
            ("AWS_REGION", "eu-west-1"),
        ];
        let err = LazyDatabase::from_env(&env(&iam)).unwrap_err();
        assert_eq!(err.var(), "AWS_ACCESS_KEY_ID");
        let mut with_keys = iam.to_vec();
        with_keys.extend([
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let lazy = LazyDatabase::from_env(&env(&with_keys)).unwrap();
        let db = lazy.get().await.expect("a token is signed locally");
        assert_eq!(db.source_kind(), "iam");
    }
}
