//! What a tenant is told when a job does not run or does not succeed: a
//! stable reason code and a fixed sentence (`<code>: <sentence>`), listed in
//! docs/jobs.md "Reasons". Never the ECS or IAM text itself: that names the
//! AWS account, roles, clusters and task ARNs. The raw text is logged (with
//! the job id and the submit's request id) and kept in the job's
//! `job_events.detail.internal` and `jobs.stopped_reason`, which only
//! operators read.
//!
//! The jobs function shows `jobs.error` through [`for_tenant`], so a row
//! written before these codes existed (raw ECS text) is never shown either.

use std::fmt;

/// A reason code. Its text is `as_str()`; the sentence after it is fixed,
/// except where a constructor below adds a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// RunTask: no capacity (`RESOURCE:*`, `AGENT`, capacity failures); retried.
    CapacityUnavailable,
    /// ECS throttled, timed out, failed or gave no clear answer; retried.
    DependencyUnavailable,
    /// RunTask refused the request (access, parameters, task definition,
    /// cluster): a platform configuration problem; not retried.
    LaunchFailed,
    /// Every RunTask attempt was used up; the last reason follows.
    LaunchGaveUp,
    /// The job's type left platform.yaml before it could start.
    TypeUnregistered,
    /// The image could not be pulled (`CannotPullContainerError`).
    ImagePullFailed,
    /// The task's secrets, registry auth, logs or network could not be set up
    /// (`ResourceInitializationError`).
    TaskInitFailed,
    /// ECS could not start the task or its container.
    TaskFailedToStart,
    /// The essential container exited non-zero, or stopped without an exit code.
    TaskStopped,
    /// The container was killed for using more memory than the task allows.
    OutOfMemory,
    /// Fargate Spot reclaimed the capacity.
    SpotInterrupted,
    /// ECS no longer reports the task (DescribeTasks `MISSING`).
    TaskLost,
    /// The reconciler stopped the task after the type's timeout.
    TimedOut,
    /// A caller cancelled the job.
    Cancelled,
    /// A stored reason from before these codes; details are with the operators.
    Unclassified,
}

