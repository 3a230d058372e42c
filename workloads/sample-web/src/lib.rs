//! A small web application served through API Gateway's VPC link to the
//! internal ALB (platform.yaml `services.web`, integration `vpc_link`).
//!
//! Every request's identity headers are verified with
//! [`portcullis_identity::verify`] and this service's own key; a request
//! whose identity does not verify is anonymous. Routes, under `BASE_PATH`
//! (`/v1/web` behind the ALB: API Gateway puts the stage, `v1`, before the
//! `path_prefix` in a private integration's path):
//!
//! - `GET /home`: the public page (declared public in the registry: API
//!   Gateway runs no authorizer and overwrites the identity headers with
//!   static anonymous values)
//! - `GET /static/<file>`: the stylesheet, script and icon, compiled in
//! - `GET /notes`: the caller's tenant's notes and a form (401 when anonymous)
//! - `POST /notes`: an `application/x-www-form-urlencoded` form with `text`;
//!   303 See Other back to `notes` (401 when anonymous)
//! - `GET /download?bytes=N`: N bytes (at most [`MAX_DOWNLOAD`]), streamed
//!   (401 when anonymous); through a BUFFERED integration API Gateway caps
//!   it at 10 MB
//! - `GET /stream/download?bytes=N`: N bytes (at most [`MAX_STREAM_DOWNLOAD`],
//!   100 MB), generated chunk by chunk and sent chunked (no `Content-Length`),
//!   never held whole (401 when anonymous); the registry's `/stream/{proxy+}`
//!   route has `response_transfer_mode: STREAM`
//! - `GET /stream/events?count=N`: N server-sent events (`text/event-stream`,
//!   at most [`MAX_EVENTS`]), one every [`EVENT_INTERVAL`] (401 when anonymous)
//! - `GET /headers` (scoped) and `GET /public/headers` (public): what the
//!   service received, as JSON `{"headers": [lower-case names], "credentials":
//!   {"authorization" | "x-api-key" | "cookie": the value received, for those
//!   present}, "principal": "<verified principal or anonymous>", "path":
//!   "<path received>"}`: the end-to-end suite checks that no caller
//!   credential arrives (API Gateway overwrites the three with the static
//!   `portcullis-removed`; the values are the caller's own request echoed
//!   back to it, so they show what crossed the VPC link)
//! - `GET /health`: the ALB health check
//!
//! It sets no cookie. Behind the ALB it runs under
//! `portcullis_identity::service::run`, whose guard refuses paths the
//! proxy's rule refuses (400) and drops `Set-Cookie` per `PORTCULLIS_COOKIES`.
//!
//! Links and redirects are relative (`static/style.css`, `notes`), so the
//! pages work both at `/web/home` and at `/v1/services/web/home` through the
//! gateway.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, FromRequestParts, Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use portcullis_identity::{self as identity, VerifiedIdentity};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Largest request body read (the note form is far smaller).
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// Notes kept per tenant; the oldest is dropped beyond it.
pub const MAX_NOTES_PER_TENANT: usize = 50;
/// Tenants with notes; a new tenant's first note is refused beyond it.
pub const MAX_TENANTS: usize = 1000;
/// Largest download served: more than a Lambda response can carry, which is
/// what this service demonstrates.
pub const MAX_DOWNLOAD: u64 = 20_000_000;
/// Largest streamed download (`/stream/download`): 100 MB, far past API
/// Gateway's 10 MB buffered response payload.
pub const MAX_STREAM_DOWNLOAD: u64 = 100_000_000;
/// Most server-sent events in one answer: 10 minutes at one per
/// [`EVENT_INTERVAL`], inside a STREAM integration's 15-minute maximum.
pub const MAX_EVENTS: u64 = 6_000;
/// Time between two server-sent events.
pub const EVENT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// Size of each streamed download chunk.
const CHUNK: u64 = 64 * 1024;

/// The service's identity configuration (keys, `BASE_PATH`, skew): the one
/// every private service reads, from `portcullis_identity::service`.
pub use identity::service::ServiceConfig as Config;

/// One note of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    /// The principal who wrote it.
    pub by: String,
}

/// Notes by tenant, in memory and bounded.
#[derive(Debug, Default)]
pub struct Notes(BTreeMap<String, VecDeque<Note>>);

