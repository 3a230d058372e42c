//! CORS on the jobs routes: preflights answered without a caller, every
//! answer (success and problem+json) under the policy. Needs DATABASE_URL
//! (`make test`).

mod support;

use lambda_http::{Body, Response};
use portcullis_core::{CorsPolicy, Env};
use sqlx::PgPool;
use support::*;

const APP: &str = "https://console.example.com";
const OTHER_APP: &str = "http://localhost:5173";
const EVIL: &str = "https://evil.example.com";

fn cors_state(pool: PgPool) -> portcullis_jobs::State {
    healthy_state(pool).0.with_cors(
        CorsPolicy::from_env(&Env::from_pairs([
            ("CORS_ALLOW_ORIGINS", format!("{APP},{OTHER_APP}")),
            (
                "CORS_ALLOW_HEADERS",
                "authorization,content-type,idempotency-key,x-api-key".to_owned(),
            ),
            ("CORS_EXPOSE_HEADERS", "x-request-id,location".to_owned()),
            ("CORS_MAX_AGE_SECS", "600".to_owned()),
        ]))
        .expect("a valid policy"),
    )
}

/// A preflight as a browser sends it: no credential, so no caller.
fn preflight(resource: &str, origin: &str, method: &str) -> lambda_http::Request {
    let mut r = ApiRequest::new("OPTIONS", resource)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization,idempotency-key",
        );
    if resource.contains("{id}") {
        r = r.path_param("id", "0b4a6e1e-0000-4000-8000-000000000001");
    }
    r.build()
}

fn no_access_control(resp: &Response<Body>) -> bool {
    resp.headers()
        .keys()
        .all(|n| !n.as_str().starts_with("access-control-"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_route_answers_a_preflight_from_each_allowed_origin(pool: PgPool) {
    let st = cors_state(pool);
    for (resource, method, allowed) in [
        ("/v1/jobs", "POST", "GET, POST"),
        ("/v1/jobs/{id}", "GET", "GET"),
        ("/v1/jobs/{id}/events", "GET", "GET"),
        ("/v1/jobs/{id}/cancel", "POST", "POST"),
    ] {
        for origin in [APP, OTHER_APP] {
            let resp = handle(&st, preflight(resource, origin, method)).await;
            assert_eq!(resp.status(), 204, "{resource} {origin}");
            let h = resp.headers();
            assert_eq!(h["access-control-allow-origin"], origin);
            assert_eq!(h["access-control-allow-methods"], allowed, "{resource}");
            assert_eq!(
                h["access-control-allow-headers"],
                "authorization, content-type, idempotency-key, x-api-key"
            );
            assert_eq!(h["access-control-max-age"], "600");
            assert_eq!(h["vary"], "Origin");
        }
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_preflight_from_another_origin_gets_no_cors_header(pool: PgPool) {
    let st = cors_state(pool);
    let resp = handle(&st, preflight("/v1/jobs", EVIL, "POST")).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["vary"], "Origin");
    assert!(no_access_control(&resp), "{:?}", resp.headers());
    let problem = body_json(&resp);
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.contains("CORS_ALLOW_ORIGINS"), "{detail}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn answers_and_errors_carry_the_headers_for_an_allowed_origin_only(pool: PgPool) {
    let st = cors_state(pool);
    // a success: the (empty) list
    let ok = handle(
        &st,
        request(
            "GET",
            "/v1/jobs",
            "acme",
            "jobs:read",
            &[("origin", APP)],
            None,
        ),
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], APP);
    assert_eq!(
        ok.headers()["access-control-expose-headers"],
        "x-request-id, location"
    );

    // problem+json: 403 (scope), 404 (unknown job), 400 (bad limit)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16);
    let errors: [Case; 3] = [
        ("/v1/jobs", "keys:admin", &[], 403),
        (
            "/v1/jobs/0b4a6e1e-0000-4000-8000-000000000001",
            "jobs:read",
            &[],
            404,
        ),
        ("/v1/jobs", "jobs:read", &[("limit", "0")], 400),
    ];
    for (path, scopes, query, status) in errors {
        for (origin, allowed) in [(OTHER_APP, true), (EVIL, false)] {
            let req = request_with_query(
                "GET",
                path,
                "acme",
                scopes,
                &[("origin", origin)],
                None,
                query,
            );
            let resp = handle(&st, req).await;
            assert_eq!(resp.status(), status, "{path} {origin}");
            assert_eq!(resp.headers()["content-type"], "application/problem+json");
            assert_eq!(resp.headers()["vary"], "Origin");
            if allowed {
                assert_eq!(resp.headers()["access-control-allow-origin"], origin);
            } else {
                assert!(no_access_control(&resp), "{:?}", resp.headers());
            }
        }
    }
}
