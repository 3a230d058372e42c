//! SQL for jobs and job_events. Every state change writes its `job_events`
//! row in the same statement (a CTE), so a submit costs one insert (its own
//! transaction) plus one update.
//!
//! Statuses are written as SQL literals taken from [`JobStatus::as_str`]
//! (never from input), which works whether the column is text or an enum.

use crate::launch::LaunchOutcome;
use crate::model::{EventView, Job, JobStatus, Params};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};
use std::time::Duration;
use uuid::Uuid;

/// The columns of a `Job`, status as text.
pub const JOB_COLUMNS: &str = "id, tenant, principal, type, params, status::text as status, idempotency_key, \
     request_hash, task_arn, attempts, max_attempts, timeout_seconds, next_attempt_at, ecs_version, exit_code, \
     stop_code, stopped_reason, error, stop_requested, request_id, trace_id, created_at, updated_at, started_at, \
     finished_at";

/// A job about to be inserted.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub tenant: String,
    pub principal: String,
    pub job_type: String,
    pub params: Params,
    pub idempotency_key: String,
    pub request_hash: String,
    pub max_attempts: i32,
    pub timeout_seconds: i32,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    /// The reconciler leaves a fresh job to its submit handler for this long.
    pub launch_grace: Duration,
}

/// Insert a queued job (and its first event) unless the tenant already used
/// the idempotency key. `None` means the key exists: read it with [`by_key`].
pub async fn insert(db: impl PgExecutor<'_>, j: &NewJob) -> Result<Option<Job>, sqlx::Error> {
    let sql = format!(
        "with j as (
           insert into jobs (id, tenant, principal, type, params, status, idempotency_key, request_hash,
                             attempts, max_attempts, timeout_seconds, next_attempt_at, request_id, trace_id)
           values ($1, $2, $3, $4, $5, 'queued', $6, $7, 0, $8, $9, now() + make_interval(secs => $10), $11, $12)
           on conflict (tenant, idempotency_key) do nothing
           returning *
         ), e as (
           insert into job_events (job_id, from_status, to_status, source, detail)
           select id, null, 'queued', 'api', jsonb_build_object('to', 'queued', 'principal', principal) from j
         )
         select {JOB_COLUMNS} from j"
    );
    sqlx::query_as::<_, Job>(&sql)
        .bind(j.id)
        .bind(&j.tenant)
        .bind(&j.principal)
        .bind(&j.job_type)
        .bind(sqlx::types::Json(&j.params))
        .bind(&j.idempotency_key)
        .bind(&j.request_hash)
        .bind(j.max_attempts)
        .bind(j.timeout_seconds)
        .bind(j.launch_grace.as_secs_f64())
        .bind(&j.request_id)
        .bind(&j.trace_id)
        .fetch_optional(db)
        .await
}

pub async fn by_key(
    db: impl PgExecutor<'_>,
    tenant: &str,
    key: &str,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where tenant = $1 and idempotency_key = $2"
    ))
    .bind(tenant)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// One job of one tenant (another tenant's job reads as absent).
pub async fn get(
    db: impl PgExecutor<'_>,
    tenant: &str,
    id: Uuid,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where id = $1 and tenant = $2"
    ))
    .bind(id)
    .bind(tenant)
    .fetch_optional(db)
    .await
}

/// Lock one job of one tenant.
pub async fn lock(
    conn: &mut PgConnection,
    tenant: &str,
    id: Uuid,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where id = $1 and tenant = $2 for update"
    ))
    .bind(id)
    .bind(tenant)
    .fetch_optional(conn)
    .await
}

/// Keyset page position: (created_at, id) of the last item shown.
pub type Cursor = (DateTime<Utc>, Uuid);

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant: &str,
    status: Option<JobStatus>,
    job_type: Option<&str>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs
         where tenant = $1
           and ($2::text is null or status::text = $2)
           and ($3::text is null or type = $3)
           and ($4::timestamptz is null or (created_at, id) < ($4, $5))
         order by created_at desc, id desc
         limit $6"
    ))
    .bind(tenant)
    .bind(status.map(JobStatus::as_str))
    .bind(job_type)
    .bind(after.map(|c| c.0))
    .bind(after.map(|c| c.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn events(db: impl PgExecutor<'_>, job_id: Uuid) -> Result<Vec<EventView>, sqlx::Error> {
    sqlx::query_as::<_, EventView>(
        "select id, from_status, to_status, source, detail, at from job_events where job_id = $1 order by at, id",
    )
    .bind(job_id)
    .fetch_all(db)
    .await
}

/// Record what a RunTask came to, in one statement (update + event). Only a
/// job still `queued` changes: if an ECS event got there first, nothing does.
pub async fn record_launch(
    db: impl PgExecutor<'_>,
    job_id: Uuid,
    outcome: &LaunchOutcome,
    source: &str,
    retry_in: Duration,
) -> Result<Option<Job>, sqlx::Error> {
    let (set, event_status, detail_kind, text) = match outcome {
        LaunchOutcome::Started { task_arn } => (
            "status = 'starting', task_arn = $2, attempts = attempts + 1, next_attempt_at = null, error = null,
             started_at = coalesce(started_at, now())",
            "'starting'",
            "started",
            task_arn.as_str(),
        ),
        LaunchOutcome::Failed { reason } => (
            "status = 'failed', error = $2, attempts = attempts + 1, next_attempt_at = null, finished_at = now()",
            "'failed'",
            "failed",
            reason.as_str(),
        ),
        LaunchOutcome::Retry { reason } | LaunchOutcome::Unknown { reason } => (
            "status = case when attempts + 1 >= coalesce(max_attempts, 5) then 'failed' else status end,
             error = case when attempts + 1 >= coalesce(max_attempts, 5)
                          then 'gave up after ' || (attempts + 1) || ' attempts; last: ' || $2 else $2 end,
             attempts = attempts + 1,
             next_attempt_at = case when attempts + 1 >= coalesce(max_attempts, 5) then null
                                    else now() + make_interval(secs => $3) end,
             finished_at = case when attempts + 1 >= coalesce(max_attempts, 5) then now() end",
            "u.status",
            if matches!(outcome, LaunchOutcome::Retry { .. }) { "retry" } else { "unknown" },
            reason.as_str(),
        ),
    };
    let sql = format!(
        "with u as (
           update jobs set {set}, updated_at = now() where id = $1 and status = 'queued' returning *
         ), e as (
           insert into job_events (job_id, from_status, to_status, source, detail)
           select u.id, 'queued', {event_status}, $4, jsonb_build_object('outcome', $5::text, 'attempt', u.attempts,
                  'detail', $2::text, 'to', u.status::text) from u
         )
         select {JOB_COLUMNS} from u"
    );
    sqlx::query_as::<_, Job>(&sql)
        .bind(job_id)
        .bind(text)
        .bind(retry_in.as_secs_f64())
        .bind(source)
        .bind(detail_kind)
        .fetch_optional(db)
        .await
}

/// Append one event row.
pub async fn append_event(
    db: impl PgExecutor<'_>,
    job_id: Uuid,
    source: &str,
    from: Option<JobStatus>,
    to: JobStatus,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into job_events (job_id, from_status, to_status, source, detail) values ($1, $2, $3, $4, $5)",
    )
        .bind(job_id)
        .bind(from.map(JobStatus::as_str))
        .bind(to.as_str())
        .bind(source)
        .bind(detail)
        .execute(db)
        .await
        .map(|_| ())
}
