//! The gateway: API Gateway REST's request pipeline over loopback HTTP.
//!
//! A request goes through API Gateway's phases in order, each a function
//! below that either goes on or answers with one of API Gateway's own
//! answers ([`crate::gateway_response`]): the body limit ([`read_body`]),
//! the route ([`route`]), the authorizer and the usage plan
//! ([`authorize`], [`meter`]), then the integration ([`integrate_http`],
//! [`integrate_lambda`]). [`handle`] then applies the REST API's gateway
//! responses and writes the access-log line.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::{HeaderMap, Request, Response};
use portcullis_core::trace;
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::access_log::AccessLog;
use crate::context_vars::ContextVars;
use crate::event::{self, Deployment, Incoming};
pub use crate::gateway_response::GatewayResponse;
use crate::gateway_response::{self as answer, error_message, response_type};
use crate::http_integration::{self, Failure, HttpIntegration, LocalHttpIntegration, Upstreams};
use crate::integration::{EventFunction, EventHandler, HttpFunction, HttpHandler, Integration};
use crate::lambda_proxy::{self, AuthzFailure, Invoked, LAMBDA_PAYLOAD_BYTES};
pub use crate::metering::Throttle;
use crate::metering::{self, Meter, Usage, UsageSource, Verdict};
use crate::routing::{self, Matched};
use crate::spec::{Api, METHODS, Operation, TransferMode};
use crate::streaming::StreamLimits;

/// API Gateway's request payload limit (10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The local API Gateway: a contract plus the functions it invokes.
pub struct Gateway {
    api: Api,
    deployment: Deployment,
    functions: HashMap<String, Arc<dyn Integration>>,
    /// Keys and plans from [`Gateway::throttle`], when no source is set.
    fixed_usage: Usage,
    usage_source: Option<Arc<dyn UsageSource>>,
    usage_max_age: Duration,
    gateway_responses: BTreeMap<String, GatewayResponse>,
    upstreams: Upstreams,
    access_log: Option<AccessLog>,
    stream_limits: StreamLimits,
}

struct Inner {
    api: Api,
    deployment: Deployment,
    functions: HashMap<String, Arc<dyn Integration>>,
    meter: Meter,
    gateway_responses: BTreeMap<String, GatewayResponse>,
    upstreams: Upstreams,
    http_client: http_integration::HttpClient,
    access_log: Option<AccessLog>,
    stream_limits: StreamLimits,
}

impl Gateway {
    pub fn new(api: Api) -> Gateway {
        Gateway {
            api,
            deployment: Deployment::default(),
            functions: HashMap::new(),
            fixed_usage: Usage::default(),
            usage_source: None,
            usage_max_age: metering::DEFAULT_MAX_AGE,
            gateway_responses: BTreeMap::new(),
            upstreams: Upstreams::default(),
            access_log: None,
            stream_limits: StreamLimits::default(),
        }
    }

    /// The stage's access log: its format and where its lines go
    /// ([`crate::access_log`]).
    pub fn with_access_log(mut self, access_log: AccessLog) -> Gateway {
        self.access_log = Some(access_log);
        self
    }

    /// The limits of streamed responses (API Gateway's regional ones unless
    /// set; tests shorten them).
    pub fn with_stream_limits(mut self, limits: StreamLimits) -> Gateway {
        self.stream_limits = limits;
        self
    }

    /// Where HTTP (VPC link) integrations go locally: base URLs by upstream
    /// path prefix (`PORTCULLIS_HTTP_UPSTREAMS`).
    pub fn with_http_upstreams(mut self, upstreams: Upstreams) -> Gateway {
        self.upstreams = upstreams;
        self
    }

    /// The REST API's gateway responses, by response type.
    pub fn with_gateway_responses(
        mut self,
        responses: BTreeMap<String, GatewayResponse>,
    ) -> Gateway {
        self.gateway_responses = responses;
        self
    }

