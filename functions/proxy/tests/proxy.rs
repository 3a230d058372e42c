//! The proxy handler against a real upstream on a loopback port (the sample
//! service, in-process), called with real API Gateway proxy events.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lambda_http::{Body, Request, Response};
use portcullis_auth::{AuthContext, PrincipalType};
use portcullis_core::metrics::{self, Capture, Metric};
use portcullis_identity::{self as identity, Identity, SigningKey};
use portcullis_platform::services::Services;
use proxy::{State, Upstream};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SERVICE_YAML: &str = "sample:
  workload: sample-service
  methods: [GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS]
  timeout_ms: 2000
  max_request_bytes: 65536
  max_response_bytes: 6291456
  allow_headers: [accept, content-type, x-custom]
  allow_cookies: true
  routes:
    - { path: /items, methods: [GET], public: true }
    - { path: \"/echo/{rest+}\", methods: [GET, HEAD], public: true }
    - { path: \"/items/{id}\", methods: [PUT], scope: \"services:sample.write\" }
small:
  workload: sample-service
  methods: [GET]
  timeout_ms: 300
  max_response_bytes: 1000
  allow_headers: [accept]
  allow_cookies: false
";

/// Each service has its own identity key; the proxy holds them all.
fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32]).unwrap()
}

fn small_key() -> SigningKey {
    SigningKey::from_bytes(&[43; 32]).unwrap()
}

fn keys() -> HashMap<String, SigningKey> {
    HashMap::from([("sample".into(), key()), ("small".into(), small_key())])
}

/// The sample service verifying with `k` (its own key).
async fn start_sample_with(k: SigningKey) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = sample_service::router(sample_service::Config::new(vec![k], "/base"));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn start_sample() -> SocketAddr {
    start_sample_with(key()).await
}

/// Service `sample` at `sample`, service `small` at `small`.
fn state_at(
    sample: SocketAddr,
    small: SocketAddr,
    audit: Option<portcullis_db::Database>,
) -> State {
    let services = Services::from_text(SERVICE_YAML).unwrap();
    let upstreams = services
        .iter()
        .map(|s| {
            let addr = if s.name == "small" { small } else { sample };
            Upstream {
                service: s.clone(),
                base: format!("http://{addr}/base").parse().unwrap(),
            }
        })
        .collect();
    State::new(upstreams, keys(), audit, Duration::from_millis(100)).unwrap()
}

fn state_for(addr: SocketAddr, audit: Option<portcullis_db::Database>) -> State {
    state_at(addr, addr, audit)
}

/// Each service behind its own instance, verifying with its own key.
async fn harness() -> State {
    state_at(
        start_sample_with(key()).await,
        start_sample_with(small_key()).await,
        None,
    )
}

struct Call<'a> {
    method: &'a str,
    service: &'a str,
    path: &'a str,
    query: Vec<(&'a str, &'a str)>,
    headers: Vec<(&'a str, &'a str)>,
    body: Option<Vec<u8>>,
    scopes: &'a str,
}

/// The authorizer context as the authorizer writes it (the same type and code).
fn context(scopes: &str) -> Value {
    Value::Object(
        AuthContext {
            principal_id: "key_1".into(),
            principal_type: PrincipalType::ApiKey,
            tenant: "acme".parse().unwrap(),
            scopes: scopes.parse().unwrap(),
            key_id: Some(uuid::Uuid::from_u128(7)),
            identity_timestamp: None,
            identity_signature: None,
        }
        .to_fields(),
    )
}

fn call<'a>(method: &'a str, path: &'a str) -> Call<'a> {
    Call {
        method,
        service: "sample",
        path,
        query: vec![],
        headers: vec![],
        body: None,
        scopes: "services:sample services:small jobs:read",
    }
}

impl Call<'_> {
    fn event(&self) -> Request {
        let mut mvq = serde_json::Map::new();
        for (k, v) in &self.query {
            mvq.entry(k.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(v));
        }
        let mut mvh = serde_json::Map::new();
        for (k, v) in &self.headers {
            mvh.entry(k.to_string())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .unwrap()
                .push(json!(v));
        }
        let ev = json!({
            "resource": "/v1/services/{service}/{proxy+}",
            "path": format!("/v1/services/{}/{}", self.service, self.path),
            "httpMethod": self.method,
            "headers": {},
            "multiValueHeaders": mvh,
            "queryStringParameters": {},
            "multiValueQueryStringParameters": mvq,
            "pathParameters": { "service": self.service, "proxy": self.path },
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012", "resourceId": "r1", "stage": "v1", "requestId": "req-123",
                "identity": { "sourceIp": "203.0.113.9" },
                "resourcePath": "/v1/services/{service}/{proxy+}", "httpMethod": self.method, "apiId": "api1",
                "authorizer": context(self.scopes)
            },
            "body": self.body.as_ref().map(|b| B64.encode(b)),
            "isBase64Encoded": self.body.is_some(),
        });
        lambda_http::request::from_str(&ev.to_string()).unwrap()
    }

    async fn send(&self, state: &State) -> Response<Body> {
        proxy::handle(state, self.event()).await.unwrap()
    }
}

