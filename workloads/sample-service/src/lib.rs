//! A small private HTTP service that only trusts the Portcullis proxy.
//!
//! `GET /health` answers without identity (the ALB health check). Every other
//! route first verifies the signed identity headers with
//! [`portcullis_identity::verify`] over the body it received, with the
//! service's own key, and answers 401 to unsigned, tampered or stale requests,
//! to a body other than the signed one and to another service's signature. Routes (under `BASE_PATH`, e.g. `/sample` behind the ALB):
//!
//! - `ANY /echo[/...]`: what arrived (method, path, query, headers, body, identity)
//! - `GET|POST /items`, `GET|PUT|DELETE /items/{id}`: an in-memory item store
//! - `GET /download?bytes=N`: N bytes of binary
//! - `GET /cookies`: several `Set-Cookie` headers; `GET /redirect`: a 302
//! - `GET /headers`: a multi-value response header; `GET /status/{code}`
//! - `GET /slow?ms=N`: answers after N milliseconds

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use base64::Engine;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use portcullis_identity::{self as identity, SigningKey, VerifiedIdentity};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest body the service accepts (above the proxy's own limits).
const MAX_BODY: usize = 12 * 1024 * 1024;
/// Largest download it serves.
const MAX_DOWNLOAD: usize = 64 * 1024 * 1024;
/// Longest `/slow` delay.
const MAX_SLOW_MS: u64 = 60_000;

/// A start-up configuration failure: the variable at fault and what it
/// should hold (values are never echoed: some are secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: environment variable {var} {problem}; expected {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
    pub expected: &'static str,
}

impl ConfigError {
    fn invalid(var: &'static str, expected: &'static str, reason: impl std::fmt::Display) -> Self {
        ConfigError {
            var,
            problem: format!("is invalid ({reason})"),
            expected,
        }
    }
}

/// Where variables come from: the process environment, or any lookup in
/// tests. A blank value counts as unset.
pub struct Vars<F>(pub F);

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Vars(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    /// `var` parsed, or `default` when unset.
    pub fn parse_or<T: std::str::FromStr>(
        &self,
        var: &'static str,
        expected: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| ConfigError::invalid(var, expected, e)),
        }
    }
}

/// Service configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Verification keys: current first, then the previous one during rotation.
    pub keys: Vec<SigningKey>,
    /// Path prefix the service is mounted under (`/sample` behind the ALB, empty locally).
    pub base_path: String,
    pub max_skew: Duration,
}

impl Config {
    pub fn new(keys: Vec<SigningKey>, base_path: &str) -> Self {
        Config {
            keys,
            base_path: base_path.trim_end_matches('/').to_owned(),
            max_skew: identity::DEFAULT_MAX_SKEW,
        }
    }

    /// `IDENTITY_SECRET` (required), `IDENTITY_SECRET_PREVIOUS`, `BASE_PATH`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Vars<F>) -> Result<Self, ConfigError> {
        const EXPECTED: &str = "base64 of at least 32 bytes (the proxy's identity signing key)";
        let current = env.get("IDENTITY_SECRET").ok_or(ConfigError {
            var: "IDENTITY_SECRET",
            problem: "is not set".to_owned(),
            expected: EXPECTED,
        })?;
        let mut keys = vec![
            SigningKey::from_base64(&current)
                .map_err(|e| ConfigError::invalid("IDENTITY_SECRET", EXPECTED, e))?,
        ];
        if let Some(prev) = env.get("IDENTITY_SECRET_PREVIOUS") {
            keys.push(
                SigningKey::from_base64(&prev)
                    .map_err(|e| ConfigError::invalid("IDENTITY_SECRET_PREVIOUS", EXPECTED, e))?,
            );
        }
        let base = env.get("BASE_PATH").unwrap_or_default();
        if !(base.is_empty() || base.starts_with('/')) {
            return Err(ConfigError::invalid(
                "BASE_PATH",
                "a path such as /sample, or empty",
                "it does not start with /",
            ));
        }
        Ok(Config::new(keys, &base))
    }
}

#[derive(Default)]
struct Store {
    next: u64,
    items: BTreeMap<u64, Value>,
}

#[derive(Clone)]
struct AppState {
    config: Arc<Config>,
    store: Arc<Mutex<Store>>,
}

