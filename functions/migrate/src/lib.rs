//! The `migrate` Lambda: applies the migrations embedded from `migrations/`
//! (the only schema source) and reports what it did.
//!
//! Input: any JSON (Terraform invokes it with `{}`). Output:
//! `{"applied": [versions applied by this call], "versions": [every applied version]}`.
//! Running it again applies nothing. Outside Lambda the same binary migrates
//! once and prints that JSON (`make migrate`).

use std::time::Duration;

use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use shared::Env;
use shared::db::{Database, DbConfig, DbError, DbSource};
use sqlx::migrate::{Migrate, MigrateError, Migrator};

/// The migrations, embedded at compile time (`build.rs` rebuilds on change).
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Statement timeout when `DB_STATEMENT_TIMEOUT_MS` is not set: schema
/// changes may take longer than the API functions' 15 s.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

/// What one call did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Versions applied by this call, in order.
    pub applied: Vec<i64>,
    /// Every version applied to the database, in order.
    pub versions: Vec<i64>,
}

/// Why migrating failed; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(
        "migration {version} was changed after it was applied; restore the file and add a new migration instead"
    )]
    Modified { version: i64 },
    #[error(
        "the database has migration {version} that this build does not contain; deploy a build that includes it \
         (never roll the schema back by hand)"
    )]
    Unknown { version: i64 },
    #[error(
        "migration {version} failed part-way in an earlier run; repair the database by hand, delete its row \
         from _sqlx_migrations, then migrate again"
    )]
    Dirty { version: i64 },
    #[error("migrating failed: {0}")]
    Other(#[source] MigrateError),
}

impl From<MigrateError> for Error {
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::VersionMismatch(version) => Error::Modified { version },
            MigrateError::VersionMissing(version) => Error::Unknown { version },
            MigrateError::Dirty(version) => Error::Dirty { version },
            MigrateError::Execute(e) => Error::Db(DbError::from(e)),
            other => Error::Other(other),
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        Diagnostic {
            error_type: "MigrationFailed".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// Built once per process.
pub struct State {
    db: Database,
}

impl State {
    /// From the process environment (see `docs/database.md`).
    pub async fn from_env() -> Result<State, Error> {
        Self::from_env_with(&Env::Process).await
    }

    /// From a given environment; `DB_STATEMENT_TIMEOUT_MS` defaults to 5 min here.
    pub async fn from_env_with(env: &Env) -> Result<State, Error> {
        let mut config = DbConfig::from_env(env).map_err(DbError::from)?;
        if env.get("DB_STATEMENT_TIMEOUT_MS").is_none() {
            config.statement_timeout = DEFAULT_STATEMENT_TIMEOUT;
        }
        let sdk = match config.source {
            DbSource::Url(_) => None,
            _ => Some(shared::aws::sdk_config().await),
        };
        Ok(State::new(Database::connect(config, sdk.as_ref()).await?))
    }

    pub fn new(db: Database) -> State {
        State { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
    }
}

/// The Lambda handler: the event is ignored (any JSON).
pub async fn handle(state: &State, _event: serde_json::Value) -> Result<Report, Error> {
    run(&state.db).await
}

/// Apply every pending migration, holding the migration lock while the
/// before/after versions are read, so concurrent calls report exactly what
/// each of them applied.
pub async fn run(db: &Database) -> Result<Report, Error> {
    let mut conn = db.acquire().await?;
    let result = run_locked(&mut conn).await;
    match &result {
        Ok(report) => {
            tracing::info!(applied = ?report.applied, latest = ?report.versions.last(), "migrations done");
        }
        Err(e) => {
            tracing::error!(error = %e, "migrating failed");
            // The session may still hold the advisory lock: end it rather
            // than return it to the pool.
            let _ = conn.close().await;
        }
    }
    result
}

async fn run_locked(conn: &mut sqlx::PgConnection) -> Result<Report, Error> {
    conn.lock().await?;
    conn.ensure_migrations_table().await?;
    let before = applied_versions(conn).await?;
    // Takes the same (re-entrant) advisory lock, then releases its level.
    MIGRATOR.run_direct(conn).await?;
    let versions = applied_versions(conn).await?;
    conn.unlock().await?;
    let applied = versions
        .iter()
        .copied()
        .filter(|v| !before.contains(v))
        .collect();
    Ok(Report { applied, versions })
}

async fn applied_versions(conn: &mut sqlx::PgConnection) -> Result<Vec<i64>, Error> {
    let mut versions: Vec<i64> = conn
        .list_applied_migrations()
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    versions.sort_unstable();
    Ok(versions)
}

/// The versions this build contains, in order.
pub fn known_versions() -> Vec<i64> {
    MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect()
}