/// The `ProxyUpstreamResponse` records of `service` in `class`.
fn upstream(cap: &Capture, service: &str, class: &str) -> f64 {
    cap.sum(
        Metric::ProxyUpstreamResponse,
        &[("Service", service), ("StatusClass", class)],
    )
}

/// The `ProxyRefusal` records of `reason`.
fn refusals(cap: &Capture, reason: &str) -> f64 {
    cap.sum(Metric::ProxyRefusal, &[("Reason", reason)])
}

fn bytes(resp: &Response<Body>) -> Vec<u8> {
    match resp.body() {
        Body::Empty => vec![],
        Body::Text(t) => t.as_bytes().to_vec(),
        Body::Binary(b) => b.clone(),
        _ => panic!("unexpected body kind"),
    }
}

fn json_of(resp: &Response<Body>) -> Value {
    serde_json::from_slice(&bytes(resp)).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes(resp))
        )
    })
}

fn echoed_headers(echo: &Value, name: &str) -> Vec<String> {
    echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p[0] == name)
        .map(|p| p[1].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_allowed_method_reaches_the_service_with_its_body() {
    let state = harness().await;
    let cap = metrics::capture();
    // OPTIONS is the proxy's own (CORS); see the cors tests below.
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let mut c = call(m, "echo/deep/path");
        c.body = Some(format!("body of {m}").into_bytes());
        let resp = c.send(&state).await;
        assert_eq!(resp.status(), 200, "{m}");
        let echo = json_of(&resp);
        assert_eq!(echo["method"], m);
        assert_eq!(echo["path"], "/base/echo/deep/path");
        assert_eq!(
            B64.decode(echo["body_base64"].as_str().unwrap()).unwrap(),
            format!("body of {m}").as_bytes()
        );
    }
    let resp = call("HEAD", "echo").send(&state).await;
    assert_eq!(resp.status(), 200);
    assert!(bytes(&resp).is_empty());
    // One record per request: its answer's class, latency and size.
    assert_eq!(upstream(&cap, "sample", "2xx"), 6.0, "{:?}", cap.lines());
    let sample = [("Service", "sample")];
    assert_eq!(cap.values(Metric::ProxyUpstreamLatency, &sample).len(), 6);
    let sizes = cap.values(Metric::ProxyBytesOut, &sample);
    assert_eq!(sizes.len(), 6);
    assert!(
        sizes[..5].iter().all(|b| *b > 0.0) && sizes[5] == 0.0,
        "{sizes:?}"
    );
    assert_eq!(cap.sum(Metric::ProxyRefusal, &[]), 0.0);
    assert!(cap.records().iter().all(|r| r.get("Tenant").is_none()));
}

#[tokio::test]
async fn repeated_query_keys_arrive_in_order() {
    let state = harness().await;
    let mut c = call("GET", "echo");
    c.query = vec![("tag", "b"), ("x", "1 2&3"), ("tag", "a"), ("tag", "c")];
    let echo = json_of(&c.send(&state).await);
    assert_eq!(
        echo["query_pairs"],
        json!([["tag", "b"], ["tag", "a"], ["tag", "c"], ["x", "1 2&3"]])
    );
}

#[tokio::test]
async fn binary_request_body_round_trips_byte_for_byte() {
    let state = harness().await;
    let payload: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
    let mut c = call("POST", "echo");
    c.headers = vec![("content-type", "application/octet-stream")];
    c.body = Some(payload.clone());
    let echo = json_of(&c.send(&state).await);
    assert_eq!(echo["body_len"], payload.len());
    assert_eq!(
        B64.decode(echo["body_base64"].as_str().unwrap()).unwrap(),
        payload
    );
}

#[tokio::test]
async fn binary_download_comes_back_as_binary() {
    let state = harness().await;
    let mut c = call("GET", "download");
    c.query = vec![("bytes", "100000")];
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 200);
    let Body::Binary(b) = resp.body() else {
        panic!("binary body expected")
    };
    let expected: Vec<u8> = (0..100_000usize).map(|i| (i % 251) as u8 ^ 0x80).collect();
    assert_eq!(b, &expected);
}

#[tokio::test]
async fn upstream_status_codes_are_passed_back() {
    let state = harness().await;
    let cap = metrics::capture();
    for code in [201u16, 204, 400, 404, 409, 418, 500, 503] {
        let p = format!("status/{code}");
        assert_eq!(call("GET", &p).send(&state).await.status(), code);
    }
    // The service's own 4xx and 5xx are its answers, not refusals.
    assert_eq!(upstream(&cap, "sample", "2xx"), 2.0, "{:?}", cap.lines());
    assert_eq!(upstream(&cap, "sample", "4xx"), 4.0);
    assert_eq!(upstream(&cap, "sample", "5xx"), 2.0);
    assert_eq!(cap.sum(Metric::ProxyRefusal, &[]), 0.0);
}