impl Notes {
    /// Add `note` to `tenant`'s notes, dropping its oldest beyond
    /// [`MAX_NOTES_PER_TENANT`]; refused when a new tenant would pass
    /// [`MAX_TENANTS`].
    pub fn add(&mut self, tenant: &str, note: Note) -> Result<(), String> {
        if !self.0.contains_key(tenant) && self.0.len() >= MAX_TENANTS {
            return Err(format!(
                "the note store is full ({MAX_TENANTS} tenants have notes); try again after a restart"
            ));
        }
        let list = self.0.entry(tenant.to_owned()).or_default();
        list.push_back(note);
        while list.len() > MAX_NOTES_PER_TENANT {
            list.pop_front();
        }
        Ok(())
    }

    /// `tenant`'s notes, oldest first.
    pub fn of(&self, tenant: &str) -> Vec<Note> {
        self.0
            .get(tenant)
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Who the request is from: a verified caller, or anonymous (with the reason
/// its identity did not verify).
#[derive(Debug, Clone)]
pub enum Caller {
    Verified(VerifiedIdentity),
    Anonymous(String),
}

#[derive(Clone)]
struct AppState {
    config: Arc<Config>,
    notes: Arc<Mutex<Notes>>,
}

impl AppState {
    fn notes(&self) -> std::sync::MutexGuard<'_, Notes> {
        // A poisoned lock only means a handler panicked mid-update; the map is still usable.
        self.notes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The whole application.
pub fn router(config: Config) -> Router {
    let p = |route: &str| config.path(route);
    let pages = Router::new()
        .route(&p("/home"), get(home))
        .route(&p("/static/{*file}"), get(asset))
        .route(&p("/notes"), get(notes_page).post(add_note))
        .route(&p("/download"), get(download))
        .route(&p("/stream/download"), get(stream_download))
        .route(&p("/stream/events"), get(stream_events))
        .route(&p("/headers"), get(received))
        .route(&p("/public/headers"), get(received));
    let health =
        (config.health_paths().iter()).fold(Router::new(), |r, path| r.route(path, get(health)));
    let state = AppState {
        config: Arc::new(config),
        notes: Arc::default(),
    };
    pages
        .layer(middleware::from_fn_with_state(state.clone(), identify))
        .with_state(state)
        .merge(health)
        .fallback(not_found)
}

async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "no such page".to_owned())
}

fn text(status: StatusCode, message: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        message,
    )
        .into_response()
}

fn unauthorized(detail: &str) -> Response {
    let body = format!(
        r#"{{"type":"about:blank","title":"Unauthorized","status":401,"detail":"{}"}}"#,
        json_escape(&format!(
            "this page needs a verified caller: call it through the platform with an API key or a bearer token ({detail})"
        ))
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body,
    )
        .into_response()
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Read the body (at most [`MAX_FORM_BYTES`]), verify the identity headers
/// over the request target as received (path with `BASE_PATH`, and query)
/// and that body, and hand the route a [`Caller`] and the body.
async fn identify(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let target = identity::service::request_target(&parts.uri).to_owned();
    let body = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the request body is over {MAX_FORM_BYTES} bytes, the most this application reads"
                ),
            );
        }
    };
    let caller = match state
        .config
        .verify(&parts.headers, &parts.method, &target, &body)
    {
        // A signed anonymous identity (a public route through the proxy)
        // names no tenant: anonymous here too.
        Ok(id) if id.principal_type == "anonymous" => {
            Caller::Anonymous("the platform signed an anonymous identity".to_owned())
        }
        Ok(id) => Caller::Verified(id),
        Err(e) => Caller::Anonymous(e.to_string()),
    };
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// A handler argument: the verified caller's identity. A route taking it
/// answers 401 (with why) to an anonymous request before the handler runs.
struct Verified(VerifiedIdentity);

impl<S: Send + Sync> FromRequestParts<S> for Verified {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        match parts.extensions.get::<Caller>() {
            Some(Caller::Verified(id)) => Ok(Verified(id.clone())),
            Some(Caller::Anonymous(why)) => {
                tracing::warn!(method = %parts.method, path = parts.uri.path(), reason = %why, "refused an unverified request");
                Err(unauthorized(why))
            }
            // Only a route outside `identify` could get here.
            None => Err(unauthorized("the identity was not checked")),
        }
    }
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn who(caller: &Caller) -> String {
    match caller {
        Caller::Verified(id) => format!(
            r#"Signed in as <b class="principal">{}</b> ({}) of tenant <b class="tenant">{}</b>"#,
            escape(&id.principal),
            escape(&id.principal_type),
            escape(&id.tenant)
        ),
        Caller::Anonymous(_) => r#"<span class="anonymous">Anonymous visitor</span>"#.to_owned(),
    }
}

