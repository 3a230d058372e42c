//! Private services end to end: real HTTP through the local gateway serving
//! the REST API Terraform applied to the emulator, the real authorizer (API
//! keys in PostgreSQL) and the proxy function each on its own role, and the
//! sample service on a loopback port verifying the signed identity with the
//! key in the Secrets Manager secret Terraform created.

use e2e::{client, deployed, deployed_gateway, overrides_for, start_gateway};
use sqlx::PgPool;

use e2e::status_and_body as body;

/// Insert an API key with `scopes` for tenant `acme`; returns the full key.
async fn key_with(pool: &PgPool, name: &str, scopes: &[&str]) -> String {
    e2e::api_key(pool, name, "acme", scopes).await
}

#[sqlx::test(migrations = "../migrations")]
async fn the_sample_service_sees_the_verified_caller_and_never_a_spoofed_identity(pool: PgPool) {
    let deployment = deployed();
    // The sample service on a loopback port, as `make local` runs it, with
    // the key ECS injects from its own secret (tests/e2e/services.rs).
    let sample_url = crate::services::start_sample(&deployment).await;

    // The proxy reaches it at the local upstream override (in AWS: the
    // internal ALB, which the emulator does not route).
    let mut overrides = overrides_for(&pool);
    overrides.set("proxy", "PROXY_UPSTREAM_SAMPLE", sample_url);
    let gw = start_gateway(deployed_gateway(&deployment, &overrides).await).await;
    let http = client();

    let allowed = key_with(&pool, "sample caller", &["services:sample"]).await;
    let other = key_with(&pool, "jobs only", &["jobs:read"]).await;

    // With the scope: 200, and the service reports the verified identity,
    // not the spoofed headers.
    let (status, echo) = body(
        http.get(gw.at("/v1/services/sample/echo/a%20b?tag=1&tag=2"))
            .header("x-api-key", &allowed)
            .header("x-portcullis-tenant", "evil")
            .header("x-portcullis-scopes", "keys:admin")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{echo}");
    assert_eq!(echo["identity"]["tenant"], "acme");
    assert_eq!(
        echo["identity"]["scopes"],
        serde_json::json!(["services:sample"])
    );
    assert_eq!(echo["path"], "/echo/a%20b");
    assert_eq!(
        echo["query_pairs"],
        serde_json::json!([["tag", "1"], ["tag", "2"]])
    );
    let headers = echo["headers"].to_string();
    assert!(
        !headers.contains("evil") && !headers.contains("keys:admin"),
        "{headers}"
    );
    assert!(
        !headers.contains(&allowed),
        "the API key must not reach the service"
    );

    // Without the scope: the gateway's 403.
    let resp = http
        .get(gw.at("/v1/services/sample/echo"))
        .header("x-api-key", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Without a credential: 401.
    assert_eq!(
        http.get(gw.at("/v1/services/sample/echo"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // A binary download survives the gateway's base64 round trip.
    let resp = http
        .get(gw.at("/v1/services/sample/download?bytes=3000"))
        .header("x-api-key", &allowed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let expected: Vec<u8> = (0..3000usize).map(|i| (i % 251) as u8 ^ 0x80).collect();
    assert_eq!(&bytes[..], &expected[..]);

    // A mutation is forwarded and audited.
    let (status, created) = body(
        http.post(gw.at("/v1/services/sample/items"))
            .header("x-api-key", &allowed)
            .header("content-type", "application/json")
            .body(r#"{"name":"box"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (action, target): (String, String) =
        sqlx::query_as("select action, target from audit_log where action like 'service.%' order by id desc limit 1")
            .fetch_one(&pool)
            .await
            .expect("an audit row for the proxied POST");
    assert_eq!(
        (action.as_str(), target.as_str()),
        ("service.post", "services/sample/items")
    );
}
