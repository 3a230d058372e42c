//! The `migrate` Lambda: applies the migrations embedded from `migrations/`
//! (the only schema source) and reports what it did.
//!
//! Input: any JSON (Terraform invokes it with `{}`). Output:
//! `{"applied": [versions applied by this call], "versions": [every applied version]}`,
//! plus `"app_user": {"name", "created", "rds_iam"}` when `DB_APP_USER` is set
//! (the application role is then ensured after migrating; see `docs/database.md`).
//! Running it again applies nothing. Outside Lambda the same binary migrates
//! once and prints that JSON (`make migrate`).

use std::time::Duration;

use lambda_runtime::Diagnostic;
use portcullis_core::Env;
use portcullis_core::config::ConfigError;
use portcullis_core::runtime::StartError;
use portcullis_db::{Database, DbConfig, DbError, DbSource};
use serde::{Deserialize, Serialize};
use sqlx::Connection;
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
    /// The application role, when `DB_APP_USER` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_user: Option<AppUser>,
}

/// The variable naming the application role (`DB_USER` of the IAM-authenticated functions).
pub const APP_USER_VAR: &str = "DB_APP_USER";

/// The RDS role that allows IAM authentication (absent outside RDS).
pub const RDS_IAM_ROLE: &str = "rds_iam";

const IDENTIFIER_EXPECTED: &str =
    "a PostgreSQL role name: a lowercase letter or _, then up to 62 lowercase letters, digits or _";

/// What ensuring the application role did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppUser {
    pub name: String,
    /// The role was created by this call (false: it existed and was reused).
    pub created: bool,
    /// `rds_iam` was granted (false: no such role, i.e. not on RDS).
    pub rds_iam: bool,
}

/// `^[a-z_][a-z0-9_]{0,62}$`: safe to put in double quotes in SQL.
pub fn is_safe_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && name.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

/// `DB_APP_USER`, validated; `None` when unset or empty.
pub fn app_user_from_env(env: &Env) -> Result<Option<String>, ConfigError> {
    match env.get(APP_USER_VAR) {
        None => Ok(None),
        Some(name) if name.is_empty() => Ok(None),
        Some(name) if is_safe_identifier(&name) => Ok(Some(name)),
        Some(_) => Err(ConfigError::invalid(
            APP_USER_VAR,
            IDENTIFIER_EXPECTED,
            "not a safe role name",
        )),
    }
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
    app_user: Option<String>,
}

impl State {
    /// From `env` (the process environment in Lambda; see
    /// `docs/database.md`); `DB_STATEMENT_TIMEOUT_MS` defaults to 5 min
    /// here. The secret and IAM sources use the SDK configuration of `env`
    /// (`portcullis_aws::sdk_config_in`).
    pub async fn from_env(env: &Env) -> Result<State, StartError> {
        let app_user = app_user_from_env(env).map_err(DbError::from)?;
        let mut config = DbConfig::from_env(env).map_err(DbError::from)?;
        if env.get("DB_STATEMENT_TIMEOUT_MS").is_none() {
            config.statement_timeout = DEFAULT_STATEMENT_TIMEOUT;
        }
        let sdk = match config.source {
            DbSource::Url(_) => None,
            _ => Some(
                portcullis_aws::sdk_config_in(env)
                    .await
                    .map_err(DbError::from)?,
            ),
        };
        let state = State::new(Database::connect(config, sdk.as_ref()).await?);
        Ok(match app_user {
            Some(name) => state.with_app_user(name)?,
            None => state,
        })
    }

    pub fn new(db: Database) -> State {
        State { db, app_user: None }
    }

    /// Also ensure this application role after migrating (validated like `DB_APP_USER`).
    pub fn with_app_user(mut self, name: impl Into<String>) -> Result<State, Error> {
        let name = name.into();
        if !is_safe_identifier(&name) {
            return Err(DbError::from(ConfigError::invalid(
                APP_USER_VAR,
                IDENTIFIER_EXPECTED,
                "not a safe role name",
            ))
            .into());
        }
        self.app_user = Some(name);
        Ok(self)
    }

    pub fn app_user(&self) -> Option<&str> {
        self.app_user.as_deref()
    }

