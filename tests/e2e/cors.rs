//! CORS as a browser meets it in AWS: the functions answer preflights and add
//! the headers (API Gateway adds none with proxy integrations), for every
//! origin Terraform put on the allowlist and for no other.

use e2e::{client, deployed, deployed_gateway, overrides_for, start_gateway};
use portcullis_db::Database;
use sqlx::PgPool;

const UNLISTED: &str = "https://evil.example";

#[sqlx::test(migrations = "../migrations")]
async fn every_configured_origin_is_answered_and_an_unlisted_one_gets_nothing(pool: PgPool) {
    let deployment = deployed();
    let origins: Vec<String> = deployment
        .function("keys")
        .expect("keys is deployed")
        .environment
        .get("CORS_ALLOW_ORIGINS")
        .expect("Terraform gives the keys function its CORS allowlist")
        .split(',')
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    assert!(
        origins.len() >= 2,
        "the local environment configures several origins: {origins:?}"
    );
    let db = Database::from_pool(pool.clone());
    let admin = keys::bootstrap_admin_key(&db, "platform", "cors e2e", "standard")
        .await
        .expect("bootstrap key");
    // Its API Gateway usage key, as create-admin-key makes it in AWS.
    e2e::usage_key_for(&deployment, admin.record.id, "standard").await;
    let key = admin.key.expose_secret().to_owned();
    let gw = start_gateway(deployed_gateway(&deployment, &overrides_for(&pool)).await).await;
    let http = client();

    for origin in &origins {
        let me = http
            .get(gw.at("/v1/me"))
            .header("origin", origin)
            .header("x-api-key", &key)
            .send()
            .await
            .expect("sent");
        assert_eq!(me.status(), 200);
        assert_eq!(me.headers()["access-control-allow-origin"], origin.as_str());
        assert!(
            me.headers()["vary"]
                .to_str()
                .unwrap_or_default()
                .contains("Origin")
        );
        for path in ["/v1/me", "/v1/jobs", "/v1/keys", "/v1/services/sample/echo"] {
            let pre = http
                .request(reqwest::Method::OPTIONS, gw.at(path))
                .header("origin", origin)
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization")
                .send()
                .await
                .expect("sent");
            assert!(
                pre.status().is_success(),
                "{path} {origin}: {}",
                pre.status()
            );
            let h = pre.headers();
            assert_eq!(h["access-control-allow-origin"], origin.as_str(), "{path}");
            assert!(
                h["access-control-allow-methods"]
                    .to_str()
                    .unwrap_or_default()
                    .contains("GET"),
                "{path}"
            );
            assert!(
                h["access-control-allow-headers"]
                    .to_str()
                    .unwrap_or_default()
                    .contains("authorization"),
                "{path}"
            );
        }
    }

    let me = http
        .get(gw.at("/v1/me"))
        .header("origin", UNLISTED)
        .header("x-api-key", &key)
        .send()
        .await
        .expect("sent");
    assert_eq!(me.status(), 200, "the API answers; the browser hides it");
    assert!(me.headers().get("access-control-allow-origin").is_none());
    let pre = http
        .request(reqwest::Method::OPTIONS, gw.at("/v1/jobs"))
        .header("origin", UNLISTED)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("sent");
    assert!(!pre.status().is_success());
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    assert!(pre.headers().get("access-control-allow-methods").is_none());
}
