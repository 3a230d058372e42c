//! Declared service routes end to end: platform.yaml's
//! sample declares a public `GET /items` and a `PUT /items/{id}` needing
//! `services:sample.write`. Through the local gateway serving the REST API
//! Terraform rendered and applied to the emulator, the real authorizer and
//! proxy each on its own role, and the sample service verifying the signed
//! identity with the key of the secret Terraform created.

use crate::services::start_sample;
use e2e::{client, deployed, deployed_gateway, overrides_for, start_gateway};
use serde_json::json;
use sqlx::PgPool;

use e2e::status_and_body as body;

#[sqlx::test(migrations = "../migrations")]
async fn a_public_route_needs_no_credential_and_a_write_route_needs_its_scope(pool: PgPool) {
    let deployment = deployed();
    let body_text = &deployment.rest_api_body;
    assert!(
        body_text.contains("/v1/services/sample/items/{id}"),
        "the applied REST API has the sample's declared paths (platform.yaml services.sample.routes)"
    );
    let mut overrides = overrides_for(&pool);
    overrides.set(
        "proxy",
        "PROXY_UPSTREAM_SAMPLE",
        start_sample(&deployment).await,
    );
    let gw = start_gateway(deployed_gateway(&deployment, &overrides).await).await;
    let http = client();

    // Public: no credential, no authorizer; the service saw the anonymous identity.
    let (status, list) = body(
        http.get(gw.at("/v1/services/sample/items"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list,
        json!({ "items": [] }),
        "the anonymous caller has no tenant's items"
    );

    let reader = e2e::api_key(&pool, "sample caller", "acme", &["services:sample"]).await;
    let writer = e2e::api_key(
        &pool,
        "sample writer",
        "acme",
        &["services:sample", "services:sample.write"],
    )
    .await;
    // The rest of the service still needs services:sample (POST /items: the
    // declared path's undeclared method).
    let (status, created) = body(
        http.post(gw.at("/v1/services/sample/items"))
            .header("x-api-key", &reader)
            .header("content-type", "application/json")
            .body(r#"{"name":"first"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_u64().expect("the new item's id");
    let item = gw.at(&format!("/v1/services/sample/items/{id}"));
    let put = |key: Option<&str>| {
        let mut r = http
            .put(&item)
            .header("content-type", "application/json")
            .body(r#"{"name":"renamed"}"#);
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send()
    };
    // The write route: 401 without a credential, 403 with services:sample
    // alone (the authorizer's explicit Deny), 200 with the write scope.
    assert_eq!(put(None).await.unwrap().status(), 401);
    let (status, refused) = body(put(Some(&reader)).await.unwrap()).await;
    assert_eq!(status, 403, "{refused}");
    let (status, renamed) = body(put(Some(&writer)).await.unwrap()).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["item"], json!({ "name": "renamed" }));
    // Reading it back is the generic route's: services:sample.
    let (status, got) = body(
        http.get(&item)
            .header("x-api-key", &reader)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &got["item"]),
        (200, &json!({ "name": "renamed" })),
        "{got}"
    );
    // An anonymous caller reaches only the public route.
    assert_eq!(http.get(&item).send().await.unwrap().status(), 401);
}
