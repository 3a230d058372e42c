//! The job as stored and as shown to callers.

use chrono::{DateTime, Utc};
use portcullis_auth::Tenant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// `queued → starting → running → succeeded | failed | cancelled | timed_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Starting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Starting,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Starting => "starting",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::TimedOut => "timed_out",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled | JobStatus::TimedOut
        )
    }

    /// Order of progress; a job never moves to a lower rank.
    pub fn rank(self) -> u8 {
        match self {
            JobStatus::Queued => 0,
            JobStatus::Starting => 1,
            JobStatus::Running => 2,
            _ => 3,
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is not one of [`JobStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {given:?}; expected one of {}", JobStatus::ALL.map(JobStatus::as_str).join(", "))]
pub struct UnknownStatus {
    pub given: String,
}

impl FromStr for JobStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| UnknownStatus {
                given: s.to_owned(),
            })
    }
}

/// Why the platform asked ECS to stop a task (`jobs.stop_requested`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A caller cancelled the job: a STOPPED task ends it `cancelled`.
    Cancel,
    /// The reconciler stopped it after its timeout: `timed_out`.
    Timeout,
}

impl StopReason {
    pub const ALL: [StopReason; 2] = [StopReason::Cancel, StopReason::Timeout];

    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Cancel => "cancel",
            StopReason::Timeout => "timeout",
        }
    }
}

/// A `stop_requested` value that is not one of [`StopReason::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stop reason {given:?}; expected cancel or timeout")]
pub struct UnknownStopReason {
    pub given: String,
}

impl FromStr for StopReason {
    type Err = UnknownStopReason;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StopReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownStopReason {
                given: s.to_owned(),
            })
    }
}

/// Who wrote a `job_events` row (`job_events.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    /// The `jobs` function (submit, cancel).
    Api,
    /// An EventBridge "ECS Task State Change" event (`task-events`).
    EcsEvent,
    /// The reconciler's sweep.
    Reconciler,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Api => "api",
            EventSource::EcsEvent => "ecs_event",
            EventSource::Reconciler => "reconciler",
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// These enums are stored as text: bound with their name and parsed when
/// read, so a row never carries a status the code does not know.
macro_rules! text_enum {
    ($t:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::postgres::PgHasArrayType for $t {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $t {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                Ok(text.parse::<$t>()?)
            }
        }
    };
}

text_enum!(JobStatus);
text_enum!(StopReason);
text_enum!(EventSource);

impl FromStr for EventSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            EventSource::Api,
            EventSource::EcsEvent,
            EventSource::Reconciler,
        ]
        .into_iter()
        .find(|src| src.as_str() == s)
        .ok_or_else(|| format!("unknown event source {s:?}; expected api, ecs_event or reconciler"))
    }
}

/// What a caller may set for one job (stored in `jobs.params`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u32>,
}

/// A row of `jobs`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: Uuid,
    pub tenant: Tenant,
    pub principal: String,
    #[sqlx(rename = "type")]
    pub job_type: String,
    pub params: sqlx::types::Json<Params>,
    pub status: JobStatus,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub task_arn: Option<String>,
    pub attempts: i32,
    pub max_attempts: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub ecs_version: Option<i64>,
    pub exit_code: Option<i32>,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub error: Option<String>,
    pub stop_requested: Option<StopReason>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// True once a caller asked to cancel the job.
    pub fn cancel_requested(&self) -> bool {
        self.stop_requested == Some(StopReason::Cancel)
    }
}

/// The job as a caller (a tenant) sees it: no task ARN and no ECS/IAM text
/// (internals stay internal); operators find `task_arn` and `stopped_reason` in the
/// database and the logs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobView {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub job_type: String,
    pub status: JobStatus,
    pub params: Params,
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// ECS's stop code (`EssentialContainerExited`, `TaskFailedToStart`,
    /// `SpotInterruption`, ...): an AWS enum, no account details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Why the job did not run or succeed: `<code>: <sentence>`
    /// (`crate::reason`, docs/jobs.md "Reasons"), never ECS's own text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        JobView {
            id: j.id,
            job_type: j.job_type.clone(),
            status: j.status,
            params: j.params.0.clone(),
            attempts: j.attempts,
            next_attempt_at: if j.status == JobStatus::Queued {
                j.next_attempt_at
            } else {
                None
            },
            exit_code: j.exit_code,
            stop_code: j.stop_code.clone(),
            error: j.error.as_deref().map(crate::reason::for_tenant),
            cancel_requested: j.cancel_requested(),
            created_at: j.created_at,
            updated_at: j.updated_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}

/// A row of `job_events` as a caller sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, sqlx::FromRow)]
pub struct EventView {
    pub id: i64,
    pub from_status: Option<JobStatus>,
    pub to_status: JobStatus,
    pub source: EventSource,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl EventView {
    /// The `detail` fields a tenant may see. Everything else (`internal`:
    /// ECS's text, task ARNs, stopped tasks; and the raw fields of rows
    /// written before internals were kept apart: `detail`, `task_arn`, `stopped_reason`,
    /// `stopped_tasks`) stays with the operators.
    pub const TENANT_DETAIL: [&'static str; 11] = [
        "from",
        "to",
        "outcome",
        "attempt",
        "reason",
        "exit_code",
        "stop_code",
        "last_status",
        "version",
        "cancel_requested",
        "principal",
    ];

    /// This event with only [`Self::TENANT_DETAIL`] in its detail.
    pub fn for_tenant(mut self) -> Self {
        if let serde_json::Value::Object(map) = &mut self.detail {
            map.retain(|k, _| Self::TENANT_DETAIL.contains(&k.as_str()));
            if let Some(serde_json::Value::String(r)) = map.get_mut("reason") {
                // A cancel's reason names the caller (its own tenant); the
                // rest are reason codes. Anything else is not shown.
                if !r.starts_with("cancelled by ") {
                    *r = crate::reason::for_tenant(r);
                }
            }
        } else {
            self.detail = serde_json::Value::Object(Default::default());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
        }
        let err = "done".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("timed_out"), "{err}");
        for r in StopReason::ALL {
            assert_eq!(r.as_str().parse::<StopReason>().unwrap(), r);
        }
    }

    #[test]
    fn terminal_states_outrank_running() {
        assert!(JobStatus::TimedOut.rank() > JobStatus::Running.rank());
        assert!(JobStatus::Cancelled.is_terminal() && !JobStatus::Running.is_terminal());
    }
}
