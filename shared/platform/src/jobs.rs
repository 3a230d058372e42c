//! `jobs` section of platform.yaml: the job types callers may start.
//!
//! ```yaml
//! jobs:
//!   sample:
//!     description: Prints its arguments and exits with the code it is given.
//!     task_definition: portcullis-sample-job   # task definition family
//!     container: sample-job                    # container the overrides apply to (default: the name)
//!     entrypoint: ["/sample-job"]              # the task definition's entryPoint; required with args
//!     workload: sample-job                     # workloads/<workload>, ECR repository (default: container)
//!     image: null                              # or a full image reference instead of the ECR build
//!     cpu: 256                                 # task size, a Fargate size (default: overrides.cpu.min, else 256)
//!     memory: 512                              # (default: overrides.memory.min, else 512)
//!     environment: { GREETING: hello }         # container defaults; not JOB_ID, JOB_TYPE, AWS_*, ECS_* ...
//!     secrets: { DB_URL: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:url" }
//!                                              # Secrets Manager name or ARN [:json-key]; never overridable
//!     log_retention_days: 30                   # default: the environment's log_retention_days
//!     timeout_seconds: 600
//!     max_attempts: 5                           # RunTask attempts (capacity, throttling)
//!     scope: jobs:write                         # default jobs:write
//!     launch_type: FARGATE                      # or capacity_provider_strategy: [...]
//!     overrides:
//!       args: 16                                # true (32), false, or a max count
//!       env: [GREETING]                         # env names a caller may set
//!       cpu: { min: 256, max: 1024 }            # absent: the caller may not override
//!       memory: { min: 512, max: 2048 }
//! ```
//!
//! Nothing outside this registry can be started; a job type that does not
//! validate fails start-up with the path of the bad entry.

use super::PlatformError;
use crate::task::{self, Environment, Secrets};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;

/// Default maximum number of arguments when `overrides.args: true`.
pub const DEFAULT_MAX_ARGS: usize = 32;
/// Longest single argument or env value a caller may send (bytes).
pub const MAX_ARG_LEN: usize = 4096;

/// All registered job types, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobTypes {
    types: BTreeMap<String, JobType>,
}

/// One registered job type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobType {
    pub name: String,
    pub description: String,
    pub task_definition: String,
    pub container: String,
    /// The container's entry point, set in the task definition by Terraform
    /// (`entryPoint`): callers' args are only ever its arguments (the RunTask
    /// `command` override). Required when the type takes args.
    pub entrypoint: Option<Vec<String>>,
    /// `workloads/<workload>` and its ECR repository (default: `container`).
    pub workload: String,
    /// A full image reference used instead of the workload's ECR image.
    pub image: Option<String>,
    /// Fargate task size of the task definition: cpu units and memory MiB.
    pub cpu: u32,
    pub memory: u32,
    /// Container environment of the task definition (callers may override
    /// the names in `overrides.env`).
    pub environment: Environment,
    /// Container variables read from Secrets Manager at task start (never
    /// overridable by callers).
    pub secrets: Secrets,
    /// Retention of the type's log group; none: the environment's.
    pub log_retention_days: Option<u32>,
    pub timeout_seconds: u64,
    pub max_attempts: u32,
    pub scope: String,
    pub launch: Launch,
    pub overrides: Overrides,
}

/// How ECS places the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// `launchType: FARGATE` (or EC2 / EXTERNAL).
    LaunchType(String),
    /// `capacityProviderStrategy`.
    CapacityProviders(Vec<CapacityProvider>),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityProvider {
    pub capacity_provider: String,
    #[serde(default)]
    pub weight: i32,
    #[serde(default)]
    pub base: i32,
}

/// What a caller may override.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overrides {
    /// Maximum number of arguments (0: none allowed).
    pub max_args: usize,
    /// Environment variables a caller may set.
    pub env: Vec<String>,
    pub cpu: Option<Bounds>,
    pub memory: Option<Bounds>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