/// A whole HTML page; `no-store`, as it shows who is asking.
fn page(status: StatusCode, title: &str, caller: &Caller, content: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Portcullis sample web</title>
<link rel="stylesheet" href="static/style.css">
<link rel="icon" href="static/favicon.svg" type="image/svg+xml">
<script src="static/app.js" defer></script>
</head>
<body>
<header><img src="static/favicon.svg" alt=""><strong>Portcullis sample web</strong>
<nav><a href="home">Home</a><a href="notes">Notes</a></nav></header>
<main>
<p class="who">{who}</p>
{content}
</main>
</body>
</html>
"#,
        title = escape(title),
        who = who(caller),
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        html,
    )
        .into_response()
}

async fn home(Extension(caller): Extension<Caller>) -> Response {
    let content = format!(
        r#"<h1>Welcome</h1>
<p>This page is public: API Gateway serves it through the VPC link without a credential.
The <a href="notes">notes</a> need one (an API key or a Cognito token with scope services:web).</p>
<p>A <a href="download?bytes={ten_mb}">10 MB download</a> comes straight from this service,
larger than a Lambda response can carry.</p>"#,
        ten_mb = 10_000_000
    );
    page(StatusCode::OK, "Home", &caller, &content)
}

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
}

fn asset_named(file: &str) -> Option<Asset> {
    let (body, content_type): (&'static [u8], _) = match file {
        "style.css" => (
            include_bytes!("../static/style.css"),
            "text/css; charset=utf-8",
        ),
        "app.js" => (
            include_bytes!("../static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "favicon.svg" => (include_bytes!("../static/favicon.svg"), "image/svg+xml"),
        _ => return None,
    };
    Some(Asset { body, content_type })
}

/// The strong validator of an asset: the first 16 bytes of its SHA-256.
fn etag(body: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// A compiled-in asset: its content type, an hour of caching, an `ETag`, and
/// 304 when `If-None-Match` names it.
async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = asset_named(&file) else {
        return text(StatusCode::NOT_FOUND, format!("no static file {file:?}"));
    };
    let tag = etag(asset.body);
    let cached = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == tag || t.trim() == "*");
    let common = [
        (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
        (header::ETAG, tag),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    if cached {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body,
    )
        .into_response()
}

fn notes_content(tenant: &str, notes: &[Note], error: Option<&str>) -> String {
    let items: String = notes
        .iter()
        .rev()
        .map(|n| {
            format!(
                "<li>{}<br><small>by {}</small></li>\n",
                escape(&n.text),
                escape(&n.by)
            )
        })
        .collect();
    let list = if items.is_empty() {
        r#"<p class="empty">No notes yet.</p>"#.to_owned()
    } else {
        format!("<ul class=\"notes\">\n{items}</ul>")
    };
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    format!(
        r#"<h1>Notes of {tenant}</h1>
{error}
<form method="post" action="notes">
<label for="text">New note</label>
<textarea id="text" name="text" maxlength="{MAX_NOTE_CHARS}" required></textarea>
<p><button type="submit">Add note</button> <small><span id="left">{MAX_NOTE_CHARS}</span> characters left</small></p>
</form>
{list}"#,
        tenant = escape(tenant),
    )
}

async fn notes_page(State(state): State<AppState>, Verified(id): Verified) -> Response {
    let caller = Caller::Verified(id.clone());
    let notes = state.notes().of(&id.tenant);
    let mut content = notes_content(&id.tenant, &notes, None);
    if !id.body_signed {
        // Through the VPC link the authorizer signed the identity without
        // seeing the body (UNSIGNED-PAYLOAD): say what that leaves unsigned.
        content.push_str(
            r#"<p class="who">Your identity was signed over the method and path; the form body and query string are not signed (API Gateway's authorizer never sees them).</p>"#,
        );
    }
    page(StatusCode::OK, "Notes", &caller, &content)
}

/// The `text` field of a form body, validated.
pub fn note_text(headers: &HeaderMap, body: &[u8]) -> Result<String, (StatusCode, String)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a note is posted as a form: Content-Type application/x-www-form-urlencoded, not {:?}",
                content_type
            ),
        ));
    }
    let mut texts = url::form_urlencoded::parse(body).filter(|(k, _)| k == "text");
    let text = match (texts.next(), texts.next()) {
        (Some((_, t)), None) => t.into_owned(),
        (None, _) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "the form has no field text (the note)".to_owned(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err((
                StatusCode::BAD_REQUEST,
                "the form has the field text more than once".to_owned(),
            ));
        }
    };
    let text = text.trim().replace("\r\n", "\n");
    if text.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "the note is empty".to_owned()));
    }
    let chars = text.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("the note is {chars} characters long; at most {MAX_NOTE_CHARS} are kept"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "the note holds control characters (only line breaks and tabs are allowed)".to_owned(),
        ));
    }
    Ok(text)
}

