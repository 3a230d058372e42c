//! RunTask: the request built for a job, and what its answer means.
//!
//! The same request (same `clientToken` = job id, same `startedBy` = job id)
//! is sent by the submit handler and, after a crash or a retryable failure,
//! by the reconciler, so ECS can deduplicate it.

use crate::ecs::Placement;
use crate::model::Job;
use crate::reason::Code;
use aws_sdk_ecs::Client;
use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::operation::run_task::RunTaskOutput;
use aws_sdk_ecs::operation::run_task::builders::RunTaskFluentBuilder;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, ContainerOverride, Failure,
    KeyValuePair, LaunchType, NetworkConfiguration, PropagateTags, Tag, TaskOverride,
};
use portcullis_platform::jobs::{JobType, Launch};
use rand::Rng;
use std::time::Duration;

/// What one RunTask call came to. `reason` is ECS's own text, for the logs
/// and the operators' event detail (it names the account, roles, ARNs);
/// tenants see [`LaunchOutcome::public`] instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchOutcome {
    /// ECS accepted the task.
    Started { task_arn: String },
    /// Capacity, resources or throttling: try again later with the same token.
    Retry { code: Code, reason: String },
    /// The request itself is wrong (bad parameters, access denied): no retry helps.
    Failed { code: Code, reason: String },
    /// No clear answer (network, timeout, 5xx): the task may or may not exist;
    /// the reconciler looks it up by `startedBy` before trying again.
    /// Tenants see `dependency-unavailable`.
    Unknown { reason: String },
}

impl LaunchOutcome {
    /// The reason a tenant sees (`reason::Code`), `None` for a started task.
    pub fn public(&self) -> Option<String> {
        match self {
            LaunchOutcome::Started { .. } => None,
            LaunchOutcome::Retry { code, .. } | LaunchOutcome::Failed { code, .. } => {
                Some(code.text())
            }
            LaunchOutcome::Unknown { .. } => Some(Code::DependencyUnavailable.text()),
        }
    }

    /// ECS's own text (the task ARN for a started task): logs and operators only.
    pub fn raw(&self) -> &str {
        match self {
            LaunchOutcome::Started { task_arn } => task_arn,
            LaunchOutcome::Retry { reason, .. }
            | LaunchOutcome::Failed { reason, .. }
            | LaunchOutcome::Unknown { reason } => reason,
        }
    }
}

/// ECS allows 8192 characters of overrides; params beyond this are refused with 413.
pub const MAX_OVERRIDES_BYTES: usize = 8192;

/// Tag values allow letters, digits, spaces and `+ - = . _ : / @`.
fn tag_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " +-=._:/@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(tag_value(value)).build()
}

