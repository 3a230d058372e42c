//! `portcullis-jobs`: the job core shared by the `jobs`, `task-events` and
//! `reconciler` functions (docs/jobs.md).
//!
//! - [`model`]: the job, its status enum and the views callers see.
//! - [`store`]: every SQL statement on `jobs` and `job_events`.
//! - [`launch`]: RunTask and the classification of its outcomes.
//! - [`lifecycle`]: recording launches and cancelling, without a lock held
//!   across an ECS call.
//! - [`transition`]: applying ECS task states to jobs.
//! - [`reason`]: the stable reasons tenants see instead of ECS/IAM text.
//! - [`metrics`]: the job pipeline's metrics (started, outcomes, queue wait,
//!   run time, RunTask failures), emitted once per move.
//! - [`ecs`]: where tasks run and the ECS client.

pub mod ecs;
pub mod launch;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod reason;
pub mod store;
pub mod transition;

/// The tenant a job belongs to: the one tenant type, from the caller's
/// context to the `jobs.tenant` column.
pub use portcullis_auth::Tenant;

use crate::ecs::Placement;
use portcullis_core::config::{ConfigError, Env};
use portcullis_core::runtime::StartError;
use portcullis_db::Database;
use portcullis_platform::PlatformError;
use portcullis_platform::jobs::JobTypes;
use std::sync::Arc;
use std::time::Duration;

/// Tunables, with their environment variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `JOB_LAUNCH_GRACE_SECS` (default 60): the reconciler leaves a fresh
    /// queued job to its submit handler for this long.
    pub launch_grace: Duration,
    /// `RECONCILE_STALE_SECS` (default 120): starting/running jobs with no
    /// news from ECS for this long are synced with DescribeTasks.
    pub stale_after: Duration,
    /// `RECONCILE_BATCH` (default 25): jobs handled per sweep and per kind.
    pub batch: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            launch_grace: Duration::from_secs(60),
            stale_after: Duration::from_secs(120),
            batch: 25,
        }
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let d = Settings::default();
        let batch: i64 = env.parse_or(
            "RECONCILE_BATCH",
            "a whole number between 1 and 500",
            d.batch,
        )?;
        if !(1..=500).contains(&batch) {
            return Err(ConfigError::invalid(
                "RECONCILE_BATCH",
                "a whole number between 1 and 500",
                format!("{batch} is out of range"),
            ));
        }
        Ok(Settings {
            launch_grace: env.secs_or(
                "JOB_LAUNCH_GRACE_SECS",
                d.launch_grace,
                Duration::from_secs(1),
                Duration::from_secs(3600),
            )?,
            stale_after: env.secs_or(
                "RECONCILE_STALE_SECS",
                d.stale_after,
                Duration::from_secs(1),
                Duration::from_secs(86_400),
            )?,
            batch,
        })
    }
}

/// Everything the job functions need, built once per process.
#[derive(Clone)]
pub struct State {
    pub db: Database,
    /// Built on first use: a request that starts or stops no task (a
    /// `GET`, a task event of a known transition) builds no SDK configuration.
    pub ecs: portcullis_aws::LazyClient<aws_sdk_ecs::Client>,
    pub placement: Placement,
    pub types: Arc<JobTypes>,
    pub settings: Settings,
    /// The jobs API's CORS policy (`CORS_*`, `portcullis_core::cors`); the
    /// event functions run without those variables and never use it.
    pub cors: portcullis_core::CorsPolicy,
}

impl State {
    /// From `env` (the process environment in Lambda): `ECS_CLUSTER`, `JOB_SUBNETS`,
    /// `JOB_SECURITY_GROUPS`, `PLATFORM_FILE` (default: the embedded
    /// platform.yaml), `ECS_TIMEOUT_MS`, the [`Settings`] variables, the
    /// database variables of `portcullis_db`, and the AWS region, endpoint
    /// and credentials of `env` (`portcullis_aws::SdkSource`, loaded by the
    /// first ECS call: an
    /// `Env::Map` is a function's own Lambda environment).
    pub async fn from_env(env: &Env) -> Result<State, StartError> {
        let placement = Placement::from_env(env)?;
        let types = load_types(env)?;
        let settings = Settings::from_env(env)?;
        let cors = portcullis_core::CorsPolicy::from_env(env)?;
        let ecs_timeout = env.millis_or(
            "ECS_TIMEOUT_MS",
            Duration::from_secs(10),
            Duration::from_millis(500),
            Duration::from_secs(25),
        )?;
        let ecs = portcullis_aws::LazyClient::new(
            portcullis_aws::SdkSource::from_env(env)?,
            move |sdk| portcullis_aws::clients::ecs(sdk, ecs_timeout),
        );
        let db = Database::from_env(env).await?;
        Ok(State::new(db, ecs, placement, types, settings).with_cors(cors))
    }

    /// From explicit parts (tests, the local gateway).
    pub fn new(
        db: Database,
        ecs: impl Into<portcullis_aws::LazyClient<aws_sdk_ecs::Client>>,
        placement: Placement,
        types: JobTypes,
        settings: Settings,
    ) -> State {
        State {
            db,
            ecs: ecs.into(),
            placement,
            types: Arc::new(types),
            settings,
            cors: portcullis_core::CorsPolicy::disabled(),
        }
    }

    /// The same state answering under this CORS policy (`new` allows no origin).
    pub fn with_cors(self, cors: portcullis_core::CorsPolicy) -> State {
        State { cors, ..self }
    }
}

/// The job registry: `PLATFORM_FILE`, or the platform.yaml compiled in
/// (`portcullis_platform::Platform::from_env`, the loader every function uses).
pub fn load_types(env: &Env) -> Result<JobTypes, PlatformError> {
    portcullis_platform::Platform::from_env(env).map(|p| p.jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_when_unset_and_name_a_bad_variable() {
        let s = Settings::from_env(&Env::from_pairs::<&str, &str>([])).unwrap();
        assert_eq!(s.stale_after, Duration::from_secs(120));
        let err = Settings::from_env(&Env::from_pairs([("RECONCILE_BATCH", "0")])).unwrap_err();
        assert_eq!(err.var(), "RECONCILE_BATCH");
        let err =
            Settings::from_env(&Env::from_pairs([("RECONCILE_STALE_SECS", "soon")])).unwrap_err();
        assert_eq!(err.var(), "RECONCILE_STALE_SECS");
    }

    #[test]
    fn a_missing_platform_file_is_named() {
        let env = Env::from_pairs([("PLATFORM_FILE", "/nonexistent/platform.yaml")]);
        let err = load_types(&env).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/platform.yaml"),
            "{err}"
        );
    }

    #[test]
    fn the_embedded_registry_has_the_sample_job() {
        let types = load_types(&Env::from_pairs::<&str, &str>([])).unwrap();
        assert_eq!(types.get("sample").unwrap().container, "sample-job");
    }
}
