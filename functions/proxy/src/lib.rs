//! The `proxy` Lambda: `ANY /v1/services/{service}/{proxy+}` forwarded to a
//! registered private service (platform.yaml `services:`) with signed
//! identity headers. See `docs/proxy.md`.
//!
//! It serves the `integration: lambda` services only: a `vpc_link` service
//! is reached by API Gateway over the VPC link (the authorizer signs its
//! identity), and a request naming one here is 404 like an unknown service.
//!
//! Routing is on the resource path `/v1/services/{service}/{proxy+}` and its
//! two path parameters (`portcullis_core::http`), or on the path of a route
//! a service declares (`/v1/services/<name><path>`, platform.yaml
//! `services.<name>.routes`) and its parameters; any other resource is 404.
//! A public route's request carries no authorizer context: it is forwarded
//! signed with the [`anonymous`] identity. Order of checks: unknown service
//! → 404; caller without the scope (the route's, or the service's) → 403
//! (the gateway policy already refuses it; checked again here); method
//! not registered → 405 with `Allow`; bad path → 400; body over the limit →
//! 413; mutation whose audit record cannot be written → 503 (not forwarded);
//! upstream timeout → 504; refused/reset/oversized upstream → 502.
//!
//! CORS: every answer goes through the policy (`portcullis_core::cors`,
//! `CORS_*`): any `Access-Control-*` header of the upstream is removed and the
//! policy's are set. `OPTIONS` is answered here, never forwarded and without
//! authentication (the gateway runs no authorizer on `OPTIONS`): a preflight
//! gets the service's registered methods and, besides the policy's headers,
//! the service's `allow_headers`.
//!
//! Metrics (`portcullis_core::metrics`, docs/observability.md#metrics): one
//! record per proxied request from [`handle`]: when the service was called,
//! `ProxyUpstreamResponse` by `Service` and `StatusClass` (2xx..5xx of its
//! answer; `timeout`; `error`: unreachable, reset, or a body over the limits
//! as it was read) with `ProxyUpstreamLatency` and, for an answer read,
//! `ProxyBytesOut`; when it was not, `ProxyRefusal` by `Reason`
//! ([`refusal_reason`]). `IdentitySigningFailure` when the identity cannot
//! be signed.

pub mod config;
pub mod forward;

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use portcullis_auth::audit::{self as audit_log, Actor, AuditEntry};
use portcullis_auth::{AuthContext, Scope};
use portcullis_core::ApiError;
use portcullis_core::http::{no_route, path_param, resource_path};
use portcullis_core::metrics::{self, Dimension, Metric, Record};
use portcullis_core::runtime::StartError;
use portcullis_db::Database;
use portcullis_identity::keys as identity_keys;
use portcullis_identity::{self as identity, Identity, SigningKey};
use portcullis_platform::services::{Integration, Service};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use url::{Position, Url};

pub use config::Upstream;

/// Lambda's synchronous response payload limit.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;
/// Room kept for the response envelope (status, JSON framing, escaping slack).
pub const ENVELOPE_RESERVE: usize = 16 * 1024;
/// API Gateway's integration timeout.
pub const GATEWAY_TIMEOUT: Duration = Duration::from_millis(29_000);
/// Default margin kept below the gateway and Lambda deadlines.
pub const DEFAULT_MARGIN: Duration = Duration::from_millis(500);
/// The generic resource this function serves; besides it, the paths of
/// the routes services declare (`services.<name>.routes`):
/// `/v1/services/<name><path>`.
pub const ROUTE: &str = "/v1/services/{service}/{proxy+}";
/// Where the declared routes' resources start: `/v1/services/<name>/...`.
const SERVICES_PREFIX: &str = "/v1/services/";

/// The principal (and `principal_type`) of the identity a public route's
/// caller gets: no credential, no authorizer. Its tenant is [`ANONYMOUS_TENANT`]
/// (no tenant: the identity headers carry no empty value) and it has no scope.
pub const ANONYMOUS: &str = "anonymous";
/// The tenant of the anonymous identity: `(none)`, never a tenant's name
/// (parentheses are not in a tenant id: `portcullis_auth::Tenant`).
pub const ANONYMOUS_TENANT: &str = "(none)";