#[tokio::test]
async fn multi_value_headers_are_returned_and_set_cookies_only_for_the_services_own_path() {
    let state = harness().await;
    let resp = call("GET", "headers").send(&state).await;
    let multi: Vec<_> = resp.headers().get_all("x-multi").iter().collect();
    assert_eq!(multi, ["one", "two"]);
    let resp = call("GET", "cookies").send(&state).await;
    let cookies: Vec<_> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    // allow_cookies keeps only the cookies scoped to the service's own
    // path (/v1/services/<name>): `Path=/` would reach every service on the
    // API's origin. A cookie without Path gets the request's directory.
    assert_eq!(cookies, ["c=3; Max-Age=60"]);
}

#[tokio::test]
async fn redirects_are_passed_back_not_followed() {
    let state = harness().await;
    let cap = metrics::capture();
    let resp = call("GET", "redirect").send(&state).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/base/echo");
    assert_eq!(upstream(&cap, "sample", "3xx"), 1.0, "{:?}", cap.lines());
}

#[tokio::test]
async fn credentials_hop_by_hop_and_unlisted_headers_are_stripped() {
    let state = harness().await;
    let mut c = call("GET", "echo");
    c.headers = vec![
        ("accept", "application/json"),
        ("x-custom", "kept"),
        ("x-unlisted", "dropped"),
        ("authorization", "Bearer secret-token"),
        ("x-api-key", "pcs_secret"),
        ("host", "evil.example"),
        ("connection", "keep-alive, x-custom"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("upgrade", "h2c"),
        ("proxy-authorization", "Basic x"),
        ("x-forwarded-for", "6.6.6.6"),
        ("x-request-id", "spoofed"),
    ];
    let echo = json_of(&c.send(&state).await);
    let text = echo["headers"].to_string();
    for gone in [
        "secret-token",
        "pcs_secret",
        "evil.example",
        "dropped",
        "kept",
        "timeout=5",
        "h2c",
        "Basic x",
        "6.6.6.6",
        "spoofed",
    ] {
        assert!(!text.contains(gone), "{gone} leaked: {text}");
    }
    assert_eq!(echoed_headers(&echo, "accept"), ["application/json"]);
    assert_eq!(echoed_headers(&echo, "x-forwarded-for"), ["203.0.113.9"]);
    assert_eq!(echoed_headers(&echo, "x-forwarded-proto"), ["https"]);
    assert_eq!(echoed_headers(&echo, "x-request-id"), ["req-123"]);
}

#[tokio::test]
async fn trace_header_is_forwarded() {
    let state = harness().await;
    let mut c = call("GET", "echo");
    c.headers = vec![(
        "x-amzn-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
    )];
    let echo = json_of(&c.send(&state).await);
    assert_eq!(
        echoed_headers(&echo, "x-amzn-trace-id"),
        ["Root=1-5759e988-bd862e3fe1be46a994272793"]
    );
    // Not the documented syntax (portcullis_core::trace::accept): not forwarded.
    let mut c = call("GET", "echo");
    c.headers = vec![("x-amzn-trace-id", "Root=1-nothex;$(id)")];
    let echo = json_of(&c.send(&state).await);
    assert!(
        echoed_headers(&echo, "x-amzn-trace-id").is_empty(),
        "{echo}"
    );
}

#[tokio::test]
async fn spoofed_identity_headers_never_reach_the_service() {
    let state = harness().await;
    let mut c = call("GET", "echo");
    c.headers = vec![
        ("x-portcullis-tenant", "evil"),
        ("X-Portcullis-Principal", "root"),
        ("x-portcullis-scopes", "keys:admin"),
        ("x-portcullis-signature", "v1=00"),
        ("x-portcullis-content-sha256", "00"),
        ("x-portcullis-extra", "1"),
    ];
    let echo = json_of(&c.send(&state).await);
    assert_eq!(echo["identity"]["tenant"], "acme");
    assert_eq!(echo["identity"]["principal"], "key_1");
    assert_eq!(echoed_headers(&echo, "x-portcullis-tenant"), ["acme"]);
    assert_eq!(echoed_headers(&echo, "x-portcullis-principal"), ["key_1"]);
    assert!(echoed_headers(&echo, "x-portcullis-extra").is_empty());
    assert!(!echo["headers"].to_string().contains("keys:admin"));
}

#[tokio::test]
async fn each_service_gets_an_identity_signed_with_its_own_key() {
    let sample = start_sample_with(key()).await;
    let small = start_sample_with(small_key()).await;
    let state = state_at(sample, small, None);
    assert_eq!(call("GET", "echo").send(&state).await.status(), 200);
    let mut to_small = call("GET", "echo");
    to_small.service = "small";
    let echo = json_of(&to_small.send(&state).await);
    assert_eq!(echo["identity"]["tenant"], "acme");
    // What the proxy signs for `small` does not verify at `sample`: the
    // proxy picked small's key, and sample holds only its own.
    let crossed = state_at(sample, sample, None);
    let resp = to_small.send(&crossed).await;
    assert_eq!(resp.status(), 401);
    assert!(
        json_of(&resp)["detail"]
            .as_str()
            .unwrap()
            .contains("signature does not match"),
        "{:?}",
        json_of(&resp)
    );
}

#[test]
fn a_registered_service_without_an_identity_key_cannot_be_served() {
    let services = Services::from_text(SERVICE_YAML).unwrap();
    let upstreams = services
        .iter()
        .map(|s| Upstream {
            service: s.clone(),
            base: "http://127.0.0.1:9/base".parse().unwrap(),
        })
        .collect();
    let only_sample = HashMap::from([("sample".to_owned(), key())]);
    let e = State::new(upstreams, only_sample, None, Duration::from_millis(100)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("small") && text.contains("IDENTITY_SECRET_ARNS"),
        "{text}"
    );
}

#[tokio::test]
async fn the_signature_is_v2_over_the_sha256_of_the_forwarded_body() {
    let state = harness().await;
    let mut c = call("PUT", "echo");
    c.body = Some(b"exact bytes\x00\xff".to_vec());
    let echo = json_of(&c.send(&state).await);
    // Verified by the service over the body it received (else 401).
    assert_eq!(echo["identity"]["principal"], "key_1");
    assert_eq!(
        echoed_headers(&echo, "x-portcullis-content-sha256"),
        [identity::content_sha256(b"exact bytes\x00\xff")]
    );
    let sig = echoed_headers(&echo, "x-portcullis-signature");
    assert!(sig[0].starts_with("v2="), "{sig:?}");
    // A GET carries the digest of the empty body.
    let echo = json_of(&call("GET", "echo").send(&state).await);
    assert_eq!(
        echoed_headers(&echo, "x-portcullis-content-sha256"),
        ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
    );
}

#[tokio::test]
async fn the_service_verifies_the_signature_and_rejects_tampered_or_stale_ones() {
    let addr = start_sample().await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let who = Identity {
        principal: "key_1".into(),
        principal_type: "api_key".into(),
        tenant: "acme".into(),
        scopes: vec!["services:sample".into()],
    };
    let send = |headers: http::HeaderMap| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}/base/echo?q=1"))
                .headers(headers)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let good =
        identity::sign(&who, &http::Method::GET, "/base/echo?q=1", b"", now, &key()).unwrap();
    assert_eq!(send(good.clone()).await, 200);
    let mut tampered = good.clone();
    tampered.insert(
        identity::SCOPES,
        "services:sample keys:admin".parse().unwrap(),
    );
    assert_eq!(send(tampered).await, 401);
    let stale = identity::sign(
        &who,
        &http::Method::GET,
        "/base/echo?q=1",
        b"",
        now - 300,
        &key(),
    )
    .unwrap();
    assert_eq!(send(stale).await, 401);
    let other_path =
        identity::sign(&who, &http::Method::GET, "/base/items", b"", now, &key()).unwrap();
    assert_eq!(send(other_path).await, 401);
    assert_eq!(send(http::HeaderMap::new()).await, 401);
}

