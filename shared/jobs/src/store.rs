//! Every SQL statement on `jobs` and `job_events`. Every state change writes
//! its `job_events` row in the same statement (a CTE) or the same short
//! transaction, so a submit costs one insert plus one update.
//!
//! - Functions take the [`Database`], so every query goes through its
//!   credential refresh-and-retry (`with_retry`, `begin`); none takes a raw pool.
//! - Statuses, stop reasons and event sources are bound from their enums
//!   ([`JobStatus`], [`StopReason`], [`EventSource`]), never written by hand.
//! - No transaction here is held open across anything but SQL: the callers
//!   make their ECS calls between these functions, never inside one.

use crate::launch::LaunchOutcome;
use crate::model::{EventSource, EventView, Job, JobStatus, Params, StopReason};
use chrono::{DateTime, Utc};
use portcullis_auth::Tenant;
use portcullis_db::{Database, DbError};
use sqlx::PgConnection;
use std::time::Duration;
use uuid::Uuid;

/// The columns of a `Job`.
pub const JOB_COLUMNS: &str = "id, tenant, principal, type, params, status, idempotency_key, \
     request_hash, task_arn, attempts, max_attempts, timeout_seconds, next_attempt_at, ecs_version, exit_code, \
     stop_code, stopped_reason, error, stop_requested, request_id, trace_id, created_at, updated_at, started_at, \
     finished_at";

/// The statuses of a job ECS may still be running a task for.
pub const ACTIVE: [JobStatus; 2] = [JobStatus::Starting, JobStatus::Running];

/// A job about to be inserted.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub tenant: Tenant,
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
pub async fn insert(db: &Database, j: &NewJob) -> Result<Option<Job>, DbError> {
    let sql = &format!(
        "with j as (
           insert into jobs (id, tenant, principal, type, params, status, idempotency_key, request_hash,
                             attempts, max_attempts, timeout_seconds, next_attempt_at, request_id, trace_id)
           values ($1, $2, $3, $4, $5, $13, $6, $7, 0, $8, $9, now() + make_interval(secs => $10), $11, $12)
           on conflict (tenant, idempotency_key) do nothing
           returning *
         ), e as (
           insert into job_events (job_id, from_status, to_status, source, detail)
           select id, null, $13, $14, jsonb_build_object('to', $13::text, 'principal', principal) from j
         )
         select {JOB_COLUMNS} from j"
    );
    let statement = db.with_retry(|pool| async move {
        sqlx::query_as::<_, Job>(sql)
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
            .bind(JobStatus::Queued)
            .bind(EventSource::Api)
            .fetch_optional(&pool)
            .await
    });
    portcullis_db::traced("jobs.insert", statement).await
}

/// The job a tenant submitted with an idempotency key.
pub async fn by_key(db: &Database, tenant: &Tenant, key: &str) -> Result<Option<Job>, DbError> {
    let sql = &format!("select {JOB_COLUMNS} from jobs where tenant = $1 and idempotency_key = $2");
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, Job>(sql)
            .bind(tenant)
            .bind(key)
            .fetch_optional(&pool)
            .await
    })
    .await
}

/// One job of one tenant (another tenant's job reads as absent).
pub async fn get(db: &Database, tenant: &Tenant, id: Uuid) -> Result<Option<Job>, DbError> {
    let sql = &format!("select {JOB_COLUMNS} from jobs where id = $1 and tenant = $2");
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, Job>(sql)
            .bind(id)
            .bind(tenant)
            .fetch_optional(&pool)
            .await
    })
    .await
}

/// What `GET /v1/jobs` may filter on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub status: Option<JobStatus>,
    pub job_type: Option<String>,
}

/// Keyset page position: (created_at, id) of the last job shown.
pub type After = (DateTime<Utc>, Uuid);

/// A tenant's jobs, newest first, after the page position.
pub async fn list(
    db: &Database,
    tenant: &Tenant,
    filter: &Filter,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<Job>, DbError> {
    let sql = &format!(
        "select {JOB_COLUMNS} from jobs
         where tenant = $1
           and ($2::text is null or status = $2)
           and ($3::text is null or type = $3)
           and ($4::timestamptz is null or (created_at, id) < ($4, $5))
         order by created_at desc, id desc
         limit $6"
    );
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, Job>(sql)
            .bind(tenant)
            .bind(filter.status)
            .bind(filter.job_type.as_deref())
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
            .bind(limit)
            .fetch_all(&pool)
            .await
    })
    .await
}

/// A job's history, oldest first, as a tenant sees it: each `detail` keeps
/// only the fields of [`EventView::TENANT_DETAIL`] (no task ARNs, no ECS text).
pub async fn events(db: &Database, job_id: Uuid) -> Result<Vec<EventView>, DbError> {
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, EventView>(
            "select id, from_status, to_status, source, detail, at from job_events
             where job_id = $1 order by at, id",
        )
        .bind(job_id)
        .fetch_all(&pool)
        .await
    })
    .await
    .map(|rows| rows.into_iter().map(EventView::for_tenant).collect())
}