/// The identity a public route's request is signed with.
pub fn anonymous() -> Identity {
    Identity {
        principal: ANONYMOUS.to_owned(),
        principal_type: ANONYMOUS.to_owned(),
        tenant: ANONYMOUS_TENANT.to_owned(),
        scopes: Vec::new(),
    }
}

/// The service, the path under it (as `{proxy+}` gives it: no leading `/`)
/// and the scope the request needs (`None`: a public route) for the
/// request's resource: the generic route (the service's scope), or a
/// declared route's path (the scope of the route declaring the method, or
/// the service's for a method no route declares). Any other resource is 404.
fn resolve<'a>(
    state: &'a State,
    req: &Request,
) -> Result<(&'a Upstream, String, Option<&'a str>), ApiError> {
    let resource = resource_path(req);
    let find = |name: &str| {
        state
            .upstreams
            .get(name)
            .ok_or_else(|| ApiError::not_found(format!("there is no service named {name:?}")))
    };
    if resource == ROUTE {
        let upstream = find(&path_param(req, "service")?)?;
        return Ok((
            upstream,
            path_param(req, "proxy")?,
            Some(upstream.service.scope.as_str()),
        ));
    }
    let Some((name, template)) = resource
        .strip_prefix(SERVICES_PREFIX)
        .and_then(|r| r.split_once('/'))
    else {
        return Err(no_route(req));
    };
    let template = format!("/{template}");
    let Some(upstream) = state.upstreams.get(name) else {
        return Err(no_route(req));
    };
    let routes = &upstream.service.routes;
    if !routes.iter().any(|r| r.path == template) {
        return Err(no_route(req));
    }
    let method = req.method().as_str();
    let required = match routes
        .iter()
        .find(|r| r.path == template && r.methods.iter().any(|m| m == method))
    {
        Some(route) => route.scope(),
        None => Some(upstream.service.scope.as_str()),
    };
    // The path under the service: the template with its parameters filled.
    let mut sub = Vec::new();
    for seg in template.trim_start_matches('/').split('/') {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(param) => sub.push(path_param(req, param.trim_end_matches('+'))?),
            None => sub.push(seg.to_owned()),
        }
    }
    Ok((upstream, sub.join("/"), required))
}

/// Built once per container.
pub struct State {
    upstreams: HashMap<String, Upstream>,
    /// Each service's own identity key (the proxy signs with the target's):
    /// given to [`State::new`], or read from Secrets Manager by the first
    /// request ([`State::lazy_keys`]), so init makes no network call.
    keys: tokio::sync::OnceCell<HashMap<String, SigningKey>>,
    /// Where the keys are read from when they were not given.
    key_source: Option<KeySource>,
    client: reqwest::Client,
    audit: Option<Database>,
    margin: Duration,
    cors: portcullis_core::CorsPolicy,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("services", &self.upstreams.keys().collect::<Vec<_>>())
            .field("audit", &self.audit.is_some())
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

/// The secrets of `IDENTITY_SECRET_ARNS` (checked at start) and the SDK
/// settings they are read with.
pub struct KeySource {
    pub arns: std::collections::BTreeMap<String, String>,
    pub sdk: portcullis_aws::SdkSource,
}

/// The keys [`State`] is built with.
enum Keys {
    Given(HashMap<String, SigningKey>),
    Source(KeySource),
}

impl Keys {
    fn has(&self, service: &str) -> bool {
        match self {
            Keys::Given(keys) => keys.contains_key(service),
            Keys::Source(source) => source.arns.contains_key(service),
        }
    }

    fn given(&self) -> Option<HashMap<String, SigningKey>> {
        match self {
            Keys::Given(keys) => Some(keys.clone()),
            Keys::Source(_) => None,
        }
    }