#[tokio::test]
async fn cookies_are_dropped_both_ways_when_the_service_does_not_allow_them() {
    let state = harness().await;
    let mut c = call("GET", "echo");
    c.service = "small";
    c.headers = vec![("cookie", "session=abc")];
    let echo = json_of(&c.send(&state).await);
    assert!(echoed_headers(&echo, "cookie").is_empty());
    let mut c = call("GET", "cookies");
    c.service = "small";
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("set-cookie").is_none());
    let mut c = call("GET", "echo");
    c.headers = vec![("cookie", "session=abc")];
    assert_eq!(
        echoed_headers(&json_of(&c.send(&state).await), "cookie"),
        ["session=abc"]
    );
}

#[tokio::test]
async fn traversal_and_absolute_targets_are_rejected_with_400() {
    let state = harness().await;
    let cap = metrics::capture();
    for p in [
        "../admin",
        "echo/../../etc/passwd",
        "echo/%2e%2e/x",
        "echo/%2F..",
        "a\\b",
        "echo/a\0",
        "/etc/passwd",
        "http://evil.example/x",
        "./echo",
    ] {
        let resp = call("GET", p).send(&state).await;
        assert_eq!(resp.status(), 400, "{p:?}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(refusals(&cap, "bad_request"), 9.0, "{:?}", cap.lines());
    assert_eq!(cap.sum(Metric::ProxyUpstreamResponse, &[]), 0.0);
}

#[tokio::test]
async fn double_encoded_escapes_and_path_parameter_traversal_are_rejected_with_400() {
    let state = harness().await;
    // `proxy` as API Gateway hands it over: decoded once. A client's `%250a`
    // is `%0a` here; the upstream must never decode a second time.
    for p in [
        "echo/%0a",
        "echo/%09",
        "echo/%c0%ae%c0%ae/admin",
        "echo/a%20b",
        "echo/..;/..;/admin",
        "..;/admin",
        "echo/.;/x",
    ] {
        let resp = call("GET", p).send(&state).await;
        assert_eq!(resp.status(), 400, "{p:?}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        assert!(
            json_of(&resp)["detail"]
                .as_str()
                .unwrap()
                .contains("the path under the service is not allowed"),
            "{p:?}"
        );
    }
    // A literal percent sign that is no escape is forwarded encoded once.
    let echo = json_of(&call("GET", "echo/100%").send(&state).await);
    assert_eq!(echo["path"], "/base/echo/100%25");
}

#[tokio::test]
async fn unknown_service_is_404_and_unregistered_method_is_405_with_allow() {
    let state = harness().await;
    let cap = metrics::capture();
    let mut c = call("GET", "echo");
    c.service = "nope";
    assert_eq!(c.send(&state).await.status(), 404);
    let mut c = call("POST", "echo");
    c.service = "small";
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "GET");
    assert_eq!(refusals(&cap, "not_found"), 1.0, "{:?}", cap.lines());
    assert_eq!(refusals(&cap, "method_not_allowed"), 1.0);
    // A name nobody registered never becomes a dimension value.
    assert!(!cap.lines().iter().any(|l| l.contains("nope")));
}

/// A `vpc_link` service is API Gateway's to reach over the VPC link: the
/// proxy needs no key of it, and a request naming it (which API Gateway never
/// routes here) is the unknown-service 404, never forwarded.
#[tokio::test]
async fn a_vpc_link_service_is_not_served_and_needs_no_key() {
    let sample = start_sample().await;
    let yaml = format!(
        "{SERVICE_YAML}site:\n  workload: sample-web\n  integration: vpc_link\n  methods: [GET, POST]\n"
    );
    let services = Services::from_text(&yaml).unwrap();
    let upstreams = services
        .iter()
        .map(|s| Upstream {
            service: s.clone(),
            // The sample service: a request forwarded there would answer 200.
            base: format!("http://{sample}/base").parse().unwrap(),
        })
        .collect();
    let state = State::new(upstreams, keys(), None, Duration::from_millis(100))
        .expect("no key is needed for the vpc_link service");
    for method in ["GET", "POST"] {
        let mut c = call(method, "echo");
        c.service = "site";
        c.scopes = "services:site";
        let resp = c.send(&state).await;
        assert_eq!(resp.status(), 404, "{method}");
        assert!(
            json_of(&resp)["detail"]
                .as_str()
                .unwrap()
                .contains("there is no service named \"site\""),
            "{:?}",
            json_of(&resp)
        );
    }
    // The lambda services are still served.
    assert_eq!(call("GET", "echo").send(&state).await.status(), 200);
}

#[tokio::test]
async fn caller_without_the_scope_gets_403_and_no_caller_gets_401() {
    let state = harness().await;
    let cap = metrics::capture();
    let mut c = call("GET", "echo");
    c.scopes = "services:small jobs:read";
    assert_eq!(c.send(&state).await.status(), 403);
    let req = lambda_http::request::from_str(
        &json!({"httpMethod": "GET", "path": "/v1/services/sample/echo", "resource": "/v1/services/{service}/{proxy+}",
                "pathParameters": {"service": "sample", "proxy": "echo"},
                "requestContext": {"requestId": "r", "stage": "v1", "httpMethod": "GET", "identity": {},
                                   "resourcePath": "/v1/services/{service}/{proxy+}"}})
        .to_string(),
    )
    .unwrap();
    assert_eq!(proxy::handle(&state, req).await.unwrap().status(), 401);
    assert_eq!(refusals(&cap, "forbidden"), 1.0, "{:?}", cap.lines());
    assert_eq!(refusals(&cap, "unauthenticated"), 1.0);
}

#[tokio::test]
async fn request_body_over_the_limit_is_413() {
    let state = harness().await;
    let cap = metrics::capture();
    let mut c = call("POST", "echo");
    c.body = Some(vec![b'x'; 65537]);
    assert_eq!(c.send(&state).await.status(), 413);
    assert_eq!(refusals(&cap, "too_large"), 1.0, "{:?}", cap.lines());
}

#[tokio::test]
async fn upstream_down_is_502() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let state = state_for(addr, None);
    let cap = metrics::capture();
    let resp = call("GET", "echo").send(&state).await;
    assert_eq!(resp.status(), 502);
    assert_eq!(upstream(&cap, "sample", "error"), 1.0, "{:?}", cap.lines());
    assert!(cap.values(Metric::ProxyBytesOut, &[]).is_empty());
    assert!(
        json_of(&resp)["detail"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
}

#[tokio::test]
async fn slow_upstream_is_504() {
    let state = harness().await;
    let cap = metrics::capture();
    let mut c = call("GET", "slow");
    c.service = "small";
    c.query = vec![("ms", "5000")];
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 504);
    assert_eq!(json_of(&resp)["status"], 504);
    assert_eq!(upstream(&cap, "small", "timeout"), 1.0, "{:?}", cap.lines());
    let waited = cap.values(Metric::ProxyUpstreamLatency, &[("Service", "small")]);
    assert!(waited.len() == 1 && waited[0] >= 250.0, "{waited:?}");
}

#[tokio::test]
async fn response_over_the_service_limit_is_502() {
    let state = harness().await;
    let mut c = call("GET", "download");
    c.service = "small";
    c.query = vec![("bytes", "5000")];
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 502);
    assert!(
        json_of(&resp)["detail"]
            .as_str()
            .unwrap()
            .contains("larger than 1000 bytes")
    );
}

