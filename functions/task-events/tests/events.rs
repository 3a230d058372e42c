//! task-events against PostgreSQL with real-shaped "ECS Task State Change"
//! events (tests/fixtures/ecs-*.json), and the whole job lifecycle following
//! the emulator's task. Needs DATABASE_URL and AWS_ENDPOINT_URL (`make test`).

use portcullis_core::metrics::{self, Metric};
use portcullis_jobs::lifecycle;
use portcullis_jobs::store;
use portcullis_testkit::emulator::{ecs_client, ecs_setup};
use portcullis_testkit::jobs::*;
use portcullis_testkit::stub_ecs::*;
use serde_json::{Value, json};
use sqlx::PgPool;

/// A launched job whose task the stub started: (state, job id, task ARN).
async fn started_job(pool: &PgPool) -> (portcullis_jobs::State, String, String) {
    let (ecs, _calls) = healthy_ecs();
    let st = state(
        pool.clone(),
        ecs,
        placement("c", vec!["subnet-a".into()], vec!["sg-a".into()]),
    );
    let job = launched_job(&st, "k", &["--exit-code", "0"]).await;
    let arn = job.task_arn.clone().expect("the stub started a task");
    (st, job.id.to_string(), arn)
}

async fn apply(st: &portcullis_jobs::State, e: Value) -> String {
    task_events::handle(st, e)
        .await
        .expect("a well-formed event is acknowledged")
        .result
}

