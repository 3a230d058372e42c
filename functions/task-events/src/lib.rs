//! The `task-events` Lambda: applies EventBridge "ECS Task State Change"
//! events to jobs (rules in `portcullis_jobs::transition`).
//!
//! - A malformed event (wrong detail-type, no taskArn / lastStatus / version)
//!   is an error, so the invocation fails and the event lands in the DLQ
//!   instead of being retried for ever with the same result.
//! - An event for a task no job knows is logged and acknowledged.
//! - Duplicates and stale events (a version not above the last applied one)
//!   change nothing; terminal jobs never change.
//!
//! Metrics (`portcullis_core::metrics`, docs/observability.md#metrics):
//! `TaskEventProcessed` for each well-formed event applied, with
//! `TaskEventUnknownTask` for a task no job knows and `TaskEventStale` for
//! news older than the job's (`Applied::is_stale`), in one record; the
//! job's own moves are counted by `portcullis_jobs::metrics`. A malformed
//! event is no processed one (it fails the invocation: Lambda's Errors
//! metric and the DLQ count it).

use portcullis_core::metrics::{Metric, Record};
use portcullis_db::DbError;
pub use portcullis_jobs::State;
use portcullis_jobs::model::EventSource;
use portcullis_jobs::transition::{self, Applied, ContainerState, TaskSnapshot};
use serde::Serialize;
use serde_json::Value;

pub const DETAIL_TYPE: &str = "ECS Task State Change";

/// Why an event cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("malformed ECS task event: {0}")]
    Malformed(String),
    #[error("could not apply an ECS task event: {0}")]
    Db(#[from] DbError),
}

impl From<EventError> for lambda_runtime::Diagnostic {
    fn from(e: EventError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "EventError".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// What the invocation did (returned to the runtime; useful in tests and logs).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub task_arn: String,
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
}

fn malformed(msg: impl Into<String>) -> EventError {
    EventError::Malformed(msg.into())
}

/// Read the fields we use from an EventBridge event.
pub fn parse(event: &Value) -> Result<TaskSnapshot, EventError> {
    let detail_type = event
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    if detail_type != DETAIL_TYPE {
        return Err(malformed(format!(
            "detail-type is {detail_type:?}, expected {DETAIL_TYPE:?}"
        )));
    }
    let detail = event
        .get("detail")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("detail is missing or not an object"))?;
    let text = |k: &str| detail.get(k).and_then(Value::as_str).map(str::to_owned);
    let task_arn = text("taskArn").ok_or_else(|| malformed("detail.taskArn is missing"))?;
    let last_status =
        text("lastStatus").ok_or_else(|| malformed("detail.lastStatus is missing"))?;
    let version = detail
        .get("version")
        .and_then(Value::as_i64)
        .filter(|v| *v >= 0)
        .ok_or_else(|| malformed("detail.version is missing or not a non-negative integer"))?;
    let mut containers = Vec::new();
    if let Some(list) = detail.get("containers") {
        let list = list
            .as_array()
            .ok_or_else(|| malformed("detail.containers is not an array"))?;
        for (i, c) in list.iter().enumerate() {
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(format!("detail.containers[{i}].name is missing")))?;
            let exit_code = match c.get("exitCode") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(
                    || malformed(format!("detail.containers[{i}].exitCode is not an integer")),
                )?),
            };
            containers.push(ContainerState {
                name: name.to_owned(),
                exit_code,
                reason: c.get("reason").and_then(Value::as_str).map(str::to_owned),
            });
        }
    }
    Ok(TaskSnapshot {
        task_arn,
        last_status,
        version: Some(version),
        started_by: text("startedBy"),
        stop_code: text("stopCode"),
        stopped_reason: text("stoppedReason"),
        containers,
    })
}

/// Apply one event.
pub async fn handle(state: &State, event: Value) -> Result<Outcome, EventError> {
    let snap = match parse(&event) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, event_id = ?event.get("id"), "rejecting malformed event (to the DLQ)");
            return Err(e);
        }
    };
    let applied = transition::apply(&state.db, &state.types, &snap, EventSource::EcsEvent).await?;
    Record::new()
        .count(Metric::TaskEventProcessed)
        .add(
            Metric::TaskEventUnknownTask,
            u64::from(applied == Applied::UnknownTask),
        )
        .add(Metric::TaskEventStale, u64::from(applied.is_stale()))
        .emit();
    let (result, job_id) = match &applied {
        Applied::Moved { job_id, from, to } => {
            (format!("moved {from} -> {to}"), Some(job_id.to_string()))
        }
        Applied::Recorded { job_id } => ("recorded".to_owned(), Some(job_id.to_string())),
        Applied::Ignored { job_id, why } => {
            tracing::info!(job_id = %job_id, task_arn = %snap.task_arn, version = ?snap.version, why, "event ignored");
            (format!("ignored: {why}"), Some(job_id.to_string()))
        }
        Applied::UnknownTask => ("unknown task".to_owned(), None),
    };
    Ok(Outcome {
        task_arn: snap.task_arn,
        result,
        job_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail: Value) -> Value {
        json!({"version": "0", "id": "e1", "detail-type": DETAIL_TYPE, "source": "aws.ecs", "detail": detail})
    }

    #[test]
    fn an_event_of_another_type_is_malformed() {
        let mut e = event(json!({"taskArn": "a", "lastStatus": "RUNNING", "version": 1}));
        e["detail-type"] = json!("ECS Container Instance State Change");
        assert!(matches!(parse(&e), Err(EventError::Malformed(m)) if m.contains("detail-type")));
    }

    #[test]
    fn an_event_without_a_version_is_malformed() {
        let e = event(json!({"taskArn": "a", "lastStatus": "RUNNING"}));
        assert!(matches!(parse(&e), Err(EventError::Malformed(m)) if m.contains("version")));
    }

    #[test]
    fn a_non_integer_exit_code_is_malformed() {
        let e = event(
            json!({"taskArn": "a", "lastStatus": "STOPPED", "version": 3,
            "containers": [{"name": "c", "exitCode": "zero"}]}),
        );
        assert!(matches!(parse(&e), Err(EventError::Malformed(m)) if m.contains("exitCode")));
    }

    #[test]
    fn the_fixture_parses_with_its_exit_code() {
        let e: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/ecs-task-stopped-exit-0.json"
        ))
        .unwrap();
        let s = parse(&e).unwrap();
        assert_eq!(s.last_status, "STOPPED");
        assert_eq!(s.containers[0].exit_code, Some(0));
        assert_eq!(s.stop_code.as_deref(), Some("EssentialContainerExited"));
    }
}