    fn source(self) -> Option<KeySource> {
        match self {
            Keys::Given(_) => None,
            Keys::Source(source) => Some(source),
        }
    }
}

/// The one HTTP client of the container: no proxy from the environment, no
/// redirects followed, pooled keep-alive connections, rustls for https.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(50))
        .pool_max_idle_per_host(32)
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true)
        .use_rustls_tls()
        .build()
}

impl State {
    /// Explicit parts (tests, the local gateway). `keys` holds every
    /// served service's own identity key, by service name: a service without
    /// one is refused here. An `integration: vpc_link` upstream is left out:
    /// the proxy does not serve it (nor need its key), and a request naming
    /// it gets the unknown-service 404. `audit: None` disables the audit log
    /// (mutations are then only in the access log).
    pub fn new(
        upstreams: Vec<Upstream>,
        keys: HashMap<String, SigningKey>,
        audit: Option<Database>,
        margin: Duration,
    ) -> Result<State, StartError> {
        State::build(upstreams, Keys::Given(keys), audit, margin)
    }

    /// [`State::new`] with the keys read by the first request that signs
    /// (every key at once, one `GetSecretValue` each, concurrently; a failed
    /// read fails that request and is tried again by the next).
    pub fn lazy_keys(
        upstreams: Vec<Upstream>,
        source: KeySource,
        audit: Option<Database>,
        margin: Duration,
    ) -> Result<State, StartError> {
        State::build(upstreams, Keys::Source(source), audit, margin)
    }

    fn build(
        upstreams: Vec<Upstream>,
        keys: Keys,
        audit: Option<Database>,
        margin: Duration,
    ) -> Result<State, StartError> {
        // API Gateway never routes a vpc_link service's requests here (its
        // resources integrate the VPC link, not this function): one that
        // arrives anyway is answered like an unknown service, never signed
        // or forwarded with the body-signed identity.
        let upstreams: Vec<Upstream> = upstreams
            .into_iter()
            .filter(|u| u.service.integration == Integration::Lambda)
            .collect();
        let mut missing: Vec<&str> = upstreams
            .iter()
            .map(|u| u.service.name.as_str())
            .filter(|name| !keys.has(name))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            return Err(StartError::msg(format!(
                "the identity signing keys cannot be loaded (IDENTITY_SECRET_ARNS): no identity key for service(s) {}: every registered service needs its own secret in {} (service=<secret ARN>,...)",
                missing.join(", "),
                config::IDENTITY_SECRET_ARNS
            )));
        }
        let client = http_client()
            .map_err(|e| StartError::msg(format!("the HTTP client cannot be built: {e}")))?;
        Ok(State {
            upstreams: upstreams
                .into_iter()
                .map(|u| (u.service.name.clone(), u))
                .collect(),
            keys: match &keys {
                Keys::Given(_) => tokio::sync::OnceCell::new_with(keys.given()),
                Keys::Source(_) => tokio::sync::OnceCell::new(),
            },
            key_source: keys.source(),
            client,
            audit,
            margin,
            cors: portcullis_core::CorsPolicy::disabled(),
        })
    }

    /// The identity keys, read now if this is the first request that signs.
    async fn signing_keys(&self) -> Result<&HashMap<String, SigningKey>, ApiError> {
        self.keys
            .get_or_try_init(|| async {
                let Some(source) = &self.key_source else {
                    return Err("no identity keys were given and no source is configured".to_owned());
                };
                let client = portcullis_aws::clients::secrets_manager(&source.sdk.load().await);
                identity_keys::signing_keys(&client, &source.arns)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|why| {
                tracing::error!(error = %why, "the identity keys cannot be read; the next request tries again");
                metrics::count(Metric::IdentitySigningFailure, &[]);
                ApiError::internal(format!(
                    "the services' identity keys cannot be read ({}): {why}",
                    config::IDENTITY_SECRET_ARNS
                ))
            })
    }

    /// The same state answering under this CORS policy (`new` allows no origin).
    pub fn with_cors(self, cors: portcullis_core::CorsPolicy) -> State {
        State { cors, ..self }
    }

    /// Everything from `env` (the process environment in Lambda): see [`config`].
    pub async fn from_env(env: &portcullis_core::Env) -> Result<State, StartError> {
        config::state_from_env(env).await
    }
}

