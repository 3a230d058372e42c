//! IAM is enforced locally as in AWS: each function runs on its own role
//! (sts:AssumeRole in the emulator), and a route whose role lacks the action
//! it needs fails as it would in AWS. The "wrong role" cases run a function
//! on the authorizer's role, which Terraform gives no API Gateway or ECS
//! permission.

use e2e::{Deployed, LocalOverrides, client, deployed, overrides_for, sdk_config, start_gateway};
use local::Gateway;
use local::deployed::assume_role;
use local::functions::{env_of, wire_one};
use portcullis_db::Database;
use sqlx::PgPool;

use e2e::status_and_body as body;

/// A gateway with the authorizer on its own role and `function` on `role_of`'s role.
async fn gateway_with(
    deployment: &Deployed,
    overrides: &LocalOverrides,
    function: &str,
    role_of: &str,
) -> Gateway {
    let admin = sdk_config().await;
    let mut gateway = e2e::unwired_gateway(deployment, &admin);
    let auth_env = env_of(deployment, "authorizer", &admin, overrides)
        .await
        .expect("the authorizer's environment");
    wire_one(&mut gateway, "authorizer", &auth_env)
        .await
        .expect("the authorizer starts");
    let role = &deployment.function(role_of).expect("deployed").role;
    let credentials = assume_role(function, role, &admin)
        .await
        .expect("assume the role");
    let env = deployment
        .env_for(function, &credentials, overrides)
        .expect("the function's environment");
    wire_one(&mut gateway, function, &env)
        .await
        .expect("the function starts");
    gateway
}

#[sqlx::test(migrations = "../migrations")]
async fn health_needs_apigateway_get_on_the_keys_role(pool: PgPool) {
    let deployment = deployed();
    let overrides = overrides_for(&pool);
    let http = client();

    let own = start_gateway(gateway_with(&deployment, &overrides, "keys", "keys").await).await;
    let (status, health) = body(http.get(own.at("/v1/health")).send().await.expect("sent")).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["aws"]["status"], "ok", "{health}");

    let wrong =
        start_gateway(gateway_with(&deployment, &overrides, "keys", "authorizer").await).await;
    let (status, health) = body(http.get(wrong.at("/v1/health")).send().await.expect("sent")).await;
    assert_eq!(status, 503, "{health}");
    assert_ne!(health["aws"]["status"], "ok", "{health}");
    assert_eq!(health["database"]["status"], "ok", "{health}");
}

#[sqlx::test(migrations = "../migrations")]
async fn cancelling_a_queued_job_needs_ecs_list_tasks_on_the_jobs_role(pool: PgPool) {
    let deployment = deployed();
    let overrides = overrides_for(&pool);
    let db = Database::from_pool(pool.clone());
    let http = client();
    let key = e2e::api_key(&pool, "iam e2e", "acme", &["jobs:read", "jobs:write"]).await;

    // Two queued jobs: committed, no RunTask sent yet. A cancel must look for
    // a task an earlier RunTask may have started (ecs:ListTasks, startedBy).
    let mut queued = Vec::new();
    for idem in ["iam-1", "iam-2"] {
        let job =
            portcullis_jobs::store::insert(&db, &portcullis_testkit::jobs::new_job(idem, &[]))
                .await
                .expect("insert a job")
                .expect("a fresh idempotency key");
        assert_eq!(job.status.to_string(), "queued");
        queued.push(job.id);
    }

    let wrong =
        start_gateway(gateway_with(&deployment, &overrides, "jobs", "authorizer").await).await;
    let (status, problem) = body(
        http.post(wrong.at(&format!("/v1/jobs/{}/cancel", queued[0])))
            .header("x-api-key", &key)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(status, 503, "{problem}");
    let (_, still) = body(
        http.get(wrong.at(&format!("/v1/jobs/{}", queued[0])))
            .header("x-api-key", &key)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(still["status"], "queued", "a failed cancel changes nothing");

    let own = start_gateway(gateway_with(&deployment, &overrides, "jobs", "jobs").await).await;
    let (status, cancelled) = body(
        http.post(own.at(&format!("/v1/jobs/{}/cancel", queued[1])))
            .header("x-api-key", &key)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert!(status == 200 || status == 202, "{status} {cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
}