/// Record what a RunTask came to, in one statement (update + event). Only a
/// job still `queued` changes: if an ECS event, the reconciler or a cancel got
/// there first, nothing does and the answer is `None`.
///
/// `jobs.error` and the event's `reason` get the tenant's reason
/// ([`LaunchOutcome::public`]); ECS's own text (and the task ARN) go to the
/// event's `internal` detail, which the API never shows.
pub async fn record_launch(
    db: &Database,
    job_id: Uuid,
    outcome: &LaunchOutcome,
    source: EventSource,
    retry_in: Duration,
) -> Result<Option<Job>, DbError> {
    // $2 = the public reason, $6 = queued, $7 = starting, $8 = failed, $9 = ECS's text.
    let gave_up = "attempts + 1 >= coalesce(max_attempts, 5)";
    let (set, detail_kind, internal) = match outcome {
        LaunchOutcome::Started { .. } => (
            "status = $7, task_arn = $9, attempts = attempts + 1, next_attempt_at = null, error = null,
             started_at = coalesce(started_at, now())"
                .to_owned(),
            "started",
            "jsonb_build_object('task_arn', $9::text)",
        ),
        LaunchOutcome::Failed { .. } => (
            "status = $8, error = $2, attempts = attempts + 1, next_attempt_at = null, finished_at = now()"
                .to_owned(),
            "failed",
            "jsonb_build_object('detail', $9::text)",
        ),
        LaunchOutcome::Retry { .. } | LaunchOutcome::Unknown { .. } => (
            format!(
                "status = case when {gave_up} then $8 else status end,
                 error = case when {gave_up} then {} else $2 end,
                 attempts = attempts + 1,
                 next_attempt_at = case when {gave_up} then null else now() + make_interval(secs => $3) end,
                 finished_at = case when {gave_up} then now() end",
                crate::reason::GAVE_UP_SQL
            ),
            if matches!(outcome, LaunchOutcome::Retry { .. }) {
                "retry"
            } else {
                "unknown"
            },
            "jsonb_build_object('detail', $9::text)",
        ),
    };
    let sql = &format!(
        "with u as (
           update jobs set {set}, updated_at = now() where id = $1 and status = $6 returning *
         ), e as (
           insert into job_events (job_id, from_status, to_status, source, detail)
           select u.id, $6, u.status, $4, jsonb_build_object('outcome', $5::text, 'attempt', u.attempts,
                  'reason', u.error, 'to', u.status, 'internal', {internal}) from u
         )
         select {JOB_COLUMNS} from u"
    );
    let public = outcome.public();
    db.with_retry(|pool| {
        let public = public.clone();
        async move {
            sqlx::query_as::<_, Job>(sql)
                .bind(job_id)
                .bind(public)
                .bind(retry_in.as_secs_f64())
                .bind(source)
                .bind(detail_kind)
                .bind(JobStatus::Queued)
                .bind(JobStatus::Starting)
                .bind(JobStatus::Failed)
                .bind(outcome.raw())
                .fetch_optional(&pool)
                .await
        }
    })
    .await
}

/// The reconciler's claim on a queued job that is due: one statement moves
/// its `next_attempt_at` `lease` into the future, so no other sweep picks it
/// while this one talks to ECS (outside any transaction). A claim that is
/// never settled (a crash) simply expires.
pub async fn claim_due(
    db: &Database,
    lease: Duration,
    skip: &[Uuid],
) -> Result<Option<Job>, DbError> {
    let sql = &format!(
        "update jobs set next_attempt_at = now() + make_interval(secs => $2)
         where id = (select id from jobs
                     where status = $1 and next_attempt_at <= now() and id <> all($3)
                     order by next_attempt_at
                     limit 1
                     for update skip locked)
         returning {JOB_COLUMNS}"
    );
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, Job>(sql)
            .bind(JobStatus::Queued)
            .bind(lease.as_secs_f64())
            .bind(skip)
            .fetch_optional(&pool)
            .await
    })
    .await
}