/// The access-log fields, filled as the request progresses.
#[derive(Default)]
struct Outcome {
    principal: Option<String>,
    tenant: Option<String>,
    service: Option<String>,
    upstream_ms: Option<u128>,
    bytes_out: usize,
    /// The service was called: how long, and the class of what came back.
    upstream: Option<(Duration, &'static str)>,
    /// The service's answer was read (its body is `bytes_out`).
    answered: bool,
}

impl Outcome {
    /// The request's metrics record: the upstream's answer when the
    /// service was called, else the refusal (none for a success without a
    /// call, which does not happen). `OPTIONS` has none.
    fn record(&self, status: StatusCode) -> Record {
        match (&self.service, self.upstream) {
            (Some(service), Some((elapsed, class))) => {
                let r = Record::new()
                    .dimension(Dimension::Service, service)
                    .dimension(Dimension::StatusClass, class)
                    .count(Metric::ProxyUpstreamResponse)
                    .millis(Metric::ProxyUpstreamLatency, elapsed);
                if self.answered {
                    r.bytes(Metric::ProxyBytesOut, self.bytes_out as u64)
                } else {
                    r
                }
            }
            _ if status.is_client_error() || status.is_server_error() => Record::new()
                .dimension(Dimension::Reason, refusal_reason(status))
                .count(Metric::ProxyRefusal),
            _ => Record::new(),
        }
    }
}

/// The `Reason` of a request refused before the service was called, from
/// the proxy's own answer: `unauthenticated` (401), `forbidden` (403: no
/// scope), `not_found` (404: no such service or route), `method_not_allowed`
/// (405), `bad_request` (400: the path rule), `too_large` (413),
/// `audit_unavailable` (503), `no_time_left` (504: the invocation's deadline),
/// `internal` (500), else `other`.
pub fn refusal_reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        503 => "audit_unavailable",
        504 => "no_time_left",
        500 => "internal",
        _ => "other",
    }
}

/// The `StatusClass` of the service's answer.
pub fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "error",
    }
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let request_id = portcullis_core::http::request_id(&req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let bytes_in = req.body().len();
    let mut outcome = Outcome::default();
    // The policy reads only `Origin`: keep it, the request moves into `proxy`.
    let mut origin = http::HeaderMap::new();
    for v in req.headers().get_all(header::ORIGIN) {
        origin.append(header::ORIGIN, v.clone());
    }
    let resp = match options(state, &req) {
        Some(answer) => answer,
        None => {
            let result = proxy(state, req, request_id.as_deref(), &mut outcome).await;
            let mut resp = portcullis_core::http::respond(request_id.as_deref(), result);
            state.cors.apply(&origin, resp.headers_mut());
            // Preflights are the CORS policy's, not proxied requests: no record.
            outcome.record(resp.status()).emit();
            resp
        }
    };
    tracing::info!(
        request_id = request_id.as_deref().unwrap_or("-"),
        principal = outcome.principal.as_deref().unwrap_or("-"),
        tenant = outcome.tenant.as_deref().unwrap_or("-"),
        service = outcome.service.as_deref().unwrap_or("-"),
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        upstream_ms = outcome.upstream_ms.map(|m| m as i64).unwrap_or(-1),
        bytes_in,
        bytes_out = outcome.bytes_out,
        "proxy access"
    );
    Ok(resp)
}

/// `OPTIONS` on a registered service, answered by the CORS policy with the
/// service's methods and `allow_headers`; `None` for anything else.
fn options(state: &State, req: &Request) -> Option<Response<Body>> {
    if req.method() != Method::OPTIONS {
        return None;
    }
    let (upstream, _, _) = resolve(state, req).ok()?;
    let service = &upstream.service;
    let methods: Vec<&str> = service.methods.iter().map(String::as_str).collect();
    let headers: Vec<header::HeaderName> = service
        .allow_headers
        .iter()
        .filter_map(|h| header::HeaderName::from_bytes(h.as_bytes()).ok())
        .collect();
    Some(state.cors.options(req, &methods, &headers))
}