fn env(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

/// The container override for a job: args as the `command` override, which
/// ECS passes as arguments to the task definition's fixed `entryPoint` (the
/// registry's `entrypoint`, required for a type that takes args), the allowed env
/// vars plus the platform's own (`JOB_ID`, `JOB_TYPE`, `REQUEST_ID`, `TRACE_ID`).
pub fn container_override(job_type: &JobType, job: &Job) -> ContainerOverride {
    let params = &job.params.0;
    let id = job.id.to_string();
    let mut b = ContainerOverride::builder()
        .name(&job_type.container)
        .environment(env("JOB_ID", &id))
        .environment(env("JOB_TYPE", &job.job_type));
    if let Some(r) = &job.request_id {
        b = b.environment(env("REQUEST_ID", r));
    }
    if let Some(t) = &job.trace_id {
        b = b.environment(env("TRACE_ID", t));
    }
    for (k, v) in &params.env {
        b = b.environment(env(k, v));
    }
    if !params.args.is_empty() {
        b = b.set_command(Some(params.args.clone()));
    }
    if let Some(cpu) = params.cpu {
        b = b.cpu(cpu as i32);
    }
    if let Some(mem) = params.memory {
        b = b.memory(mem as i32);
    }
    b.build()
}

/// Build and send RunTask for `job`, and classify the answer.
pub async fn run_task(
    ecs: &Client,
    placement: &Placement,
    job_type: &JobType,
    job: &Job,
) -> LaunchOutcome {
    let id = job.id.to_string();
    let vpc = match network(placement) {
        Ok(v) => v,
        Err(outcome) => return outcome,
    };
    let req = ecs
        .run_task()
        .cluster(&placement.cluster)
        .task_definition(&job_type.task_definition)
        .count(1)
        .client_token(&id)
        .started_by(&id)
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .overrides(task_override(job_type, job))
        .propagate_tags(PropagateTags::TaskDefinition)
        .tags(tag("portcullis:job-id", &id))
        .tags(tag("portcullis:tenant", &job.tenant))
        .tags(tag("portcullis:job-type", &job.job_type));
    let req = match with_launch(req, &job_type.launch) {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    match req.send().await {
        Ok(out) => started_or_failed(&out),
        Err(e) => classify_sdk_error(&e),
    }
}

/// The task's network: the placement's subnets and security groups, no public IP.
fn network(placement: &Placement) -> Result<AwsVpcConfiguration, LaunchOutcome> {
    AwsVpcConfiguration::builder()
        .set_subnets(Some(placement.subnets.clone()))
        .set_security_groups(Some(placement.security_groups.clone()))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| LaunchOutcome::Failed {
            code: Code::LaunchFailed,
            reason: format!("invalid network configuration: {e}"),
        })
}

/// The job's container override, and task-level cpu/memory when it asks for them.
fn task_override(job_type: &JobType, job: &Job) -> TaskOverride {
    let mut task_override =
        TaskOverride::builder().container_overrides(container_override(job_type, job));
    // Task-level cpu/memory must cover the container's on Fargate.
    if let Some(cpu) = job.params.0.cpu {
        task_override = task_override.cpu(cpu.to_string());
    }
    if let Some(mem) = job.params.0.memory {
        task_override = task_override.memory(mem.to_string());
    }
    task_override.build()
}

/// The request with the type's launch type or capacity provider strategy.
fn with_launch(
    mut req: RunTaskFluentBuilder,
    launch: &Launch,
) -> Result<RunTaskFluentBuilder, LaunchOutcome> {
    match launch {
        Launch::LaunchType(t) => req = req.launch_type(LaunchType::from(t.as_str())),
        Launch::CapacityProviders(items) => {
            for item in items {
                match CapacityProviderStrategyItem::builder()
                    .capacity_provider(&item.capacity_provider)
                    .weight(item.weight)
                    .base(item.base)
                    .build()
                {
                    Ok(i) => req = req.capacity_provider_strategy(i),
                    Err(e) => {
                        return Err(LaunchOutcome::Failed {
                            code: Code::LaunchFailed,
                            reason: format!("invalid capacity provider strategy: {e}"),
                        });
                    }
                }
            }
        }
    }
    Ok(req)
}

/// A RunTask answer: the task it started, else its failures.
fn started_or_failed(out: &RunTaskOutput) -> LaunchOutcome {
    if let Some(arn) = out.tasks().iter().find_map(|t| t.task_arn()) {
        LaunchOutcome::Started {
            task_arn: arn.to_owned(),
        }
    } else if !out.failures().is_empty() {
        classify_failures(out.failures())
    } else {
        LaunchOutcome::Unknown {
            reason: "RunTask returned neither a task nor a failure".into(),
        }
    }
}

/// `failures[]` reasons: capacity and resources are worth retrying; anything
/// else (MISSING, ATTRIBUTE, a bad task definition) is not.
pub fn classify_failures(failures: &[Failure]) -> LaunchOutcome {
    let describe = |f: &Failure| {
        let mut s = f.reason().unwrap_or("unknown reason").to_owned();
        if let Some(d) = f.detail() {
            s.push_str(": ");
            s.push_str(d);
        }
        s
    };
    let reason = failures.iter().map(describe).collect::<Vec<_>>().join("; ");
    let lower = |f: &Failure| f.reason().unwrap_or_default().to_ascii_lowercase();
    let capacity = failures.iter().any(|f| {
        let r = lower(f);
        r.starts_with("resource") || r.contains("capacity") || r.starts_with("agent")
    });
    let throttled = failures.iter().any(|f| lower(f).contains("throttl"));
    let reason = format!("RunTask failure: {reason}");
    if capacity {
        LaunchOutcome::Retry {
            code: Code::CapacityUnavailable,
            reason,
        }
    } else if throttled {
        LaunchOutcome::Retry {
            code: Code::DependencyUnavailable,
            reason,
        }
    } else {
        LaunchOutcome::Failed {
            code: Code::LaunchFailed,
            reason,
        }
    }
}

const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
];
const CLIENT_ERRORS: &[&str] = &[
    "InvalidParameterException",
    "AccessDeniedException",
    "ClientException",
    "ClusterNotFoundException",
    "PlatformUnknownException",
    "PlatformTaskDefinitionIncompatibilityException",
    "UnsupportedFeatureException",
    "BlockedException",
];