    pub fn db(&self) -> &Database {
        &self.db
    }
}

/// The Lambda handler: the event is ignored (any JSON).
pub async fn handle(state: &State, _event: serde_json::Value) -> Result<Report, Error> {
    run_with(&state.db, state.app_user()).await
}

/// Apply every pending migration, holding the migration lock while the
/// before/after versions are read, so concurrent calls report exactly what
/// each of them applied.
pub async fn run(db: &Database) -> Result<Report, Error> {
    run_with(db, None).await
}

/// [`run`], then (still under the migration lock) ensure the application role
/// `app_user` when given (a name that passed [`is_safe_identifier`]).
pub async fn run_with(db: &Database, app_user: Option<&str>) -> Result<Report, Error> {
    let mut conn = db.acquire().await?;
    let result = run_locked(&mut conn, app_user).await;
    match &result {
        Ok(report) => {
            tracing::info!(applied = ?report.applied, latest = ?report.versions.last(), app_user = ?report.app_user, "migrations done");
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

async fn run_locked(
    conn: &mut sqlx::PgConnection,
    app_user: Option<&str>,
) -> Result<Report, Error> {
    conn.lock().await?;
    conn.ensure_migrations_table().await?;
    let before = applied_versions(conn).await?;
    // Takes the same (re-entrant) advisory lock, then releases its level.
    MIGRATOR.run_direct(conn).await?;
    let versions = applied_versions(conn).await?;
    let app_user = match app_user {
        Some(name) => Some(ensure_app_user(conn, name, RDS_IAM_ROLE).await?),
        None => None,
    };
    conn.unlock().await?;
    let applied = versions
        .iter()
        .copied()
        .filter(|v| !before.contains(v))
        .collect();
    Ok(Report {
        applied,
        versions,
        app_user,
    })
}

/// Idempotently, in one transaction: create the login role `name` (no
/// password: it logs in with IAM tokens) unless it exists, grant it
/// `iam_role` when that role exists ([`RDS_IAM_ROLE`]; tests pass another
/// name), and data access (DML on every table, sequences, and the same for
/// future ones created by the current user) in schema `public`.
/// Triggers still refuse update/delete on the append-only tables.
pub async fn ensure_app_user(
    conn: &mut sqlx::PgConnection,
    name: &str,
    iam_role: &str,
) -> Result<AppUser, Error> {
    for role in [name, iam_role] {
        if !is_safe_identifier(role) {
            return Err(DbError::from(ConfigError::invalid(
                APP_USER_VAR,
                IDENTIFIER_EXPECTED,
                "not a safe role name",
            ))
            .into());
        }
    }
    let result = async {
        let mut tx = conn.begin().await?;
        let exists = |role: &str| {
            sqlx::query_scalar::<_, bool>("select exists (select 1 from pg_roles where rolname = $1)")
                .bind(role.to_owned())
        };
        let created = !exists(name).fetch_one(&mut *tx).await?;
        if created {
            sqlx::query(&format!("create role \"{name}\" login"))
                .execute(&mut *tx)
                .await?;
        }
        let rds_iam = exists(iam_role).fetch_one(&mut *tx).await?;
        if rds_iam {
            sqlx::query(&format!("grant \"{iam_role}\" to \"{name}\""))
                .execute(&mut *tx)
                .await?;
        }
        for statement in [
            "grant usage on schema public to \"{name}\"",
            "grant select, insert, update, delete on all tables in schema public to \"{name}\"",
            "grant usage, select on all sequences in schema public to \"{name}\"",
            "alter default privileges in schema public grant select, insert, update, delete on tables to \"{name}\"",
            "alter default privileges in schema public grant usage, select on sequences to \"{name}\"",
        ] {
            sqlx::query(&statement.replace("{name}", name))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(AppUser {
            name: name.to_owned(),
            created,
            rds_iam,
        })
    }
    .await
    .map_err(DbError::from)?;
    if result.rds_iam {
        tracing::info!(
            app_user = name,
            created = result.created,
            "application role ready; {iam_role} granted"
        );
    } else {
        tracing::info!(
            app_user = name,
            created = result.created,
            "application role ready; no {iam_role} role here (not RDS), nothing to grant"
        );
    }
    Ok(result)
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
