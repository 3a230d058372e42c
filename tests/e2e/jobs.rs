//! Jobs end to end: real HTTP through the local gateway serving the REST API
//! Terraform applied to the emulator, the real authorizer and `jobs`
//! function each on its own role (IAM enforced), PostgreSQL and the
//! emulator's ECS with the cluster and task definitions Terraform created.
//! EventBridge does not deliver ECS events in the emulator, so the test feeds
//! `task-events` (on its own role too) the events ECS would send, built from
//! what DescribeTasks reports (each DescribeTasks advances the emulator's
//! task one state).

use e2e::{
    client, deployed, deployed_gateway, function_env, overrides_for, sdk_config, start_gateway,
};
use portcullis_testkit::jobs::event_from_task;
use serde_json::{Value, json};
use sqlx::PgPool;

use e2e::status_and_body as body;

/// The task ECS started for a job (`startedBy` = job id), as the administrator.
async fn task_of(ecs: &aws_sdk_ecs::Client, cluster: &str, job_id: &str) -> String {
    let out = ecs
        .list_tasks()
        .cluster(cluster)
        .started_by(job_id)
        .send()
        .await
        .expect("ListTasks as the administrator");
    out.task_arns()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no task started by job {job_id}"))
}

async fn key_for(pool: &PgPool, tenant: &str, scopes: &[&str]) -> String {
    e2e::api_key(pool, "jobs e2e", tenant, scopes).await
}

#[sqlx::test(migrations = "../migrations")]
async fn a_job_submitted_with_an_api_key_runs_to_succeeded_and_another_is_cancelled(pool: PgPool) {
    let deployment = deployed();
    let overrides = overrides_for(&pool);
    // The test reads ECS as the administrator; the functions use their roles.
    let ecs = aws_sdk_ecs::Client::new(&sdk_config().await);
    let events_env = function_env(&deployment, "task-events", &overrides).await;
    let jobs_state = task_events::State::from_env(&events_env)
        .await
        .expect("task-events starts from its Lambda environment");
    let placement = jobs_state.placement.clone();
    let gw = start_gateway(deployed_gateway(&deployment, &overrides).await).await;
    let http = client();
    let acme = key_for(&pool, "acme", &["jobs:read", "jobs:write"]).await;
    let globex = key_for(&pool, "globex", &["jobs:read", "jobs:write"]).await;
    let reader = key_for(&pool, "acme", &["jobs:read"]).await;

    let submit = |key: String, idem: &'static str, args: Value| {
        let http = http.clone();
        let url = gw.at("/v1/jobs");
        async move {
            body(
                http.post(url)
                    .header("x-api-key", key)
                    .header("idempotency-key", idem)
                    .json(&json!({"type": "sample", "args": args}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };

    // A read-only key cannot submit: the gateway's policy says 403.
    let (status, _) = submit(reader.clone(), "r", json!([])).await;
    assert_eq!(status, 403);

    let (status, job) = submit(acme.clone(), "e2e-1", json!(["--exit-code", "0"])).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "starting");
    let id = job["id"].as_str().unwrap().to_owned();
    // Tenants never see the task ARN: the test, as the
    // administrator, finds the task by startedBy = job id.
    assert!(job.get("task_arn").is_none(), "{job}");
    let arn = task_of(&ecs, &placement.cluster, &id).await;

    // queued → starting → running → succeeded, as ECS reports it.
    for version in 1..=10 {
        let out = ecs
            .describe_tasks()
            .cluster(&placement.cluster)
            .tasks(&arn)
            .send()
            .await
            .unwrap();
        let task = &out.tasks()[0];
        let exit = (task.last_status() == Some("STOPPED")).then_some(0);
        task_events::handle(&jobs_state, event_from_task(task, version, exit))
            .await
            .expect("event applied");
        if task.last_status() == Some("STOPPED") {
            break;
        }
    }
    let (status, done) = body(
        http.get(gw.at(&format!("/v1/jobs/{id}")))
            .header("x-api-key", &acme)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["exit_code"], 0);

    let (status, events) = body(
        http.get(gw.at(&format!("/v1/jobs/{id}/events")))
            .header("x-api-key", &acme)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let to: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to_status"].as_str().unwrap())
        .collect();
    assert_eq!(to, vec!["queued", "starting", "running", "succeeded"]);

    // Another tenant sees nothing.
    let (status, _) = body(
        http.get(gw.at(&format!("/v1/jobs/{id}")))
            .header("x-api-key", &globex)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);

    // Cancel a second job: StopTask now, cancelled once ECS confirms.
    let (_, second) = submit(acme.clone(), "e2e-2", json!(["--sleep-ms", "60000"])).await;
    let id2 = second["id"].as_str().unwrap().to_owned();
    let arn2 = task_of(&ecs, &placement.cluster, &id2).await;
    let (status, cancel) = body(
        http.post(gw.at(&format!("/v1/jobs/{id2}/cancel")))
            .header("x-api-key", &acme)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{cancel}");
    assert_eq!(cancel["cancel_requested"], true);
    let out = ecs
        .describe_tasks()
        .cluster(&placement.cluster)
        .tasks(&arn2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.tasks()[0].last_status(),
        Some("STOPPED"),
        "the emulator stopped the task"
    );
    task_events::handle(&jobs_state, event_from_task(&out.tasks()[0], 9, Some(0)))
        .await
        .unwrap();
    let (_, cancelled) = body(
        http.get(gw.at(&format!("/v1/jobs/{id2}")))
            .header("x-api-key", &acme)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");

    // List with pagination: two jobs, one per page.
    let (status, page1) = body(
        http.get(gw.at("/v1/jobs?limit=1"))
            .header("x-api-key", &acme)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["items"].as_array().unwrap().len(), 1);
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let (_, page2) = body(
        http.get(gw.at(&format!("/v1/jobs?limit=1&cursor={cursor}")))
            .header("x-api-key", &acme)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page1["items"][0]["id"], page2["items"][0]["id"]);
    assert!(page2["next_cursor"].is_null());
}