/// The whole service.
pub fn router(config: Config) -> Router {
    let base = config.base_path.clone();
    let state = AppState {
        config: Arc::new(config),
        store: Arc::default(),
    };
    // Routes carry the prefix themselves (no `nest`), so handlers and the
    // identity check see the path exactly as it was sent.
    let p = |path: &str| format!("{base}{path}");
    let app = Router::new()
        .route(&p("/echo"), any(echo))
        .route(&p("/echo/{*rest}"), any(echo))
        .route(&p("/items"), get(list_items).post(create_item))
        .route(
            &p("/items/{id}"),
            get(get_item).put(put_item).delete(delete_item),
        )
        .route(&p("/download"), get(download))
        .route(&p("/cookies"), get(cookies))
        .route(&p("/redirect"), get(redirect))
        .route(&p("/headers"), get(multi_headers))
        .route(&p("/status/{code}"), get(status))
        .route(&p("/slow"), get(slow))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_identity,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    let health = Router::new().route("/health", get(health));
    let health = if base.is_empty() {
        health
    } else {
        health.route(&p("/health"), get(self::health))
    };
    app.merge(health)
}

/// Serve the service on `listener` until `shutdown` resolves (tests, the
/// local platform and `main` share it).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

fn unauthorized(detail: String) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        Json(json!({ "type": "about:blank", "title": "Unauthorized", "status": 401, "detail": detail })).0.to_string(),
    )
        .into_response()
}

/// Verify the identity headers against the request target exactly as received
/// (the full path, including `BASE_PATH`, and the raw query) and the body
/// exactly as received (its SHA-256 is signed), read here once (at most
/// `MAX_BODY`) and handed on to the route.
async fn require_identity(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body cannot be read (at most {MAX_BODY} bytes): {e}"),
            )
                .into_response();
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    match identity::verify(
        &parts.headers,
        &parts.method,
        &target,
        &body,
        now,
        &state.config.keys,
        state.config.max_skew,
    ) {
        Ok(id) => {
            parts.extensions.insert(id);
            next.run(Request::from_parts(parts, axum::body::Body::from(body)))
                .await
        }
        Err(e) => {
            tracing::warn!(method = %parts.method, target = %target, error = %e, "rejected unverified request");
            unauthorized(e.to_string())
        }
    }
}

async fn echo(Extension(id): Extension<VerifiedIdentity>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let uri = parts.uri.clone();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let query_pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect()
        })
        .unwrap_or_default();
    Json(json!({
        "method": parts.method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "query_pairs": query_pairs,
        "headers": headers,
        "body_len": body.len(),
        "body_base64": base64::engine::general_purpose::STANDARD.encode(&body),
        "identity": id,
    }))
    .into_response()
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn list_items(
    State(state): State<AppState>,
    Extension(id): Extension<VerifiedIdentity>,
) -> Response {
    let store = lock(&state);
    let items: Vec<Value> = store
        .items
        .iter()
        .filter(|(_, v)| v["tenant"] == id.tenant.as_str())
        .map(|(k, v)| json!({ "id": k, "item": v["item"] }))
        .collect();
    Json(json!({ "items": items })).into_response()
}

fn lock(state: &AppState) -> std::sync::MutexGuard<'_, Store> {
    // A poisoned lock only means a handler panicked mid-update; the map is still usable.
    state.store.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_json(body: &Bytes) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "title": "Bad Request", "detail": format!("the body is not JSON: {e}") })),
        )
            .into_response()
            .into()
    })
}

async fn create_item(
    State(state): State<AppState>,
    Extension(id): Extension<VerifiedIdentity>,
    body: Bytes,
) -> Response {
    let item = match parse_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut store = lock(&state);
    store.next += 1;
    let key = store.next;
    store
        .items
        .insert(key, json!({ "tenant": id.tenant, "item": item }));
    let location = format!("{}/items/{key}", state.config.base_path);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json!({ "id": key, "item": item, "created_by": id.principal })),
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "title": "Not Found", "detail": "no such item" })),
    )
        .into_response()
}

async fn get_item(
    State(state): State<AppState>,
    Extension(id): Extension<VerifiedIdentity>,
    Path(key): Path<u64>,
) -> Response {
    let store = lock(&state);
    match store.items.get(&key) {
        Some(v) if v["tenant"] == id.tenant.as_str() => {
            Json(json!({ "id": key, "item": v["item"] })).into_response()
        }
        _ => not_found(),
    }
}