fn is_mutation(m: &Method) -> bool {
    portcullis_platform::services::MUTATIONS.contains(&m.as_str())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The upstream timeout: the service's own, but always below API Gateway's
/// 29 s and the Lambda deadline, each minus `margin`. `None` when no time is left.
pub fn upstream_timeout(
    service: Duration,
    deadline: Option<SystemTime>,
    now: SystemTime,
    margin: Duration,
) -> Option<Duration> {
    let mut t = service.min(GATEWAY_TIMEOUT.saturating_sub(margin));
    if let Some(d) = deadline {
        let remaining = d.duration_since(now).unwrap_or(Duration::ZERO);
        t = t.min(remaining.saturating_sub(margin));
    }
    (!t.is_zero()).then_some(t)
}

fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
        _ => None,
    }
}

/// One proxied request, phase by phase: authorise the caller, check and
/// build the upstream request, sign the identity, audit a mutation, send
/// it, and map the answer.
async fn proxy(
    state: &State,
    req: Request,
    request_id: Option<&str>,
    out: &mut Outcome,
) -> Result<Response<Body>, ApiError> {
    let (upstream, raw_sub, required) = resolve(state, &req)?;
    let service = &upstream.service;
    out.service = Some(service.name.clone());
    let caller = authorise(&req, required, out)?;
    let method = req.method().clone();
    let body: &[u8] = req.body().as_ref();
    let sub_path = check(service, &method, &raw_sub, body)?;
    let (url, target) = upstream_url(upstream, &sub_path, &req);
    let mut headers = forwarded_headers(service, &req, request_id);
    let keys = state.signing_keys().await?;
    headers.extend(sign(
        keys,
        service,
        caller.as_ref(),
        &method,
        &target,
        body,
    )?);
    let timeout = timeout_of(state, service, &req)?;
    // A public route never takes a mutation (shared/platform refuses one):
    // every proxied mutation is audited with its caller and tenant.
    if let (true, Some(caller)) = (is_mutation(&method), &caller) {
        let at = (sub_path.as_str(), target.as_str());
        audit(state, caller, service, &method, at, body.len(), request_id).await?;
    }
    let started = Instant::now();
    let sent = state
        .client
        .request(method.clone(), url)
        .headers(headers)
        .timeout(timeout)
        .body(Bytes::copy_from_slice(body))
        .send()
        .await;
    let result = read_response(service, &method, sent, timeout).await;
    let elapsed = started.elapsed();
    out.upstream_ms = Some(elapsed.as_millis());
    let class = match &result {
        Ok((status, _, _)) => status_class(*status),
        Err(ApiError::GatewayTimeout { .. }) => "timeout",
        Err(_) => "error",
    };
    out.upstream = Some((elapsed, class));
    let answer = result?;
    out.answered = true;
    out.bytes_out = answer.2.len();
    map_response(service, answer, request_id)
}

/// Defence in depth: the gateway policy already requires the route's scope.
/// A public route has no authorizer (nor its context): the caller is
/// anonymous, and the service is told so.
fn authorise(
    req: &Request,
    required: Option<&str>,
    out: &mut Outcome,
) -> Result<Option<AuthContext>, ApiError> {
    let caller = match required {
        None => None,
        Some(scope) => {
            let caller = AuthContext::from_request(req)?;
            // The registry only names scopes that parse; one that did not
            // would be held by no caller: the same 403.
            let scope: Scope = scope.parse().map_err(|_| {
                ApiError::forbidden(format!(
                    "this needs the {scope} scope, which this credential does not carry"
                ))
            })?;
            caller.require(&scope)?;
            Some(caller)
        }
    };
    out.principal = Some(
        caller
            .as_ref()
            .map_or(ANONYMOUS, |c| c.principal_id.as_str())
            .to_owned(),
    );
    out.tenant = caller.as_ref().map(|c| c.tenant.to_string());
    Ok(caller)
}