#[tokio::test]
async fn binary_response_over_the_lambda_limit_is_a_clear_502() {
    let state = harness().await;
    let mut c = call("GET", "download");
    c.query = vec![("bytes", "5000000")];
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 502);
    assert!(
        json_of(&resp)["detail"]
            .as_str()
            .unwrap()
            .contains("6 MB Lambda response limit")
    );
}

#[tokio::test]
async fn reset_connection_is_502() {
    // An upstream that accepts and closes without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            drop(sock);
        }
    });
    let state = state_for(addr, None);
    assert_eq!(call("GET", "echo").send(&state).await.status(), 502);
}

#[sqlx::test(migrations = "../../migrations")]
async fn mutations_are_written_to_the_audit_log(pool: sqlx::PgPool) {
    let state = state_for(
        start_sample().await,
        Some(portcullis_db::Database::from_pool(pool.clone())),
    );
    let mut c = call("POST", "items");
    c.headers = vec![("content-type", "application/json")];
    c.body = Some(br#"{"name":"box"}"#.to_vec());
    assert_eq!(c.send(&state).await.status(), 201);
    assert_eq!(call("GET", "items").send(&state).await.status(), 200);
    let rows: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("select principal, action, target, request_id from audit_log order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(
            "key_1".into(),
            "service.post".into(),
            "services/sample/items".into(),
            Some("req-123".into())
        )]
    );
    // The one audit writer describes the caller as for key changes.
    let (tenant, detail): (String, Value) = sqlx::query_as("select tenant, detail from audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(tenant, "acme");
    assert_eq!(detail["principal_type"], "api_key");
    assert_eq!(detail["caller_tenant"], "acme");
    assert_eq!(detail["key_id"], uuid::Uuid::from_u128(7).to_string());
    assert_eq!(detail["service"], "sample");
}

