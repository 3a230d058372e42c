//! Key management end to end: real HTTP through the local gateway, the real
//! authorizer and `keys` functions, PostgreSQL and the AWS emulator.
//!
//! bootstrap admin key → create a key for tenant `Acme.Corp` (a tenant id
//! Cognito could always sign in with, and which the keys API used to refuse)
//! → `/v1/me` with it → revoke → `/v1/me` again is 401.

use std::sync::Arc;

use e2e::{client, project_gateway, require_emulator, sdk_config, start_gateway};
use portcullis_core::Env;
use portcullis_db::Database;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("a readable body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_created_by_the_bootstrap_admin_works_until_it_is_revoked(pool: PgPool) {
    let endpoint = require_emulator();
    let db = Database::from_pool(pool.clone());
    let keys_config =
        keys::Config::from_env(&Env::from_pairs([("AWS_ENDPOINT_URL", endpoint.as_str())]))
            .expect("keys configuration");
    let keys_state = keys::State::new(
        keys_config,
        db.clone(),
        aws_sdk_apigateway::Client::new(&sdk_config().await),
    );
    // No authorizer-side cache, so the revocation shows on the very next call.
    let auth_config =
        authorizer::config::Config::from_env(&Env::from_pairs([("AUTH_CACHE_TTL_SECS", "0")]))
            .expect("authorizer configuration");
    let auth_state = authorizer::State::new(auth_config, db.clone()).expect("authorizer state");

    let mut gateway = project_gateway();
    gateway.authorizer(Arc::new(auth_state), authorizer::handle);
    gateway.http("keys", Arc::new(keys_state), keys::handle);
    let gw = start_gateway(gateway).await;
    let http = client();

    // Health needs no credential and sees both dependencies.
    let (status, health) = body(http.get(gw.at("/v1/health")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(health["database"]["status"], "ok");
    assert_eq!(health["aws"]["status"], "ok");

    let admin = keys::bootstrap_admin_key(&db, "platform", "e2e admin", "standard")
        .await
        .expect("bootstrap key");
    let admin_key = admin.key.expose_secret().to_owned();

    // No credential → the gateway's 401.
    let (status, _) = body(http.get(gw.at("/v1/keys")).send().await.unwrap()).await;
    assert_eq!(status, 401);

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

    let (status, _) = body(
        http.get(gw.at("/v1/me"))
            .header("authorization", format!("Bearer {key}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401, "a revoked key must stop working at once");

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
