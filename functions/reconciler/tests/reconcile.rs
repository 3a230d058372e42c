//! The reconciler against PostgreSQL, with the moto emulator's ECS for
//! behaviour and a stub ECS for injected failures. Jobs are created through
//! `portcullis_jobs::store` (testkit). Needs DATABASE_URL and AWS_ENDPOINT_URL
//! (`make test`).

use portcullis_core::metrics::{self, Metric};
use portcullis_jobs::model::EventSource;
use portcullis_jobs::transition::{self, ContainerState, TaskSnapshot};
use portcullis_testkit::emulator::{ecs_client, ecs_setup};
use portcullis_testkit::jobs::*;
use portcullis_testkit::stub_ecs::*;
use serde_json::json;
use sqlx::PgPool;

async fn moto_state(pool: &PgPool) -> (portcullis_jobs::State, aws_sdk_ecs::Client) {
    let ecs = ecs_client().await;
    let placement = ecs_setup(&ecs).await.into();
    (state(pool.clone(), ecs.clone(), placement), ecs)
}

async fn tasks_of(ecs: &aws_sdk_ecs::Client, cluster: &str, id: &str) -> Vec<String> {
    portcullis_jobs::launch::tasks_started_by(ecs, cluster, id)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_reconciler_syncs_a_job_whose_events_went_missing(pool: PgPool) {
    let (st, _ecs) = moto_state(&pool).await;
    let id = launched_job(&st, "sync", &["--exit-code", "0"])
        .await
        .id
        .to_string();
    let cap = metrics::capture();
    for _ in 0..10 {
        sqlx::query("update jobs set synced_at = now() - interval '1 hour' where id = $1::uuid")
            .bind(&id)
            .execute(&pool)
            .await
            .unwrap();
        reconciler::reconcile(&st).await.unwrap();
        if status_of(&pool, &id).await == "succeeded" {
            break;
        }
    }
    assert_eq!(status_of(&pool, &id).await, "succeeded");
    let sources: Vec<String> = sqlx::query_scalar(
        "select source from job_events where job_id = $1::uuid and to_status = 'succeeded'",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(sources, vec!["reconciler"]);
    // Its end is counted once, by the sweep that saw it.
    assert_eq!(
        cap.sum(Metric::JobSucceeded, &[("JobType", "sample")]),
        1.0,
        "{:?}",
        cap.lines()
    );
    let sweeps = cap.values(Metric::ReconcilerSweepDuration, &[]).len();
    assert!(sweeps >= 1, "one record per sweep");
    assert_eq!(
        cap.values(Metric::ReconcilerRedriven, &[]).len(),
        sweeps,
        "every sweep writes its counts, zeros too"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_crash_after_commit_before_run_task_is_launched_exactly_once(pool: PgPool) {
    let (st, ecs) = moto_state(&pool).await;
    let job = committed_job(&st, "crash-1").await;
    let id = job.id.to_string();
    let cap = metrics::capture();
    // Inside the grace period the submit handler owns the launch.
    assert_eq!(reconciler::reconcile(&st).await.unwrap().launched, 0);
    assert_eq!(cap.sum(Metric::ReconcilerRedriven, &[]), 0.0);
    make_due(&pool, &id).await;
    let first = reconciler::reconcile(&st).await.unwrap();
    assert_eq!(first.launched, 1);
    assert_eq!((first.redriven, first.adopted), (1, 0));
    assert_eq!(
        cap.sum(Metric::ReconcilerRedriven, &[]),
        1.0,
        "{:?}",
        cap.lines()
    );
    make_due(&pool, &id).await; // even if it looked due again
    let second = reconciler::reconcile(&st).await.unwrap();
    assert_eq!(second.launched + second.adopted, 0);
    assert_eq!(tasks_of(&ecs, &st.placement.cluster, &id).await.len(), 1);
    assert_eq!(status_of(&pool, &id).await, "starting");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_crash_after_run_task_before_the_update_is_reconciled_by_started_by(pool: PgPool) {
    let (st, ecs) = moto_state(&pool).await;
    let job = committed_job(&st, "crash-2").await;
    let id = job.id.to_string();
    let jt = st.types.get("sample").unwrap();
    let outcome =
        portcullis_jobs::launch::run_task(st.ecs.get().await, &st.placement, jt, &job).await;
    let portcullis_jobs::launch::LaunchOutcome::Started { task_arn } = outcome else {
        panic!("{outcome:?}")
    };
    // ... and the process died before recording it.
    make_due(&pool, &id).await;
    let cap = metrics::capture();
    let report = reconciler::reconcile(&st).await.unwrap();
    assert_eq!((report.adopted, report.launched), (1, 0));
    assert_eq!(
        cap.sum(Metric::ReconcilerOrphanAdopted, &[]),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::ReconcilerDuplicateStopped, &[]), 0.0);
    assert_eq!(
        tasks_of(&ecs, &st.placement.cluster, &id).await,
        vec![task_arn.clone()]
    );
    let saved: Option<String> = sqlx::query_scalar("select task_arn from jobs where id = $1::uuid")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(saved, Some(task_arn));
}

/// Two tasks carrying one job id (two launches raced): the job adopts one and
/// the other is stopped, never left running outside the job's timeout and
/// cancel (a cancel racing RunTask).
#[sqlx::test(migrations = "../../migrations")]
async fn a_duplicate_task_of_a_job_is_stopped_when_the_job_is_adopted(pool: PgPool) {
    let (st, ecs) = moto_state(&pool).await;
    let job = committed_job(&st, "dup").await;
    let id = job.id.to_string();
    let jt = st.types.get("sample").unwrap();
    for _ in 0..2 {
        let o =
            portcullis_jobs::launch::run_task(st.ecs.get().await, &st.placement, jt, &job).await;
        assert!(
            matches!(o, portcullis_jobs::launch::LaunchOutcome::Started { .. }),
            "{o:?}"
        );
    }
    let running = |ecs: aws_sdk_ecs::Client, cluster: String, id: String| async move {
        ecs.list_tasks()
            .cluster(cluster)
            .started_by(id)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .send()
            .await
            .unwrap()
            .task_arns()
            .to_vec()
    };
    let cluster = st.placement.cluster.clone();
    assert_eq!(
        running(ecs.clone(), cluster.clone(), id.clone())
            .await
            .len(),
        2
    );
    make_due(&pool, &id).await;
    let cap = metrics::capture();
    let report = reconciler::reconcile(&st).await.unwrap();
    assert_eq!((report.adopted, report.launched), (1, 0));
    let left = running(ecs.clone(), cluster, id.clone()).await;
    assert_eq!(left.len(), 1, "the duplicate still runs: {left:?}");
    assert_eq!(report.duplicates_stopped, 1);
    assert_eq!(
        cap.sum(Metric::ReconcilerDuplicateStopped, &[]),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::ReconcilerOrphanAdopted, &[]), 1.0);
    let saved: Option<String> = sqlx::query_scalar("select task_arn from jobs where id = $1::uuid")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(saved.as_deref(), left.first().map(String::as_str));
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_reconcilers_at_once_launch_each_job_once(pool: PgPool) {
    let (ecs, calls) = healthy_ecs();
    let st = state(
        pool.clone(),
        ecs,
        placement("c", vec!["subnet-a".into()], vec!["sg-a".into()]),
    );
    let other = st.clone();
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = committed_job(&st, &format!("k{i}")).await.id.to_string();
        make_due(&pool, &id).await;
        ids.push(id);
    }
    let (a, b) = tokio::join!(
        tokio::spawn(async move { reconciler::reconcile(&st).await.unwrap() }),
        tokio::spawn(async move { reconciler::reconcile(&other).await.unwrap() }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.launched + b.launched, 8, "{a:?} {b:?}");
    let runs = calls_of(&calls, "RunTask");
    let mut started: Vec<String> = runs
        .iter()
        .map(|c| c.body["startedBy"].as_str().unwrap().to_owned())
        .collect();
    started.sort();
    ids.sort();
    assert_eq!(started, ids, "each job exactly once");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_capacity_failure_is_retried_then_fails_after_max_attempts(pool: PgPool) {
    let (ecs, calls) = stub_ecs(|op, _| match op {
        "RunTask" => (
            200,
            json!({"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY", "detail": "not enough memory"}]}),
        ),
        "ListTasks" => (200, json!({"taskArns": []})),
        _ => (200, json!({})),
    });
    let st = state(
        pool.clone(),
        ecs,
        placement("c", vec!["subnet-a".into()], vec!["sg-a".into()]),
    );
    let cap = metrics::capture();
    let job = launched_job(&st, "cap", &[]).await;
    let id = job.id.to_string();
    assert_eq!((job.status.as_str(), job.attempts), ("queued", 1));
    // Not yet due: the backoff holds it.
    assert_eq!(reconciler::reconcile(&st).await.unwrap().retried, 0);
    make_due(&pool, &id).await;
    assert_eq!(reconciler::reconcile(&st).await.unwrap().retried, 1);
    assert_eq!(status_of(&pool, &id).await, "queued");
    make_due(&pool, &id).await;
    assert_eq!(reconciler::reconcile(&st).await.unwrap().failed, 1);
    let (status, attempts, error): (String, i32, Option<String>) =
        sqlx::query_as("select status, attempts, error from jobs where id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 3));
    // The tenant's reason: a code, never ECS's text (docs/jobs.md "Reasons").
    assert_eq!(
        error.as_deref(),
        Some(
            "launch-gave-up: no task after 3 attempts; last: capacity-unavailable: \
             the cluster could not start the task (capacity)"
        )
    );
    let raw: serde_json::Value = sqlx::query_scalar(
        "select detail from job_events where job_id = $1::uuid and to_status = 'failed'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        raw["internal"]["detail"]
            .as_str()
            .unwrap()
            .contains("RESOURCE:MEMORY"),
        "ECS's text stays with the operators: {raw}"
    );
    assert_eq!(calls_of(&calls, "RunTask").len(), 3);
    // Each RunTask that started nothing counted by its reason code; the job's
    // end once, with no run time (it never ran).
    assert_eq!(
        cap.sum(
            Metric::RunTaskFailure,
            &[("Reason", "capacity-unavailable")]
        ),
        3.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::JobFailed, &[("JobType", "sample")]), 1.0);
    assert!(cap.values(Metric::JobRunTime, &[]).is_empty());
    assert_eq!(cap.sum(Metric::ReconcilerRedriven, &[]), 2.0);
    // Every reconciler RunTask was preceded by a ListTasks by startedBy.
    let lists = calls_of(&calls, "ListTasks");
    assert!(lists.len() >= 2 && lists.iter().all(|c| c.body["startedBy"] == id.as_str()));
    make_due(&pool, &id).await;
    reconciler::reconcile(&st).await.unwrap();
    assert_eq!(
        calls_of(&calls, "RunTask").len(),
        3,
        "a failed job is never relaunched"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_job_past_its_timeout_is_stopped_and_timed_out(pool: PgPool) {
    let (ecs, calls) = healthy_ecs();
    let st = state(
        pool.clone(),
        ecs,
        placement("c", vec!["subnet-a".into()], vec!["sg-a".into()]),
    );
    let job = launched_job(&st, "slow", &[]).await;
    let id = job.id.to_string();
    let arn = job.task_arn.clone().unwrap();
    assert_eq!(reconciler::reconcile(&st).await.unwrap().timed_out, 0);
    sqlx::query("update jobs set started_at = now() - interval '2 minutes' where id = $1::uuid")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let cap = metrics::capture();
    assert_eq!(reconciler::reconcile(&st).await.unwrap().timed_out, 1);
    assert_eq!(status_of(&pool, &id).await, "timed_out");
    assert_eq!(
        cap.sum(Metric::JobTimedOut, &[("JobType", "sample")]),
        1.0,
        "{:?}",
        cap.lines()
    );
    let stops = calls_of(&calls, "StopTask");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].body["task"], arn);
    // The STOPPED event that follows changes nothing.
    let stopped = TaskSnapshot {
        task_arn: arn.clone(),
        last_status: "STOPPED".into(),
        version: Some(9),
        started_by: Some(id.clone()),
        stop_code: Some("UserInitiated".into()),
        stopped_reason: Some("Portcullis: job exceeded its timeout".into()),
        containers: vec![ContainerState {
            name: "sample-job".into(),
            exit_code: Some(143),
            reason: None,
        }],
    };
    transition::apply(&st.db, &st.types, &stopped, EventSource::EcsEvent)
        .await
        .unwrap();
    assert_eq!(status_of(&pool, &id).await, "timed_out");
    // Counted once: the STOPPED event after it counts no other end.
    assert_eq!(cap.sum(Metric::JobTimedOut, &[]), 1.0);
    assert_eq!(
        cap.sum(Metric::JobFailed, &[]) + cap.sum(Metric::JobSucceeded, &[]),
        0.0
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_timeout_whose_stop_task_fails_is_retried_next_sweep(pool: PgPool) {
    let (ecs, _calls) = stub_ecs(|op, body| match op {
        "RunTask" => (
            200,
            json!({"tasks": [{"taskArn": task_arn_for(1), "startedBy": body["startedBy"]}]}),
        ),
        _ => (500, json!({"__type": "ServerException", "message": "down"})),
    });
    let st = state(
        pool.clone(),
        ecs,
        placement("c", vec!["subnet-a".into()], vec!["sg-a".into()]),
    );
    let id = launched_job(&st, "slow", &[]).await.id.to_string();
    sqlx::query("update jobs set started_at = now() - interval '2 minutes' where id = $1::uuid")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let r = reconciler::reconcile(&st).await.unwrap();
    assert_eq!((r.timed_out, r.errors), (0, 1));
    assert_eq!(status_of(&pool, &id).await, "starting");
}