/// What the service accepts: its methods, a path under it that keeps the
/// path rule (returned), a body within its limit.
fn check(
    service: &Service,
    method: &Method,
    raw_sub: &str,
    body: &[u8],
) -> Result<String, ApiError> {
    if !service.allows(method.as_str()) {
        return Err(ApiError::MethodNotAllowed {
            detail: format!("service {} does not accept {method}", service.name),
            allow: service.methods.clone(),
        });
    }
    let sub_path = forward::upstream_path(raw_sub)?;
    if body.len() as u64 > service.max_request_bytes {
        return Err(ApiError::PayloadTooLarge {
            detail: format!(
                "the request body is {} bytes; service {} accepts at most {}",
                body.len(),
                service.name,
                service.max_request_bytes
            ),
        });
    }
    Ok(sub_path)
}

/// The URL: registered base + path under the service + the query, with
/// repeated keys kept in order (keys sorted for a stable target); and the
/// target (path and query) the identity is signed over.
fn upstream_url(upstream: &Upstream, sub_path: &str, req: &Request) -> (Url, String) {
    let mut url: Url = upstream.base.clone();
    url.set_path(&format!(
        "{}/{sub_path}",
        upstream.base.path().trim_end_matches('/')
    ));
    let mut pairs: Vec<(&str, &str)> = req
        .query_string_parameters_ref()
        .map(|q| q.iter().collect())
        .unwrap_or_default();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    if pairs.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let target = url[Position::BeforePath..Position::AfterQuery].to_owned();
    (url, target)
}

/// The request headers the service receives: the client's allowed ones,
/// and the forwarding, request-id and trace headers.
fn forwarded_headers(
    service: &Service,
    req: &Request,
    request_id: Option<&str>,
) -> http::HeaderMap {
    let mut headers = forward::request_headers(service, req.headers());
    if let Some(ip) = source_ip(req).and_then(|ip| HeaderValue::from_str(&ip).ok()) {
        headers.insert(forward::name("x-forwarded-for"), ip);
    }
    let proto = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "http" || *p == "https")
        .unwrap_or("https");
    headers.insert(
        forward::name("x-forwarded-proto"),
        HeaderValue::from_static(if proto == "http" { "http" } else { "https" }),
    );
    if let Some(id) = request_id
        .filter(|id| forward::plain_token(id))
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        headers.insert(forward::name("x-request-id"), id);
    }
    let trace = req
        .lambda_context_ref()
        .and_then(|c| c.xray_trace_id.clone())
        .or_else(|| {
            req.headers()
                .get("x-amzn-trace-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .filter(|t| portcullis_core::trace::accept(t).is_some());
    if let Some(t) = trace.and_then(|t| HeaderValue::from_str(t.trim()).ok()) {
        headers.insert(forward::name("x-amzn-trace-id"), t);
    }
    headers
}

/// The identity headers: the caller (or the anonymous identity) signed with
/// the target service's own key over the method, target and body.
fn sign(
    keys: &HashMap<String, SigningKey>,
    service: &Service,
    caller: Option<&AuthContext>,
    method: &Method,
    target: &str,
    body: &[u8],
) -> Result<http::HeaderMap, ApiError> {
    let who = match caller {
        Some(caller) => Identity {
            principal: caller.principal_id.clone(),
            principal_type: caller.principal_type.to_string(),
            tenant: caller.tenant.to_string(),
            scopes: caller.scopes.iter().map(ToString::to_string).collect(),
        },
        None => anonymous(),
    };
    // The target service's own key (State::new proved every service has one).
    let key = keys.get(&service.name).ok_or_else(|| {
        tracing::error!(service = %service.name, "no identity key for the service");
        metrics::count(Metric::IdentitySigningFailure, &[]);
        ApiError::internal(format!("no identity key for service {}", service.name))
    })?;
    identity::sign(&who, method, target, body, unix_now(), key).map_err(|e| {
        tracing::error!(error = %e, "identity cannot be signed");
        metrics::count(Metric::IdentitySigningFailure, &[]);
        ApiError::internal(e)
    })
}

/// The upstream call's timeout: the service's, within what is left of
/// this invocation.
fn timeout_of(state: &State, service: &Service, req: &Request) -> Result<Duration, ApiError> {
    let deadline = req
        .lambda_context_ref()
        .filter(|c| c.deadline > 0)
        .map(|c| c.deadline());
    upstream_timeout(service.timeout, deadline, SystemTime::now(), state.margin).ok_or_else(|| {
        ApiError::GatewayTimeout {
            detail: "no time is left in this invocation to call the service".to_owned(),
        }
    })
}

/// The service's answer as the client gets it: allowed headers, the body
/// as Lambda carries it, the request id.
fn map_response(
    service: &Service,
    (status, resp_headers, body): Upstreamed,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let mut headers = forward::response_headers(service, &resp_headers);
    let body = lambda_body(service, &headers, body)?;
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
        headers.insert(forward::name("x-request-id"), id);
    }
    *resp.headers_mut() = headers;
    Ok(resp)
}

/// Write-ahead audit record for a mutation (`portcullis_auth::audit`, the
/// one audit writer). Fails closed: without the record the request is not
/// forwarded (503), so no proxied mutation goes unaudited.
async fn audit(
    state: &State,
    caller: &AuthContext,
    service: &Service,
    method: &Method,
    (sub_path, target): (&str, &str),
    bytes_in: usize,
    request_id: Option<&str>,
) -> Result<(), ApiError> {
    let Some(db) = &state.audit else {
        return Ok(());
    };
    let action = format!("service.{}", method.as_str().to_ascii_lowercase());
    let resource = format!("services/{}/{sub_path}", service.name);
    let entry = AuditEntry {
        actor: Actor::Caller(caller),
        tenant: &caller.tenant,
        action: &action,
        target: &resource,
        request_id,
        detail: serde_json::json!({
            "service": service.name,
            "method": method.as_str(),
            "target": target,
            "bytes_in": bytes_in,
        }),
    };
    let entry = &entry;
    db.with_retry(|pool| async move { audit_log::write(&pool, entry).await })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, service = %service.name, method = %method, "audit record not written; mutation refused");
            ApiError::Unavailable {
                detail: "the audit log is unavailable, so this change was not forwarded; retry shortly".to_owned(),
            }
        })
}