/// The reconciler's claim on a starting/running job past its timeout, as
/// [`claim_due`]: `next_attempt_at` (otherwise unused once a job started)
/// holds the claim until [`time_out`] or [`release`].
pub async fn claim_overdue(
    db: &Database,
    lease: Duration,
    skip: &[Uuid],
) -> Result<Option<Job>, DbError> {
    let sql = &format!(
        "update jobs set next_attempt_at = now() + make_interval(secs => $2)
         where id = (select id from jobs
                     where status = any($1) and timeout_seconds is not null and stop_requested is null
                       and coalesce(started_at, created_at) + make_interval(secs => timeout_seconds) < now()
                       and (next_attempt_at is null or next_attempt_at <= now())
                       and id <> all($3)
                     order by started_at
                     limit 1
                     for update skip locked)
         returning {JOB_COLUMNS}"
    );
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, Job>(sql)
            .bind(&ACTIVE[..])
            .bind(lease.as_secs_f64())
            .bind(skip)
            .fetch_optional(&pool)
            .await
    })
    .await
}

/// Give up a claim of [`claim_overdue`] so the next sweep tries again.
pub async fn release(db: &Database, job_id: Uuid) -> Result<(), DbError> {
    db.with_retry(|pool| async move {
        sqlx::query("update jobs set next_attempt_at = null where id = $1 and status = any($2)")
            .bind(job_id)
            .bind(&ACTIVE[..])
            .execute(&pool)
            .await
            .map(|_| ())
    })
    .await
}

/// End an overdue job whose task was stopped: `timed_out`, with its event.
/// `reason` is what the tenant sees (`reason::timed_out`).
/// `None` when the job moved meanwhile (finished, or a cancel was requested).
pub async fn time_out(db: &Database, job_id: Uuid, reason: &str) -> Result<Option<Job>, DbError> {
    let mut tx = db.begin().await?;
    let Some(job) = lock(&mut tx, job_id).await? else {
        return Ok(None);
    };
    if !ACTIVE.contains(&job.status) || job.stop_requested.is_some() {
        return Ok(None);
    }
    let updated = sqlx::query_as::<_, Job>(&format!(
        "update jobs set status = $2, stop_requested = $3, error = $4, next_attempt_at = null,
                finished_at = now()
         where id = $1 returning {JOB_COLUMNS}"
    ))
    .bind(job_id)
    .bind(JobStatus::TimedOut)
    .bind(StopReason::Timeout)
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    append_event(
        &mut tx,
        job_id,
        EventSource::Reconciler,
        Some(job.status),
        JobStatus::TimedOut,
        serde_json::json!({ "reason": reason, "internal": { "task_arn": job.task_arn } }),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(updated))
}

/// What [`record_cancel`] found.
#[derive(Debug, Clone)]
pub enum CancelRecord {
    /// The cancel is recorded (or another one was, a moment earlier).
    Recorded(Box<Job>),
    /// The job changed since it was read (finished, or a task was recorded):
    /// read it again and decide anew.
    Changed,
    /// No such job for this tenant.
    NotFound,
}

/// Record a cancel decided on a job read earlier, after its tasks were
/// stopped: one short transaction, no ECS call inside. It applies only if the
/// job still has the task seen then (`seen_task`) and is not finished. A
/// queued job with no task becomes `cancelled` at once; a started one gets
/// `stop_requested = cancel` and becomes `cancelled` when ECS reports STOPPED.
pub async fn record_cancel(
    db: &Database,
    tenant: &Tenant,
    id: Uuid,
    seen_task: Option<&str>,
    reason: &str,
    stopped_tasks: &[String],
) -> Result<CancelRecord, DbError> {
    let mut tx = db.begin().await?;
    let job = sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where id = $1 and tenant = $2 for update"
    ))
    .bind(id)
    .bind(tenant)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(job) = job else {
        return Ok(CancelRecord::NotFound);
    };
    if job.cancel_requested() && !job.status.is_terminal() {
        return Ok(CancelRecord::Recorded(Box::new(job)));
    }
    if job.status.is_terminal() || job.task_arn.as_deref() != seen_task {
        return Ok(CancelRecord::Changed);
    }
    let from = job.status;
    let (updated, to, detail) = if from == JobStatus::Queued && job.task_arn.is_none() {
        // Nothing runs (or what ran is stopped): cancelled at once.
        let j = sqlx::query_as::<_, Job>(&format!(
            "update jobs set status = $2, stop_requested = $3, next_attempt_at = null,
                    finished_at = now(), error = $4
             where id = $1 returning {JOB_COLUMNS}"
        ))
        .bind(id)
        .bind(JobStatus::Cancelled)
        .bind(StopReason::Cancel)
        .bind(crate::reason::Code::Cancelled.text())
        .fetch_one(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "reason": reason, "internal": { "stopped_tasks": stopped_tasks }
        });
        (j, JobStatus::Cancelled, detail)
    } else {
        // Cancelled once ECS confirms the stop (event or reconciler).
        let j = sqlx::query_as::<_, Job>(&format!(
            "update jobs set stop_requested = $2 where id = $1 returning {JOB_COLUMNS}"
        ))
        .bind(id)
        .bind(StopReason::Cancel)
        .fetch_one(&mut *tx)
        .await?;
        let detail = serde_json::json!({
            "cancel_requested": true, "reason": reason, "internal": { "stopped_tasks": stopped_tasks }
        });
        (j, from, detail)
    };
    append_event(&mut tx, id, EventSource::Api, Some(from), to, detail).await?;
    tx.commit().await?;
    Ok(CancelRecord::Recorded(Box::new(updated)))
}

