//! Internals stay internal (and the trace id): what a tenant sees of a job is
//! a stable reason (docs/jobs.md "Reasons"), never ECS/IAM text (account
//! ids, role names, task ARNs), and a client's `X-Amzn-Trace-Id` reaches the
//! database and RunTask only when it is a well-formed trace header.
//! Needs DATABASE_URL (`make test`).

mod support;

use lambda_http::Body;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::*;

const BODY: &str = r#"{"type":"sample","args":["--exit-code","0"]}"#;
const ACCOUNT: &str = "111122223333";
const DENIED: &str = "User: arn:aws:sts::111122223333:assumed-role/portcullis-dev-jobs/portcullis-dev-jobs \
     is not authorized to perform: iam:PassRole on resource: arn:aws:iam::111122223333:role/portcullis-dev-job-sample \
     because no identity-based policy allows the iam:PassRole action";

fn text(resp: &lambda_http::Response<Body>) -> String {
    match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Empty => String::new(),
        _ => String::new(),
    }
}

/// Nothing of the AWS account shows: no account id, no ARN, no role name.
fn assert_no_internals(what: &str, body: &str) {
    for leak in [
        ACCOUNT,
        "arn:",
        "portcullis-dev-job",
        "assumed-role",
        "AccessDenied",
    ] {
        assert!(!body.contains(leak), "{what} shows {leak:?}: {body}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_run_task_access_denied_shows_a_stable_reason_without_account_or_role(pool: PgPool) {
    let (st, _calls) = stub_state(pool.clone(), |_, _| {
        (
            400,
            json!({"__type": "AccessDeniedException", "message": DENIED}),
        )
    });
    let resp = submit(&st, "acme", "k", BODY).await;
    assert_eq!(resp.status(), 202);
    let job = body_json(&resp);
    assert_eq!(job["status"], "failed");
    let error = job["error"].as_str().expect("a failed job says why");
    assert!(error.starts_with("launch-failed: "), "{error}");
    assert_no_internals("the submit answer", &text(&resp));
    let id = job["id"].as_str().unwrap().to_owned();
    assert_no_internals("GET /v1/jobs/{id}", &text(&get_job(&st, "acme", &id).await));
    assert_no_internals("the job's events", &text(&events(&st, "acme", &id).await));
    assert_no_internals("GET /v1/jobs", &text(&list(&st, "acme", &[]).await));
    // The raw text stays with the operators (the event's internal detail).
    let raw: Value = sqlx::query_scalar(
        "select detail from job_events where job_id = $1::uuid and to_status = 'failed'",
    )
    .bind(&id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(raw.to_string().contains(ACCOUNT), "{raw}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_started_job_shows_no_task_arn(pool: PgPool) {
    let (st, _calls) = healthy_state(pool.clone());
    let resp = submit(&st, "acme", "k", BODY).await;
    let job = body_json(&resp);
    assert_eq!(job["status"], "starting");
    assert!(job.get("task_arn").is_none(), "{job}");
    assert_no_internals("the submit answer", &text(&resp));
    let id = job["id"].as_str().unwrap().to_owned();
    assert_no_internals("GET /v1/jobs/{id}", &text(&get_job(&st, "acme", &id).await));
    assert_no_internals("the job's events", &text(&events(&st, "acme", &id).await));
    // Kept for the operators.
    assert_eq!(
        job_column(&pool, "task_arn", &id).await,
        Some(task_arn_for(1))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn throttling_and_capacity_show_stable_reasons(pool: PgPool) {
    let (st, _calls) = stub_state(pool.clone(), |_, _| {
        (
            200,
            json!({"tasks": [], "failures": [{"arn": "arn:aws:ecs:us-east-1:111122223333:container-instance/x",
                   "reason": "RESOURCE:MEMORY", "detail": "no container instance in arn:aws:ecs:us-east-1:111122223333:cluster/c"}]}),
        )
    });
    let resp = submit(&st, "acme", "k", BODY).await;
    let job = body_json(&resp);
    assert_eq!(job["status"], "queued");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .starts_with("capacity-unavailable: "),
        "{job}"
    );
    assert_no_internals("the submit answer", &text(&resp));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cancel_503_names_no_task_arn_account_or_role(pool: PgPool) {
    let (st, _calls) = stub_state(pool, |op, body| match op {
        "RunTask" => (
            200,
            json!({"tasks": [{"taskArn": task_arn_for(1), "startedBy": body["startedBy"]}]}),
        ),
        _ => (
            400,
            json!({"__type": "AccessDeniedException", "message": format!(
                "User: arn:aws:sts::111122223333:assumed-role/portcullis-dev-jobs/x is not authorized to perform: \
                 ecs:StopTask on resource: {}", task_arn_for(1))}),
        ),
    });
    let id = job_id(&submit(&st, "acme", "k", BODY).await);
    let resp = cancel(&st, "acme", &id).await;
    assert_eq!(resp.status(), 503);
    let problem = body_json(&resp);
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.starts_with("dependency-unavailable: "), "{detail}");
    assert!(detail.contains("retry the cancel"), "{detail}");
    assert_no_internals("the 503", &text(&resp));
}

async fn trace_sent(pool: PgPool, trace: &str) -> (Option<String>, Option<String>) {
    let (st, calls) = healthy_state(pool.clone());
    let req = request(
        "POST",
        "/v1/jobs",
        "acme",
        "jobs:write",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "k"),
            ("x-amzn-trace-id", trace),
        ],
        Some(BODY),
    );
    let resp = handle(&st, req).await;
    assert_eq!(
        resp.status(),
        202,
        "a bad trace header is dropped, never an error"
    );
    let id = body_json(&resp)["id"].as_str().unwrap().to_owned();
    let stored = job_column(&pool, "trace_id", &id).await;
    let run = &calls_of(&calls, "RunTask")[0].body;
    let sent = run["overrides"]["containerOverrides"][0]["environment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["name"] == "TRACE_ID")
        .map(|kv| kv["value"].as_str().unwrap().to_owned());
    (stored, sent)
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_well_formed_trace_header_is_stored_and_sent(pool: PgPool) {
    let t = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let (stored, sent) = trace_sent(pool, t).await;
    assert_eq!(stored.as_deref(), Some(t));
    assert_eq!(sent.as_deref(), Some(t));
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_oversized_trace_header_is_dropped(pool: PgPool) {
    let t = format!(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Junk={}",
        "a".repeat(7000)
    );
    assert_eq!(trace_sent(pool, &t).await, (None, None));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_trace_header_that_is_not_the_documented_syntax_is_dropped(pool: PgPool) {
    assert_eq!(
        trace_sent(
            pool,
            "Root=1-5759e988-bd862e3fe1be46a994272793;$(curl evil)"
        )
        .await,
        (None, None)
    );
}