type Upstreamed = (StatusCode, http::HeaderMap, Vec<u8>);

fn is_textual(headers: &http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ct = ct.to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence,
            "application/json"
                | "application/problem+json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
        )
}

/// Body bytes that fit the Lambda response once encoded (base64 for binary).
fn lambda_budget(headers: &http::HeaderMap, textual: bool) -> usize {
    let room =
        LAMBDA_RESPONSE_LIMIT.saturating_sub(ENVELOPE_RESERVE + forward::headers_size(headers));
    if textual { room } else { room / 4 * 3 }
}

fn too_large(service: &Service, limit: usize) -> ApiError {
    ApiError::BadGateway {
        detail: format!(
            "the response of service {} is larger than {limit} bytes, the most the proxy can return \
             (the service's max_response_bytes or the 6 MB Lambda response limit); request a smaller range or page",
            service.name
        ),
    }
}

fn upstream_error(service: &Service, e: &reqwest::Error, timeout: Duration) -> ApiError {
    if e.is_timeout() {
        ApiError::GatewayTimeout {
            detail: format!(
                "service {} did not answer within {} ms",
                service.name,
                timeout.as_millis()
            ),
        }
    } else if e.is_connect() {
        ApiError::BadGateway {
            detail: format!(
                "service {} is unreachable (connection refused or failed)",
                service.name
            ),
        }
    } else {
        ApiError::BadGateway {
            detail: format!(
                "service {} broke off the response (connection reset or malformed HTTP)",
                service.name
            ),
        }
    }
}