impl Code {
    pub const ALL: [Code; 15] = [
        Code::CapacityUnavailable,
        Code::DependencyUnavailable,
        Code::LaunchFailed,
        Code::LaunchGaveUp,
        Code::TypeUnregistered,
        Code::ImagePullFailed,
        Code::TaskInitFailed,
        Code::TaskFailedToStart,
        Code::TaskStopped,
        Code::OutOfMemory,
        Code::SpotInterrupted,
        Code::TaskLost,
        Code::TimedOut,
        Code::Cancelled,
        Code::Unclassified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::CapacityUnavailable => "capacity-unavailable",
            Code::DependencyUnavailable => "dependency-unavailable",
            Code::LaunchFailed => "launch-failed",
            Code::LaunchGaveUp => "launch-gave-up",
            Code::TypeUnregistered => "type-unregistered",
            Code::ImagePullFailed => "image-pull-failed",
            Code::TaskInitFailed => "task-init-failed",
            Code::TaskFailedToStart => "task-failed-to-start",
            Code::TaskStopped => "task-stopped",
            Code::OutOfMemory => "out-of-memory",
            Code::SpotInterrupted => "spot-interrupted",
            Code::TaskLost => "task-lost",
            Code::TimedOut => "timed-out",
            Code::Cancelled => "cancelled",
            Code::Unclassified => "unclassified",
        }
    }

    /// The fixed sentence after the code.
    pub fn sentence(self) -> &'static str {
        match self {
            Code::CapacityUnavailable => "the cluster could not start the task (capacity)",
            Code::DependencyUnavailable => {
                "the container service did not answer or asked to slow down"
            }
            Code::LaunchFailed => {
                "the platform could not start the task (configuration); operators have the details, quote the job id"
            }
            Code::LaunchGaveUp => "no task could be started",
            Code::TypeUnregistered => "the job type is no longer registered",
            Code::ImagePullFailed => {
                "the job's image could not be pulled; operators have the details, quote the job id"
            }
            Code::TaskInitFailed => {
                "the task's resources (secrets, registry access, logs, network) could not be set up; operators have the details, quote the job id"
            }
            Code::TaskFailedToStart => "the task or its container could not be started",
            Code::TaskStopped => "the task stopped before its container exited",
            Code::OutOfMemory => "the container used more memory than the job allows",
            Code::SpotInterrupted => "the spare capacity the task ran on was reclaimed",
            Code::TaskLost => "the container service no longer reports the task",
            Code::TimedOut => "stopped after its timeout",
            Code::Cancelled => "cancelled by a caller",
            Code::Unclassified => {
                "the job did not complete; operators have the details, quote the job id"
            }
        }
    }

    /// `<code>: <sentence>`.
    pub fn text(self) -> String {
        format!("{}: {}", self.as_str(), self.sentence())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `task-stopped: exit code N`.
pub fn exit_code(code: i32) -> String {
    format!("{}: exit code {code}", Code::TaskStopped)
}

/// `timed-out: stopped after its timeout of N s`.
pub fn timed_out(seconds: i32) -> String {
    format!(
        "{}: stopped after its timeout of {seconds} s",
        Code::TimedOut
    )
}

/// The SQL expression (in `store::record_launch`) that ends a job after its
/// last attempt: `launch-gave-up: no task after N attempts; last: <reason>`.
pub const GAVE_UP_SQL: &str =
    "'launch-gave-up: no task after ' || (attempts + 1) || ' attempts; last: ' || $2";

/// A stored `jobs.error` as a tenant may see it: a reason that starts with a
/// known code, else `unclassified` (rows written before the codes held raw
/// ECS text).
pub fn for_tenant(stored: &str) -> String {
    let known = Code::ALL.iter().any(|c| {
        stored
            .strip_prefix(c.as_str())
            .is_some_and(|rest| rest.starts_with(": "))
    });
    if known && !stored.contains("arn:") {
        stored.to_owned()
    } else {
        Code::Unclassified.text()
    }
}

/// The code for a stopped task's reasons (`stoppedReason`, the essential
/// container's `reason`, `stopCode`), when one of them names a known cause
/// (AWS: "Amazon ECS stopped task error messages").
pub fn stopped_cause(
    stop_code: Option<&str>,
    stopped_reason: Option<&str>,
    container_reason: Option<&str>,
) -> Option<Code> {
    let texts = [stopped_reason, container_reason];
    let any = |needle: &str| texts.iter().flatten().any(|t| t.contains(needle));
    if any("OutOfMemoryError") || any("OutOfMemory") {
        Some(Code::OutOfMemory)
    } else if any("CannotPullContainerError") || any("pull image") {
        Some(Code::ImagePullFailed)
    } else if any("ResourceInitializationError") {
        Some(Code::TaskInitFailed)
    } else if stop_code == Some("SpotInterruption") {
        Some(Code::SpotInterrupted)
    } else if any("CannotStartContainerError")
        || any("CannotCreateContainerError")
        || any("ContainerRuntimeError")
        || any("ContainerRuntimeTimeoutError")
    {
        Some(Code::TaskFailedToStart)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_their_text_starts_with_them() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert!(c.text().starts_with(&format!("{c}: ")));
            assert_eq!(for_tenant(&c.text()), c.text());
        }
        assert_eq!(exit_code(3), "task-stopped: exit code 3");
        assert_eq!(for_tenant(&exit_code(3)), "task-stopped: exit code 3");
    }

    #[test]
    fn raw_ecs_text_is_never_shown_to_a_tenant() {
        for raw in [
            "AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/r/x is not authorized",
            "RunTask failure: RESOURCE:MEMORY",
            "task-stoppedX",
            "launch-failed: arn:aws:iam::111122223333:role/r",
            "",
        ] {
            assert_eq!(for_tenant(raw), Code::Unclassified.text(), "{raw}");
        }
    }

    #[test]
    fn stopped_causes_are_read_from_the_ecs_messages() {
        let pull = "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 111122223333.dkr.ecr.us-east-1.amazonaws.com/p/j:1: not found";
        assert_eq!(
            stopped_cause(Some("TaskFailedToStart"), Some(pull), None),
            Some(Code::ImagePullFailed)
        );
        let init = "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: AccessDeniedException: arn:aws:iam::111122223333:role/x";
        assert_eq!(
            stopped_cause(Some("TaskFailedToStart"), Some(init), None),
            Some(Code::TaskInitFailed)
        );
        assert_eq!(
            stopped_cause(
                Some("EssentialContainerExited"),
                Some("Essential container in task exited"),
                Some("OutOfMemoryError: Container killed due to memory usage")
            ),
            Some(Code::OutOfMemory)
        );
        assert_eq!(
            stopped_cause(
                Some("SpotInterruption"),
                Some("Your Spot Task was interrupted."),
                None
            ),
            Some(Code::SpotInterrupted)
        );
        assert_eq!(
            stopped_cause(
                Some("EssentialContainerExited"),
                Some("Essential container in task exited"),
                None
            ),
            None
        );
    }
}