/// Add a note to the caller's tenant, then 303 See Other back to the notes
/// page (post/redirect/get); a refused note re-renders the page with why.
async fn add_note(
    State(state): State<AppState>,
    Verified(id): Verified,
    headers: HeaderMap,
    // `identify` already read it, within MAX_FORM_BYTES.
    body: Bytes,
) -> Response {
    let caller = Caller::Verified(id.clone());
    let refused = |status: StatusCode, why: String| {
        let notes = state.notes().of(&id.tenant);
        page(
            status,
            "Notes",
            &caller,
            &notes_content(&id.tenant, &notes, Some(&why)),
        )
    };
    let text = match note_text(&headers, &body) {
        Ok(t) => t,
        Err((status, why)) => return refused(status, why),
    };
    let added = state.notes().add(
        &id.tenant,
        Note {
            text,
            by: id.principal.clone(),
        },
    );
    if let Err(why) = added {
        return refused(StatusCode::SERVICE_UNAVAILABLE, why);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, HeaderValue::from_static("notes")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response()
}

/// The `bytes` query parameter: a whole number up to [`MAX_DOWNLOAD`].
pub fn download_size(query: Option<&str>) -> Result<u64, String> {
    query_number(query, "bytes", "the download size", 0..=MAX_DOWNLOAD)
}

/// The query parameter `name` (`what`, for the errors): given once, a whole
/// number in `range`.
pub fn query_number(
    query: Option<&str>,
    name: &str,
    what: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    let usage = format!(
        "?{name}=N with N a whole number from {} to {}",
        range.start(),
        range.end()
    );
    let mut values = url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    let raw = match (values.next(), values.next()) {
        (Some(v), None) => v,
        (None, _) => return Err(format!("{what} is missing: {usage}")),
        (Some(_), Some(_)) => return Err(format!("{name} is given more than once: {usage}")),
    };
    let shown: String = raw.chars().take(32).collect();
    let n: u64 = raw
        .parse()
        .map_err(|_| format!("{name}={shown:?} is not a whole number: {usage}"))?;
    if n > *range.end() {
        return Err(format!(
            "{name}={n} is more than this application serves: {usage}"
        ));
    }
    if n < *range.start() {
        return Err(format!("{name}={n} is too few: {usage}"));
    }
    Ok(n)
}

/// The byte at `offset` of every download: a repeating 0..=250 pattern with
/// the high bit flipped (not UTF-8, so really binary), as the sample service's.
pub fn download_byte(offset: u64) -> u8 {
    (offset % 251) as u8 ^ 0x80
}

/// The `n` download bytes, generated 64 KiB at a time as the body is sent.
fn download_body(n: u64) -> Body {
    let chunks = futures::stream::unfold(0u64, move |offset| async move {
        if offset >= n {
            return None;
        }
        let end = (offset + CHUNK).min(n);
        let chunk: Vec<u8> = (offset..end).map(download_byte).collect();
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(chunk)), end))
    });
    Body::from_stream(chunks)
}

/// `bytes` bytes, streamed in 64 KiB chunks with a `Content-Length`.
async fn download(_: Verified, uri: Uri) -> Response {
    let n = match download_size(uri.query()) {
        Ok(n) => n,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, n.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"download-{n}.bin\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        download_body(n),
    )
        .into_response()
}

/// `bytes` bytes (up to [`MAX_STREAM_DOWNLOAD`]), generated chunk by chunk
/// and sent chunked, without a `Content-Length`: through a STREAM
/// integration the caller gets them as they are made.
async fn stream_download(_: Verified, uri: Uri) -> Response {
    let n = match query_number(
        uri.query(),
        "bytes",
        "the download size",
        0..=MAX_STREAM_DOWNLOAD,
    ) {
        Ok(n) => n,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"stream-{n}.bin\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        download_body(n),
    )
        .into_response()
}

