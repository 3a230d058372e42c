//! The identity the authorizer signs for an `integration: vpc_link` service
//! (platform.yaml's `web`), checked the way the service checks it: the
//! context mapped onto the identity headers as the REST API does
//! (docs/proxy.md#vpc-link-services), then `portcullis_identity::verify`
//! with the service's key at the path the service receives. API keys from a
//! real PostgreSQL database (`#[sqlx::test]`: set DATABASE_URL, or run
//! `make test`); the key's secret from the emulator for the start-up test.

mod common;

use authorizer::config::Config;
use authorizer::signing::{self, Signer};
use authorizer::{Response, State};
use common::*;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use portcullis_auth::Scopes;
use portcullis_auth::audit::Actor;
use portcullis_auth::store::{self, KeyName, NewKey};
use portcullis_core::Env;
use portcullis_core::metrics::{self, Metric};
use portcullis_db::Database;
use portcullis_identity::{self as identity, IdentityError, SigningKey, VerifiedIdentity};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::HashMap;

const API: &str = "arn:aws:execute-api:us-east-1:123456789012:api123/prod";

fn web_key() -> SigningKey {
    SigningKey::from_bytes(&[21; 32]).unwrap()
}

/// A key of `tenant-a` made by the key store, as `POST /v1/keys` makes
/// one: its full text and lookup id.
async fn insert_key(pool: &PgPool, scopes: &[&str]) -> (String, String) {
    let new = NewKey {
        name: KeyName::parse("test key").unwrap(),
        tenant: "tenant-a".parse().unwrap(),
        scopes: Scopes::new(scopes.iter().map(|s| s.parse().unwrap())),
        plan: "standard".to_owned(),
        expires_at: None,
    };
    let created = store::create(
        &Database::from_pool(pool.clone()),
        &new,
        Actor::Bootstrap,
        None,
    )
    .await
    .unwrap();
    (
        created.key.expose_secret().to_owned(),
        created.record.lookup_id.as_str().to_owned(),
    )
}

/// The embedded contract and registry; `web`'s key given.
fn state(pool: PgPool) -> State {
    let cfg = Config::from_env(&Env::from_pairs([("USAGE_KEY_PREFIX", "pc-test-")])).unwrap();
    let signer = Signer::new(
        &signing::enabled(None),
        HashMap::from([("web".to_owned(), web_key())]),
    )
    .unwrap();
    State::new(cfg, Database::from_pool(pool))
        .unwrap()
        .with_signer(signer)
}

/// A REQUEST authorizer event for `method path` on `resource`.
fn request(key: &str, method: &str, resource: &str, path: &str) -> authorizer::Request {
    let mut e: Value = serde_json::from_str(include_str!("fixtures/request.json")).unwrap();
    e["methodArn"] = json!(format!("{API}/{method}{path}"));
    e["resource"] = json!(resource);
    e["path"] = json!(path);
    e["httpMethod"] = json!(method);
    e["headers"] = json!({ "x-api-key": key });
    e["multiValueHeaders"] = json!({ "x-api-key": [key] });
    // API Gateway's path parameters, decoded once: `{proxy+}` under the service.
    if let Some(rest) = resource
        .ends_with("/{proxy+}")
        .then(|| path.splitn(5, '/').nth(4))
        .flatten()
    {
        e["pathParameters"] = json!({ "proxy": rest.replace("%20", " ") });
    }
    e["requestContext"]["resourcePath"] = json!(resource);
    e["requestContext"]["httpMethod"] = json!(method);
    e["requestContext"]["path"] = json!(format!("/prod{path}"));
    serde_json::from_value(e).unwrap()
}

const WEB: &str = "/v1/services/web/{proxy+}";