async fn job_row(pool: &PgPool, id: &str) -> (String, Option<i32>, Option<String>, Option<i64>) {
    sqlx::query_as("select status, exit_code, stop_code, ecs_version from jobs where id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn history(pool: &PgPool, id: &str) -> Vec<(Option<String>, String, String)> {
    sqlx::query_as(
        "select from_status, to_status, source from job_events where job_id = $1::uuid order by id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../../migrations")]
async fn running_then_stopped_with_exit_0_succeeds_and_records_why(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    let cap = metrics::capture();
    assert!(
        apply(&st, fixture_event("ecs-task-running.json", &arn, &id, 3))
            .await
            .starts_with("moved")
    );
    assert_eq!(status_of(&pool, &id).await, "running");
    apply(
        &st,
        fixture_event("ecs-task-stopped-exit-0.json", &arn, &id, 5),
    )
    .await;
    let (status, exit, stop_code, version) = job_row(&pool, &id).await;
    assert_eq!(status, "succeeded");
    assert_eq!(exit, Some(0));
    assert_eq!(stop_code.as_deref(), Some("EssentialContainerExited"));
    assert_eq!(version, Some(5));
    let h = history(&pool, &id).await;
    assert_eq!(
        h.last().unwrap(),
        &(
            Some("running".into()),
            "succeeded".into(),
            "ecs_event".into()
        )
    );
    // Started, then succeeded: each once, with its queue wait and run time.
    let sample = [("JobType", "sample")];
    assert_eq!(
        cap.sum(Metric::JobStarted, &sample),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::JobSucceeded, &sample), 1.0);
    assert_eq!(cap.values(Metric::JobQueueWait, &sample).len(), 1);
    let ran = cap.values(Metric::JobRunTime, &sample);
    assert!(ran.len() == 1 && ran[0] >= 0.0, "{ran:?}");
    assert_eq!(cap.sum(Metric::TaskEventProcessed, &[]), 2.0);
    assert_eq!(cap.sum(Metric::TaskEventStale, &[]), 0.0);
    // The same STOPPED event again: processed, stale, never counted twice.
    apply(
        &st,
        fixture_event("ecs-task-stopped-exit-0.json", &arn, &id, 5),
    )
    .await;
    assert_eq!(cap.sum(Metric::JobSucceeded, &sample), 1.0);
    assert_eq!(cap.values(Metric::JobRunTime, &sample).len(), 1);
    assert_eq!(cap.sum(Metric::TaskEventProcessed, &[]), 3.0);
    assert_eq!(cap.sum(Metric::TaskEventStale, &[]), 1.0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn duplicate_and_stale_events_change_nothing(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    let cap = metrics::capture();
    apply(&st, fixture_event("ecs-task-running.json", &arn, &id, 3)).await;
    let before = history(&pool, &id).await.len();
    let dup = apply(&st, fixture_event("ecs-task-running.json", &arn, &id, 3)).await;
    assert!(dup.contains("stale or duplicate"), "{dup}");
    let stale = apply(&st, fixture_event("ecs-task-pending.json", &arn, &id, 1)).await;
    assert!(stale.starts_with("ignored"), "{stale}");
    assert_eq!(status_of(&pool, &id).await, "running");
    assert_eq!(history(&pool, &id).await.len(), before);
    assert_eq!(cap.sum(Metric::TaskEventProcessed, &[]), 3.0);
    assert_eq!(
        cap.sum(Metric::TaskEventStale, &[]),
        2.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::JobStarted, &[]), 1.0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reordered_events_keep_the_newest_state_and_running_after_stopped_is_ignored(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    apply(
        &st,
        fixture_event("ecs-task-stopped-exit-0.json", &arn, &id, 5),
    )
    .await;
    assert_eq!(status_of(&pool, &id).await, "succeeded");
    let late = apply(&st, fixture_event("ecs-task-running.json", &arn, &id, 3)).await;
    assert!(late.starts_with("ignored"), "{late}");
    // Even with a higher version, a finished job never changes.
    let later = apply(&st, fixture_event("ecs-task-running.json", &arn, &id, 9)).await;
    assert!(later.contains("already finished"), "{later}");
    assert_eq!(status_of(&pool, &id).await, "succeeded");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_non_zero_exit_fails_the_job_with_its_code(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    let cap = metrics::capture();
    apply(
        &st,
        fixture_event("ecs-task-stopped-exit-3.json", &arn, &id, 5),
    )
    .await;
    let (status, exit, _, _) = job_row(&pool, &id).await;
    assert_eq!((status.as_str(), exit), ("failed", Some(3)));
    assert_eq!(cap.sum(Metric::JobFailed, &[("JobType", "sample")]), 1.0);
    // No RUNNING was seen: no run time, and it never counted as started.
    assert!(cap.values(Metric::JobRunTime, &[]).is_empty());
    assert_eq!(cap.sum(Metric::JobStarted, &[]), 0.0);
    let error: Option<String> = sqlx::query_scalar("select error from jobs where id = $1::uuid")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(error.as_deref(), Some("task-stopped: exit code 3"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn task_failed_to_start_without_an_exit_code_fails(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    apply(
        &st,
        fixture_event("ecs-task-failed-to-start.json", &arn, &id, 4),
    )
    .await;
    let (status, exit, stop_code, _) = job_row(&pool, &id).await;
    assert_eq!(status, "failed");
    assert_eq!(exit, None);
    assert_eq!(stop_code.as_deref(), Some("TaskFailedToStart"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_stop_after_a_cancel_request_ends_cancelled(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    let job = lifecycle::cancel(&st, &acme(), id.parse().unwrap(), "key-of-acme")
        .await
        .unwrap();
    assert!(job.cancel_requested());
    assert_eq!(status_of(&pool, &id).await, "starting");
    let mut e = fixture_event("ecs-task-stopped-exit-0.json", &arn, &id, 5);
    e["detail"]["stopCode"] = json!("UserInitiated");
    e["detail"]["containers"][0]["exitCode"] = json!(143);
    let cap = metrics::capture();
    apply(&st, e).await;
    assert_eq!(status_of(&pool, &id).await, "cancelled");
    assert_eq!(cap.sum(Metric::JobCancelled, &[("JobType", "sample")]), 1.0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_event_before_the_task_arn_was_saved_is_matched_by_started_by(pool: PgPool) {
    // Throttled submit: queued, no task ARN.
    let (ecs, _c) = stub_ecs(|_, _| {
        (
            400,
            json!({"__type": "ThrottlingException", "message": "x"}),
        )
    });
    let st = state(
        pool.clone(),
        ecs,
        placement("c", vec!["subnet-a".into()], vec!["sg-a".into()]),
    );
    let job = launched_job(&st, "k", &[]).await;
    assert_eq!(job.task_arn, None, "throttled: still queued");
    let id = job.id.to_string();
    let arn = task_arn_for(77);
    apply(&st, fixture_event("ecs-task-running.json", &arn, &id, 3)).await;
    let (status, task_arn): (String, Option<String>) =
        sqlx::query_as("select status, task_arn from jobs where id = $1::uuid")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "running");
    assert_eq!(task_arn.as_deref(), Some(arn.as_str()));
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_unknown_task_is_acknowledged(pool: PgPool) {
    let (st, _id, _arn) = started_job(&pool).await;
    let e = fixture_event("ecs-task-running.json", &task_arn_for(999), "not-a-job", 3);
    let cap = metrics::capture();
    assert_eq!(apply(&st, e).await, "unknown task");
    assert_eq!(cap.sum(Metric::TaskEventProcessed, &[]), 1.0);
    assert_eq!(cap.sum(Metric::TaskEventUnknownTask, &[]), 1.0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_malformed_event_is_an_error_for_the_dlq(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    let cap = metrics::capture();
    let mut e = fixture_event("ecs-task-running.json", &arn, &id, 3);
    e["detail"].as_object_mut().unwrap().remove("lastStatus");
    let err = task_events::handle(&st, e).await.unwrap_err();
    assert!(err.to_string().contains("lastStatus"), "{err}");
    assert!(
        task_events::handle(&st, json!({"hello": "world"}))
            .await
            .is_err()
    );
    assert_eq!(status_of(&pool, &id).await, "starting");
    assert!(cap.lines().is_empty(), "a malformed event is not processed");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_job_reaches_succeeded_following_the_emulators_task_lifecycle(pool: PgPool) {
    let ecs = ecs_client().await;
    let st = state(pool.clone(), ecs.clone(), ecs_setup(&ecs).await.into());
    let job = launched_job(&st, "life", &["--exit-code", "0"]).await;
    assert_eq!(job.status.as_str(), "starting", "{job:?}");
    let id = job.id.to_string();
    let arn = job.task_arn.clone().unwrap();
    let mut statuses = vec![status_of(&pool, &id).await];
    // Each DescribeTasks advances the emulator's task one state; feed the
    // matching event (EventBridge is not emulated).
    for version in 1..=10 {
        let out = ecs
            .describe_tasks()
            .cluster(&st.placement.cluster)
            .tasks(&arn)
            .send()
            .await
            .unwrap();
        let task = &out.tasks()[0];
        let stopped = task.last_status() == Some("STOPPED");
        let e = event_from_task(task, version, if stopped { Some(0) } else { None });
        task_events::handle(&st, e).await.unwrap();
        let s = status_of(&pool, &id).await;
        if statuses.last() != Some(&s) {
            statuses.push(s);
        }
        if stopped {
            break;
        }
    }
    assert_eq!(statuses, vec!["starting", "running", "succeeded"]);
    let to: Vec<&str> = store::events(&st.db, job.id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.to_status.as_str())
        .collect();
    assert_eq!(to, vec!["queued", "starting", "running", "succeeded"]);
}

/// Internals stay internal: a stopped task's reason (it names the account, the
/// registry and the task) is not what the tenant sees; a reason code is.
#[sqlx::test(migrations = "../../migrations")]
async fn a_stopped_reason_naming_the_account_is_shown_as_a_reason_code(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    let mut e = fixture_event("ecs-task-failed-to-start.json", &arn, &id, 4);
    let raw = format!(
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref \
         111122223333.dkr.ecr.us-east-1.amazonaws.com/portcullis-dev/sample-job:abc: not found ({arn})"
    );
    e["detail"]["stoppedReason"] = json!(raw);
    apply(&st, e).await;
    let job = store::get(&st.db, &acme(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status.as_str(), "failed");
    // The operators keep ECS's text.
    assert_eq!(job.stopped_reason.as_deref(), Some(raw.as_str()));
    let view = serde_json::to_string(&portcullis_jobs::model::JobView::from(&job)).unwrap();
    let events = serde_json::to_string(&store::events(&st.db, job.id).await.unwrap()).unwrap();
    for (what, shown) in [("the job", &view), ("its events", &events)] {
        for leak in ["111122223333", "arn:", "CannotPullContainerError"] {
            assert!(!shown.contains(leak), "{what} shows {leak:?}: {shown}");
        }
    }
    let view: Value = serde_json::from_str(&view).unwrap();
    assert!(
        view["error"]
            .as_str()
            .unwrap()
            .starts_with("image-pull-failed: "),
        "{view}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_non_zero_exit_is_shown_as_task_stopped_with_its_code(pool: PgPool) {
    let (st, id, arn) = started_job(&pool).await;
    apply(
        &st,
        fixture_event("ecs-task-stopped-exit-3.json", &arn, &id, 5),
    )
    .await;
    let job = store::get(&st.db, &acme(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let view = portcullis_jobs::model::JobView::from(&job);
    assert_eq!(view.error.as_deref(), Some("task-stopped: exit code 3"));
}
