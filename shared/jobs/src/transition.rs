//! Applying what ECS says about a task to its job, idempotently. Used by
//! `task-events` (EventBridge "ECS Task State Change") and by the reconciler
//! (DescribeTasks), so both follow the same rules:
//!
//! - the job is found by task ARN, else by `startedBy` (= job id);
//! - a terminal job never changes;
//! - an event whose `version` is not above the last applied one is stale;
//! - a job never moves back (starting < running < terminal);
//! - STOPPED → `cancelled` / `timed_out` when the platform asked for the stop,
//!   else `succeeded` only if the essential container exited 0, else `failed`.

use crate::model::{Job, JobStatus, STOP_CANCEL, STOP_TIMEOUT};
use crate::store::JOB_COLUMNS;
use portcullis_platform::jobs::JobTypes;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// One container as ECS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A task as an event or DescribeTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub task_arn: String,
    pub last_status: String,
    /// `detail.version` / `Task.version`; `None` when not reported.
    pub version: Option<i64>,
    pub started_by: Option<String>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerState>,
}

impl TaskSnapshot {
    pub fn from_task(t: &aws_sdk_ecs::types::Task) -> Option<Self> {
        Some(TaskSnapshot {
            task_arn: t.task_arn()?.to_owned(),
            last_status: t.last_status()?.to_owned(),
            // 0 means "not reported" (the SDK's default).
            version: Some(t.version()).filter(|v| *v > 0),
            started_by: t.started_by().map(str::to_owned),
            stop_code: t.stop_code().map(|c| c.as_str().to_owned()),
            stopped_reason: t.stopped_reason().map(str::to_owned),
            containers: t
                .containers()
                .iter()
                .map(|c| ContainerState {
                    name: c.name().unwrap_or_default().to_owned(),
                    exit_code: c.exit_code(),
                    reason: c.reason().map(str::to_owned),
                })
                .collect(),
        })
    }
}

/// What applying a snapshot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The job moved from one status to another.
    Moved {
        job_id: Uuid,
        from: JobStatus,
        to: JobStatus,
    },
    /// Same status; the newer version (and ARN) were recorded.
    Recorded { job_id: Uuid },
    /// Nothing changed, for the reason given.
    Ignored { job_id: Uuid, why: &'static str },
    /// No job has this task: logged and acknowledged.
    UnknownTask,
}

/// The status an ECS `lastStatus` leads to, before STOPPED is resolved.
fn progress(last_status: &str) -> Option<JobStatus> {
    match last_status {
        "PROVISIONING" | "PENDING" | "ACTIVATING" => Some(JobStatus::Starting),
        "RUNNING" | "DEACTIVATING" | "STOPPING" | "DEPROVISIONING" => Some(JobStatus::Running),
        "STOPPED" | "DELETED" => None,
        _ => Some(JobStatus::Starting),
    }
}

/// The outcome of a STOPPED task: (status, essential exit code, error).
pub fn stopped_outcome(
    job: &Job,
    essential: Option<&str>,
    snap: &TaskSnapshot,
) -> (JobStatus, Option<i32>, Option<String>) {
    let main = match essential {
        Some(name) => snap.containers.iter().find(|c| c.name == name),
        None => snap.containers.first(),
    };
    let exit = main.and_then(|c| c.exit_code);
    match job.stop_requested.as_deref() {
        Some(STOP_CANCEL) => return (JobStatus::Cancelled, exit, None),
        Some(STOP_TIMEOUT) => {
            return (
                JobStatus::TimedOut,
                exit,
                Some("stopped after its timeout".into()),
            );
        }
        _ => {}
    }
    let reason = snap
        .stopped_reason
        .clone()
        .unwrap_or_else(|| "no reason given".into());
    if snap.stop_code.as_deref() == Some("TaskFailedToStart") && exit.is_none() {
        return (
            JobStatus::Failed,
            None,
            Some(format!("the task failed to start: {reason}")),
        );
    }
    match (main, exit) {
        (None, _) => (
            JobStatus::Failed,
            None,
            Some(format!(
                "the essential container {} is not in the task: {reason}",
                essential.unwrap_or("(any)")
            )),
        ),
        (Some(c), None) => (
            JobStatus::Failed,
            None,
            Some(format!(
                "container {} stopped without an exit code: {}",
                c.name,
                c.reason.clone().unwrap_or(reason)
            )),
        ),
        (Some(_), Some(0)) => {
            // Another container that exited non-zero still fails the job
            // only if it was marked essential; ECS events do not say so, so the
            // registry's container is the essential one.
            (JobStatus::Succeeded, Some(0), None)
        }
        (Some(c), Some(code)) => (
            JobStatus::Failed,
            Some(code),
            Some(format!("container {} exited with code {code}", c.name)),
        ),
    }
}