/// The headers the REST API sends the service: the context values mapped
/// (a context key that is absent maps to no header) and the literal
/// UNSIGNED-PAYLOAD.
fn mapped_headers(r: &Response) -> HeaderMap {
    let ctx = serde_json::to_value(&r.context).unwrap();
    let mut h = HeaderMap::new();
    for (header, key) in [
        (identity::PRINCIPAL, "principal_id"),
        (identity::PRINCIPAL_TYPE, "principal_type"),
        (identity::TENANT, "tenant"),
        (identity::SCOPES, "scopes"),
        (identity::TIMESTAMP, "identity_timestamp"),
        (identity::SIGNATURE, "identity_signature"),
    ] {
        if let Some(v) = ctx[key].as_str() {
            h.insert(
                HeaderName::from_static(header),
                HeaderValue::from_str(v).unwrap(),
            );
        }
    }
    h.insert(
        identity::CONTENT_SHA256,
        HeaderValue::from_static(identity::UNSIGNED_PAYLOAD),
    );
    h
}

fn verify_at(
    r: &Response,
    method: Method,
    target: &str,
) -> Result<VerifiedIdentity, IdentityError> {
    identity::verify(
        &mapped_headers(r),
        &method,
        target,
        b"a body the authorizer never saw",
        now(),
        &[web_key()],
        identity::DEFAULT_MAX_SKEW,
    )
}

