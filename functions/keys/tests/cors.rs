//! CORS on the keys routes: preflights answered without a caller, every
//! answer (success and problem+json) under the policy.

mod support;

use keys::State;
use lambda_http::{Body, Response};
use portcullis_core::{CorsPolicy, Env};
use serde_json::{Value, json};
use sqlx::PgPool;
use support::{Ev, admin, reader};

const APP: &str = "https://console.example.com";
const OTHER_APP: &str = "http://localhost:5173";
const EVIL: &str = "https://evil.example.com";

fn cors_state(pool: PgPool) -> State {
    let mut s = support::state(pool);
    s.config.cors = CorsPolicy::from_env(&Env::from_pairs([
        ("CORS_ALLOW_ORIGINS", format!("{APP},{OTHER_APP}")),
        (
            "CORS_ALLOW_HEADERS",
            "authorization,content-type,x-api-key".to_owned(),
        ),
        ("CORS_EXPOSE_HEADERS", "x-request-id,location".to_owned()),
        ("CORS_MAX_AGE_SECS", "600".to_owned()),
    ]))
    .expect("a valid policy");
    s
}

/// `ev` sent with these extra headers.
async fn send(state: &State, ev: Ev, headers: &[(&str, &str)]) -> Response<Body> {
    let mut event = ev.event();
    for (k, v) in headers {
        event["headers"][*k] = json!(v);
        event["multiValueHeaders"][*k] = json!([v]);
    }
    let req = lambda_http::request::from_str(&event.to_string()).expect("a valid event");
    keys::handle(state, req).await.expect("the handler answers")
}

/// `ev` as a browser's preflight from `origin` for `method`.
async fn preflight(
    state: &State,
    ev: Ev,
    origin: &'static str,
    method: &'static str,
) -> Response<Body> {
    let headers = [
        ("origin", origin),
        ("access-control-request-method", method),
        (
            "access-control-request-headers",
            "authorization,content-type",
        ),
    ];
    send(state, ev, &headers).await
}

fn no_access_control(resp: &Response<Body>) -> bool {
    resp.headers()
        .keys()
        .all(|n| !n.as_str().starts_with("access-control-"))
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_preflight_from_each_allowed_origin_needs_no_caller(pool: PgPool) {
    let s = cors_state(pool);
    for origin in [APP, OTHER_APP] {
        // no `.by(...)`: the gateway runs no authorizer on OPTIONS
        let resp = preflight(
            &s,
            Ev::key("OPTIONS", "0b4a6e1e-0000-4000-8000-000000000001"),
            origin,
            "DELETE",
        )
        .await;
        assert_eq!(resp.status(), 204, "{origin}");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(h["access-control-allow-methods"], "GET, DELETE");
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type, x-api-key"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["vary"], "Origin");
    }
    let resp = preflight(&s, Ev::at("OPTIONS", "/v1/keys"), APP, "POST").await;
    assert_eq!(resp.headers()["access-control-allow-methods"], "GET, POST");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_preflight_from_another_origin_is_refused_without_cors_headers(pool: PgPool) {
    let s = cors_state(pool);
    let resp = preflight(&s, Ev::at("OPTIONS", "/v1/keys"), EVIL, "POST").await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["vary"], "Origin");
    assert!(no_access_control(&resp), "{:?}", resp.headers());
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn an_ordinary_options_is_answered_with_allow_and_reaches_no_handler(pool: PgPool) {
    let s = cors_state(pool);
    let resp = send(&s, Ev::at("OPTIONS", "/v1/me"), &[]).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["allow"], "GET, OPTIONS");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn answers_and_errors_carry_the_headers_for_an_allowed_origin_only(pool: PgPool) {
    let s = cors_state(pool);
    // a success
    let ok = send(
        &s,
        Ev::at("GET", "/v1/me").by(&admin("acme")),
        &[("origin", OTHER_APP)],
    )
    .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["access-control-allow-origin"], OTHER_APP);
    assert_eq!(
        ok.headers()["access-control-expose-headers"],
        "x-request-id, location"
    );
    assert_eq!(ok.headers()["vary"], "Origin");

    // problem+json errors: 403 (scope), 405, 404 (unknown route)
    let errors: [(fn() -> Ev, u16); 3] = [
        (|| Ev::at("GET", "/v1/keys").by(&reader("acme")), 403),
        (|| Ev::at("PUT", "/v1/keys").by(&admin("acme")), 405),
        (|| Ev::at("GET", "/v1/nothing").by(&admin("acme")), 404),
    ];
    for (ev, status) in errors {
        let resp = send(&s, ev(), &[("origin", APP)]).await;
        assert_eq!(resp.status(), status);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        assert_eq!(resp.headers()["access-control-allow-origin"], APP);
        assert_eq!(resp.headers()["vary"], "Origin");

        let resp = send(&s, ev(), &[("origin", EVIL)]).await;
        assert_eq!(resp.status(), status);
        assert_eq!(resp.headers()["vary"], "Origin");
        assert!(no_access_control(&resp), "{:?}", resp.headers());
    }
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_created_key_is_readable_cross_origin(pool: PgPool) {
    let s = cors_state(pool);
    let resp = send(
        &s,
        Ev::create_key(
            &admin("acme"),
            json!({"name": "web", "scopes": ["jobs:read"]}).to_string(),
        ),
        &[("origin", APP)],
    )
    .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["access-control-allow-origin"], APP);
    // Location is exposed, so the console can follow it
    assert!(resp.headers().contains_key("location"));
    let Body::Text(body) = resp.body() else {
        panic!("a text body")
    };
    let body: Value = serde_json::from_str(body).expect("json");
    assert!(body["key"].is_string());
}