async fn put_item(
    State(state): State<AppState>,
    Extension(id): Extension<VerifiedIdentity>,
    Path(key): Path<u64>,
    body: Bytes,
) -> Response {
    let item = match parse_json(&body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut store = lock(&state);
    match store.items.get_mut(&key) {
        Some(v) if v["tenant"] == id.tenant.as_str() => {
            v["item"] = item.clone();
            Json(json!({ "id": key, "item": item })).into_response()
        }
        _ => not_found(),
    }
}

async fn delete_item(
    State(state): State<AppState>,
    Extension(id): Extension<VerifiedIdentity>,
    Path(key): Path<u64>,
) -> Response {
    let mut store = lock(&state);
    match store.items.get(&key) {
        Some(v) if v["tenant"] == id.tenant.as_str() => {
            store.items.remove(&key);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => not_found(),
    }
}

#[derive(Deserialize)]
struct DownloadQuery {
    bytes: usize,
}

/// `bytes` bytes of a repeating 0..=250 pattern (every byte value is not
/// valid UTF-8 in sequence, so it is really binary).
async fn download(Query(q): Query<DownloadQuery>) -> Response {
    if q.bytes > MAX_DOWNLOAD {
        return (
            StatusCode::BAD_REQUEST,
            format!("bytes must be at most {MAX_DOWNLOAD}"),
        )
            .into_response();
    }
    let body: Vec<u8> = (0..q.bytes).map(|i| (i % 251) as u8 ^ 0x80).collect();
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

async fn cookies() -> Response {
    let mut headers = HeaderMap::new();
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static("a=1; Path=/; HttpOnly"),
    );
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static("b=2; Path=/; Secure"),
    );
    headers.append(
        header::SET_COOKIE,
        HeaderValue::from_static("c=3; Max-Age=60"),
    );
    (headers, Json(json!({ "cookies": 3 }))).into_response()
}

async fn redirect(State(state): State<AppState>) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{}/echo", state.config.base_path))],
    )
        .into_response()
}

async fn multi_headers() -> Response {
    let mut headers = HeaderMap::new();
    headers.append("x-multi", HeaderValue::from_static("one"));
    headers.append("x-multi", HeaderValue::from_static("two"));
    (headers, "ok").into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(s) => (s, format!("status {code}")).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "not a status code").into_response(),
    }
}

#[derive(Deserialize)]
struct SlowQuery {
    ms: u64,
}

