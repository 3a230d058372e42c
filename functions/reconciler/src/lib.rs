//! The `reconciler` Lambda (EventBridge Scheduler, every minute). One sweep:
//!
//! 1. **launch** queued jobs that are due (`next_attempt_at <= now()`): retries
//!    after capacity/throttling, jobs whose RunTask answer was lost, and jobs
//!    left behind by a crash between commit and RunTask. Before any RunTask it
//!    lists tasks by `startedBy` = job id, so a task an earlier call started is
//!    adopted instead of doubled (ECS's `clientToken` also deduplicates; the
//!    emulator ignores it).
//! 2. **time out** starting/running jobs past `timeout_seconds`: StopTask, then
//!    `timed_out`.
//! 3. **sync** starting/running jobs with no news from ECS for
//!    `RECONCILE_STALE_SECS`: DescribeTasks, applied like an event.
//!
//! Launch and timeout take each job under `for update skip locked` in its own
//! transaction, so two reconcilers running at once never handle the same job;
//! sync is idempotent (versions, monotonic status), so doing it twice is harmless.

pub use portcullis_jobs::State;
use portcullis_jobs::launch::{self, LaunchOutcome};
use portcullis_jobs::model::{Job, JobStatus};
use portcullis_jobs::store::{self, JOB_COLUMNS};
use portcullis_jobs::transition::{self, Applied, TaskSnapshot};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

/// What one sweep did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// RunTask accepted.
    pub launched: u32,
    /// A task an earlier RunTask had started was found by startedBy and adopted.
    pub adopted: u32,
    /// Left queued for a later attempt.
    pub retried: u32,
    /// Gave up (client error, max attempts, type no longer registered).
    pub failed: u32,
    pub timed_out: u32,
    /// Jobs whose status changed through DescribeTasks.
    pub synced: u32,
    /// Problems that leave a job for the next sweep.
    pub errors: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("database error during reconciliation: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    DbAccess(#[from] portcullis_db::DbError),
}

/// The Lambda entry point; the scheduler's payload is not used.
pub async fn handle(state: &State, _event: serde_json::Value) -> Result<Report, ReconcileError> {
    let report = reconcile(state).await?;
    tracing::info!(?report, "reconciliation sweep done");
    Ok(report)
}

/// One full sweep.
pub async fn reconcile(state: &State) -> Result<Report, ReconcileError> {
    let mut report = Report::default();
    launch_due(state, &mut report).await?;
    stop_overdue(state, &mut report).await?;
    sync_stale(state, &mut report).await?;
    Ok(report)
}

/// Step 1: launch due queued jobs, one locked row at a time.
pub async fn launch_due(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    let mut seen: Vec<Uuid> = Vec::new();
    for _ in 0..state.settings.batch {
        let mut tx = state.db.begin().await?;
        let job = sqlx::query_as::<_, Job>(&format!(
            "select {JOB_COLUMNS} from jobs
             where status = 'queued' and next_attempt_at <= now() and id <> all($1)
             order by next_attempt_at
             limit 1
             for update skip locked"
        ))
        .bind(&seen)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job) = job else { break };
        seen.push(job.id);
        let outcome = match state.types.get(&job.job_type) {
            None => LaunchOutcome::Failed {
                reason: format!(
                    "job type {} is no longer registered in platform.yaml",
                    job.job_type
                ),
            },
            Some(jt) => {
                let id = job.id.to_string();
                match launch::tasks_started_by(&state.ecs, &state.placement.cluster, &id).await {
                    Ok(arns) if !arns.is_empty() => {
                        if arns.len() > 1 {
                            tracing::error!(job_id = %job.id, ?arns, "more than one task carries this job id");
                        }
                        report.adopted += 1;
                        LaunchOutcome::Started {
                            task_arn: arns[0].clone(),
                        }
                    }
                    Ok(_) => {
                        let o = launch::run_task(&state.ecs, &state.placement, jt, &job).await;
                        if matches!(o, LaunchOutcome::Started { .. }) {
                            report.launched += 1;
                        }
                        o
                    }
                    Err(reason) => LaunchOutcome::Unknown { reason },
                }
            }
        };
        let retry_in = launch::backoff(job.attempts + 1);
        let updated =
            store::record_launch(&mut *tx, job.id, &outcome, "reconciler", retry_in).await?;
        tx.commit().await?;
        match (&outcome, updated.as_ref().map(Job::status)) {
            (LaunchOutcome::Started { .. }, _) => {}
            (_, Some(JobStatus::Failed)) => report.failed += 1,
            (_, _) => report.retried += 1,
        }
        tracing::info!(job_id = %job.id, ?outcome, "reconciler launch");
    }
    Ok(())
}

