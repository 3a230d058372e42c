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
use portcullis_identity::{self as identity, VerifiedIdentity};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest body the service accepts (above the proxy's own limits).
const MAX_BODY: usize = 12 * 1024 * 1024;
/// Largest download it serves.
const MAX_DOWNLOAD: usize = 64 * 1024 * 1024;
/// Longest `/slow` delay.
const MAX_SLOW_MS: u64 = 60_000;

/// The service's identity configuration (keys, `BASE_PATH`, skew): the one
/// every private service reads, from `portcullis_identity::service`.
pub use identity::service::ServiceConfig as Config;

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
    let p = |route: &str| config.path(route);
    let verified = Router::new()
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
        .route(&p("/slow"), get(slow));
    let health_paths = config.health_paths();
    let state = AppState {
        config: Arc::new(config),
        store: Arc::default(),
    };
    let app = verified
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_identity,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    (health_paths.iter()).fold(app, |app, path| app.route(path, get(health)))
}

/// Serve the service on `listener` until `shutdown` resolves (the proxy's
/// tests and benchmarks and the end-to-end suite start it so).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    identity::service::serve(listener, router(config), shutdown).await
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
    let target = identity::service::request_target(&parts.uri).to_owned();
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
    match state
        .config
        .verify(&parts.headers, &parts.method, &target, &body)
    {
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
    use portcullis_identity::SigningKey;
    use tower::ServiceExt;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32]).unwrap()
    }

    use portcullis_identity::service::unix_now as now;

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
    fn form_decoding_handles_plus_percent_and_garbage() {
        assert_eq!(decode("a+b%21"), "a b!");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