/// Classify an SDK error: throttling → retry; client errors → failed; the rest
/// (network, timeouts, 5xx, unknown codes) → unknown.
pub fn classify_sdk_error<E, R>(err: &SdkError<E, R>) -> LaunchOutcome
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let code = e.code().unwrap_or("Unknown");
            let reason = format!("{code}: {}", e.message().unwrap_or("no message"));
            if THROTTLING.contains(&code) {
                LaunchOutcome::Retry {
                    code: Code::DependencyUnavailable,
                    reason,
                }
            } else if CLIENT_ERRORS.contains(&code) {
                LaunchOutcome::Failed {
                    code: Code::LaunchFailed,
                    reason,
                }
            } else {
                LaunchOutcome::Unknown { reason }
            }
        }
        other => LaunchOutcome::Unknown {
            reason: format!("ECS did not answer clearly: {}", shared_error_chain(other)),
        },
    }
}

fn shared_error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Exponential backoff with jitter for the attempt just made (1-based):
/// 2 s, 4 s, 8 s, ... capped at 5 min, each drawn from [half, full].
pub fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    let full = 2u64.saturating_pow(exp).saturating_mul(2).min(300) as f64;
    let secs = rand::thread_rng().gen_range(full / 2.0..=full);
    Duration::from_secs_f64(secs)
}

/// Task ARNs started for a job (`startedBy` = job id), running ones first,
/// then stopped ones. Used before any relaunch, so a task that an earlier
/// RunTask started (a crash, a lost answer) is adopted instead of doubled.
pub async fn tasks_started_by(
    ecs: &Client,
    cluster: &str,
    job_id: &str,
) -> Result<Vec<String>, String> {
    let mut arns = Vec::new();
    for desired in [
        aws_sdk_ecs::types::DesiredStatus::Running,
        aws_sdk_ecs::types::DesiredStatus::Stopped,
    ] {
        let out = ecs
            .list_tasks()
            .cluster(cluster)
            .started_by(job_id)
            .desired_status(desired)
            .send()
            .await
            .map_err(|e| format!("ListTasks failed: {}", shared_error_chain(&e)))?;
        arns.extend(out.task_arns().iter().cloned());
    }
    Ok(arns)
}

/// StopTask; `Ok(false)` when ECS no longer knows the task.
pub async fn stop_task(
    ecs: &Client,
    cluster: &str,
    task_arn: &str,
    reason: &str,
) -> Result<bool, String> {
    match ecs
        .stop_task()
        .cluster(cluster)
        .task(task_arn)
        .reason(reason)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let code = e.code().unwrap_or_default().to_owned();
            let msg = e.message().unwrap_or_default().to_ascii_lowercase();
            if code == "InvalidParameterException" && msg.contains("not found") {
                Ok(false)
            } else {
                Err(format!("StopTask failed: {}", shared_error_chain(&e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..50 {
            let b1 = backoff(1).as_secs_f64();
            assert!((1.0..=2.0).contains(&b1), "{b1}");
            let b3 = backoff(3).as_secs_f64();
            assert!((4.0..=8.0).contains(&b3), "{b3}");
            assert!(backoff(30).as_secs_f64() <= 300.0);
        }
    }

    #[test]
    fn capacity_failures_are_retryable_and_missing_is_not() {
        let cap = Failure::builder().reason("RESOURCE:MEMORY").build();
        assert!(matches!(
            classify_failures(&[cap]),
            LaunchOutcome::Retry {
                code: Code::CapacityUnavailable,
                ..
            }
        ));
        let cap2 = Failure::builder()
            .reason("Capacity is unavailable at this time. Please try again later or in a different availability zone")
            .build();
        assert!(matches!(
            classify_failures(&[cap2]),
            LaunchOutcome::Retry { .. }
        ));
        let missing = Failure::builder().reason("MISSING").arn("arn:x").build();
        let failed = classify_failures(&[missing]);
        assert!(matches!(
            failed,
            LaunchOutcome::Failed {
                code: Code::LaunchFailed,
                ..
            }
        ));
        assert_eq!(failed.public(), Some(Code::LaunchFailed.text()));
    }

    #[test]
    fn tag_values_lose_characters_ecs_refuses() {
        assert_eq!(tag_value("acme#1!"), "acme_1_");
        assert_eq!(tag_value("a b:c/d@e"), "a b:c/d@e");
    }
}
