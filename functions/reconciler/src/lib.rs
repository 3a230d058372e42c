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
//! No lock or transaction is held while ECS is called. Launch and timeout
//! first *claim* a job in one statement (`for update skip locked`, then
//! `next_attempt_at` moves `JOB_LAUNCH_GRACE_SECS` ahead), so two reconcilers
//! running at once never handle the same job, and a claim left by a crash
//! expires; the result is recorded afterwards with a statement that applies
//! only if the job did not move meanwhile. Sync is idempotent (versions,
//! monotonic status), so doing it twice is harmless.
//!
//! Metrics (`portcullis_core::metrics`, docs/observability.md#metrics): one
//! record per sweep, also when it stopped early ([`emit`]):
//! `ReconcilerRedriven` (due queued jobs it drove again),
//! `ReconcilerOrphanAdopted`, `ReconcilerDuplicateStopped` and
//! `ReconcilerSweepDuration`. The jobs' own moves (started, timed out,
//! failed, ...) are counted by `portcullis_jobs::metrics` as they commit.

use portcullis_core::metrics::{Metric, Record};
use portcullis_db::DbError;
pub use portcullis_jobs::State;
use portcullis_jobs::launch::{self, LaunchOutcome};
use portcullis_jobs::lifecycle;
use portcullis_jobs::model::{EventSource, JobStatus};
use portcullis_jobs::reason::{self, Code};
use portcullis_jobs::store;
use portcullis_jobs::transition::{self, Applied, TaskSnapshot};
use serde::Serialize;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What one sweep did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Due queued jobs claimed and driven again (launched, adopted,
    /// retried or failed).
    pub redriven: u32,
    /// RunTask accepted.
    pub launched: u32,
    /// A task an earlier RunTask had started was found by startedBy and adopted.
    pub adopted: u32,
    /// Further tasks of an adopted job (two launches raced), stopped.
    pub duplicates_stopped: u32,
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

/// Why a sweep stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the reconciler could not use the database: {0}")]
    Db(#[from] DbError),
}

impl From<ReconcileError> for lambda_runtime::Diagnostic {
    fn from(e: ReconcileError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "ReconcileError".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// The Lambda entry point; the scheduler's payload is not used.
pub async fn handle(state: &State, _event: serde_json::Value) -> Result<Report, ReconcileError> {
    let report = reconcile(state).await?;
    tracing::info!(?report, "reconciliation sweep done");
    Ok(report)
}

/// One full sweep, and its metrics record (what it did until it stopped,
/// when a database failure stops it early).
pub async fn reconcile(state: &State) -> Result<Report, ReconcileError> {
    let started = Instant::now();
    let mut report = Report::default();
    let swept = sweep(state, &mut report).await;
    emit(&report, started.elapsed());
    swept.map(|()| report)
}

async fn sweep(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    launch_due(state, report).await?;
    stop_overdue(state, report).await?;
    sync_stale(state, report).await
}

/// The sweep's metrics record.
pub fn emit(report: &Report, took: Duration) {
    Record::new()
        .add(Metric::ReconcilerRedriven, report.redriven.into())
        .add(Metric::ReconcilerOrphanAdopted, report.adopted.into())
        .add(
            Metric::ReconcilerDuplicateStopped,
            report.duplicates_stopped.into(),
        )
        .millis(Metric::ReconcilerSweepDuration, took)
        .emit();
}

/// Step 1: launch due queued jobs, one claimed job at a time.
pub async fn launch_due(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    let lease = state.settings.launch_grace;
    let mut seen: Vec<Uuid> = Vec::new();
    for _ in 0..state.settings.batch {
        let Some(job) = store::claim_due(&state.db, lease, &seen).await? else {
            break;
        };
        seen.push(job.id);
        report.redriven += 1;
        let outcome = match state.types.get(&job.job_type) {
            None => LaunchOutcome::Failed {
                code: Code::TypeUnregistered,
                reason: format!(
                    "job type {} is no longer registered in platform.yaml",
                    job.job_type
                ),
            },
            Some(jt) => {
                let id = job.id.to_string();
                match launch::tasks_started_by(state.ecs.get().await, &state.placement.cluster, &id)
                    .await
                {
                    Ok(arns) if !arns.is_empty() => {
                        // Running tasks come first: the first is the job's,
                        // any other is a duplicate (two launches raced) and is
                        // stopped, so no task runs unbounded outside the job's
                        // timeout and cancel (a cancel racing RunTask).
                        for extra in &arns[1..] {
                            let reason = format!(
                                "Portcullis: duplicate task of job {}; the job runs as its first task",
                                job.id
                            );
                            match launch::stop_task(
                                state.ecs.get().await,
                                &state.placement.cluster,
                                extra,
                                &reason,
                            )
                            .await
                            {
                                Ok(_) => {
                                    report.duplicates_stopped += 1;
                                    tracing::warn!(job_id = %job.id, task_arn = %extra, "duplicate task of this job stopped")
                                }
                                Err(e) => {
                                    tracing::error!(job_id = %job.id, task_arn = %extra, error = %e, "duplicate task of this job could not be stopped: stop it by hand (aws ecs stop-task)")
                                }
                            }
                        }
                        report.adopted += 1;
                        LaunchOutcome::Started {
                            task_arn: arns[0].clone(),
                        }
                    }
                    Ok(_) => {
                        let o = launch::run_task(state.ecs.get().await, &state.placement, jt, &job)
                            .await;
                        if matches!(o, LaunchOutcome::Started { .. }) {
                            report.launched += 1;
                        }
                        o
                    }
                    Err(reason) => LaunchOutcome::Unknown { reason },
                }
            }
        };
        let updated =
            lifecycle::record_launch(state, &job, &outcome, EventSource::Reconciler).await?;
        match (&outcome, updated.as_ref().map(|j| j.status)) {
            (LaunchOutcome::Started { .. }, _) => {}
            (_, Some(JobStatus::Failed)) => report.failed += 1,
            (_, _) => report.retried += 1,
        }
        // ECS's own text is logged here; the job shows its reason code.
        tracing::info!(job_id = %job.id, request_id = job.request_id.as_deref().unwrap_or("-"), ?outcome, "reconciler launch");
    }
    Ok(())
}

/// Step 2: stop jobs past their timeout, one claimed job at a time.
pub async fn stop_overdue(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    let lease = state.settings.launch_grace;
    let mut seen: Vec<Uuid> = Vec::new();
    for _ in 0..state.settings.batch {
        let Some(job) = store::claim_overdue(&state.db, lease, &seen).await? else {
            break;
        };
        seen.push(job.id);
        let cluster = &state.placement.cluster;
        let arns = match &job.task_arn {
            Some(a) => Ok(vec![a.clone()]),
            None => {
                launch::tasks_started_by(state.ecs.get().await, cluster, &job.id.to_string()).await
            }
        };
        let reason = format!(
            "Portcullis: job exceeded its timeout of {} s",
            job.timeout_seconds.unwrap_or_default()
        );
        let stopped = match arns {
            Ok(arns) => {
                let mut ok = true;
                for arn in &arns {
                    if let Err(e) =
                        launch::stop_task(state.ecs.get().await, cluster, arn, &reason).await
                    {
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
            store::release(&state.db, job.id).await?;
            continue;
        }
        let public = reason::timed_out(job.timeout_seconds.unwrap_or_default());
        if let Some(ended) = store::time_out(&state.db, job.id, &public).await? {
            report.timed_out += 1;
            tracing::info!(job_id = %job.id, "job timed out; task stopped");
            portcullis_jobs::metrics::ended(&state.db, job.status, &ended).await;
        } else {
            tracing::info!(job_id = %job.id, "an overdue job moved while its task was stopped; left as it is");
        }
    }
    Ok(())
}

/// Step 3: DescribeTasks for starting/running jobs ECS has not told us about lately.
pub async fn sync_stale(state: &State, report: &mut Report) -> Result<(), ReconcileError> {
    let rows = store::stale(&state.db, state.settings.stale_after, state.settings.batch).await?;
    for chunk in rows.chunks(100) {
        let arns: Vec<String> = chunk.iter().map(|(_, a)| a.clone()).collect();
        let out = match state
            .ecs
            .get()
            .await
            .describe_tasks()
            .cluster(&state.placement.cluster)
            .set_tasks(Some(arns))
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
                        stopped_reason: Some(transition::MISSING_REASON.into()),
                        containers: Vec::new(),
                    });
                }
            }
        }
        for snap in &snaps {
            match transition::apply(&state.db, &state.types, snap, EventSource::Reconciler).await? {
                Applied::Moved { .. } => report.synced += 1,
                Applied::Recorded { .. } | Applied::Ignored { .. } | Applied::UnknownTask => {}
            }
        }
        let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
        store::mark_synced(&state.db, &ids).await?;
    }
    Ok(())
}
