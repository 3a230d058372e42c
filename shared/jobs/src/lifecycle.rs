//! The job operations that talk to both ECS and the database, written so that
//! no row lock and no open transaction ever spans an ECS call: read (or claim)
//! in one short statement, call ECS, then record the result with a statement
//! that applies only if the job is still where it was.

use crate::State;
use crate::launch::{self, LaunchOutcome};
use crate::metrics;
use crate::model::{EventSource, Job, JobStatus};
use crate::store::{self, CancelRecord};
use portcullis_auth::Tenant;
use portcullis_db::DbError;
use uuid::Uuid;

/// Record what a RunTask for `job` came to (see [`store::record_launch`]).
///
/// If the job stopped being queued while RunTask was in flight because a
/// caller cancelled it, the task just started has no job to run for: it is
/// stopped here (best effort; logged when ECS refuses).
///
/// Metrics: `RunTaskFailure` for a RunTask that started no task; the job's
/// `JobFailed` when this recorded its end (a refused launch, or the last
/// attempt).
pub async fn record_launch(
    state: &State,
    job: &Job,
    outcome: &LaunchOutcome,
    source: EventSource,
) -> Result<Option<Job>, DbError> {
    let retry_in = launch::backoff(job.attempts + 1);
    let updated = store::record_launch(&state.db, job.id, outcome, source, retry_in).await?;
    metrics::launch_failed(outcome);
    if let Some(ended) = updated.as_ref().filter(|j| j.status.is_terminal()) {
        metrics::ended(&state.db, job.status, ended).await;
    }
    if let (None, LaunchOutcome::Started { task_arn }) = (&updated, outcome) {
        let now = store::get(&state.db, &job.tenant, job.id).await?;
        if now.as_ref().is_some_and(Job::cancel_requested) {
            let reason = format!("Portcullis: job {} was cancelled while it launched", job.id);
            match launch::stop_task(
                state.ecs.get().await,
                &state.placement.cluster,
                task_arn,
                &reason,
            )
            .await
            {
                Ok(_) => {
                    tracing::info!(job_id = %job.id, task_arn, "stopped a task started for a cancelled job")
                }
                Err(e) => {
                    tracing::error!(job_id = %job.id, task_arn, error = %e, "could not stop a task started for a cancelled job")
                }
            }
        }
    }
    Ok(updated)
}

/// Why a cancel did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no job {0}")]
    NotFound(Uuid),
    #[error("job {id} is already {status}; nothing to cancel")]
    Finished { id: Uuid, status: JobStatus },
    /// ECS could not be reached; nothing was recorded, so a retry starts over.
    #[error("{0}; nothing was changed, retry the cancel")]
    Ecs(String),
    /// The job kept changing under the cancel (events arriving at once).
    #[error("job {0} kept changing while it was being cancelled; retry the cancel")]
    Busy(Uuid),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// How many times a cancel reads the job again when it changed meanwhile.
const CANCEL_ROUNDS: usize = 3;

/// Cancel a job of `tenant`, for `principal`.
///
/// Read the job; stop its task (the saved one, or any an earlier RunTask
/// may have started, found by `startedBy`); then record the cancel in one
/// short transaction that applies only if the job still has the task that was
/// stopped. If it does not (a task was recorded meanwhile), start over. A
/// queued job with no task is `cancelled` at once; a started one gets
/// `cancel_requested` and becomes `cancelled` when ECS reports STOPPED.
/// Cancelling again while that is pending returns the job unchanged.
pub async fn cancel(
    state: &State,
    tenant: &Tenant,
    id: Uuid,
    principal: &str,
) -> Result<Job, CancelError> {
    let reason = format!("cancelled by {principal} through Portcullis");
    let cluster = &state.placement.cluster;
    for _ in 0..CANCEL_ROUNDS {
        let job = store::get(&state.db, tenant, id)
            .await?
            .ok_or(CancelError::NotFound(id))?;
        if job.status.is_terminal() {
            return Err(CancelError::Finished {
                id,
                status: job.status,
            });
        }
        if job.cancel_requested() {
            return Ok(job);
        }
        let tasks = match &job.task_arn {
            Some(arn) => vec![arn.clone()],
            None => launch::tasks_started_by(state.ecs.get().await, cluster, &id.to_string())
                .await
                .map_err(|e| CancelError::Ecs(format!("could not reach ECS to cancel: {e}")))?,
        };
        for arn in &tasks {
            launch::stop_task(state.ecs.get().await, cluster, arn, &reason)
                .await
                .map_err(|e| CancelError::Ecs(format!("could not stop the task: {e}")))?;
        }
        match store::record_cancel(
            &state.db,
            tenant,
            id,
            job.task_arn.as_deref(),
            &reason,
            &tasks,
        )
        .await?
        {
            CancelRecord::Recorded(updated) => {
                tracing::info!(job_id = %id, status = %updated.status, "cancel requested");
                // A queued job is cancelled at once (once: the update applies
                // only to a job that is not finished); a started one when ECS
                // reports its task stopped (`crate::transition`).
                if updated.status == JobStatus::Cancelled {
                    metrics::ended(&state.db, job.status, &updated).await;
                }
                return Ok(*updated);
            }
            CancelRecord::NotFound => return Err(CancelError::NotFound(id)),
            CancelRecord::Changed => {
                tracing::info!(job_id = %id, "the job changed during the cancel; reading it again")
            }
        }
    }
    Err(CancelError::Busy(id))
}
