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
//!
//! A move into `running` or a terminal status is counted once it committed
//! (`crate::metrics`): the row lock makes it the job's only such move.

use crate::metrics;
use crate::model::{EventSource, Job, JobStatus, StopReason};
use crate::reason::{self, Code};
use crate::store::{self, TaskUpdate};
use portcullis_db::{Database, DbError};
use portcullis_platform::jobs::JobTypes;
use serde_json::json;
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

/// Why a snapshot was [`Applied::Ignored`]: a task that is not the job's.
pub const OTHER_TASK: &str = "another task of the job";
/// ... the job already ended.
pub const JOB_FINISHED: &str = "the job is already finished";
/// ... a version not above the last applied one.
pub const STALE_VERSION: &str = "stale or duplicate version";
/// ... an older state, reported without a usable version.
pub const FURTHER_ALONG: &str = "the job is already further along";

impl Applied {
    /// News older than what the job already has: a stale or duplicate
    /// version, an older state, or anything about a finished job.
    pub fn is_stale(&self) -> bool {
        matches!(self, Applied::Ignored { why, .. }
            if [STALE_VERSION, FURTHER_ALONG, JOB_FINISHED].contains(why))
    }
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

/// The `stoppedReason` the reconciler records for a task ECS no longer
/// reports (DescribeTasks `MISSING`).
pub const MISSING_REASON: &str = "ECS no longer reports the task (MISSING)";

/// The outcome of a STOPPED task: (status, essential exit code, error). The
/// error is the tenant's reason (`crate::reason`); ECS's own text stays in
/// `stopped_reason`, the event's `internal` detail and the logs.
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
    match job.stop_requested {
        Some(StopReason::Cancel) => return (JobStatus::Cancelled, exit, None),
        Some(StopReason::Timeout) => {
            return (
                JobStatus::TimedOut,
                exit,
                Some(reason::timed_out(job.timeout_seconds.unwrap_or_default())),
            );
        }
        None => {}
    }
    let cause = reason::stopped_cause(
        snap.stop_code.as_deref(),
        snap.stopped_reason.as_deref(),
        main.and_then(|c| c.reason.as_deref()),
    );
    let failed = |fallback: Code| Some(cause.unwrap_or(fallback).text());
    if snap.stop_code.as_deref() == Some("TaskFailedToStart") && exit.is_none() {
        return (JobStatus::Failed, None, failed(Code::TaskFailedToStart));
    }
    match (main, exit) {
        (None, _) if snap.stopped_reason.as_deref() == Some(MISSING_REASON) => {
            (JobStatus::Failed, None, Some(Code::TaskLost.text()))
        }
        (None, _) => (JobStatus::Failed, None, failed(Code::TaskFailedToStart)),
        (Some(_), None) => (JobStatus::Failed, None, failed(Code::TaskStopped)),
        (Some(_), Some(0)) => {
            // Another container that exited non-zero still fails the job
            // only if it was marked essential; ECS events do not say so, so the
            // registry's container is the essential one.
            (JobStatus::Succeeded, Some(0), None)
        }
        (Some(_), Some(code)) => (
            JobStatus::Failed,
            Some(code),
            Some(match cause {
                Some(c @ (Code::OutOfMemory | Code::SpotInterrupted)) => c.text(),
                _ => reason::exit_code(code),
            }),
        ),
    }
}

/// Why a snapshot does not apply to the job it was matched to, if it does
/// not: another task of the job, a finished job, or a version already seen.
fn not_applicable(job: &Job, snap: &TaskSnapshot) -> Option<&'static str> {
    if let Some(arn) = &job.task_arn {
        if arn != &snap.task_arn {
            tracing::warn!(job_id = %job.id, task_arn = %snap.task_arn, job_task = %arn, "event for a task that is not the job's task; ignored");
            return Some(OTHER_TASK);
        }
    }
    if job.status.is_terminal() {
        return Some(JOB_FINISHED);
    }
    if let (Some(v), Some(seen)) = (snap.version, job.ecs_version) {
        if v <= seen {
            return Some(STALE_VERSION);
        }
    }
    None
}