/// Step 2: stop jobs past their timeout.
pub async fn stop_overdue(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    let mut seen: Vec<Uuid> = Vec::new();
    for _ in 0..state.settings.batch {
        let mut tx = state.db.begin().await?;
        let job = sqlx::query_as::<_, Job>(&format!(
            "select {JOB_COLUMNS} from jobs
             where status in ('starting', 'running') and timeout_seconds is not null
               and stop_requested is null
               and coalesce(started_at, created_at) + make_interval(secs => timeout_seconds) < now()
               and id <> all($1)
             order by started_at
             limit 1
             for update skip locked"
        ))
        .bind(&seen)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(job) = job else { break };
        seen.push(job.id);
        let cluster = &state.placement.cluster;
        let arns = match &job.task_arn {
            Some(a) => Ok(vec![a.clone()]),
            None => launch::tasks_started_by(&state.ecs, cluster, &job.id.to_string()).await,
        };
        let reason = format!(
            "Portcullis: job exceeded its timeout of {} s",
            job.timeout_seconds.unwrap_or_default()
        );
        let stopped = match arns {
            Ok(arns) => {
                let mut ok = true;
                for arn in &arns {
                    if let Err(e) = launch::stop_task(&state.ecs, cluster, arn, &reason).await {
                        tracing::warn!(job_id = %job.id, error = %e, "could not stop an overdue task; next sweep retries");
                        ok = false;
                    }
                }
                ok
            }
            Err(e) => {
                tracing::warn!(job_id = %job.id, error = %e, "could not list an overdue job's tasks");
                false
            }
        };
        if !stopped {
            report.errors += 1;
            tx.rollback().await?;
            continue;
        }
        sqlx::query(
            "update jobs set status = 'timed_out', stop_requested = 'timeout', error = $2, finished_at = now()
             where id = $1",
        )
        .bind(job.id)
        .bind(&reason)
        .execute(&mut *tx)
        .await?;
        store::append_event(
            &mut *tx,
            job.id,
            "reconciler",
            Some(job.status()),
            JobStatus::TimedOut,
            json!({ "reason": reason, "task_arn": job.task_arn }),
        )
        .await?;
        tx.commit().await?;
        report.timed_out += 1;
        tracing::info!(job_id = %job.id, "job timed out; task stopped");
    }
    Ok(())
}

/// Step 3: DescribeTasks for starting/running jobs ECS has not told us about lately.
pub async fn sync_stale(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "select id, task_arn from jobs
         where status in ('starting', 'running') and task_arn is not null
           and coalesce(synced_at, updated_at) < now() - make_interval(secs => $1)
         order by coalesce(synced_at, updated_at)
         limit $2",
    )
    .bind(state.settings.stale_after.as_secs_f64())
    .bind(state.settings.batch)
    .fetch_all(state.db.pool())
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    for chunk in rows.chunks(100) {
        let arns: Vec<String> = chunk.iter().map(|(_, a)| a.clone()).collect();
        let out = match state
            .ecs
            .describe_tasks()
            .cluster(&state.placement.cluster)
            .set_tasks(Some(arns.clone()))
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %aws_sdk_ecs::error::DisplayErrorContext(&e), "DescribeTasks failed; next sweep retries");
                report.errors += 1;
                continue;
            }
        };
        let mut snaps: Vec<TaskSnapshot> = out
            .tasks()
            .iter()
            .filter_map(TaskSnapshot::from_task)
            .collect();
        // ECS forgets stopped tasks after a while: a MISSING task is over.
        for f in out.failures() {
            if f.reason() == Some("MISSING") {
                if let Some(arn) = f.arn() {
                    snaps.push(TaskSnapshot {
                        task_arn: arn.to_owned(),
                        last_status: "STOPPED".into(),
                        version: None,
                        started_by: None,
                        stop_code: None,
                        stopped_reason: Some("ECS no longer reports the task (MISSING)".into()),
                        containers: Vec::new(),
                    });
                }
            }
        }
        for snap in &snaps {
            match transition::apply(state.db.pool(), &state.types, snap, "reconciler").await? {
                Applied::Moved { .. } => report.synced += 1,
                Applied::Recorded { .. } | Applied::Ignored { .. } | Applied::UnknownTask => {}
            }
        }
        let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
        sqlx::query(
            "update jobs set synced_at = now() where id = any($1) and status in ('starting', 'running')",
        )
        .bind(&ids)
        .execute(state.db.pool())
        .await?;
    }
    Ok(())
}