/// One server-sent event: its number `i` (from 1) of `count`.
pub fn event_text(i: u64, count: u64) -> String {
    format!("id: {i}\nevent: tick\ndata: {{\"event\":{i},\"of\":{count}}}\n\n")
}

/// `count` server-sent events (1 to [`MAX_EVENTS`]), one every
/// [`EVENT_INTERVAL`], the first at once.
async fn stream_events(_: Verified, uri: Uri) -> Response {
    let count = match query_number(uri.query(), "count", "the event count", 1..=MAX_EVENTS) {
        Ok(n) => n,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };
    let events = futures::stream::unfold(1u64, move |i| async move {
        if i > count {
            return None;
        }
        if i > 1 {
            tokio::time::sleep(EVENT_INTERVAL).await;
        }
        let event = Bytes::from(event_text(i, count));
        Some((Ok::<_, std::convert::Infallible>(event), i + 1))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}

/// The request headers that carry a caller's credential.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "x-api-key", "cookie"];

/// What this service received: the header names (lower-case, sorted, each
/// once), the values of the credential headers present, the principal (a
/// verified one, or `anonymous`) and the path.
async fn received(Extension(caller): Extension<Caller>, headers: HeaderMap, uri: Uri) -> Response {
    let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let names: Vec<String> = names
        .iter()
        .map(|n| format!("\"{}\"", json_escape(n)))
        .collect();
    let credentials: Vec<String> = CREDENTIAL_HEADERS
        .iter()
        .filter_map(|name| {
            let values: Vec<&str> = headers
                .get_all(*name)
                .iter()
                .map(|v| v.to_str().unwrap_or("(not text)"))
                .collect();
            (!values.is_empty())
                .then(|| format!("\"{name}\":\"{}\"", json_escape(&values.join(", "))))
        })
        .collect();
    let principal = match &caller {
        Caller::Verified(id) => id.principal.as_str(),
        Caller::Anonymous(_) => "anonymous",
    };
    let body = format!(
        r#"{{"headers":[{}],"credentials":{{{}}},"principal":"{}","path":"{}"}}"#,
        names.join(","),
        credentials.join(","),
        json_escape(principal),
        json_escape(uri.path())
    );
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use http_body_util::BodyExt;
    use portcullis_identity::SigningKey;
    use tower::ServiceExt;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32]).unwrap()
    }

    use portcullis_identity::service::unix_now as now;

    fn person(tenant: &str) -> identity::Identity {
        identity::Identity {
            principal: format!("{tenant}-user"),
            principal_type: "api_key".into(),
            tenant: tenant.into(),
            scopes: vec!["services:web".into()],
        }
    }

    fn app() -> Router {
        router(Config::new(vec![key()], "/web"))
    }

    /// A request from `tenant` signed over `body` with `k`, or unsigned.
    fn request(
        method: Method,
        target: &str,
        body: &'static [u8],
        signer: Option<(&str, &SigningKey)>,
    ) -> Request {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(target)
            .body(Body::from(body))
            .unwrap();
        if let Some((tenant, k)) = signer {
            *req.headers_mut() =
                identity::sign(&person(tenant), &method, target, body, now(), k).unwrap();
        }
        req
    }

    fn form(target: &str, body: &'static [u8], tenant: &str) -> Request {
        let mut req = request(Method::POST, target, body, Some((tenant, &key())));
        req.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        req
    }

    async fn call(app: &Router, req: Request) -> (StatusCode, HeaderMap, String) {
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn health_needs_no_identity() {
        for path in ["/health", "/web/health"] {
            let (status, _, _) = call(&app(), request(Method::GET, path, b"", None)).await;
            assert_eq!(status, StatusCode::OK, "{path}");
        }
    }

    #[tokio::test]
    async fn the_home_page_is_public_and_links_relative_assets() {
        let app = app();
        let (status, headers, html) =
            call(&app, request(Method::GET, "/web/home", b"", None)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(html.contains(r#"href="static/style.css""#), "{html}");
        assert!(html.contains(r#"src="static/app.js""#), "{html}");
        assert!(html.contains("Anonymous visitor"), "{html}");
        // The static anonymous values API Gateway maps on a public route do not verify.
        let mut req = request(Method::GET, "/web/home", b"", None);
        for (name, value) in [
            (identity::PRINCIPAL, "anonymous"),
            (identity::PRINCIPAL_TYPE, "anonymous"),
            (identity::TENANT, "(none)"),
            (identity::SCOPES, "-"),
            (identity::TIMESTAMP, "0"),
            (identity::SIGNATURE, "none"),
            (identity::CONTENT_SHA256, "UNSIGNED-PAYLOAD"),
        ] {
            req.headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
        let (status, _, html) = call(&app, req).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Anonymous visitor"), "{html}");
        // A verified caller is named.
        let (_, _, html) = call(
            &app,
            request(Method::GET, "/web/home", b"", Some(("acme", &key()))),
        )
        .await;
        assert!(html.contains(r#"<b class="tenant">acme</b>"#), "{html}");
    }

    #[tokio::test]
    async fn static_assets_have_their_type_caching_and_etag() {
        let app = app();
        for (file, ty) in [
            ("style.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
        ] {
            let path = format!("/web/static/{file}");
            let (status, headers, body) = call(&app, request(Method::GET, &path, b"", None)).await;
            assert_eq!(status, StatusCode::OK, "{file}");
            assert_eq!(headers[header::CONTENT_TYPE], ty, "{file}");
            assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=3600");
            assert!(!body.is_empty());
            let tag = headers[header::ETAG].clone();
            let mut again = request(Method::GET, &path, b"", None);
            again.headers_mut().insert(header::IF_NONE_MATCH, tag);
            let (status, _, body) = call(&app, again).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::NOT_MODIFIED, ""),
                "{file}"
            );
        }
        let (status, _, body) = call(
            &app,
            request(Method::GET, "/web/static/secret.txt", b"", None),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("no static file \"secret.txt\""), "{body}");
    }

    #[tokio::test]
    async fn notes_need_a_verified_caller() {
        let app = app();
        let (status, headers, body) =
            call(&app, request(Method::GET, "/web/notes", b"", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(body.contains("needs a verified caller"), "{body}");
        assert!(body.contains("x-portcullis-signature is missing"), "{body}");
        // Signed with another service's key.
        let other = SigningKey::from_bytes(&[9; 32]).unwrap();
        let (status, _, body) = call(
            &app,
            request(Method::GET, "/web/notes", b"", Some(("acme", &other))),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("does not match"), "{body}");
        let mut post = form("/web/notes", b"text=hi", "acme");
        post.headers_mut().remove(identity::SIGNATURE);
        assert_eq!(call(&app, post).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_posted_note_redirects_and_shows_for_its_tenant_only_escaped() {
        let app = app();
        let (status, headers, _) = call(
            &app,
            form("/web/notes", b"text=%3Cb%3Ebold%3C%2Fb%3E+%26+more", "acme"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "notes");
        let (status, headers, html) = call(
            &app,
            request(Method::GET, "/web/notes", b"", Some(("acme", &key()))),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(html.contains("Notes of acme"), "{html}");
        assert!(
            html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"),
            "{html}"
        );
        assert!(!html.contains("<b>bold"), "{html}");
        assert!(html.contains("by acme-user"), "{html}");
        let (_, _, other) = call(
            &app,
            request(Method::GET, "/web/notes", b"", Some(("globex", &key()))),
        )
        .await;
        assert!(other.contains("No notes yet."), "{other}");
        assert!(!other.contains("bold"), "{other}");
    }

    #[tokio::test]
    async fn a_bad_note_is_refused_with_why() {
        let app = app();
        for (body, status, why) in [
            (
                &b"text=+++"[..],
                StatusCode::BAD_REQUEST,
                "the note is empty",
            ),
            (b"note=hi", StatusCode::BAD_REQUEST, "no field text"),
            (b"text=a&text=b", StatusCode::BAD_REQUEST, "more than once"),
            (b"text=a%00b", StatusCode::BAD_REQUEST, "control characters"),
        ] {
            let (got, _, html) = call(&app, form("/web/notes", body, "acme")).await;
            assert_eq!(got, status, "{body:?}");
            assert!(html.contains(why), "{why}: {html}");
        }
        let long: &'static [u8] = Box::leak(
            format!("text={}", "x".repeat(MAX_NOTE_CHARS + 1))
                .into_bytes()
                .into_boxed_slice(),
        );
        let (got, _, html) = call(&app, form("/web/notes", long, "acme")).await;
        assert_eq!(got, StatusCode::BAD_REQUEST);
        assert!(html.contains("501 characters long; at most 500"), "{html}");
        let mut json = form("/web/notes", br#"{"text":"hi"}"#, "acme");
        json.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let (got, _, html) = call(&app, json).await;
        assert_eq!(got, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(html.contains("application/x-www-form-urlencoded"), "{html}");
        let huge: &'static [u8] = Box::leak(vec![b'x'; MAX_FORM_BYTES + 1].into_boxed_slice());
        let (got, _, body) = call(&app, form("/web/notes", huge, "acme")).await;
        assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body.contains("over 16384 bytes"), "{body}");
        let (_, _, html) = call(
            &app,
            request(Method::GET, "/web/notes", b"", Some(("acme", &key()))),
        )
        .await;
        assert!(
            html.contains("No notes yet."),
            "nothing refused was kept: {html}"
        );
    }

    /// What the authorizer sends through the VPC link: the identity signed
    /// over the method and path (decoded, no query), UNSIGNED-PAYLOAD.
    fn through_the_vpc_link(method: Method, target: &str, body: &'static [u8]) -> Request {
        let path = target.split('?').next().unwrap();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(target)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let signed =
            identity::sign_unsigned_payload(&person("acme"), &method, path, now(), &key()).unwrap();
        req.headers_mut().extend(signed);
        req
    }

    #[tokio::test]
    async fn an_identity_the_authorizer_signed_without_the_body_is_verified() {
        let app = app();
        let (status, _, _) = call(
            &app,
            through_the_vpc_link(Method::POST, "/web/notes", b"text=via+the+link"),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (status, _, html) = call(
            &app,
            through_the_vpc_link(Method::GET, "/web/notes?x=1", b""),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("via the link"), "{html}");
        assert!(
            html.contains("the form body and query string are not signed"),
            "{html}"
        );
        // Signed for another path: refused.
        let mut moved = through_the_vpc_link(Method::GET, "/web/notes", b"");
        *moved.uri_mut() = "/web/download?bytes=1".parse().unwrap();
        assert_eq!(call(&app, moved).await.0, StatusCode::UNAUTHORIZED);
        // The proxy's signature covers the body: no such notice.
        let (_, _, html) = call(
            &app,
            request(Method::GET, "/web/notes", b"", Some(("acme", &key()))),
        )
        .await;
        assert!(!html.contains("not signed"), "{html}");
    }

    #[test]
    fn notes_are_bounded_per_tenant_and_in_tenants() {
        let mut notes = Notes::default();
        let note = |i: usize| Note {
            text: format!("n{i}"),
            by: "u".into(),
        };
        for i in 0..MAX_NOTES_PER_TENANT + 5 {
            notes.add("acme", note(i)).unwrap();
        }
        let kept = notes.of("acme");
        assert_eq!(kept.len(), MAX_NOTES_PER_TENANT);
        assert_eq!(kept[0].text, "n5", "the oldest are dropped");
        for t in 1..MAX_TENANTS {
            notes.add(&format!("t{t}"), note(0)).unwrap();
        }
        let e = notes.add("one-too-many", note(0)).unwrap_err();
        assert!(e.contains("the note store is full"), "{e}");
        notes.add("acme", note(99)).unwrap();
    }

    #[tokio::test]
    async fn a_download_streams_exactly_the_bytes_asked_for() {
        let app = app();
        let target = "/web/download?bytes=200000";
        let (status, _, _) = call(&app, request(Method::GET, target, b"", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let resp = app
            .clone()
            .oneshot(request(Method::GET, target, b"", Some(("acme", &key()))))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], "200000");
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/octet-stream"
        );
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let expected: Vec<u8> = (0..200_000u64).map(download_byte).collect();
        assert_eq!(&bytes[..], &expected[..]);
        for (target, why) in [
            (
                "/web/download?bytes=20000001",
                "bytes=20000001 is more than",
            ),
            (
                "/web/download?bytes=ten",
                "bytes=\"ten\" is not a whole number",
            ),
            ("/web/download?bytes=-1", "is not a whole number"),
            ("/web/download", "the download size is missing"),
        ] {
            let (status, _, body) = call(
                &app,
                request(Method::GET, target, b"", Some(("acme", &key()))),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{target}");
            assert!(
                body.contains(why) && body.contains("0 to 20000000"),
                "{target}: {body}"
            );
        }
    }

    /// The body's frames, as the client would receive them one by one.
    async fn frames(resp: Response) -> Vec<Bytes> {
        let mut body = resp.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                out.push(data);
            }
        }
        out
    }

    #[tokio::test]
    async fn a_streamed_download_is_sent_in_chunks_without_a_length() {
        let app = app();
        let target = "/web/stream/download?bytes=300000";
        let (status, _, _) = call(&app, request(Method::GET, target, b"", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let resp = app
            .clone()
            .oneshot(request(Method::GET, target, b"", Some(("acme", &key()))))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().get(header::CONTENT_LENGTH).is_none());
        let chunks = frames(resp).await;
        assert!(
            chunks.len() >= 5,
            "generated chunk by chunk: {}",
            chunks.len()
        );
        assert!(chunks.iter().all(|c| c.len() as u64 <= CHUNK));
        let bytes: Vec<u8> = chunks.concat();
        let expected: Vec<u8> = (0..300_000u64).map(download_byte).collect();
        assert_eq!(bytes, expected);
        for (target, why) in [
            (
                "/web/stream/download?bytes=100000001",
                "bytes=100000001 is more than",
            ),
            ("/web/stream/download", "the download size is missing"),
        ] {
            let (status, _, body) = call(
                &app,
                request(Method::GET, target, b"", Some(("acme", &key()))),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{target}");
            assert!(
                body.contains(why) && body.contains("0 to 100000000"),
                "{target}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn server_sent_events_arrive_one_event_at_a_time() {
        let app = app();
        let target = "/web/stream/events?count=3";
        let (status, _, _) = call(&app, request(Method::GET, target, b"", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let resp = app
            .clone()
            .oneshot(request(Method::GET, target, b"", Some(("acme", &key()))))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
        let events: Vec<String> = frames(resp)
            .await
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        assert_eq!(
            events,
            [event_text(1, 3), event_text(2, 3), event_text(3, 3)]
        );
        assert_eq!(
            event_text(2, 3),
            "id: 2\nevent: tick\ndata: {\"event\":2,\"of\":3}\n\n"
        );
        for bad in ["count=0", "count=6001", "count=x", ""] {
            let target = format!("/web/stream/events?{bad}");
            let (status, _, body) = call(
                &app,
                request(Method::GET, &target, b"", Some(("acme", &key()))),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(body.contains("1 to 6000"), "{bad}: {body}");
        }
    }

    #[tokio::test]
    async fn the_headers_pages_show_what_arrived_and_who_sent_it() {
        let app = app();
        let mut req = request(Method::GET, "/web/public/headers", b"", None);
        req.headers_mut()
            .insert("X-Custom", HeaderValue::from_static("1"));
        req.headers_mut()
            .append("x-custom", HeaderValue::from_static("2"));
        req.headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        req.headers_mut().insert(
            "x-api-key",
            HeaderValue::from_static("pcs_sent_by_the_caller"),
        );
        req.headers_mut()
            .insert(header::COOKIE, HeaderValue::from_static("a=1"));
        req.headers_mut()
            .append(header::COOKIE, HeaderValue::from_static("b=2"));
        let (status, headers, body) = call(&app, req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body,
            r#"{"headers":["accept","cookie","x-api-key","x-custom"],"credentials":{"x-api-key":"pcs_sent_by_the_caller","cookie":"a=1, b=2"},"principal":"anonymous","path":"/web/public/headers"}"#
        );
        let (status, _, body) = call(
            &app,
            request(Method::GET, "/web/headers", b"", Some(("acme", &key()))),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(r#""principal":"acme-user""#), "{body}");
        assert!(body.contains(r#""path":"/web/headers""#), "{body}");
        assert!(body.contains(r#""x-portcullis-signature""#), "{body}");
    }

    #[tokio::test]
    async fn behind_the_service_kit_a_refused_path_is_a_400_and_no_cookie_is_set() {
        let config = Config::new(vec![key()], "/v1/web");
        let app = identity::service::guard(&config, router(config.clone()));
        for target in ["/v1/web/..;/notes", "/v1/web/%252e%252e/notes"] {
            let (status, _, body) = call(&app, request(Method::GET, target, b"", None)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{target}");
            assert!(
                body.contains("the path under the service is not allowed"),
                "{body}"
            );
        }
        // The stage is part of BASE_PATH behind the ALB (/<stage><path_prefix>).
        let (status, headers, _) =
            call(&app, request(Method::GET, "/v1/web/home", b"", None)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.get(header::SET_COOKIE).is_none());
    }
}