/// Apply a snapshot to its job under a row lock. `source` names who reported
/// it (`ecs_event`, `reconciler`).
pub async fn apply(
    pool: &PgPool,
    types: &JobTypes,
    snap: &TaskSnapshot,
    source: &str,
) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut job = sqlx::query_as::<_, Job>(&format!(
        "select {JOB_COLUMNS} from jobs where task_arn = $1 for update"
    ))
    .bind(&snap.task_arn)
    .fetch_optional(&mut *tx)
    .await?;
    if job.is_none() {
        if let Some(id) = snap
            .started_by
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
        {
            job = sqlx::query_as::<_, Job>(&format!(
                "select {JOB_COLUMNS} from jobs where id = $1 for update"
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        }
    }
    let Some(job) = job else {
        tracing::warn!(task_arn = %snap.task_arn, started_by = ?snap.started_by, "ECS reported a task no job knows; acknowledged");
        return Ok(Applied::UnknownTask);
    };
    let current = job.status();
    let ignored = |why| {
        Ok(Applied::Ignored {
            job_id: job.id,
            why,
        })
    };
    if let Some(arn) = &job.task_arn {
        if arn != &snap.task_arn {
            tracing::warn!(job_id = %job.id, task_arn = %snap.task_arn, job_task = %arn, "event for a task that is not the job's task; ignored");
            return ignored("another task of the job");
        }
    }
    if current.is_terminal() {
        return ignored("the job is already finished");
    }
    if let (Some(v), Some(seen)) = (snap.version, job.ecs_version) {
        if v <= seen {
            return ignored("stale or duplicate version");
        }
    }
    let essential = types.get(&job.job_type).map(|t| t.container.as_str());
    let (target, exit_code, error) = match progress(&snap.last_status) {
        Some(st) => (st, None, None),
        None => stopped_outcome(&job, essential, snap),
    };
    if target.rank() < current.rank() {
        // An older state reported without a usable version: keep the newer one.
        return ignored("the job is already further along");
    }
    let moved = target != current;
    let finished = target.is_terminal();
    let sql = format!(
        "update jobs set status = '{status}',
            task_arn = coalesce(task_arn, $2),
            ecs_version = greatest(coalesce(ecs_version, 0), coalesce($3, ecs_version, 0)),
            attempts = greatest(attempts, 1),
            exit_code = coalesce($4, exit_code),
            stop_code = coalesce($5, stop_code),
            stopped_reason = coalesce($6, stopped_reason),
            error = coalesce($7, error),
            next_attempt_at = null,
            started_at = coalesce(started_at, now()),
            finished_at = case when {finished} then now() else finished_at end,
            synced_at = now(),
            updated_at = now()
         where id = $1",
        status = target.as_str(),
    );
    sqlx::query(&sql)
        .bind(job.id)
        .bind(&snap.task_arn)
        .bind(snap.version)
        .bind(exit_code)
        .bind(if finished {
            snap.stop_code.as_deref()
        } else {
            None
        })
        .bind(if finished {
            snap.stopped_reason.as_deref()
        } else {
            None
        })
        .bind(error.as_deref())
        .execute(&mut *tx)
        .await?;
    if moved {
        crate::store::append_event(
            &mut *tx,
            job.id,
            source,
            Some(current),
            target,
            json!({
                "from": current.as_str(),
                "to": target.as_str(),
                "task_arn": snap.task_arn,
                "last_status": snap.last_status,
                "version": snap.version,
                "exit_code": exit_code,
                "stop_code": snap.stop_code,
                "stopped_reason": snap.stopped_reason,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    if moved {
        tracing::info!(job_id = %job.id, from = %current, to = %target, source, "job moved");
        Ok(Applied::Moved {
            job_id: job.id,
            from: current,
            to: target,
        })
    } else {
        Ok(Applied::Recorded { job_id: job.id })
    }
}