fn has_signature(r: &Response) -> bool {
    let ctx = serde_json::to_value(&r.context).unwrap();
    ctx.get("identity_signature").is_some() || ctx.get("identity_timestamp").is_some()
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_vpc_link_request_carries_an_identity_the_service_verifies(pool: PgPool) {
    let s = state(pool.clone());
    let (key, lookup) = insert_key(&pool, &["services:web", "jobs:read"]).await;
    let r = run(
        &s,
        request(&key, "POST", WEB, "/v1/services/web/notes/a%20b"),
    )
    .await
    .unwrap();
    let ctx = serde_json::to_value(&r.context).unwrap();
    assert!(
        ctx["identity_signature"]
            .as_str()
            .unwrap()
            .starts_with("v2="),
        "{ctx}"
    );
    let ts: i64 = ctx["identity_timestamp"].as_str().unwrap().parse().unwrap();
    assert!((now() - ts).abs() <= 5, "{ts}");
    assert!(
        ctx.as_object().unwrap().values().all(Value::is_string),
        "{ctx}"
    );

    // The service receives the stage, its path_prefix and the rest (API
    // Gateway puts the stage in a private integration's path), with
    // whatever query.
    let v = verify_at(&r, Method::POST, "/prod/web/notes/a%20b?page=2").unwrap();
    assert_eq!(v.principal, lookup);
    assert_eq!(v.principal_type, "api_key");
    assert_eq!(v.tenant, "tenant-a");
    assert_eq!(v.scopes, ["jobs:read", "services:web"]);
    assert!(!v.body_signed);

    // Bound to the method and path it was made for.
    for (m, target) in [
        (Method::GET, "/prod/web/notes/a%20b"),
        (Method::DELETE, "/prod/web/notes/a%20b"),
        (Method::POST, "/prod/web/notes/other"),
        (Method::POST, "/prod/web/notes"),
        (Method::POST, "/prod/sample/notes/a%20b"),
        (Method::POST, "/web/notes/a%20b"),
        (Method::POST, "/v1/web/notes/a%20b"),
        (Method::POST, "/v1/services/web/notes/a%20b"),
    ] {
        assert_eq!(
            verify_at(&r, m.clone(), target).unwrap_err(),
            IdentityError::BadSignature,
            "{m} {target}"
        );
    }
    // And to the web service's key: another key does not verify it.
    let other = SigningKey::from_bytes(&[22; 32]).unwrap();
    assert_eq!(
        identity::verify(
            &mapped_headers(&r),
            &Method::POST,
            "/prod/web/notes/a%20b",
            b"",
            now(),
            &[other],
            identity::DEFAULT_MAX_SKEW
        )
        .unwrap_err(),
        IdentityError::BadSignature
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn only_allowed_vpc_link_requests_are_signed(pool: PgPool) {
    let s = state(pool.clone());
    let (both, _) = insert_key(&pool, &["services:web", "services:sample"]).await;
    // A lambda service: the proxy signs, not the authorizer.
    let r = run(
        &s,
        request(
            &both,
            "GET",
            "/v1/services/{service}/{proxy+}",
            "/v1/services/sample/echo",
        ),
    )
    .await
    .unwrap();
    assert!(!has_signature(&r), "{:?}", r.context);
    // Another API path.
    let r = run(&s, request(&both, "GET", "/v1/me", "/v1/me"))
        .await
        .unwrap();
    assert!(!has_signature(&r), "{:?}", r.context);
    // The service path itself, with nothing under it, is no request of it.
    let r = run(
        &s,
        request(&both, "GET", "/v1/services/web", "/v1/services/web"),
    )
    .await
    .unwrap();
    assert!(!has_signature(&r), "{:?}", r.context);
    // A web request: signed.
    let r = run(&s, request(&both, "GET", WEB, "/v1/services/web/notes"))
        .await
        .unwrap();
    assert!(has_signature(&r));
    assert!(verify_at(&r, Method::GET, "/prod/web/notes").is_ok());

    // A caller whose policy does not allow the web request gets no
    // signature (API Gateway refuses it anyway).
    let (sample_only, _) = insert_key(&pool, &["services:sample"]).await;
    let r = run(
        &s,
        request(&sample_only, "GET", WEB, "/v1/services/web/notes"),
    )
    .await
    .unwrap();
    assert!(!has_signature(&r), "{:?}", r.context);
}

/// An event without a resource or a method cannot say what the service
/// receives: the answer stands, unsigned (the service then sees no valid
/// identity), never a signature over a guess.
#[sqlx::test(migrations = "../../migrations")]
async fn an_event_without_resource_or_method_is_not_signed(pool: PgPool) {
    let s = state(pool.clone());
    let (key, _) = insert_key(&pool, &["services:web"]).await;
    let cap = metrics::capture();
    for missing in ["resource", "httpMethod"] {
        let mut e =
            serde_json::to_value(request(&key, "GET", WEB, "/v1/services/web/notes")).unwrap();
        e.as_object_mut().unwrap().remove(missing);
        let ev: authorizer::Request = serde_json::from_value(e).unwrap();
        let r = run(&s, ev).await.unwrap();
        assert!(!has_signature(&r), "{missing}: {:?}", r.context);
    }
    assert_eq!(
        cap.sum(Metric::IdentitySigningFailure, &[]),
        2.0,
        "{:?}",
        cap.lines()
    );
}

/// Start-up refuses to run without the enabled vpc_link services' secrets
/// named; the first request for one of them reads its key from Secrets
/// Manager (the emulator) and is signed with it.
#[tokio::test]
async fn start_up_needs_the_web_secret_named_and_the_first_web_request_reads_its_key() {
    let db = [("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing")];
    let e = State::from_env(&Env::from_pairs(db))
        .await
        .err()
        .expect("web's key is required");
    assert_eq!(e.var(), Some("IDENTITY_SECRET_ARNS"), "{e}");
    assert!(
        e.to_string().contains("integration: vpc_link services"),
        "{e}"
    );

    let (key, vars) = web_identity_env().await;
    let mut env: Vec<(String, String)> = vars;
    env.push((db[0].0.to_owned(), db[0].1.to_owned()));
    env.push(("COGNITO_ISSUER".into(), ISSUER.into()));
    env.push(("COGNITO_CLIENT_IDS".into(), CLIENT.into()));
    env.push(("COGNITO_JWKS_JSON".into(), jwks(&[common::key()])));
    env.push((
        "COGNITO_GROUP_SCOPES".into(),
        "web-users=services:web".into(),
    ));
    let s = State::from_env(&Env::from_pairs(env)).await.unwrap();
    assert!(!s.signer().keys_loaded(), "no key is read at start");
    // A Cognito user with the web scope (no database needed).
    let token = common::key().sign(&user_claims("openid", &[TENANT_GROUP, "web-users"]));
    let mut ev = request("unused", "GET", WEB, "/v1/services/web/home2");
    ev.headers.clear();
    ev.multi_value_headers.clear();
    ev.headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let r = run(&s, ev).await.unwrap();
    assert!(has_signature(&r), "{:?} {:?}", r.context, r.policy_document);
    let v = identity::verify(
        &mapped_headers(&r),
        &Method::GET,
        "/prod/web/home2",
        b"",
        now(),
        &[key],
        identity::DEFAULT_MAX_SKEW,
    )
    .unwrap();
    assert_eq!(v.principal_type, "user");
    assert_eq!(v.tenant, "acme");
}

/// A web secret that cannot be read does not stop start-up (nothing is read
/// then) nor a request for another route; a request for web fails (500,
/// not a refusal) naming the secret, and so does the next one: a failed read
/// is tried again.
#[tokio::test]
async fn a_web_key_that_cannot_be_read_fails_only_the_web_requests() {
    let (_, vars) = web_identity_env().await;
    let mut env: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| k != "IDENTITY_SECRET_ARNS")
        .collect();
    let missing = portcullis_testkit::unique("portcullis-authorizer-no-such-secret");
    env.push(("IDENTITY_SECRET_ARNS".into(), format!("web={missing}")));
    env.push((
        "DATABASE_URL".into(),
        "postgres://postgres@127.0.0.1:1/nothing".into(),
    ));
    env.push(("COGNITO_ISSUER".into(), ISSUER.into()));
    env.push(("COGNITO_CLIENT_IDS".into(), CLIENT.into()));
    env.push(("COGNITO_JWKS_JSON".into(), jwks(&[common::key()])));
    env.push((
        "COGNITO_GROUP_SCOPES".into(),
        "web-users=services:web jobs:read".into(),
    ));
    let s = State::from_env(&Env::from_pairs(env))
        .await
        .expect("start-up reads no secret");
    let token = common::key().sign(&user_claims("openid", &[TENANT_GROUP, "web-users"]));
    let with_token = |resource: &str, path: &str| {
        let mut ev = request("unused", "GET", resource, path);
        ev.headers.clear();
        ev.multi_value_headers.clear();
        ev.headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        ev
    };
    let cap = metrics::capture();
    let jobs = run(&s, with_token("/v1/jobs", "/v1/jobs")).await.unwrap();
    assert!(!has_signature(&jobs));
    for _ in 0..2 {
        let web = run(&s, with_token(WEB, "/v1/services/web/home2")).await;
        match web {
            Err(m) => {
                assert_ne!(m, "Unauthorized");
                assert!(m.contains(&missing), "{m}");
            }
            Ok(r) => panic!("signed without a key: {r:?}"),
        }
    }
    assert!(!s.signer().keys_loaded());
    assert_eq!(cap.sum(Metric::IdentitySigningFailure, &[]), 2.0);
    assert_eq!(decisions(&cap, "error"), 2.0, "{:?}", cap.lines());
}

/// The proxy's path rule on the VPC link path: a traversal or a double
/// encoding under a vpc_link service is an explicit Deny of that request
/// (API Gateway's 403), unsigned, even for a caller with the scope.
#[sqlx::test(migrations = "../../migrations")]
async fn a_vpc_link_path_the_proxy_would_refuse_is_denied(pool: PgPool) {
    let s = state(pool.clone());
    let (key, _) = insert_key(&pool, &["services:web"]).await;
    for rest in ["a/../admin", "..;/x", "%2e%2e/x", "notes/%0a"] {
        let mut ev = request(&key, "GET", WEB, "/v1/services/web/x");
        ev.path_parameters
            .insert("proxy".to_owned(), rest.to_owned());
        let arn = ev.method_arn.clone().unwrap();
        let r = run(&s, ev).await.unwrap();
        assert!(!has_signature(&r), "{rest}: {:?}", r.context);
        let denied = r.policy_document.statement.iter().any(|st| {
            st.effect == aws_lambda_events::iam::IamPolicyEffect::Deny
                && st.resource == [arn.clone()]
        });
        assert!(denied, "{rest}: {:?}", r.policy_document);
    }
    // The same caller on an ordinary path: allowed and signed.
    let r = run(&s, request(&key, "GET", WEB, "/v1/services/web/notes"))
        .await
        .unwrap();
    assert!(has_signature(&r));
    assert!(
        r.policy_document
            .statement
            .iter()
            .all(|st| st.effect == aws_lambda_events::iam::IamPolicyEffect::Allow)
    );
}
