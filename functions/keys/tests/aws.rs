//! Health and the authorizer-cache flush: real PostgreSQL, the moto server,
//! closed ports for dependencies that are down, and a replay HTTP client for
//! the exact FlushStageAuthorizersCache request (moto does not serve it).

mod support;

use aws_sdk_apigateway::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use keys::State;
use portcullis_core::Env;
use portcullis_db::{Database, DbConfig};
use serde_json::json;
use sqlx::PgPool;
use support::{
    Ev, admin, aws_down, call, ci_key, closed_port, config, moto_endpoint, revoked_at, state_with,
};

fn health() -> Ev {
    Ev::at("GET", "/v1/health")
}

/// A database whose server is down: nothing listens on its port.
async fn database_down() -> Database {
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", closed_port());
    let cfg = DbConfig::from_env(&Env::from_pairs([
        ("DATABASE_URL", url.as_str()),
        ("DB_ACQUIRE_TIMEOUT_MS", "500"),
    ]))
    .expect("a valid database configuration");
    Database::connect(cfg, None).await.expect("a lazy pool")
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn health_is_ok_when_the_database_and_aws_answer(pool: PgPool) {
    let endpoint = moto_endpoint();
    let s = state_with(config(&endpoint), Database::from_pool(pool));
    let (status, b, resp) = call(&s, health()).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        b,
        json!({"status": "ok", "database": {"status": "ok"}, "aws": {"status": "ok", "endpoint": endpoint}})
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn health_is_503_when_the_database_is_down() {
    let s = state_with(config(&moto_endpoint()), database_down().await);
    let (status, b, _) = call(&s, health()).await;
    assert_eq!(status, 503, "{b}");
    assert_eq!(b["status"], "error");
    assert_eq!(b["database"]["status"], "error");
    assert_eq!(b["aws"]["status"], "ok", "{b}");
    let reason = b["database"]["reason"].as_str().expect("a reason");
    assert!(reason.contains("database"), "{reason}");
    for internal in [
        "127.0.0.1",
        "postgres://",
        "os error",
        "Connection refused",
        "DB_",
    ] {
        assert!(
            !reason.contains(internal),
            "internal detail {internal:?} leaked: {reason}"
        );
    }
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn health_is_503_when_aws_is_unreachable(pool: PgPool) {
    let down = aws_down();
    let s = state_with(config(&down), Database::from_pool(pool));
    let (status, b, _) = call(&s, health()).await;
    assert_eq!(status, 503, "{b}");
    assert_eq!(b["database"]["status"], "ok", "{b}");
    assert_eq!(b["aws"]["status"], "error");
    assert_eq!(b["aws"]["endpoint"], down);
    let reason = b["aws"]["reason"].as_str().expect("a reason");
    assert!(
        reason.contains("AWS") && !reason.contains("dispatch") && !reason.contains("os error"),
        "{reason}"
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_failed_cache_flush_is_reported_and_the_revocation_stands(pool: PgPool) {
    // moto has no FlushStageAuthorizersCache: a real failure from a real endpoint.
    let mut cfg = config(&moto_endpoint());
    cfg.flush_target = Some((
        format!("missing-{}", uuid::Uuid::new_v4().simple()),
        "test".to_owned(),
    ));
    let s = state_with(cfg, Database::from_pool(pool.clone()));
    let (id, _) = ci_key(&s, "acme").await;
    let (status, body, _) = call(&s, Ev::key("DELETE", &id).by(&admin("acme"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authorizer_cache"]["status"], "failed");
    assert_eq!(body["status"], "revoked");
    let detail = body["authorizer_cache"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("revoked") && !detail.contains("404"),
        "{detail}"
    );
    assert!(
        revoked_at(&pool, &id).await.is_some(),
        "the revocation must stand when the flush fails"
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_revocation_flushes_the_stage_authorizer_cache(pool: PgPool) {
    let replay = StaticReplayClient::new(vec![ReplayEvent::new(
        http::Request::builder()
            .method("DELETE")
            .uri("https://apigateway.us-east-1.amazonaws.com/restapis/api123/stages/prod/cache/authorizers")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder().status(202).body(SdkBody::empty()).unwrap(),
    )]);
    let client = aws_sdk_apigateway::Client::from_conf(
        aws_sdk_apigateway::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "keys-tests"))
            .http_client(replay.clone())
            .build(),
    );
    let mut cfg = config("https://apigateway.us-east-1.amazonaws.com");
    cfg.flush_target = Some(("api123".to_owned(), "prod".to_owned()));
    let s = State::new(cfg, Database::from_pool(pool), client);
    let (id, _) = ci_key(&s, "acme").await;
    let (status, body, _) = call(&s, Ev::key("DELETE", &id).by(&admin("acme"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["authorizer_cache"]["status"], "flushed", "{body}");
    let reqs: Vec<_> = replay.actual_requests().collect();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method(), "DELETE");
    assert_eq!(
        reqs[0].uri(),
        "https://apigateway.us-east-1.amazonaws.com/restapis/api123/stages/prod/cache/authorizers"
    );
}

#[test]
fn configuration_needs_both_or_neither_flush_variables() {
    let err = keys::Config::from_env(&Env::from_pairs([("APIGW_REST_API_ID", "abc")])).unwrap_err();
    assert!(err.to_string().contains("APIGW_STAGE"), "{err}");
    let err = keys::Config::from_env(&Env::from_pairs([("APIGW_STAGE", "prod")])).unwrap_err();
    assert!(err.to_string().contains("APIGW_REST_API_ID"), "{err}");
    let cfg = keys::Config::from_env(&Env::from_pairs([
        ("APIGW_REST_API_ID", "abc"),
        ("APIGW_STAGE", "prod"),
    ]))
    .unwrap();
    assert_eq!(
        cfg.flush_target,
        Some(("abc".to_owned(), "prod".to_owned()))
    );
    let cfg = keys::Config::from_env(&Env::from_pairs::<&str, &str>([])).unwrap();
    assert_eq!(cfg.flush_target, None);
    assert!(cfg.plans.contains(&"standard".to_owned()));
}

#[test]
fn bad_configuration_is_named() {
    for (var, value) in [
        ("DEFAULT_PLAN", "platinum"),
        ("PLATFORM_TENANT", "Not A Tenant"),
        ("HEALTH_TIMEOUT_MS", "0"),
        ("PLATFORM_FILE", "/nonexistent/platform.yaml"),
    ] {
        let err = keys::Config::from_env(&Env::from_pairs([(var, value)])).unwrap_err();
        assert!(err.to_string().contains(var), "{var}: {err}");
    }
}

/// `ApiKeyCount` reads every page of GetApiKeys: 500 a page, without the
/// values, following `position` until an answer has none (exact requests
/// against a replay client: the emulator would need 500 keys for a page).
#[tokio::test]
async fn the_account_api_keys_are_counted_page_by_page() {
    let page = |body: serde_json::Value| {
        http::Response::builder()
            .status(200)
            .body(SdkBody::from(body.to_string()))
            .unwrap()
    };
    let request = |uri: &str| {
        http::Request::builder()
            .method("GET")
            .uri(uri)
            .body(SdkBody::empty())
            .unwrap()
    };
    let first = "https://apigateway.us-east-1.amazonaws.com/apikeys?includeValues=false&limit=500";
    let second = format!("{first}&position=p2");
    let replay = StaticReplayClient::new(vec![
        ReplayEvent::new(
            request(first),
            page(json!({"item": [{"id": "a"}, {"id": "b"}], "position": "p2"})),
        ),
        ReplayEvent::new(request(&second), page(json!({"item": [{"id": "c"}]}))),
    ]);
    let client = aws_sdk_apigateway::Client::from_conf(
        aws_sdk_apigateway::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "keys-tests"))
            .http_client(replay.clone())
            .build(),
    );
    let plans = std::collections::BTreeMap::new();
    let usage = keys::usage::UsageKeys {
        apigw: &client,
        prefix: "",
        plan_ids: &plans,
    };
    assert_eq!(usage.count_api_keys().await.unwrap(), 3);
    let reqs: Vec<_> = replay.actual_requests().collect();
    assert_eq!(reqs.len(), 2);
    for (r, want) in reqs.iter().zip([first, second.as_str()]) {
        let mut got: Vec<&str> = r.uri().split_once('?').unwrap().1.split('&').collect();
        let mut expected: Vec<&str> = want.split_once('?').unwrap().1.split('&').collect();
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected, "{}", r.uri());
        assert!(
            r.uri()
                .starts_with("https://apigateway.us-east-1.amazonaws.com/apikeys?")
        );
    }
}