/// The detail of a job event: what tenants see at the top, the raw ECS
/// text under `internal`.
fn event_detail(
    current: JobStatus,
    target: JobStatus,
    snap: &TaskSnapshot,
    exit_code: Option<i32>,
    error: Option<&str>,
) -> serde_json::Value {
    json!({
        "from": current,
        "to": target,
        "last_status": snap.last_status,
        "version": snap.version,
        "exit_code": exit_code,
        "stop_code": snap.stop_code,
        "reason": error,
        "internal": {
            "task_arn": snap.task_arn,
            "stopped_reason": snap.stopped_reason,
            "container_reasons": snap.containers.iter()
                .filter_map(|c| c.reason.as_ref().map(|r| json!({"name": c.name, "reason": r})))
                .collect::<Vec<_>>(),
        },
    })
}

/// The raw ECS text of a job that ended without success, for the
/// operators: tenants see only `public`.
fn log_failure(job: &Job, snap: &TaskSnapshot, public: &str) {
    tracing::warn!(
        job_id = %job.id, request_id = job.request_id.as_deref().unwrap_or("-"),
        task_arn = %snap.task_arn, stop_code = ?snap.stop_code,
        stopped_reason = ?snap.stopped_reason,
        container_reasons = ?snap.containers.iter().map(|c| (&c.name, &c.reason)).collect::<Vec<_>>(),
        reason = %public, "job ended without success"
    );
}

/// Apply a snapshot to its job in one short transaction (row lock, update,
/// event; no AWS call inside). `source` names who reported it.
pub async fn apply(
    db: &Database,
    types: &JobTypes,
    snap: &TaskSnapshot,
    source: EventSource,
) -> Result<Applied, DbError> {
    let mut tx = db.begin().await?;
    let started_by = snap
        .started_by
        .as_deref()
        .and_then(|s| Uuid::parse_str(s).ok());
    let Some(job) = store::lock_for_task(&mut tx, &snap.task_arn, started_by).await? else {
        tracing::warn!(task_arn = %snap.task_arn, started_by = ?snap.started_by, "ECS reported a task no job knows; acknowledged");
        return Ok(Applied::UnknownTask);
    };
    let current = job.status;
    let ignored = |why| {
        Ok(Applied::Ignored {
            job_id: job.id,
            why,
        })
    };
    if let Some(why) = not_applicable(&job, snap) {
        return ignored(why);
    }
    let essential = types.get(&job.job_type).map(|t| t.container.as_str());
    let (target, exit_code, error) = match progress(&snap.last_status) {
        Some(st) => (st, None, None),
        None => stopped_outcome(&job, essential, snap),
    };
    if target.rank() < current.rank() {
        // An older state reported without a usable version: keep the newer one.
        return ignored(FURTHER_ALONG);
    }
    let moved = target != current;
    let finished = target.is_terminal();
    store::apply_task_update(
        &mut tx,
        job.id,
        &TaskUpdate {
            status: target,
            task_arn: &snap.task_arn,
            version: snap.version,
            exit_code,
            stop_code: snap.stop_code.as_deref().filter(|_| finished),
            stopped_reason: snap.stopped_reason.as_deref().filter(|_| finished),
            error: error.as_deref(),
        },
    )
    .await?;
    if moved {
        store::append_event(
            &mut tx,
            job.id,
            source,
            Some(current),
            target,
            event_detail(current, target, snap, exit_code, error.as_deref()),
        )
        .await?;
    }
    tx.commit().await?;
    if let Some(public) = &error {
        log_failure(&job, snap, public);
    }
    let moved = Move {
        job_id: job.id,
        job_type: &job.job_type,
        created_at: job.created_at,
        from: current,
        to: target,
    };
    Ok(announce(db, moved, source).await)
}

/// A committed change of a job's status.
struct Move<'a> {
    job_id: Uuid,
    job_type: &'a str,
    created_at: chrono::DateTime<chrono::Utc>,
    from: JobStatus,
    to: JobStatus,
}

/// After the commit: the log line and the job's metrics when it moved
/// (started once, finished once: only the update that moved it gets here).
async fn announce(db: &Database, m: Move<'_>, source: EventSource) -> Applied {
    if m.to == m.from {
        return Applied::Recorded { job_id: m.job_id };
    }
    tracing::info!(job_id = %m.job_id, from = %m.from, to = %m.to, %source, "job moved");
    let now = chrono::Utc::now();
    if m.to == JobStatus::Running {
        metrics::started(m.job_type, m.created_at, now);
    } else if m.to.is_terminal() {
        metrics::finished(db, m.job_id, m.job_type, m.from, m.to, now).await;
    }
    Applied::Moved {
        job_id: m.job_id,
        from: m.from,
        to: m.to,
    }
}