/// Starting/running jobs with a task and no news from ECS for `stale_after`:
/// (job id, task ARN), oldest news first.
pub async fn stale(
    db: &Database,
    stale_after: Duration,
    limit: i64,
) -> Result<Vec<(Uuid, String)>, DbError> {
    db.with_retry(|pool| async move {
        sqlx::query_as::<_, (Uuid, String)>(
            "select id, task_arn from jobs
             where status = any($1) and task_arn is not null
               and coalesce(synced_at, updated_at) < now() - make_interval(secs => $2)
             order by coalesce(synced_at, updated_at)
             limit $3",
        )
        .bind(&ACTIVE[..])
        .bind(stale_after.as_secs_f64())
        .bind(limit)
        .fetch_all(&pool)
        .await
    })
    .await
}

/// Note that ECS was asked about these jobs just now.
pub async fn mark_synced(db: &Database, ids: &[Uuid]) -> Result<(), DbError> {
    db.with_retry(|pool| async move {
        sqlx::query("update jobs set synced_at = now() where id = any($1) and status = any($2)")
            .bind(ids)
            .bind(&ACTIVE[..])
            .execute(&pool)
            .await
            .map(|_| ())
    })
    .await
}

/// Lock one job (inside a caller's short transaction).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Job>, DbError> {
    Ok(sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Lock the job of an ECS task: by task ARN, else by `startedBy` (= job id).
pub async fn lock_for_task(
    conn: &mut PgConnection,
    task_arn: &str,
    started_by: Option<Uuid>,
) -> Result<Option<Job>, DbError> {
    let by_arn = sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where task_arn = $1 for update"
    ))
    .bind(task_arn)
    .fetch_optional(&mut *conn)
    .await?;
    match (by_arn, started_by) {
        (Some(job), _) => Ok(Some(job)),
        (None, Some(id)) => lock(conn, id).await,
        (None, None) => Ok(None),
    }
}

/// What an ECS task state does to its job (see `transition`).
#[derive(Debug, Clone)]
pub struct TaskUpdate<'a> {
    pub status: JobStatus,
    pub task_arn: &'a str,
    pub version: Option<i64>,
    pub exit_code: Option<i32>,
    pub stop_code: Option<&'a str>,
    pub stopped_reason: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// Apply a task state to a locked job (inside the caller's transaction).
pub async fn apply_task_update(
    conn: &mut PgConnection,
    job_id: Uuid,
    u: &TaskUpdate<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "update jobs set status = $2,
            task_arn = coalesce(task_arn, $3),
            ecs_version = greatest(coalesce(ecs_version, 0), coalesce($4, ecs_version, 0)),
            attempts = greatest(attempts, 1),
            exit_code = coalesce($5, exit_code),
            stop_code = coalesce($6, stop_code),
            stopped_reason = coalesce($7, stopped_reason),
            error = coalesce($8, error),
            next_attempt_at = null,
            started_at = coalesce(started_at, now()),
            finished_at = case when $9 then now() else finished_at end,
            synced_at = now(),
            updated_at = now()
         where id = $1",
    )
    .bind(job_id)
    .bind(u.status)
    .bind(u.task_arn)
    .bind(u.version)
    .bind(u.exit_code)
    .bind(u.stop_code)
    .bind(u.stopped_reason)
    .bind(u.error)
    .bind(u.status.is_terminal())
    .execute(conn)
    .await?;
    Ok(())
}

/// When job `id` moved into `running` (its first such event), if it did:
/// where its run time starts (`crate::metrics::finished`).
pub async fn running_since(db: &Database, id: Uuid) -> Result<Option<DateTime<Utc>>, DbError> {
    db.with_retry(|pool| async move {
        sqlx::query_scalar::<_, DateTime<Utc>>(
            "select at from job_events where job_id = $1 and to_status = $2 order by id limit 1",
        )
        .bind(id)
        .bind(JobStatus::Running)
        .fetch_optional(&pool)
        .await
    })
    .await
}

/// Append one event row (inside the caller's transaction).
pub async fn append_event(
    conn: &mut PgConnection,
    job_id: Uuid,
    source: EventSource,
    from: Option<JobStatus>,
    to: JobStatus,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    sqlx::query(
        "insert into job_events (job_id, from_status, to_status, source, detail) values ($1, $2, $3, $4, $5)",
    )
    .bind(job_id)
    .bind(from)
    .bind(to)
    .bind(source)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}
