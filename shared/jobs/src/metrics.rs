//! The job pipeline's metrics (`portcullis_core::metrics`,
//! docs/observability.md#metrics), each by `JobType` (a type of the
//! registry: the jobs API refuses any other before a job exists):
//!
//! - `JobStarted` and `JobQueueWait` (created → RUNNING) when a job moves
//!   into `running` ([`started`]);
//! - `JobSucceeded` / `JobFailed` / `JobCancelled` / `JobTimedOut` and,
//!   for a job that ran, `JobRunTime` (RUNNING → the end) when it moves into
//!   a terminal status ([`finished`]). Every such move is one conditional
//!   update of the job's row (a row lock or `where status = ...`), and a
//!   terminal job never moves again: the callers emit after that update
//!   committed, so each job is counted once;
//! - `RunTaskFailure` by `Reason` (the `reason::Code` of a RunTask that
//!   started no task) for each such call ([`launch_failed`]).

use crate::launch::LaunchOutcome;
use crate::model::{Job, JobStatus};
use crate::reason::Code;
use crate::store;
use chrono::{DateTime, Utc};
use portcullis_core::metrics::{Dimension, Metric, Record};
use portcullis_db::Database;
use std::time::Duration;
use uuid::Uuid;

/// The count metric of a terminal status (`None` for the others).
pub fn outcome_metric(status: JobStatus) -> Option<Metric> {
    match status {
        JobStatus::Succeeded => Some(Metric::JobSucceeded),
        JobStatus::Failed => Some(Metric::JobFailed),
        JobStatus::Cancelled => Some(Metric::JobCancelled),
        JobStatus::TimedOut => Some(Metric::JobTimedOut),
        _ => None,
    }
}

fn between(from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    (to - from).to_std().unwrap_or(Duration::ZERO)
}

/// A job of `job_type` created at `created_at` reached RUNNING at `at`.
pub fn started(job_type: &str, created_at: DateTime<Utc>, at: DateTime<Utc>) {
    Record::new()
        .dimension(Dimension::JobType, job_type)
        .count(Metric::JobStarted)
        .millis(Metric::JobQueueWait, between(created_at, at))
        .emit();
}

/// Job `id` of `job_type` moved into the terminal `status` at `at`, from
/// `from`. Its run time counts from its move into `running` (its
/// `job_events` row); a job that never ran (`from` queued or starting) has
/// none. A run time that cannot be read is logged and left out.
pub async fn finished(
    db: &Database,
    id: Uuid,
    job_type: &str,
    from: JobStatus,
    status: JobStatus,
    at: DateTime<Utc>,
) {
    let Some(metric) = outcome_metric(status) else {
        return;
    };
    let mut record = Record::new()
        .dimension(Dimension::JobType, job_type)
        .count(metric);
    if from == JobStatus::Running {
        match store::running_since(db, id).await {
            Ok(Some(since)) => record = record.millis(Metric::JobRunTime, between(since, at)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(job_id = %id, error = %e, "JobRunTime left out: the running event could not be read")
            }
        }
    }
    record.emit();
}

/// [`finished`] for `job` as its terminal move left it (the row the
/// update returned), moved from `from`; its end is `finished_at`.
pub async fn ended(db: &Database, from: JobStatus, job: &Job) {
    let at = job.finished_at.unwrap_or_else(Utc::now);
    finished(db, job.id, &job.job_type, from, job.status, at).await;
}

/// The `Reason` of a RunTask that started no task: its reason code
/// (`capacity-unavailable`, `dependency-unavailable`, `launch-failed`, ...).
pub fn launch_failure_reason(outcome: &LaunchOutcome) -> Option<&'static str> {
    match outcome {
        LaunchOutcome::Started { .. } => None,
        LaunchOutcome::Retry { code, .. } | LaunchOutcome::Failed { code, .. } => {
            Some(code.as_str())
        }
        LaunchOutcome::Unknown { .. } => Some(Code::DependencyUnavailable.as_str()),
    }
}

/// A RunTask for a job came to `outcome`: `RunTaskFailure` unless it
/// started the task.
pub fn launch_failed(outcome: &LaunchOutcome) {
    if let Some(reason) = launch_failure_reason(outcome) {
        Record::new()
            .dimension(Dimension::Reason, reason)
            .count(Metric::RunTaskFailure)
            .emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::metrics;

    #[test]
    fn every_terminal_status_has_its_metric_and_no_other_does() {
        for s in JobStatus::ALL {
            assert_eq!(outcome_metric(s).is_some(), s.is_terminal(), "{s}");
        }
    }

    #[test]
    fn a_start_counts_with_its_queue_wait_and_a_launch_failure_with_its_reason_code() {
        let cap = metrics::capture();
        let created = Utc::now() - chrono::Duration::milliseconds(1500);
        started(
            "report",
            created,
            created + chrono::Duration::milliseconds(1500),
        );
        assert_eq!(cap.sum(Metric::JobStarted, &[("JobType", "report")]), 1.0);
        assert_eq!(
            cap.values(Metric::JobQueueWait, &[("JobType", "report")]),
            vec![1500.0]
        );
        launch_failed(&LaunchOutcome::Started {
            task_arn: "arn".into(),
        });
        launch_failed(&LaunchOutcome::Retry {
            code: Code::CapacityUnavailable,
            reason: "RESOURCE:MEMORY".into(),
        });
        launch_failed(&LaunchOutcome::Unknown {
            reason: "timeout".into(),
        });
        assert_eq!(cap.sum(Metric::RunTaskFailure, &[]), 2.0);
        assert_eq!(
            cap.sum(
                Metric::RunTaskFailure,
                &[("Reason", "capacity-unavailable")]
            ),
            1.0
        );
        // ECS's own text never becomes a dimension value.
        assert!(!cap.lines().iter().any(|l| l.contains("RESOURCE:MEMORY")));
    }
}