#[tokio::test]
async fn another_resource_path_is_404_whatever_the_path_parameters_say() {
    let state = harness().await;
    let req = lambda_http::request::from_str(
        &json!({"httpMethod": "GET", "path": "/v1/services/sample/echo", "resource": "/v1/jobs/{id}",
                "pathParameters": {"service": "sample", "proxy": "echo"},
                "requestContext": {"requestId": "r", "stage": "v1", "httpMethod": "GET", "identity": {},
                                   "resourcePath": "/v1/jobs/{id}",
                                   "authorizer": context("services:sample")}})
        .to_string(),
    )
    .unwrap();
    let resp = proxy::handle(&state, req).await.unwrap();
    assert_eq!(resp.status(), 404);
    assert!(
        json_of(&resp)["type"]
            .as_str()
            .unwrap()
            .ends_with("not-found")
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn mutation_is_refused_with_503_when_the_audit_log_cannot_be_written(pool: sqlx::PgPool) {
    let state = state_for(
        start_sample().await,
        Some(portcullis_db::Database::from_pool(pool.clone())),
    );
    sqlx::query("drop table audit_log")
        .execute(&pool)
        .await
        .unwrap();
    let cap = metrics::capture();
    let mut c = call("POST", "items");
    c.body = Some(br#"{"name":"box"}"#.to_vec());
    assert_eq!(c.send(&state).await.status(), 503);
    assert_eq!(
        refusals(&cap, "audit_unavailable"),
        1.0,
        "{:?}",
        cap.lines()
    );
    // Not forwarded: the item store is still empty.
    let listed = json_of(&call("GET", "items").send(&state).await);
    assert_eq!(listed["items"], json!([]));
}

// ---------------------------------------------------------------- CORS

const APP: &str = "https://console.example.com";
const OTHER_APP: &str = "http://localhost:5173";
const EVIL: &str = "https://evil.example.com";

fn cors_policy() -> portcullis_core::CorsPolicy {
    portcullis_core::CorsPolicy::from_env(&portcullis_core::Env::from_pairs([
        ("CORS_ALLOW_ORIGINS", format!("{APP},{OTHER_APP}")),
        (
            "CORS_ALLOW_HEADERS",
            "authorization,content-type,x-api-key".to_owned(),
        ),
        ("CORS_EXPOSE_HEADERS", "x-request-id".to_owned()),
        ("CORS_MAX_AGE_SECS", "600".to_owned()),
    ]))
    .expect("a valid policy")
}

/// `OPTIONS` as API Gateway delivers it: no authorizer runs on it, so the
/// event has no authorizer context.
fn options_event(service: &str, headers: &[(&str, &str)]) -> Request {
    let mvh: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    lambda_http::request::from_str(
        &json!({"httpMethod": "OPTIONS", "path": format!("/v1/services/{service}/items/1"),
                "resource": "/v1/services/{service}/{proxy+}",
                "multiValueHeaders": mvh,
                "pathParameters": {"service": service, "proxy": "items/1"},
                "requestContext": {"requestId": "r", "stage": "v1", "httpMethod": "OPTIONS", "identity": {},
                                   "resourcePath": "/v1/services/{service}/{proxy+}"}})
        .to_string(),
    )
    .unwrap()
}

fn no_access_control(resp: &Response<Body>) -> bool {
    resp.headers()
        .keys()
        .all(|n| !n.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn a_preflight_needs_no_caller_and_allows_the_services_methods_and_headers() {
    let state = harness().await.with_cors(cors_policy());
    for origin in [APP, OTHER_APP] {
        let resp = proxy::handle(
            &state,
            options_event(
                "sample",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "authorization,x-custom"),
                ],
            ),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 204, "{origin}");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        assert_eq!(
            h["access-control-allow-methods"],
            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
        );
        // the policy's headers, then the service's allow_headers
        assert_eq!(
            h["access-control-allow-headers"],
            "authorization, content-type, x-api-key, accept, x-custom"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["vary"], "Origin");
    }
    // another service: its own methods
    let resp = proxy::handle(
        &state,
        options_event(
            "small",
            &[("origin", APP), ("access-control-request-method", "GET")],
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.headers()["access-control-allow-methods"], "GET");
}

#[tokio::test]
async fn a_preflight_from_another_origin_is_403_without_cors_headers() {
    let state = harness().await.with_cors(cors_policy());
    let resp = proxy::handle(
        &state,
        options_event(
            "sample",
            &[("origin", EVIL), ("access-control-request-method", "PUT")],
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["vary"], "Origin");
    assert!(no_access_control(&resp), "{:?}", resp.headers());
    // an unknown service is 404, as for any method
    let resp = proxy::handle(
        &state,
        options_event(
            "nope",
            &[("origin", APP), ("access-control-request-method", "GET")],
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn options_is_answered_by_the_proxy_never_forwarded() {
    let state = harness().await;
    let cap = metrics::capture();
    // even with a caller (the gateway never sends one on OPTIONS)
    let resp = call("OPTIONS", "echo").send(&state).await;
    assert_eq!(resp.status(), 204);
    assert!(cap.lines().is_empty(), "a preflight is no proxied request");
    assert_eq!(
        resp.headers()["allow"],
        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    );
    assert!(
        bytes(&resp).is_empty(),
        "the service's echo must not come back"
    );
}

#[tokio::test]
async fn answers_and_errors_carry_the_headers_for_an_allowed_origin_only() {
    let state = harness().await.with_cors(cors_policy());
    let mut ok = call("GET", "echo");
    ok.headers = vec![("origin", APP)];
    let resp = ok.send(&state).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], APP);
    assert_eq!(
        resp.headers()["access-control-expose-headers"],
        "x-request-id"
    );
    assert_eq!(resp.headers()["vary"], "Origin");

    // problem+json from the proxy: 403 (scope), 405, 404 (unknown service)
    for (method, service, scopes, status) in [
        ("GET", "sample", "services:small", 403),
        ("POST", "small", "services:small", 405),
        ("GET", "nope", "services:sample", 404),
    ] {
        for (origin, allowed) in [(OTHER_APP, true), (EVIL, false)] {
            let mut c = call(method, "echo");
            c.service = service;
            c.scopes = scopes;
            c.headers = vec![("origin", origin)];
            let resp = c.send(&state).await;
            assert_eq!(resp.status(), status, "{method} {service} {origin}");
            assert_eq!(resp.headers()["vary"], "Origin");
            if allowed {
                assert_eq!(resp.headers()["access-control-allow-origin"], origin);
            } else {
                assert!(no_access_control(&resp), "{:?}", resp.headers());
            }
        }
    }
}

/// A service that answers with CORS headers of its own.
async fn start_cors_speaking_service() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async {
        (
            [
                ("access-control-allow-origin", "*"),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", "x-internal-secret"),
                ("access-control-allow-methods", "GET, POST, DELETE"),
                ("vary", "Accept-Encoding"),
                ("content-type", "application/json"),
            ],
            "{}",
        )
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn the_services_own_cors_headers_are_replaced_by_the_policy() {
    let state = state_for(start_cors_speaking_service().await, None).with_cors(cors_policy());
    let mut c = call("GET", "anything");
    c.headers = vec![("origin", APP)];
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert_eq!(h["access-control-expose-headers"], "x-request-id");
    assert!(!h.contains_key("access-control-allow-credentials"), "{h:?}");
    assert!(!h.contains_key("access-control-allow-methods"), "{h:?}");
    assert_eq!(h["vary"], "Accept-Encoding, Origin");

    c.headers = vec![("origin", EVIL)];
    let resp = c.send(&state).await;
    assert_eq!(resp.status(), 200);
    assert!(no_access_control(&resp), "{:?}", resp.headers());
}

/// A request on a declared route's own resource (`/v1/services/sample<template>`),
/// as API Gateway sends it: that path's parameters, and the authorizer
/// context only when `scopes` is given (a public route runs no authorizer).
fn declared(
    method: &str,
    template: &str,
    path: &str,
    params: Value,
    scopes: Option<&str>,
) -> Request {
    let resource = format!("/v1/services/sample{template}");
    let mut ctx = json!({"requestId": "r", "stage": "v1", "httpMethod": method, "identity": {},
                         "resourcePath": resource});
    if let Some(s) = scopes {
        ctx["authorizer"] = context(s);
    }
    let body = (method == "PUT").then(|| B64.encode(b"{\"name\":\"x\"}"));
    lambda_http::request::from_str(
        &json!({"httpMethod": method, "path": format!("/v1/services/sample{path}"), "resource": resource,
                "pathParameters": params, "requestContext": ctx,
                "body": body, "isBase64Encoded": body.is_some()})
        .to_string(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_public_route_is_forwarded_signed_as_anonymous_without_a_credential() {
    let state = harness().await;
    let resp = proxy::handle(
        &state,
        declared(
            "GET",
            "/echo/{rest+}",
            "/echo/a/b",
            json!({"rest": "a/b"}),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    let echo = json_of(&resp);
    // The sample verified the signature: the identity is the anonymous one.
    assert_eq!(echo["path"], "/base/echo/a/b");
    assert_eq!(echo["identity"]["principal"], "anonymous");
    assert_eq!(echo["identity"]["principal_type"], "anonymous");
    assert_eq!(echo["identity"]["tenant"], proxy::ANONYMOUS_TENANT);
    assert!(
        proxy::ANONYMOUS_TENANT
            .parse::<portcullis_auth::Tenant>()
            .is_err(),
        "the anonymous identity's tenant is never a tenant's name"
    );
    assert_eq!(echo["identity"]["scopes"], json!([]));
    let list = proxy::handle(&state, declared("GET", "/items", "/items", json!({}), None))
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "{:?}", json_of(&list));
    // The path's parameters are checked as {proxy+} is.
    let bad = declared(
        "GET",
        "/echo/{rest+}",
        "/echo/../x",
        json!({"rest": "../x"}),
        None,
    );
    assert_eq!(proxy::handle(&state, bad).await.unwrap().status(), 400);
}

#[tokio::test]
async fn a_routes_own_scope_is_checked_not_the_services() {
    let state = harness().await;
    let put = |scopes: Option<&'static str>| {
        declared("PUT", "/items/{id}", "/items/7", json!({"id": "7"}), scopes)
    };
    // The service's scope is not the write route's.
    let resp = proxy::handle(&state, put(Some("services:sample")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert!(
        json_of(&resp)["detail"]
            .as_str()
            .unwrap()
            .contains("services:sample.write")
    );
    assert_eq!(
        proxy::handle(&state, put(None)).await.unwrap().status(),
        401
    );
    // With it the request reaches the service (which has no item 7).
    let resp = proxy::handle(&state, put(Some("services:sample.write")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(json_of(&resp)["detail"], "no such item");
    // A method no route declares on that path needs the service's scope.
    let get = |scopes| declared("GET", "/items/{id}", "/items/7", json!({"id": "7"}), scopes);
    assert_eq!(
        proxy::handle(&state, get(None)).await.unwrap().status(),
        401
    );
    let resp = proxy::handle(&state, get(Some("services:sample.write")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = proxy::handle(&state, get(Some("services:sample")))
        .await
        .unwrap();
    assert_eq!(json_of(&resp)["detail"], "no such item");
    // A path no route declares is no resource of the proxy.
    let other = declared("GET", "/other", "/other", json!({}), None);
    assert_eq!(proxy::handle(&state, other).await.unwrap().status(), 404);
}