    pub fn with_deployment(mut self, deployment: Deployment) -> Gateway {
        self.deployment = deployment;
        self
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Names of the functions the contract refers to (integrations and the authorizer).
    pub fn referenced_functions(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .api
            .resources
            .iter()
            .flat_map(|r| r.methods.values().map(|o| o.function.clone()))
            .filter(|f| !f.is_empty())
            .chain(self.api.authorizer.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn registered(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Register any integration under a function name.
    pub fn register(&mut self, name: &str, integration: Arc<dyn Integration>) -> &mut Gateway {
        self.functions.insert(name.to_owned(), integration);
        self
    }

    /// Register a `lambda_http` handler: `gateway.http("keys", Arc::new(state), keys::handle)`.
    pub fn http<S, H>(&mut self, name: &str, state: Arc<S>, handler: H) -> &mut Gateway
    where
        S: Send + Sync + 'static,
        H: for<'a> HttpHandler<'a, S>,
    {
        self.register(name, Arc::new(HttpFunction::new(state, handler)))
    }

    /// Register an event handler `handle(&State, T) -> Result<R, E>`.
    pub fn event<S, T, H>(&mut self, name: &str, state: Arc<S>, handler: H) -> &mut Gateway
    where
        S: Send + Sync + 'static,
        T: serde::de::DeserializeOwned + Send + 'static,
        H: for<'a> EventHandler<'a, S, T>,
    {
        self.register(
            name,
            Arc::new(EventFunction::<S, T, H>::new(state, handler)),
        )
    }

    /// Register the REQUEST authorizer under the name the security scheme uses.
    pub fn authorizer<S, H>(&mut self, state: Arc<S>, handler: H) -> &mut Gateway
    where
        S: Send + Sync + 'static,
        H: for<'a> EventHandler<'a, S, ApiGatewayCustomAuthorizerRequestTypeRequest>,
    {
        let name = self
            .api
            .authorizer
            .clone()
            .unwrap_or_else(|| "authorizer".to_owned());
        self.event::<S, ApiGatewayCustomAuthorizerRequestTypeRequest, H>(&name, state, handler)
    }

    /// Without a usage source (tests): `usage_identifier_key` is an enabled
    /// API key in a usage plan of this stage with `throttle` and no quota.
    /// Requests to operations that require an API key and carry it get 429
    /// once its bucket is empty; other keys are refused (403).
    pub fn throttle(&mut self, usage_identifier_key: &str, throttle: Throttle) -> &mut Gateway {
        let id = format!("fixed-{usage_identifier_key}");
        self.fixed_usage.keys.push(metering::ApiKey {
            id: id.clone(),
            value: usage_identifier_key.to_owned(),
            enabled: true,
        });
        self.fixed_usage.plans.push(metering::UsagePlan {
            id: format!("plan-of-{id}"),
            name: format!("plan of {usage_identifier_key}"),
            throttle: Some(throttle),
            quota: None,
            // This stage, whatever the deployment: filled in by `router`.
            stages: Vec::new(),
            keys: vec![id],
        });
        self
    }

    /// Where the API keys and usage plans come from (the emulator's API
    /// Gateway: [`crate::EmulatorUsage`]); replaces [`Gateway::throttle`]'s.
    pub fn with_usage(mut self, source: Arc<dyn UsageSource>) -> Gateway {
        self.usage_source = Some(source);
        self
    }

    /// How long a read of the usage source is used
    /// ([`metering::DEFAULT_MAX_AGE`] unless set).
    pub fn with_usage_max_age(mut self, max_age: Duration) -> Gateway {
        self.usage_max_age = max_age;
        self
    }

    pub fn router(self) -> Router {
        let (api_id, stage) = (&self.deployment.api_id, &self.deployment.stage);
        let source = self.usage_source.unwrap_or_else(|| {
            let mut fixed = self.fixed_usage;
            for plan in &mut fixed.plans {
                plan.stages = vec![(api_id.clone(), stage.clone())];
            }
            Arc::new(fixed)
        });
        let meter = Meter::new(source, api_id, stage).with_max_age(self.usage_max_age);
        let inner = Arc::new(Inner {
            api: self.api,
            deployment: self.deployment,
            functions: self.functions,
            meter,
            gateway_responses: self.gateway_responses,
            upstreams: self.upstreams,
            http_client: http_integration::client(),
            access_log: self.access_log,
            stream_limits: self.stream_limits,
        });
        Router::new().fallback(handle).with_state(inner)
    }

    /// Serve on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = self
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

// ---------------------------------------------------------------- one request

/// One request as the gateway saw it: what the events, the gateway
/// responses and the access-log line are built from.
struct Exchange {
    request_id: String,
    extended_request_id: String,
    received_at: DateTime<Utc>,
    started: Instant,
    /// Upper-cased.
    method: String,
    /// As received (percent-encoded), without the stage.
    raw_path: String,
    headers: HeaderMap,
    source_ip: String,
    resource_path: Option<String>,
    /// `requestContext.authorizer` once the authorizer answered.
    authorizer: Option<Map<String, Value>>,
    /// The authorizer's `usageIdentifierKey`.
    api_key: Option<String>,
}

impl Exchange {
    fn new(req: &Request<Body>, peer: SocketAddr) -> Exchange {
        Exchange {
            request_id: uuid::Uuid::new_v4().to_string(),
            extended_request_id: event::extended_request_id(),
            received_at: Utc::now(),
            started: Instant::now(),
            method: req.method().as_str().to_ascii_uppercase(),
            raw_path: req.uri().path().to_owned(),
            headers: req.headers().clone(),
            source_ip: peer.ip().to_string(),
            resource_path: None,
            authorizer: None,
            api_key: None,
        }
    }

    /// The `$context` variables of the request and its answer so far (AWS,
    /// "Variables for access logging for API Gateway"); `path` is the path
    /// as API Gateway gives it, with the stage.
    fn vars(&self, d: &Deployment, resp: &Response<Body>) -> ContextVars {
        let mut v = ContextVars::default();
        let header = |name: &str| self.headers.get(name).and_then(|v| v.to_str().ok());
        for (name, value) in [
            ("accountId", d.account_id.as_str()),
            ("apiId", &d.api_id),
            ("stage", &d.stage),
            ("requestId", &self.request_id),
            ("extendedRequestId", &self.extended_request_id),
            ("httpMethod", &self.method),
            ("protocol", "HTTP/1.1"),
            ("identity.sourceIp", &self.source_ip),
        ] {
            v.set(name, value);
        }
        v.set("path", format!("/{}{}", d.stage, self.raw_path));
        let time = self.received_at.format("%d/%b/%Y:%H:%M:%S %z");
        v.set("requestTime", time.to_string());
        v.set(
            "requestTimeEpoch",
            self.received_at.timestamp_millis().to_string(),
        );
        v.set(
            "responseLatency",
            self.started.elapsed().as_millis().to_string(),
        );
        let optional = [
            ("resourcePath", self.resource_path.as_deref()),
            ("identity.userAgent", header("user-agent")),
            ("identity.apiKey", self.api_key.as_deref()),
            (
                "domainName",
                header("host").map(|h| h.split(':').next().unwrap_or(h)),
            ),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                v.set(name, value);
            }
        }
        for (key, value) in self.authorizer.iter().flatten() {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            v.set(&format!("authorizer.{key}"), value);
        }
        if let (Some(kind), Some(message)) = (response_type(resp), error_message(resp)) {
            v.set("error.responseType", kind);
            v.set("error.message", message);
            v.set(
                "error.messageString",
                Value::String(message.to_owned()).to_string(),
            );
        }
        v
    }
}

/// A phase's outcome: go on with `T`, or answer (boxed: an answer is large).
type Step<T> = Result<T, Box<Response<Body>>>;

fn refuse<T>(answer: Response<Body>) -> Step<T> {
    Err(Box::new(answer))
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let mut exchange = Exchange::new(&req, peer);
    let mut resp = match pipeline(&inner, &mut exchange, req).await {
        Ok(resp) => resp,
        Err(answer) => *answer,
    };
    let mut vars = exchange.vars(&inner.deployment, &resp);
    answer::apply(
        &inner.gateway_responses,
        &mut resp,
        &exchange.headers,
        &vars,
    );
    vars.set("status", resp.status().as_str());
    if let Some(log) = &inner.access_log {
        log.record(&vars);
    }
    tracing::info!(
        request_id = %exchange.request_id,
        method = %exchange.method,
        path = %exchange.raw_path,
        status = resp.status().as_u16(),
        latency_ms = exchange.started.elapsed().as_millis() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&exchange.request_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    resp
}

async fn pipeline(inner: &Inner, ex: &mut Exchange, req: Request<Body>) -> Step<Response<Body>> {
    let (mut parts, body) = req.into_parts();
    let body = read_body(&parts.headers, body).await?;
    // Tracing is on for the stage (Terraform: xray_tracing_enabled): "API
    // Gateway adds a trace header to incoming HTTP requests that don't
    // already have one" (AWS X-Ray Developer Guide, "Amazon API Gateway
    // active tracing support for AWS X-Ray"); the integrations, Lambda and
    // HTTP, receive it.
    if !parts.headers.contains_key(trace::HEADER)
        && let Ok(v) = HeaderValue::from_str(trace::TraceHeader::new_root().as_str())
    {
        parts
            .headers
            .insert(HeaderName::from_static(trace::HEADER), v);
    }
    let (method, raw_path) = (ex.method.clone(), ex.raw_path.clone());
    let (matched, operation) = route(&inner.api, &method, &raw_path)?;
    ex.resource_path = Some(matched.resource.path.clone());
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let incoming = Incoming {
        method: &method,
        raw_path: &raw_path,
        raw_query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
        body_is_binary: inner.api.is_binary(content_type),
        source_ip: ex.source_ip.clone(),
        request_id: ex.request_id.clone(),
        extended_request_id: ex.extended_request_id.clone(),
        received_at: ex.received_at,
        resource_path: &matched.resource.path,
        path_parameters: &matched.path_parameters,
    };
    let mut event = event::proxy_event(&inner.deployment, &incoming);
    if operation.secured {
        let context = authorize(inner, ex, operation, &incoming).await?;
        with_authorizer(&mut event, context, ex.api_key.as_deref());
    } else if operation.api_key_required {
        // apiKeyRequired without an authorizer: with apiKeySource
        // AUTHORIZER there is no key.
        meter(&inner.meter, None).await?;
    }
    Ok(match &operation.http {
        Some(http) => integrate_http(inner, http, operation, &parts, body, &event).await,
        None => integrate_lambda(inner, operation, &parts.headers, event, &ex.request_id).await,
    })
}

// ---------------------------------------------------------------- phases

/// API Gateway's 10 MB request payload limit (413 `REQUEST_TOO_LARGE`).
async fn read_body(headers: &HeaderMap, body: Body) -> Step<Bytes> {
    let declared_len = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse(answer::too_long("RequestTooLongException"));
    }
    match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => Ok(body),
        Err(_) => refuse(answer::too_long("RequestTooLongException")),
    }
}

/// The resource and method: none is 403 `MISSING_AUTHENTICATION_TOKEN`.
fn route<'a>(api: &'a Api, method: &str, raw_path: &str) -> Step<(Matched<'a>, &'a Operation)> {
    let Some(matched) = routing::route(&api.resources, raw_path) else {
        return refuse(answer::missing_token());
    };
    let resource = matched.resource;
    let operation = METHODS
        .contains(&method)
        .then(|| resource.operation(method))
        .flatten();
    match operation {
        Some(operation) => Ok((matched, operation)),
        None => refuse(answer::missing_token()),
    }
}

/// The REQUEST authorizer: its answer's context (kept for the gateway
/// responses and the access log even when the policy then denies), its
/// policy, and the usage plan of its `usageIdentifierKey`.
async fn authorize(
    inner: &Inner,
    ex: &mut Exchange,
    operation: &Operation,
    incoming: &Incoming<'_>,
) -> Step<Map<String, Value>> {
    let Some(authorizer) = (inner.api.authorizer.as_ref()).and_then(|n| inner.functions.get(n))
    else {
        tracing::warn!(route = %incoming.resource_path, "secured route and no authorizer registered: 401");
        return refuse(answer::unauthorized());
    };
    let started = Instant::now();
    let reply = call_authorizer(inner, authorizer.as_ref(), incoming, operation.timeout).await?;
    let latency = started.elapsed().as_millis() as u64;
    let context = match lambda_proxy::authorizer_context(&reply, latency) {
        Ok(context) => context,
        Err(reason) => {
            tracing::warn!(%reason, "authorizer answered an invalid response: 500");
            return refuse(answer::authorizer_configuration_error());
        }
    };
    ex.authorizer = Some(context.clone());
    let method_arn = inner
        .deployment
        .method_arn(incoming.method, incoming.raw_path);
    match lambda_proxy::policy_decision(&reply, &method_arn) {
        Ok(()) => {}
        Err(AuthzFailure::Denied(explicit)) => return refuse(answer::access_denied(explicit)),
        Err(AuthzFailure::Invalid(reason)) => {
            tracing::warn!(%reason, "authorizer answered an invalid policy: 500");
            return refuse(answer::authorizer_configuration_error());
        }
    }
    let key = reply.get("usageIdentifierKey").and_then(Value::as_str);
    ex.api_key = key.map(str::to_owned);
    if operation.api_key_required {
        meter(&inner.meter, key).await?;
    }
    Ok(context)
}

async fn call_authorizer(
    inner: &Inner,
    authorizer: &dyn Integration,
    incoming: &Incoming<'_>,
    timeout: Duration,
) -> Step<Value> {
    let auth_event = event::authorizer_event(&inner.deployment, incoming);
    match lambda_proxy::invoke(authorizer, auth_event, &incoming.request_id, timeout).await {
        Invoked::Ok(v) => Ok(v),
        Invoked::Err(e) if e == "Unauthorized" => refuse(answer::unauthorized()),
        Invoked::Err(e) => {
            tracing::warn!(error = %e, "authorizer failed: 500");
            refuse(answer::authorizer_failure())
        }
        Invoked::TimedOut => {
            tracing::warn!("authorizer timed out: 500");
            refuse(answer::authorizer_failure())
        }
    }
}

/// `requestContext.authorizer`, and (apiKeySource AUTHORIZER) the usage
/// plan key as `requestContext.identity.apiKey`.
fn with_authorizer(event: &mut Value, context: Map<String, Value>, key: Option<&str>) {
    let Some(ctx) = event
        .get_mut("requestContext")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    ctx.insert("authorizer".into(), Value::Object(context));
    if let (Some(key), Some(identity)) =
        (key, ctx.get_mut("identity").and_then(Value::as_object_mut))
    {
        identity.insert("apiKey".into(), Value::String(key.to_owned()));
    }
}

/// The usage plan's verdict for a request that requires an API key.
async fn meter(meter: &Meter, usage_identifier_key: Option<&str>) -> Step<()> {
    match meter.check(usage_identifier_key).await {
        Verdict::Pass => Ok(()),
        Verdict::Forbidden => refuse(answer::invalid_api_key()),
        Verdict::Throttled => refuse(answer::throttled()),
        Verdict::QuotaExceeded => refuse(answer::quota_exceeded()),
        Verdict::Unavailable(reason) => {
            tracing::error!(%reason, "cannot meter the request: 500");
            refuse(answer::api_configuration_error())
        }
    }
}

/// An `http_proxy` integration: the upstream request built as API Gateway
/// builds it, sent to its local address, the answer buffered (10 MB, 502
/// beyond) or streamed (`responseTransferMode: STREAM`).
async fn integrate_http(
    inner: &Inner,
    http: &HttpIntegration,
    operation: &Operation,
    parts: &Parts,
    body: Bytes,
    event: &Value,
) -> Response<Body> {
    let method = parts.method.as_str().to_ascii_uppercase();
    let prepared = http
        .outgoing(&method, parts.uri.query(), &parts.headers, event)
        .and_then(|out| Ok((http.local_url(&out.url, &inner.upstreams)?, out)));
    let (url, out) = match prepared {
        Ok(v) => v,
        Err(reason) => {
            tracing::error!(%reason, "Execution failed due to configuration error: 500");
            return answer::api_configuration_error();
        }
    };
    let client = &inner.http_client;
    let sent = match operation.transfer_mode {
        TransferMode::Buffered => {
            http_integration::send(
                client,
                &out.method,
                &url,
                out.headers,
                body,
                operation.timeout,
            )
            .await
        }
        TransferMode::Stream => {
            let limits = inner.stream_limits;
            let (method, headers, timeout) = (&out.method, out.headers, operation.timeout);
            http_integration::send_streamed(client, method, &url, headers, body, timeout, limits)
                .await
        }
    };
    match sent {
        Ok(resp) => resp,
        Err(Failure::TimedOut) => answer::integration_timeout(),
        Err(Failure::Failed(reason)) => {
            tracing::warn!(%reason, "HTTP integration failed: 500");
            answer::integration_unreachable()
        }
        Err(Failure::TooLarge) => {
            let limit = http_integration::MAX_RESPONSE_BYTES;
            tracing::warn!(
                limit,
                "HTTP integration answered more than API Gateway's 10 MB response payload limit: 502"
            );
            answer::integration_failure()
        }
    }
}

/// A Lambda proxy integration: the event within Lambda's invocation
/// payload limit, the function invoked, its answer mapped to HTTP.
async fn integrate_lambda(
    inner: &Inner,
    operation: &Operation,
    request_headers: &HeaderMap,
    event: Value,
    request_id: &str,
) -> Response<Body> {
    let Some(function) = inner.functions.get(&operation.function) else {
        tracing::error!(function = %operation.function, "no function registered for this integration: 500");
        return answer::api_configuration_error();
    };
    let size = lambda_proxy::payload_size(&event);
    if size > LAMBDA_PAYLOAD_BYTES {
        // Lambda refuses the invoke (413 RequestEntityTooLargeException) and
        // API Gateway answers 413 {"message": "Request Too Long"} with
        // x-amzn-ErrorType BadRequestException: observed on AWS (GitHub
        // koki-develop/lgtm-generator's GitHub issue #10, "Lambda payload limit"
        // response); the AWS pages do not document this answer.
        tracing::warn!(size, limit = LAMBDA_PAYLOAD_BYTES, function = %operation.function,
            "the Lambda proxy event is over Lambda's 6 MB synchronous invocation payload: 413");
        return answer::too_long("BadRequestException");
    }
    match lambda_proxy::invoke(function.as_ref(), event, request_id, operation.timeout).await {
        Invoked::Ok(v) => lambda_proxy::map_response(&inner.api, request_headers, &v)
            .unwrap_or_else(|reason| {
                tracing::warn!(function = %operation.function, %reason, "malformed Lambda proxy response: 502");
                answer::integration_failure()
            }),
        Invoked::Err(e) => {
            tracing::warn!(function = %operation.function, error = %e, "integration failed: 502");
            answer::integration_failure()
        }
        Invoked::TimedOut => answer::integration_timeout(),
    }
}
