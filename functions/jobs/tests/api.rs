//! The jobs HTTP handler against PostgreSQL with a stub ECS (exact RunTask
//! requests, injected failures). Needs DATABASE_URL (`make test`).

mod support;

use portcullis_core::metrics::{self, Metric};
use portcullis_jobs::model::EventSource;
use portcullis_jobs::transition::{self, Applied, TaskSnapshot};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Mutex;
use support::*;

const BODY: &str = r#"{"type":"sample","args":["--exit-code","0"],"env":{"GREETING":"hi"},"cpu":256,"memory":512}"#;

#[sqlx::test(migrations = "../../migrations")]
async fn submit_starts_a_task_with_the_exact_run_task_request(pool: PgPool) {
    let (st, calls) = healthy_state(pool.clone());
    let cap = metrics::capture();
    let resp = submit(&st, "acme", "key-1", BODY).await;
    assert_eq!(resp.status(), 202, "{:?}", body_json(&resp));
    assert_eq!(
        cap.sum(Metric::JobSubmitted, &[("JobType", "sample")]),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::RunTaskFailure, &[]), 0.0);
    // No tenant dimension unless the operator opts in.
    assert!(cap.records().iter().all(|r| r.get("Tenant").is_none()));
    let job = body_json(&resp);
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["status"], "starting");
    assert!(
        job.get("task_arn").is_none(),
        "tenants never see the task ARN"
    );
    assert_eq!(
        job_column(&pool, "task_arn", &id).await,
        Some(task_arn_for(1))
    );
    assert_eq!(resp.headers()["location"], format!("/v1/jobs/{id}"));

    let runs = calls_of(&calls, "RunTask");
    assert_eq!(runs.len(), 1);
    let r = &runs[0].body;
    assert_eq!(r["clientToken"], id);
    assert_eq!(r["startedBy"], id);
    assert_eq!(r["cluster"], "test-cluster");
    assert_eq!(r["taskDefinition"], "portcullis-sample-job");
    assert_eq!(r["launchType"], "FARGATE");
    assert_eq!(r["count"], 1);
    let vpc = &r["networkConfiguration"]["awsvpcConfiguration"];
    assert_eq!(vpc["assignPublicIp"], "DISABLED");
    assert_eq!(vpc["subnets"], json!(["subnet-a", "subnet-b"]));
    assert_eq!(vpc["securityGroups"], json!(["sg-jobs"]));
    let co = &r["overrides"]["containerOverrides"][0];
    assert_eq!(co["name"], "sample-job");
    assert_eq!(co["command"], json!(["--exit-code", "0"]));
    assert_eq!(co["cpu"], 256);
    assert_eq!(co["memory"], 512);
    let env: Vec<(String, String)> = co["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| {
            (
                kv["name"].as_str().unwrap().to_owned(),
                kv["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(env.contains(&("JOB_ID".into(), id.clone())), "{env:?}");
    assert!(env.contains(&("GREETING".into(), "hi".into())), "{env:?}");
    assert!(
        env.contains(&("REQUEST_ID".into(), "req-test-1".into())),
        "{env:?}"
    );
    assert_eq!(r["overrides"]["cpu"], "256");
    let tags: Vec<(String, String)> = r["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_owned(),
                t["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(tags.contains(&("portcullis:job-id".into(), id.clone())));
    assert!(tags.contains(&("portcullis:tenant".into(), "acme".into())));
    assert!(tags.contains(&("portcullis:job-type".into(), "sample".into())));

    // One insert (with its event) and one update: two history rows.
    let events: i64 = sqlx::query_scalar("select count(*) from job_events where job_id = $1::uuid")
        .bind(&id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn same_idempotency_key_and_body_returns_the_same_job_and_one_task(pool: PgPool) {
    let (st, calls) = healthy_state(pool.clone());
    let cap = metrics::capture();
    let first = submit(&st, "acme", "dup", BODY).await;
    let second = submit(&st, "acme", "dup", BODY).await;
    assert_eq!(first.status(), 202);
    assert_eq!(second.status(), 200);
    let sample = [("JobType", "sample")];
    assert_eq!(cap.sum(Metric::JobSubmitted, &sample), 1.0);
    assert_eq!(cap.sum(Metric::JobDeduplicated, &sample), 1.0);
    assert_eq!(body_json(&first)["id"], body_json(&second)["id"]);
    assert_eq!(calls_of(&calls, "RunTask").len(), 1);
    assert_eq!(count(&pool, "select count(*) from jobs").await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn env_order_does_not_change_the_request_hash(pool: PgPool) {
    let (st, _calls) = healthy_state(pool);
    let a = submit(
        &st,
        "acme",
        "k",
        r#"{"type":"sample","env":{"GREETING":"x"},"args":["a"]}"#,
    )
    .await;
    let b = submit(
        &st,
        "acme",
        "k",
        r#"{"args":["a"],"env":{"GREETING":"x"},"type":"sample"}"#,
    )
    .await;
    assert_eq!(b.status(), 200);
    assert_eq!(body_json(&a)["id"], body_json(&b)["id"]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn same_idempotency_key_with_another_body_is_a_conflict(pool: PgPool) {
    let (st, calls) = healthy_state(pool);
    assert_eq!(submit(&st, "acme", "k", BODY).await.status(), 202);
    let other = submit(
        &st,
        "acme",
        "k",
        r#"{"type":"sample","args":["--exit-code","1"]}"#,
    )
    .await;
    assert_eq!(other.status(), 409);
    assert!(
        body_json(&other)["detail"]
            .as_str()
            .unwrap()
            .contains("different request")
    );
    assert_eq!(calls_of(&calls, "RunTask").len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_same_key_in_two_tenants_makes_two_jobs(pool: PgPool) {
    let (st, calls) = healthy_state(pool);
    let a = submit(&st, "acme", "k", BODY).await;
    let b = submit(&st, "globex", "k", BODY).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (202, 202));
    assert_ne!(body_json(&a)["id"], body_json(&b)["id"]);
    assert_eq!(calls_of(&calls, "RunTask").len(), 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn another_tenants_job_is_not_found(pool: PgPool) {
    let (st, _calls) = healthy_state(pool);
    let id = job_id(&submit(&st, "acme", "k", BODY).await);
    assert_eq!(get_job(&st, "acme", &id).await.status(), 200);
    assert_eq!(get_job(&st, "globex", &id).await.status(), 404);
    assert_eq!(events(&st, "globex", &id).await.status(), 404);
    assert_eq!(cancel(&st, "globex", &id).await.status(), 404);
}

#[sqlx::test(migrations = "../../migrations")]
async fn bad_submits_get_400_413_or_422_naming_the_field(pool: PgPool) {
    let (st, calls) = healthy_state(pool.clone());
    let malformed = submit(&st, "acme", "k1", r#"{"type": "sample", "#).await;
    assert_eq!(malformed.status(), 400);

    let unknown = submit(&st, "acme", "k2", r#"{"type":"nope"}"#).await;
    assert_eq!(unknown.status(), 422);
    assert_eq!(body_json(&unknown)["field"], "type");

    let env = submit(
        &st,
        "acme",
        "k3",
        r#"{"type":"sample","env":{"PATH":"/tmp"}}"#,
    )
    .await;
    assert_eq!(env.status(), 422);
    assert_eq!(body_json(&env)["field"], "env.PATH");

    let cpu = submit(&st, "acme", "k4", r#"{"type":"sample","cpu":4096}"#).await;
    assert_eq!(cpu.status(), 422);
    assert_eq!(body_json(&cpu)["field"], "cpu");

    let many = submit(
        &st,
        "acme",
        "k5",
        r#"{"type":"sample","args":["1","2","3","4","5"]}"#,
    )
    .await;
    assert_eq!(many.status(), 422);
    assert_eq!(body_json(&many)["field"], "args");

    let extra = submit(&st, "acme", "k6", r#"{"type":"sample","image":"evil"}"#).await;
    assert_eq!(extra.status(), 422);

    let big_arg = "x".repeat(5000);
    let oversized = submit(
        &st,
        "acme",
        "k7",
        &json!({"type": "sample", "args": [big_arg]}).to_string(),
    )
    .await;
    assert_eq!(oversized.status(), 413);

    let total = "y".repeat(3000);
    let too_much = submit(
        &st,
        "acme",
        "k8",
        &json!({"type": "sample", "args": [total, total, total]}).to_string(),
    )
    .await;
    assert_eq!(too_much.status(), 413);

    let huge_body = json!({"type": "sample", "args": ["z".repeat(70_000)]}).to_string();
    assert_eq!(submit(&st, "acme", "k9", &huge_body).await.status(), 413);

    let no_key = request("POST", "/v1/jobs", "acme", "jobs:write", &[], Some(BODY));
    let resp = handle(&st, no_key).await;
    assert_eq!(resp.status(), 400);
    assert!(
        body_json(&resp)["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );

    assert!(
        calls_of(&calls, "RunTask").is_empty(),
        "nothing invalid reaches ECS"
    );
    assert_eq!(count(&pool, "select count(*) from jobs").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_job_type_with_its_own_scope_needs_that_scope(pool: PgPool) {
    let (st, calls) = healthy_state(pool);
    let resp = submit(&st, "acme", "k", r#"{"type":"admin-only"}"#).await;
    assert_eq!(resp.status(), 403);
    assert!(calls_of(&calls, "RunTask").is_empty());
}

#[sqlx::test(migrations = "../../migrations")]
async fn throttling_leaves_the_job_queued_with_a_next_attempt(pool: PgPool) {
    let (st, calls) = stub_state(pool.clone(), |_, _| {
        (
            400,
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"}),
        )
    });
    let cap = metrics::capture();
    let resp = submit(&st, "acme", "k", BODY).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(
        cap.sum(
            Metric::RunTaskFailure,
            &[("Reason", "dependency-unavailable")]
        ),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::JobFailed, &[]), 0.0, "still queued");
    let job = body_json(&resp);
    assert_eq!(job["status"], "queued");
    assert_eq!(job["attempts"], 1);
    assert!(job["next_attempt_at"].is_string());
    // Tenants see the reason code; ECS's text is logged (docs/jobs.md "Reasons").
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .starts_with("dependency-unavailable: "),
        "{job}"
    );
    assert_eq!(calls_of(&calls, "RunTask").len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_client_error_fails_the_job_with_the_reason(pool: PgPool) {
    let (st, _calls) = stub_state(pool, |_, _| {
        (
            400,
            json!({"__type": "InvalidParameterException", "message": "TaskDefinition not found."}),
        )
    });
    let cap = metrics::capture();
    let job = body_json(&submit(&st, "acme", "k", BODY).await);
    assert_eq!(job["status"], "failed");
    assert_eq!(
        cap.sum(Metric::RunTaskFailure, &[("Reason", "launch-failed")]),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(cap.sum(Metric::JobFailed, &[("JobType", "sample")]), 1.0);
    assert!(
        cap.values(Metric::JobRunTime, &[]).is_empty(),
        "it never ran"
    );
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .starts_with("launch-failed: "),
        "{job}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_server_error_leaves_the_job_queued_for_the_reconciler(pool: PgPool) {
    let (st, _calls) = stub_state(pool, |_, _| {
        (
            500,
            json!({"__type": "ServerException", "message": "internal"}),
        )
    });
    let job = body_json(&submit(&st, "acme", "k", BODY).await);
    assert_eq!(job["status"], "queued");
    assert_eq!(job["attempts"], 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_queued_job_without_a_task_is_cancelled_at_once(pool: PgPool) {
    let (st, calls) = stub_state(pool, |op, _| match op {
        "RunTask" => (
            400,
            json!({"__type": "ThrottlingException", "message": "slow down"}),
        ),
        "ListTasks" => (200, json!({"taskArns": []})),
        _ => (500, json!({})),
    });
    let cap = metrics::capture();
    let id = job_id(&submit(&st, "acme", "k", BODY).await);
    let resp = cancel(&st, "acme", &id).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(body_json(&resp)["status"], "cancelled");
    assert!(calls_of(&calls, "StopTask").is_empty());
    // A second cancel of a finished job is a conflict.
    assert_eq!(cancel(&st, "acme", &id).await.status(), 409);
    // Counted once, when it ended.
    assert_eq!(
        cap.sum(Metric::JobCancelled, &[("JobType", "sample")]),
        1.0,
        "{:?}",
        cap.lines()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn cancelling_a_started_job_stops_its_task_and_waits_for_ecs(pool: PgPool) {
    let (st, calls) = healthy_state(pool);
    let cap = metrics::capture();
    let id = job_id(&submit(&st, "acme", "k", BODY).await);
    let resp = cancel(&st, "acme", &id).await;
    assert_eq!(resp.status(), 202);
    let job = body_json(&resp);
    assert_eq!(
        job["status"], "starting",
        "cancelled only once ECS confirms"
    );
    assert_eq!(cap.sum(Metric::JobCancelled, &[]), 0.0, "not yet");
    assert_eq!(job["cancel_requested"], true);
    let stops = calls_of(&calls, "StopTask");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].body["task"], task_arn_for(1));
}

#[sqlx::test(migrations = "../../migrations")]
async fn list_pages_with_a_cursor_and_filters(pool: PgPool) {
    let (st, _calls) = healthy_state(pool);
    for i in 0..5 {
        submit(
            &st,
            "acme",
            &format!("k{i}"),
            &format!(r#"{{"type":"sample","args":["{i}"]}}"#),
        )
        .await;
    }
    submit(&st, "globex", "g", BODY).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = vec![("limit", "2")];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        let page = body_json(&list(&st, "acme", &q).await);
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|j| j["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "every acme job once, no globex job");
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 5);

    let page = body_json(&list(&st, "acme", &[("status", "queued")]).await);
    assert_eq!(page["items"].as_array().unwrap().len(), 0);

    let resp = list(&st, "acme", &[("status", "done")]).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(body_json(&resp)["field"], "status");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_bad_cursor_limit_or_filter_is_400_invalid_parameter_naming_it(pool: PgPool) {
    let (st, _calls) = healthy_state(pool);
    for (name, value) in [
        ("cursor", "!!"),
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("status", "done"),
        ("type", &"t".repeat(129)),
    ] {
        let resp = list(&st, "acme", &[(name, value)]).await;
        assert_eq!(resp.status(), 400, "{name}={value}");
        let problem = body_json(&resp);
        assert_eq!(problem["field"], name, "{problem}");
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("invalid-parameter"),
            "{problem}"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn events_show_the_jobs_history(pool: PgPool) {
    let (st, _calls) = healthy_state(pool);
    let id = job_id(&submit(&st, "acme", "k", BODY).await);
    let page = body_json(&events(&st, "acme", &id).await);
    let to: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(to, vec!["queued", "starting"]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reading_needs_the_read_scope(pool: PgPool) {
    let (st, _calls) = healthy_state(pool);
    let write_only = send(&st, "GET", "/v1/jobs", "acme", "jobs:write").await;
    assert_eq!(write_only.status(), 403);
    assert_eq!(get_job(&st, "acme", "not-a-uuid").await.status(), 404);
    // A malformed id is the same 404 as an unknown one, on every route.
    assert_eq!(cancel(&st, "acme", "not-a-uuid").await.status(), 404);
    assert_eq!(events(&st, "acme", "not-a-uuid").await.status(), 404);
    let other_route = send(&st, "GET", "/v1/keys", "acme", "jobs:read").await;
    assert_eq!(other_route.status(), 404);
    let wrong_method = send(&st, "DELETE", "/v1/jobs", "acme", "jobs:read").await;
    assert_eq!(wrong_method.status(), 405);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_capacity_provider_type_sends_its_strategy_and_no_launch_type(pool: PgPool) {
    let (st, calls) = healthy_state(pool);
    assert_eq!(
        submit(&st, "acme", "k", r#"{"type":"spot"}"#)
            .await
            .status(),
        202
    );
    let r = &calls_of(&calls, "RunTask")[0].body;
    assert!(r.get("launchType").is_none(), "{r}");
    assert_eq!(
        r["capacityProviderStrategy"],
        json!([
            {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1}
        ])
    );
    assert!(
        r["overrides"]["containerOverrides"][0]
            .get("command")
            .is_none(),
        "no args, no command override"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cancel_that_cannot_reach_ecs_is_503_and_changes_nothing(pool: PgPool) {
    let (st, _calls) = stub_state(pool.clone(), |op, body| match op {
        "RunTask" => (
            200,
            json!({"tasks": [{"taskArn": task_arn_for(1), "startedBy": body["startedBy"]}]}),
        ),
        _ => (500, json!({"__type": "ServerException", "message": "down"})),
    });
    let id = job_id(&submit(&st, "acme", "k", BODY).await);
    let resp = cancel(&st, "acme", &id).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(job_column(&pool, "stop_requested", &id).await, None);
}

#[sqlx::test(migrations = "../../migrations")]
async fn no_row_lock_or_transaction_is_held_while_stop_task_is_in_flight(pool: PgPool) {
    let counter = Mutex::new(0usize);
    let (ecs, calls, gate) =
        gated_stub_ecs("StopTask", move |op, body| healthy(&counter, op, body));
    let st = state(pool.clone(), ecs, stub_placement());
    let job = body_json(&submit(&st, "acme", "k", BODY).await);
    let id = job["id"].as_str().unwrap().to_owned();
    let arn = task_arn_for(1);

    let cancelling = tokio::spawn({
        let (st, id) = (st.clone(), id.clone());
        async move { cancel(&st, "acme", &id).await }
    });
    gate.arrived().await;

    // StopTask is in flight. The job's row is free: NOWAIT fails at once if
    // anything holds it (the old cancel held it across this very call).
    let mut tx = pool.begin().await.unwrap();
    let locked: Option<uuid::Uuid> =
        sqlx::query_scalar("select id from jobs where id = $1::uuid for update nowait")
            .bind(&id)
            .fetch_optional(&mut *tx)
            .await
            .expect("nothing holds the job's row while ECS is called");
    assert!(locked.is_some());
    tx.rollback().await.unwrap();
    // ... a concurrent write of the same row completes (an ECS event) ...
    let snap = TaskSnapshot {
        task_arn: arn.clone(),
        last_status: "RUNNING".into(),
        version: Some(2),
        started_by: Some(id.clone()),
        stop_code: None,
        stopped_reason: None,
        containers: Vec::new(),
    };
    let applied = transition::apply(&st.db, &st.types, &snap, EventSource::EcsEvent)
        .await
        .unwrap();
    assert!(matches!(applied, Applied::Moved { .. }), "{applied:?}");
    // ... and no transaction of this database is left open.
    let open: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and state like 'idle in transaction%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open, 0, "a transaction is open while StopTask is in flight");

    gate.open();
    let resp = cancelling.await.unwrap();
    assert_eq!(resp.status(), 202, "{:?}", body_json(&resp));
    let done = body_json(&resp);
    assert_eq!(done["status"], "running", "the event's move is kept");
    assert_eq!(done["cancel_requested"], true);
    assert_eq!(calls_of(&calls, "StopTask").len(), 1);
    // Cancelling again while the stop is pending is idempotent: no new StopTask.
    let again = cancel(&st, "acme", &id).await;
    assert_eq!(again.status(), 202);
    assert_eq!(body_json(&again)["cancel_requested"], true);
    assert_eq!(calls_of(&calls, "StopTask").len(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cancel_during_run_task_ends_cancelled_and_the_started_task_is_stopped(pool: PgPool) {
    let counter = Mutex::new(0usize);
    let (ecs, calls, gate) = gated_stub_ecs("RunTask", move |op, body| healthy(&counter, op, body));
    let st = state(pool.clone(), ecs, stub_placement());
    let submitting = tokio::spawn({
        let st = st.clone();
        async move { submit(&st, "acme", "k", BODY).await }
    });
    gate.arrived().await;
    // The job is committed and queued; its RunTask has not answered yet.
    let id: uuid::Uuid = sqlx::query_scalar("select id from jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    let resp = cancel(&st, "acme", &id.to_string()).await;
    assert_eq!(resp.status(), 202);
    assert_eq!(body_json(&resp)["status"], "cancelled");
    assert!(calls_of(&calls, "StopTask").is_empty(), "no task yet");

    gate.open();
    let submitted = submitting.await.unwrap();
    assert_eq!(submitted.status(), 202);
    assert_eq!(body_json(&submitted)["status"], "cancelled");
    let stops = calls_of(&calls, "StopTask");
    assert_eq!(stops.len(), 1, "the task RunTask started is stopped");
    assert_eq!(stops[0].body["task"], task_arn_for(1));
    assert_eq!(status_of(&pool, id).await, "cancelled");
}