/// Read status, headers and the body, stopping as soon as the body passes the limit.
async fn read_response(
    service: &Service,
    method: &Method,
    sent: Result<reqwest::Response, reqwest::Error>,
    timeout: Duration,
) -> Result<Upstreamed, ApiError> {
    let mut resp = sent.map_err(|e| {
        tracing::warn!(service = %service.name, error = %e, "upstream request failed");
        upstream_error(service, &e, timeout)
    })?;
    let status = resp.status();
    let headers = std::mem::take(resp.headers_mut());
    let limit =
        (service.max_response_bytes as usize).min(lambda_budget(&headers, is_textual(&headers)));
    if *method != Method::HEAD && resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large(service, limit));
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(0, |n| n as usize).min(limit));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(service, limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(service = %service.name, error = %e, "upstream body failed");
                return Err(upstream_error(service, &e, timeout));
            }
        }
    }
    Ok((status, headers, body))
}

/// Text for textual UTF-8 bodies, binary (base64 in the envelope) otherwise;
/// re-checked against the Lambda limit once the encoding is known.
fn lambda_body(
    service: &Service,
    headers: &http::HeaderMap,
    body: Vec<u8>,
) -> Result<Body, ApiError> {
    if body.is_empty() {
        return Ok(Body::Empty);
    }
    if is_textual(headers) {
        match String::from_utf8(body) {
            Ok(text) => {
                // JSON escaping can grow the text: count it.
                let escaped: usize = text
                    .bytes()
                    .map(|b| match b {
                        b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
                        0..=0x1f => 6,
                        _ => 1,
                    })
                    .sum();
                let budget = lambda_budget(headers, true);
                if escaped > budget {
                    return Err(too_large(service, budget));
                }
                return Ok(Body::Text(text));
            }
            Err(e) => {
                let body = e.into_bytes();
                let budget = lambda_budget(headers, false);
                if body.len() > budget {
                    return Err(too_large(service, budget));
                }
                return Ok(Body::Binary(body));
            }
        }
    }
    let budget = lambda_budget(headers, false);
    if body.len() > budget {
        return Err(too_large(service, budget));
    }
    Ok(Body::Binary(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_is_the_smallest_of_service_gateway_and_lambda_deadline() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let m = Duration::from_millis(500);
        assert_eq!(
            upstream_timeout(Duration::from_secs(10), None, now, m),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            upstream_timeout(Duration::from_secs(29), None, now, m),
            Some(Duration::from_millis(28_500))
        );
        let deadline = now + Duration::from_secs(3);
        assert_eq!(
            upstream_timeout(Duration::from_secs(10), Some(deadline), now, m),
            Some(Duration::from_millis(2_500))
        );
        assert_eq!(
            upstream_timeout(Duration::from_secs(10), Some(now + m), now, m),
            None
        );
        assert_eq!(
            upstream_timeout(Duration::from_secs(10), Some(now - m), now, m),
            None
        );
    }

    #[test]
    fn status_classes_and_refusal_reasons_are_closed_sets() {
        let classes = portcullis_core::metrics::STATUS_CLASSES;
        for code in [200u16, 204, 302, 404, 418, 500, 599] {
            let class = status_class(StatusCode::from_u16(code).unwrap());
            assert!(classes.contains(&class), "{code}: {class}");
        }
        assert_eq!(status_class(StatusCode::from_u16(101).unwrap()), "error");
        assert_eq!(refusal_reason(StatusCode::FORBIDDEN), "forbidden");
        assert_eq!(refusal_reason(StatusCode::IM_A_TEAPOT), "other");
    }

    #[test]
    fn binary_budget_accounts_for_base64_inflation() {
        let h = http::HeaderMap::new();
        assert!(lambda_budget(&h, false) * 4 / 3 <= LAMBDA_RESPONSE_LIMIT);
        assert!(lambda_budget(&h, true) > lambda_budget(&h, false));
    }

    #[test]
    fn textual_content_types_are_recognised() {
        let mut h = http::HeaderMap::new();
        for (ct, text) in [
            ("application/json; charset=utf-8", true),
            ("text/html", true),
            ("application/vnd.api+json", true),
            ("application/octet-stream", false),
            ("image/png", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_textual(&h), text, "{ct}");
        }
    }
}