async fn slow(method: Method, Query(q): Query<SlowQuery>) -> Response {
    tokio::time::sleep(Duration::from_millis(q.ms.min(MAX_SLOW_MS))).await;
    format!("{method} after {} ms", q.ms).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32]).unwrap()
    }

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn alice() -> identity::Identity {
        identity::Identity {
            principal: "alice".into(),
            principal_type: "user".into(),
            tenant: "acme".into(),
            scopes: vec!["services:sample".into()],
        }
    }

    fn request(method: Method, target: &str, ts: i64, k: &SigningKey) -> Request {
        request_with(method, target, b"", ts, k)
    }

    /// A request carrying `body`, signed over it.
    fn request_with(
        method: Method,
        target: &str,
        body: &'static [u8],
        ts: i64,
        k: &SigningKey,
    ) -> Request {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(target)
            .body(axum::body::Body::from(body))
            .unwrap();
        *req.headers_mut() = identity::sign(&alice(), &method, target, body, ts, k).unwrap();
        req
    }

    async fn call(app: Router, req: Request) -> (StatusCode, Value) {
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn health_needs_no_identity() {
        let app = router(Config::new(vec![key()], "/sample"));
        for path in ["/health", "/sample/health"] {
            let req = Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .unwrap();
            assert_eq!(call(app.clone(), req).await.0, StatusCode::OK, "{path}");
        }
    }

    #[tokio::test]
    async fn signed_request_under_base_path_is_echoed_with_its_identity() {
        let app = router(Config::new(vec![key()], "/sample"));
        let (status, body) = call(
            app,
            request(Method::GET, "/sample/echo?a=1&a=2", now(), &key()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["identity"]["tenant"], "acme");
        assert_eq!(body["path"], "/sample/echo");
        assert_eq!(body["query_pairs"], json!([["a", "1"], ["a", "2"]]));
    }

    #[tokio::test]
    async fn unsigned_tampered_and_stale_requests_get_401() {
        let app = router(Config::new(vec![key()], ""));
        let unsigned = Request::builder()
            .uri("/echo")
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(
            call(app.clone(), unsigned).await.0,
            StatusCode::UNAUTHORIZED
        );
        let mut tampered = request(Method::GET, "/echo", now(), &key());
        tampered
            .headers_mut()
            .insert(identity::TENANT, HeaderValue::from_static("evil"));
        assert_eq!(
            call(app.clone(), tampered).await.0,
            StatusCode::UNAUTHORIZED
        );
        let stale = request(Method::GET, "/echo", now() - 120, &key());
        let (status, body) = call(app.clone(), stale).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("away from now"),
            "{body}"
        );
        let wrong_key = request(
            Method::GET,
            "/echo",
            now(),
            &SigningKey::from_bytes(&[8; 32]).unwrap(),
        );
        assert_eq!(call(app, wrong_key).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_body_other_than_the_signed_one_gets_401_and_the_signed_one_reaches_the_route() {
        let app = router(Config::new(vec![key()], ""));
        let mut swapped = request_with(Method::POST, "/items", br#"{"name":"box"}"#, now(), &key());
        *swapped.body_mut() = axum::body::Body::from(r#"{"name":"stolen"}"#);
        let (status, body) = call(app.clone(), swapped).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("body does not match"),
            "{body}"
        );
        let (status, body) = call(
            app.clone(),
            request_with(Method::POST, "/echo", b"\x00\xffbytes", now(), &key()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["body_len"], 7);
        assert_eq!(
            call(app, request(Method::GET, "/items", now(), &key()))
                .await
                .0,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn a_request_signed_with_another_services_key_gets_401() {
        // The proxy signs with each service's own key: what it signed for
        // another service (or what that service forges) is refused here.
        let app = router(Config::new(vec![key()], ""));
        let other_service = SigningKey::from_bytes(&[9; 32]).unwrap();
        let (status, body) = call(app, request(Method::GET, "/echo", now(), &other_service)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["detail"].as_str().unwrap().contains("does not match"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn items_are_created_read_updated_and_deleted_per_tenant() {
        let app = router(Config::new(vec![key()], ""));
        let req = request_with(Method::POST, "/items", br#"{"name":"box"}"#, now(), &key());
        let (status, body) = call(app.clone(), req).await;
        assert_eq!(status, StatusCode::CREATED);
        let id = body["id"].as_u64().unwrap();
        let (status, body) = call(
            app.clone(),
            request(Method::GET, &format!("/items/{id}"), now(), &key()),
        )
        .await;
        assert_eq!(
            (status, body["item"]["name"].as_str()),
            (StatusCode::OK, Some("box"))
        );
        let req = request_with(
            Method::PUT,
            &format!("/items/{id}"),
            br#"{"name":"crate"}"#,
            now(),
            &key(),
        );
        assert_eq!(call(app.clone(), req).await.1["item"]["name"], "crate");
        let (status, _) = call(
            app.clone(),
            request(Method::DELETE, &format!("/items/{id}"), now(), &key()),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(
            app,
            request(Method::GET, &format!("/items/{id}"), now(), &key()),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn config_requires_a_real_key() {
        fn vars(pairs: &[(&str, &str)]) -> Vars<impl Fn(&str) -> Option<String> + use<>> {
            let map: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Vars(move |name: &str| map.get(name).cloned())
        }
        let e = Config::from_env(&vars(&[("X", "y")])).unwrap_err();
        assert_eq!(e.var, "IDENTITY_SECRET");
        assert!(e.to_string().contains("is not set"), "{e}");
        let e = Config::from_env(&vars(&[("IDENTITY_SECRET", "c2hvcnQ=")])).unwrap_err();
        assert!(e.to_string().contains("IDENTITY_SECRET is invalid"), "{e}");
        assert!(
            !e.to_string().contains("c2hvcnQ="),
            "the value is never echoed: {e}"
        );
        let key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";
        let ok = vars(&[("IDENTITY_SECRET", key), ("BASE_PATH", "/sample/")]);
        assert_eq!(Config::from_env(&ok).unwrap().base_path, "/sample");
        let e = Config::from_env(&vars(&[("IDENTITY_SECRET", key), ("BASE_PATH", "sample")]))
            .unwrap_err();
        assert_eq!(e.var, "BASE_PATH");
        let e = Config::from_env(&vars(&[
            ("IDENTITY_SECRET", key),
            ("IDENTITY_SECRET_PREVIOUS", "x"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "IDENTITY_SECRET_PREVIOUS");
    }

    #[test]
    fn numbers_parse_with_a_default_and_a_blank_is_unset() {
        let vars = Vars(|name: &str| match name {
            "PORT" => Some("9000".to_owned()),
            "BLANK" => Some("  ".to_owned()),
            "BAD" => Some("eighty".to_owned()),
            _ => None,
        });
        assert_eq!(vars.parse_or("PORT", "a TCP port", 8080u16), Ok(9000));
        assert_eq!(vars.parse_or("BLANK", "a TCP port", 8080u16), Ok(8080));
        assert_eq!(vars.parse_or("UNSET", "a TCP port", 8080u16), Ok(8080));
        let e = vars.parse_or("BAD", "a TCP port", 8080u16).unwrap_err();
        assert_eq!((e.var, e.expected), ("BAD", "a TCP port"));
    }

    #[test]
    fn form_decoding_handles_plus_percent_and_garbage() {
        assert_eq!(decode("a+b%21"), "a b!");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