impl Bounds {
    pub fn contains(&self, v: u32) -> bool {
        v >= self.min && v <= self.max
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJobType {
    #[serde(default)]
    description: String,
    task_definition: String,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    workload: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    cpu: Option<u32>,
    #[serde(default)]
    memory: Option<u32>,
    #[serde(default)]
    environment: Environment,
    #[serde(default)]
    secrets: Secrets,
    #[serde(default)]
    log_retention_days: Option<u32>,
    timeout_seconds: u64,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    launch_type: Option<String>,
    #[serde(default)]
    capacity_provider_strategy: Option<Vec<CapacityProvider>>,
    #[serde(default)]
    overrides: RawOverrides,
}

fn default_max_attempts() -> u32 {
    5
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    args: Option<ArgsRule>,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    cpu: Option<Bounds>,
    #[serde(default)]
    memory: Option<Bounds>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ArgsRule {
    Allowed(bool),
    Max(usize),
}

fn invalid(at: String, reason: impl Into<String>) -> PlatformError {
    PlatformError::Invalid {
        at,
        reason: reason.into(),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Longest entry point element (the task definition's `entryPoint`).
pub const MAX_ENTRYPOINT_LEN: usize = 1024;

/// A type that takes args must fix its entry point: ECS passes the RunTask
/// `command` override as the arguments of `entryPoint`, and an image without
/// an exec-form ENTRYPOINT would otherwise run the caller's args as the
/// command. Terraform refuses the same registry
/// (terraform/modules/compute, `var.jobs` validation).
fn check_entrypoint(
    name: &str,
    entrypoint: Option<&[String]>,
    max_args: usize,
) -> Result<(), PlatformError> {
    let at = format!("jobs.{name}.entrypoint");
    match entrypoint {
        None if max_args > 0 => Err(invalid(
            at,
            format!(
                "job type {name} lets callers pass args (overrides.args) but declares no entry point, \
                 so its args could become the container's command; add the image's exec-form \
                 ENTRYPOINT, e.g. `entrypoint: [\"/app/{name}\"]`, or set `overrides.args: false`"
            ),
        )),
        None => Ok(()),
        Some([]) => Err(invalid(
            at,
            "is empty; give the program and any fixed leading arguments, e.g. [\"/app/job\"]",
        )),
        Some(items) => match items
            .iter()
            .position(|e| e.is_empty() || e.len() > MAX_ENTRYPOINT_LEN || e.contains('\0'))
        {
            Some(i) => Err(invalid(
                format!("{at}[{i}]"),
                format!("must be 1-{MAX_ENTRYPOINT_LEN} bytes without NUL"),
            )),
            None => Ok(()),
        },
    }
}

/// Environment names the platform sets itself; a job type may not hand them to callers.
pub const RESERVED_ENV: &[&str] = &["JOB_ID", "JOB_TYPE", "JOB_TENANT", "REQUEST_ID", "TRACE_ID"];

/// One job type of the `jobs:` section, checked field by field.
fn job_type(name: String, r: RawJobType) -> Result<JobType, PlatformError> {
    let at = |field: &str| format!("jobs.{name}.{field}");
    if !valid_name(&name) {
        return Err(invalid(
            format!("jobs.{name}"),
            "a job type name is 1-64 characters of a-z, 0-9, '-' and '_'",
        ));
    }
    if r.task_definition.trim().is_empty() {
        return Err(invalid(
            at("task_definition"),
            "the task definition family is empty",
        ));
    }
    let container = r.container.unwrap_or_else(|| name.clone());
    if container.trim().is_empty() {
        return Err(invalid(at("container"), "the container name is empty"));
    }
    let entry = format!("jobs.{name}");
    let workload = r.workload.unwrap_or_else(|| container.clone());
    task::check_workload(&entry, &workload)?;
    task::check_image(&entry, r.image.as_deref())?;
    // Terraform's defaults (terraform/locals.tf): the smallest size a
    // caller may ask for, else the smallest Fargate size.
    let cpu = r
        .cpu
        .or(r.overrides.cpu.map(|b| b.min))
        .unwrap_or(task::DEFAULT_CPU);
    let memory = r
        .memory
        .or(r.overrides.memory.map(|b| b.min))
        .unwrap_or(task::DEFAULT_MEMORY);
    r.environment.check(&entry, RESERVED_ENV)?;
    r.secrets.check(&entry, RESERVED_ENV, &r.environment)?;
    task::check_log_retention(&entry, r.log_retention_days)?;
    if r.timeout_seconds == 0 || r.timeout_seconds > 7 * 24 * 3600 {
        return Err(invalid(
            at("timeout_seconds"),
            "must be between 1 and 604800",
        ));
    }
    if r.max_attempts == 0 || r.max_attempts > 50 {
        return Err(invalid(at("max_attempts"), "must be between 1 and 50"));
    }
    let launch = launch(&name, r.launch_type, r.capacity_provider_strategy)?;
    let max_args = max_args(r.overrides.args);
    check_entrypoint(&name, r.entrypoint.as_deref(), max_args)?;
    check_override_env(&name, &r.overrides.env, &r.secrets)?;
    check_override_bounds(&name, r.overrides.cpu, r.overrides.memory)?;
    task::check_fargate_size(&entry, cpu, memory)?;
    let scope = r.scope.unwrap_or_else(|| "jobs:write".into());
    Ok(JobType {
        name,
        description: r.description,
        task_definition: r.task_definition,
        container,
        entrypoint: r.entrypoint,
        workload,
        image: r.image,
        cpu,
        memory,
        environment: r.environment,
        secrets: r.secrets,
        log_retention_days: r.log_retention_days,
        timeout_seconds: r.timeout_seconds,
        max_attempts: r.max_attempts,
        scope,
        launch,
        overrides: Overrides {
            max_args,
            env: r.overrides.env,
            cpu: r.overrides.cpu,
            memory: r.overrides.memory,
        },
    })
}

/// Where ECS places the type's tasks: a launch type or a capacity provider
/// strategy (not both), FARGATE when neither is given.
fn launch(
    name: &str,
    launch_type: Option<String>,
    strategy: Option<Vec<CapacityProvider>>,
) -> Result<Launch, PlatformError> {
    let at = |field: &str| format!("jobs.{name}.{field}");
    Ok(match (launch_type, strategy) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                at("launch_type"),
                "give launch_type or capacity_provider_strategy, not both",
            ));
        }
        (Some(t), None) => {
            if !matches!(t.as_str(), "FARGATE" | "EC2" | "EXTERNAL") {
                return Err(invalid(
                    at("launch_type"),
                    "must be FARGATE, EC2 or EXTERNAL",
                ));
            }
            Launch::LaunchType(t)
        }
        (None, Some(s)) => {
            if s.is_empty() {
                return Err(invalid(at("capacity_provider_strategy"), "is empty"));
            }
            Launch::CapacityProviders(s)
        }
        (None, None) => Launch::LaunchType("FARGATE".into()),
    })
}

/// How many arguments a caller may pass: none unless the type allows them.
fn max_args(rule: Option<ArgsRule>) -> usize {
    match rule {
        None | Some(ArgsRule::Allowed(false)) => 0,
        Some(ArgsRule::Allowed(true)) => DEFAULT_MAX_ARGS,
        Some(ArgsRule::Max(n)) => n,
    }
}

/// The environment names a caller may set: valid, not the platform's, not a secret.
fn check_override_env(name: &str, env: &[String], secrets: &Secrets) -> Result<(), PlatformError> {
    let at = |field: &str| format!("jobs.{name}.{field}");
    for (i, e) in env.iter().enumerate() {
        if !task::is_valid_env_name(e) {
            return Err(invalid(
                at(&format!("overrides.env[{i}]")),
                "an env name is upper-case letters, digits and '_'",
            ));
        }
        if RESERVED_ENV.contains(&e.as_str()) {
            return Err(invalid(
                at(&format!("overrides.env[{i}]")),
                format!("{e} is set by the platform and cannot be overridden"),
            ));
        }
        if secrets.contains(e) {
            return Err(invalid(
                at(&format!("overrides.env[{i}]")),
                format!("{e} is one of the type's secrets and cannot be overridden by a caller"),
            ));
        }
    }
    Ok(())
}

/// The cpu and memory a caller may ask for: a positive minimum not above the maximum.
fn check_override_bounds(
    name: &str,
    cpu: Option<Bounds>,
    memory: Option<Bounds>,
) -> Result<(), PlatformError> {
    let at = |field: &str| format!("jobs.{name}.{field}");
    for (field, b) in [("cpu", cpu), ("memory", memory)] {
        if let Some(b) = b {
            if b.min == 0 || b.min > b.max {
                return Err(invalid(
                    at(&format!("overrides.{field}")),
                    "min must be positive and not above max",
                ));
            }
        }
    }
    Ok(())
}

impl JobTypes {
    /// Parse the `jobs:` section (a mapping, or null/absent for none).
    pub fn from_value(value: &Value) -> Result<Self, PlatformError> {
        if value.is_null() {
            return Ok(Self::default());
        }
        let raw: BTreeMap<String, RawJobType> = serde_norway::from_value(value.clone())
            .map_err(|e| invalid("jobs".into(), e.to_string()))?;
        Self::from_raw(raw)
    }

    pub(crate) fn from_raw(raw: BTreeMap<String, RawJobType>) -> Result<Self, PlatformError> {
        let mut types = BTreeMap::new();
        for (name, r) in raw {
            types.insert(name.clone(), job_type(name, r)?);
        }
        Ok(Self { types })
    }
    pub fn get(&self, name: &str) -> Option<&JobType> {
        self.types.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = &JobType> {
        self.types.values()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<JobTypes, PlatformError> {
        let v: Value = serde_norway::from_str(yaml).unwrap();
        JobTypes::from_value(&v)
    }

    const SAMPLE: &str = r#"
sample:
  task_definition: portcullis-sample-job
  container: sample-job
  entrypoint: [/sample-job]
  timeout_seconds: 600
  overrides:
    args: 8
    env: [GREETING]
    cpu: { min: 256, max: 1024 }
"#;

    #[test]
    fn a_full_entry_parses_with_defaults() {
        let t = parse(SAMPLE).unwrap();
        let s = t.get("sample").unwrap();
        assert_eq!(s.max_attempts, 5);
        assert_eq!(s.scope, "jobs:write");
        assert_eq!(s.launch, Launch::LaunchType("FARGATE".into()));
        assert_eq!(s.overrides.max_args, 8);
        assert!(s.overrides.memory.is_none());
        assert!(s.overrides.cpu.unwrap().contains(512));
    }

    #[test]
    fn args_true_allows_the_default_count_and_absent_allows_none() {
        let t = parse("a: {task_definition: f, container: c, entrypoint: [/a], timeout_seconds: 1, overrides: {args: true}}\nb: {task_definition: f, container: c, timeout_seconds: 1}").unwrap();
        assert_eq!(t.get("a").unwrap().overrides.max_args, DEFAULT_MAX_ARGS);
        assert_eq!(t.get("b").unwrap().overrides.max_args, 0);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let err = parse("a: {task_definition: f, container: c, timeout_seconds: 1, imag: x}")
            .unwrap_err();
        assert!(err.to_string().contains("imag"), "{err}");
    }

    #[test]
    fn terraform_fields_parse_with_terraform_defaults() {
        let t = parse(SAMPLE).unwrap();
        let s = t.get("sample").unwrap();
        assert_eq!(
            (s.workload.as_str(), s.image.as_deref()),
            ("sample-job", None)
        );
        assert_eq!(
            (s.cpu, s.memory),
            (256, 512),
            "cpu from overrides.cpu.min, memory default"
        );
        let t = parse("a: {task_definition: f, timeout_seconds: 1}").unwrap();
        let a = t.get("a").unwrap();
        assert_eq!((a.container.as_str(), a.workload.as_str()), ("a", "a"));
        let t = parse(
            "a: {task_definition: f, timeout_seconds: 1, workload: w, image: 'r/i:1', cpu: 512, memory: 2048, environment: {GREETING: hi, N: 3}}",
        )
        .unwrap();
        let a = t.get("a").unwrap();
        assert_eq!((a.workload.as_str(), a.cpu, a.memory), ("w", 512, 2048));
        assert_eq!(a.image.as_deref(), Some("r/i:1"));
        assert_eq!(a.environment.get("N"), Some("3"));
    }

    #[test]
    fn task_size_and_environment_are_validated() {
        for (yaml, path) in [
            (
                "a: {task_definition: f, timeout_seconds: 1, cpu: 512, memory: 512}",
                "jobs.a.memory",
            ),
            (
                "a: {task_definition: f, timeout_seconds: 1, overrides: {cpu: {min: 100, max: 200}}}",
                "jobs.a.cpu",
            ),
            (
                "a: {task_definition: f, timeout_seconds: 1, environment: {JOB_ID: x}}",
                "jobs.a.environment.JOB_ID",
            ),
            (
                "a: {task_definition: f, timeout_seconds: 1, environment: {A: [x]}}",
                "jobs",
            ),
        ] {
            let e = parse(yaml).unwrap_err().to_string();
            assert!(e.contains(path), "{yaml}: {e}");
        }
    }

    #[test]
    fn reserved_env_name_is_rejected_with_its_path() {
        let err = parse(
            "a: {task_definition: f, container: c, timeout_seconds: 1, overrides: {env: [JOB_ID]}}",
        )
        .unwrap_err();
        assert!(err.to_string().contains("jobs.a.overrides.env[0]"), "{err}");
    }

    #[test]
    fn launch_type_and_capacity_providers_are_exclusive() {
        let err = parse(
            "a: {task_definition: f, container: c, timeout_seconds: 1, launch_type: FARGATE, capacity_provider_strategy: [{capacity_provider: FARGATE_SPOT, weight: 1}]}",
        )
        .unwrap_err();
        assert!(err.to_string().contains("launch_type"), "{err}");
    }

    #[test]
    fn inverted_bounds_are_rejected() {
        let err = parse("a: {task_definition: f, container: c, timeout_seconds: 1, overrides: {cpu: {min: 2048, max: 256}}}")
            .unwrap_err();
        assert!(err.to_string().contains("overrides.cpu"), "{err}");
    }

    #[test]
    fn a_job_type_taking_args_without_an_entrypoint_is_refused() {
        // Args become the container command's arguments only
        // when the entry point is fixed; without one they would be the command.
        let err = parse("a: {task_definition: f, timeout_seconds: 1, overrides: {args: 4}}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("jobs.a.entrypoint"), "{err}");
        assert!(err.contains("entrypoint: ["), "says what to add: {err}");
        let err = parse("a: {task_definition: f, timeout_seconds: 1, overrides: {args: true}}")
            .unwrap_err();
        assert!(err.to_string().contains("jobs.a.entrypoint"), "{err}");
        // An empty list or an empty element fixes nothing.
        for bad in ["[]", "['']", "['/bin/x', \"a\\u0000b\"]"] {
            let yaml = format!(
                "a: {{task_definition: f, timeout_seconds: 1, entrypoint: {bad}, overrides: {{args: 4}}}}"
            );
            let err = parse(&yaml).unwrap_err();
            assert!(
                err.to_string().contains("jobs.a.entrypoint"),
                "{bad}: {err}"
            );
        }
        // With an entry point, or without args, the type is accepted.
        let t = parse(
            "a: {task_definition: f, timeout_seconds: 1, entrypoint: [/app/a, --], overrides: {args: 4}}\nb: {task_definition: f, timeout_seconds: 1}",
        )
        .unwrap();
        assert_eq!(
            t.get("a").unwrap().entrypoint.as_deref(),
            Some(&["/app/a".to_owned(), "--".to_owned()][..])
        );
        assert_eq!(t.get("b").unwrap().entrypoint, None);
    }

    #[test]
    fn null_section_means_no_job_types() {
        assert!(JobTypes::from_value(&Value::Null).unwrap().is_empty());
    }

    #[test]
    fn the_repository_platform_file_parses() {
        let t = super::super::Platform::embedded().unwrap().jobs;
        assert!(
            t.get("sample").is_some(),
            "platform.yaml must register the sample job"
        );
    }
}
