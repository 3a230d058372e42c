//! Key management end to end: real HTTP through the local gateway serving
//! the REST API Terraform applied to the emulator, the real authorizer and
//! `keys` functions each on its own role (IAM enforced), PostgreSQL.
//!
//! bootstrap admin key → create a key for tenant `Acme.Corp` (a tenant id
//! Cognito could always sign in with, and which the keys API used to refuse)
//! → `/v1/me` with it → revoke → `/v1/me` is 401 once the authorizer's
//! cache TTL (as Terraform deploys it) has passed.

use std::time::Duration;

use e2e::{client, deployed, deployed_gateway, overrides_for, start_gateway};
use portcullis_db::Database;
use serde_json::json;
use sqlx::PgPool;

use e2e::status_and_body as body;

#[sqlx::test(migrations = "../migrations")]
async fn a_key_created_by_the_bootstrap_admin_works_until_it_is_revoked(pool: PgPool) {
    let deployment = deployed();
    let ttl: u64 = deployment
        .function("authorizer")
        .expect("the authorizer is deployed")
        .environment
        .get("AUTH_CACHE_TTL_SECS")
        .expect("Terraform sets the authorizer's cache TTL")
        .parse()
        .expect("AUTH_CACHE_TTL_SECS is a number of seconds");
    let db = Database::from_pool(pool.clone());
    let gw = start_gateway(deployed_gateway(&deployment, &overrides_for(&pool)).await).await;
    let http = client();

    // Health needs no credential and sees both dependencies.
    let (status, health) = body(http.get(gw.at("/v1/health")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["database"]["status"], "ok");
    assert_eq!(health["aws"]["status"], "ok");

    let admin = keys::bootstrap_admin_key(&db, "platform", "e2e admin", "standard")
        .await
        .expect("bootstrap key");
    // Its API Gateway usage key, as create-admin-key makes it in AWS.
    e2e::usage_key_for(&deployment, admin.record.id, "standard").await;
    let admin_key = admin.key.expose_secret().to_owned();

    // No credential → the gateway's 401.
    let (status, _) = body(http.get(gw.at("/v1/keys")).send().await.unwrap()).await;
    assert_eq!(status, 401);

    // The platform administrator provisions the tenant (entitlements).
    let (status, tenant) = body(
        http.put(gw.at("/v1/tenants/Acme.Corp"))
            .header("x-api-key", &admin_key)
            .json(&json!({"services": [], "plans": ["standard"], "user_plan": "standard"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{tenant}");

    let (status, created) = body(
        http.post(gw.at("/v1/keys"))
            .header("x-api-key", &admin_key)
            .json(&json!({"name": "acme reader", "scopes": ["jobs:read"], "tenant": "Acme.Corp"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"]
        .as_str()
        .expect("the key is returned once")
        .to_owned();
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, me) = body(
        http.get(gw.at("/v1/me"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenant"], "Acme.Corp");
    assert_eq!(me["scopes"], json!(["jobs:read"]));
    assert_eq!(me["key_id"], id);

    // The new key lacks keys:admin: the gateway's policy refuses it (403).
    let (status, _) = body(
        http.get(gw.at("/v1/keys"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);

    let (status, listed) = body(
        http.get(gw.at("/v1/keys?tenant=Acme.Corp&limit=10"))
            .header("x-api-key", &admin_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
    assert!(
        !listed.to_string().contains(&key[20..]),
        "a listing leaked the key"
    );

    let (status, revoked) = body(
        http.delete(gw.at(&format!("/v1/keys/{id}?tenant=Acme.Corp")))
            .header("x-api-key", &admin_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["status"], "revoked");

    // A warm authorizer may keep a verified key for its cache TTL, never longer.
    tokio::time::sleep(Duration::from_secs(ttl) + Duration::from_millis(500)).await;
    let (status, _) = body(
        http.get(gw.at("/v1/me"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status, 401,
        "a revoked key must stop working once the cache TTL ({ttl} s) has passed"
    );

    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_log where target = $1 order by id")
            .bind(&id)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        actions,
        vec!["key.create".to_owned(), "key.revoke".to_owned()]
    );
    gw.shutdown().await;
}
