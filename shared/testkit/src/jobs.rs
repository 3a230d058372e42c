//! Test support for the job functions (`jobs`, `task-events`, `reconciler`)
//! and `portcullis-jobs`: a small registry, the state, jobs created through
//! `portcullis_jobs::store` (never through the HTTP handler), and the
//! EventBridge events ECS sends.

use crate::emulator::EcsSetup;
use portcullis_db::Database;
use portcullis_jobs::ecs::Placement;
use portcullis_jobs::model::{EventSource, Job};
use portcullis_jobs::store::{self, NewJob};
use portcullis_jobs::{Settings, State, launch, lifecycle};
use portcullis_platform::jobs::JobTypes;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::fmt::Display;
use std::time::Duration;
use uuid::Uuid;

/// The test registry: small max_attempts and timeout so tests are short.
pub const TEST_REGISTRY: &str = r#"
jobs:
  sample:
    task_definition: portcullis-sample-job
    container: sample-job
    entrypoint: [/sample-job]
    timeout_seconds: 60
    max_attempts: 3
    overrides:
      args: 4
      env: [GREETING]
      cpu: { min: 256, max: 1024 }
      memory: { min: 512, max: 2048 }
  spot:
    task_definition: portcullis-sample-job
    container: sample-job
    timeout_seconds: 60
    capacity_provider_strategy:
      - { capacity_provider: FARGATE_SPOT, weight: 3 }
      - { capacity_provider: FARGATE, weight: 1, base: 1 }
  admin-only:
    task_definition: portcullis-sample-job
    container: sample-job
    timeout_seconds: 60
    scope: "jobs:admin"
"#;

/// [`TEST_REGISTRY`], parsed.
pub fn registry() -> JobTypes {
    portcullis_platform::Platform::from_yaml(TEST_REGISTRY)
        .expect("the test registry is valid")
        .jobs
}

pub fn placement(cluster: &str, subnets: Vec<String>, security_groups: Vec<String>) -> Placement {
    Placement {
        cluster: cluster.to_owned(),
        subnets,
        security_groups,
    }
}

/// The placement stub-ECS tests use (`test-cluster`, two subnets, one group).
pub fn stub_placement() -> Placement {
    placement(
        "test-cluster",
        vec!["subnet-a".into(), "subnet-b".into()],
        vec!["sg-jobs".into()],
    )
}

impl From<EcsSetup> for Placement {
    fn from(s: EcsSetup) -> Placement {
        placement(&s.cluster, s.subnets, s.security_groups)
    }
}

/// The job state on a test database, with [`registry`] and default settings.
pub fn state(pool: PgPool, ecs: aws_sdk_ecs::Client, placement: Placement) -> State {
    State::new(
        Database::from_pool(pool),
        ecs,
        placement,
        registry(),
        Settings::default(),
    )
}

/// Tenant `acme`, whose jobs [`new_job`] makes.
pub fn acme() -> portcullis_jobs::Tenant {
    "acme".parse().expect("acme is a tenant")
}

/// A job of the `sample` type for tenant `acme` (principal `key-of-acme`).
pub fn new_job(key: &str, args: &[&str]) -> NewJob {
    NewJob {
        id: Uuid::new_v4(),
        tenant: acme(),
        principal: "key-of-acme".into(),
        job_type: "sample".into(),
        params: portcullis_jobs::model::Params {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        },
        idempotency_key: key.into(),
        request_hash: format!("hash-of-{key}"),
        max_attempts: 3,
        timeout_seconds: 60,
        request_id: None,
        trace_id: None,
        launch_grace: Duration::from_secs(60),
    }
}

/// A committed job that no RunTask has been sent for (as after a crash right
/// after the submit's commit).
pub async fn committed_job(state: &State, key: &str) -> Job {
    store::insert(&state.db, &new_job(key, &[]))
        .await
        .expect("insert a job")
        .expect("a fresh idempotency key")
}

/// A job launched the way a submit launches it: insert, RunTask, record.
pub async fn launched_job(state: &State, key: &str, args: &[&str]) -> Job {
    let job = store::insert(&state.db, &new_job(key, args))
        .await
        .expect("insert a job")
        .expect("a fresh idempotency key");
    let jt = state.types.get(&job.job_type).expect("a registered type");
    let outcome = launch::run_task(state.ecs.get().await, &state.placement, jt, &job).await;
    lifecycle::record_launch(state, &job, &outcome, EventSource::Api)
        .await
        .expect("record the launch")
        .expect("nothing else moved the job")
}

/// Pretend time passed: make a job due for the reconciler now.
pub async fn make_due(pool: &PgPool, id: impl Display) {
    sqlx::query(
        "update jobs set next_attempt_at = now() - interval '1 second' where id = $1::uuid",
    )
    .bind(id.to_string())
    .execute(pool)
    .await
    .expect("make a job due");
}

/// The status column of a job, as stored.
pub async fn status_of(pool: &PgPool, id: impl Display) -> String {
    sqlx::query_scalar("select status from jobs where id = $1::uuid")
        .bind(id.to_string())
        .fetch_one(pool)
        .await
        .expect("the job exists")
}

/// A fixture of the repository's `tests/fixtures/`, parsed as JSON.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {path} is not JSON: {e}"))
}

/// A fixture "ECS Task State Change" event rewritten for one task and job.
pub fn fixture_event(name: &str, task_arn: &str, job_id: impl Display, version: i64) -> Value {
    let mut e = fixture(name);
    e["detail"]["taskArn"] = json!(task_arn);
    e["detail"]["startedBy"] = json!(job_id.to_string());
    e["detail"]["version"] = json!(version);
    e
}

/// The real-shaped "ECS Task State Change" event ECS would send for a task
/// DescribeTasks reported (EventBridge is not emulated).
pub fn event_from_task(
    task: &aws_sdk_ecs::types::Task,
    version: i64,
    exit_code: Option<i32>,
) -> Value {
    let mut e = fixture("ecs-task-stopped-exit-0.json");
    let d = &mut e["detail"];
    d["taskArn"] = json!(task.task_arn());
    d["lastStatus"] = json!(task.last_status());
    d["desiredStatus"] = json!(task.desired_status());
    d["startedBy"] = json!(task.started_by());
    d["version"] = json!(version);
    d["containers"][0]["taskArn"] = json!(task.task_arn());
    d["containers"][0]["lastStatus"] = json!(task.last_status());
    let container = d["containers"][0]
        .as_object_mut()
        .expect("the fixture has a container");
    match exit_code {
        Some(c) => {
            container.insert("exitCode".into(), json!(c));
        }
        None => {
            container.remove("exitCode");
        }
    }
    if task.last_status() != Some("STOPPED") {
        let d = d
            .as_object_mut()
            .expect("the fixture's detail is an object");
        for k in [
            "stopCode",
            "stoppedReason",
            "stoppedAt",
            "stoppingAt",
            "executionStoppedAt",
        ] {
            d.remove(k);
        }
    }
    e
}
