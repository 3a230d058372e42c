//! The gateway: API Gateway REST's request pipeline over loopback HTTP.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::FutureExt;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode};
use lambda_runtime::Context;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::event::{self, Deployment, Incoming};
use crate::http_integration::{self, Failure, Upstreams};
use crate::integration::{EventFunction, EventHandler, HttpFunction, HttpHandler, Integration};
pub use crate::metering::Throttle;
use crate::metering::{self, Meter, Usage, UsageSource, Verdict};
use crate::policy::{self, Decision};
use crate::routing;
use crate::spec::{Api, METHODS};

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
}

struct Inner {
    api: Api,
    deployment: Deployment,
    functions: HashMap<String, Arc<dyn Integration>>,
    meter: Meter,
    gateway_responses: BTreeMap<String, GatewayResponse>,
    upstreams: Upstreams,
    http_client: http_integration::HttpClient,
}

/// A gateway response of the REST API (`aws_api_gateway_gateway_response`):
/// how API Gateway's own answers of one type (`UNAUTHORIZED`, `DEFAULT_4XX`,
/// ...) are rewritten: status, headers mapped from the request or literal,
/// body templates. As `GetGatewayResponses` reports them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayResponse {
    #[serde(default)]
    pub status_code: Option<String>,
    #[serde(default)]
    pub response_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub response_templates: BTreeMap<String, String>,
}

/// The gateway response type of one of API Gateway's own answers.
#[derive(Debug, Clone, Copy)]
struct ResponseType(&'static str);

/// Its message (`$context.error.message`).
#[derive(Debug, Clone)]
struct ErrorMessage(String);

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
        }
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

// ---------------------------------------------------------------- answers

fn json_response(status: StatusCode, body: &Value, error_type: Option<&str>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(t) = error_type.and_then(|t| HeaderValue::from_str(t).ok()) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-amzn-errortype"), t);
    }
    let text = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    resp.extensions_mut().insert(ErrorMessage(text.to_owned()));
    resp
}

fn message(status: StatusCode, text: &str, error_type: &str) -> Response<Body> {
    json_response(status, &json!({ "message": text }), Some(error_type))
}

fn typed(mut resp: Response<Body>, kind: &'static str) -> Response<Body> {
    resp.extensions_mut().insert(ResponseType(kind));
    resp
}

/// API Gateway's own answer rewritten by the REST API's gateway response of
/// its type, else `DEFAULT_4XX` / `DEFAULT_5XX`: status, headers
/// (`method.request.header.<name>` from the request, omitted when absent;
/// `'literal'`), and the `application/json` template with
/// `$context.error.message` and `$context.requestId` filled in.
fn apply_gateway_response(
    responses: &BTreeMap<String, GatewayResponse>,
    resp: &mut Response<Body>,
    request_headers: &HeaderMap,
    request_id: &str,
) {
    let Some(ResponseType(kind)) = resp.extensions().get::<ResponseType>().copied() else {
        return;
    };
    let message = resp
        .extensions()
        .get::<ErrorMessage>()
        .map(|m| m.0.clone())
        .unwrap_or_default();
    let message = message.as_str();
    let default = if resp.status().is_server_error() {
        "DEFAULT_5XX"
    } else {
        "DEFAULT_4XX"
    };
    let Some(gr) = responses.get(kind).or_else(|| responses.get(default)) else {
        return;
    };
    if let Some(status) = gr
        .status_code
        .as_deref()
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        *resp.status_mut() = status;
    }
    if let Some(template) = gr.response_templates.get("application/json") {
        let body = template
            .replace("$context.error.messageString", &format!("{message:?}"))
            .replace("$context.error.message", message)
            .replace("$context.requestId", request_id);
        *resp.body_mut() = Body::from(body);
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    for (target, source) in &gr.response_parameters {
        let Some(name) = target.strip_prefix("gatewayresponse.header.") else {
            continue;
        };
        let value = if let Some(header) = source.strip_prefix("method.request.header.") {
            request_headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        } else {
            source
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_owned)
        };
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.map(|v| HeaderValue::from_str(&v)),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
}

fn missing_token() -> Response<Body> {
    typed(
        message(
            StatusCode::FORBIDDEN,
            "Missing Authentication Token",
            "MissingAuthenticationTokenException",
        ),
        "MISSING_AUTHENTICATION_TOKEN",
    )
}
fn too_many() -> Response<Body> {
    typed(
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "ThrottledException",
        ),
        "THROTTLED",
    )
}
fn limit_exceeded() -> Response<Body> {
    typed(
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "Limit Exceeded",
            "LimitExceededException",
        ),
        "QUOTA_EXCEEDED",
    )
}
fn forbidden() -> Response<Body> {
    typed(
        message(StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException"),
        "INVALID_API_KEY",
    )
}
fn too_long() -> Response<Body> {
    typed(
        message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Too Long",
            "RequestTooLongException",
        ),
        "REQUEST_TOO_LARGE",
    )
}
fn unauthorized() -> Response<Body> {
    typed(
        message(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "UnauthorizedException",
        ),
        "UNAUTHORIZED",
    )
}
fn internal_error() -> Response<Body> {
    typed(
        message(
            StatusCode::BAD_GATEWAY,
            "Internal server error",
            "InternalServerErrorException",
        ),
        "INTEGRATION_FAILURE",
    )
}
/// An HTTP integration that cannot be reached or built: API Gateway's
/// "Execution failed due to configuration error" answer.
fn integration_config_error() -> Response<Body> {
    typed(
        message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "InternalServerErrorException",
        ),
        "INTEGRATION_FAILURE",
    )
}
fn timed_out() -> Response<Body> {
    typed(
        message(
            StatusCode::GATEWAY_TIMEOUT,
            "Endpoint request timed out",
            "IntegrationTimeout",
        ),
        "INTEGRATION_TIMEOUT",
    )
}
fn authorizer_failure() -> Response<Body> {
    typed(
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({ "message": null }),
            Some("AuthorizerConfigurationException"),
        ),
        "AUTHORIZER_FAILURE",
    )
}
fn denied(explicit: bool) -> Response<Body> {
    let text = if explicit {
        "User is not authorized to access this resource with an explicit deny"
    } else {
        "User is not authorized to access this resource"
    };
    typed(
        json_response(
            StatusCode::FORBIDDEN,
            &json!({ "Message": text }),
            Some("AccessDeniedException"),
        ),
        "ACCESS_DENIED",
    )
}

// ---------------------------------------------------------------- pipeline

async fn handle(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let request_headers = req.headers().clone();
    let started = Instant::now();
    let mut resp = pipeline(&inner, peer, req, &request_id).await;
    apply_gateway_response(
        &inner.gateway_responses,
        &mut resp,
        &request_headers,
        &request_id,
    );
    // One access-log line per request, like the stage's access log.
    tracing::info!(
        request_id = %request_id,
        %method,
        %path,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), v);
    }
    resp
}

async fn pipeline(
    inner: &Inner,
    peer: SocketAddr,
    req: Request<Body>,
    request_id: &str,
) -> Response<Body> {
    let received_at = chrono::Utc::now();
    let (parts, body) = req.into_parts();
    let declared_len = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_long();
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return too_long();
    };
    let raw_path = parts.uri.path().to_owned();
    let method = parts.method.as_str().to_ascii_uppercase();
    let Some(matched) = routing::route(&inner.api.resources, &raw_path) else {
        return missing_token();
    };
    if !METHODS.contains(&method.as_str()) {
        return missing_token();
    }
    let Some(operation) = matched.resource.operation(&method) else {
        return missing_token();
    };
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
        source_ip: peer.ip().to_string(),
        request_id: request_id.to_owned(),
        extended_request_id: event::extended_request_id(),
        received_at,
        resource_path: &matched.resource.path,
        path_parameters: &matched.path_parameters,
    };
    let mut event = event::proxy_event(&inner.deployment, &incoming);

    if operation.secured {
        let authorizer = inner
            .api
            .authorizer
            .as_ref()
            .and_then(|name| inner.functions.get(name));
        let Some(authorizer) = authorizer else {
            tracing::warn!(route = %matched.resource.path, "secured route and no authorizer registered: 401");
            return unauthorized();
        };
        let auth_event = event::authorizer_event(&inner.deployment, &incoming);
        let method_arn = inner.deployment.method_arn(&method, &raw_path);
        let started = std::time::Instant::now();
        let outcome = invoke(
            authorizer.as_ref(),
            auth_event,
            request_id,
            operation.timeout,
        )
        .await;
        let latency = started.elapsed().as_millis() as u64;
        let answer = match outcome {
            Invoked::Ok(v) => v,
            Invoked::Err(e) if e == "Unauthorized" => return unauthorized(),
            Invoked::Err(e) => {
                tracing::warn!(error = %e, "authorizer failed: 500");
                return authorizer_failure();
            }
            Invoked::TimedOut => {
                tracing::warn!("authorizer timed out: 500");
                return authorizer_failure();
            }
        };
        match authorize(&answer, &method_arn, latency) {
            Ok(context) => {
                let key = answer.get("usageIdentifierKey").and_then(Value::as_str);
                if operation.api_key_required {
                    if let Some(refused) = meter(&inner.meter, key).await {
                        return refused;
                    }
                }
                if let Some(ctx) = event
                    .get_mut("requestContext")
                    .and_then(Value::as_object_mut)
                {
                    ctx.insert("authorizer".into(), Value::Object(context));
                    // apiKeySource AUTHORIZER: the usage plan key shows as identity.apiKey.
                    if let (Some(key), Some(identity)) =
                        (key, ctx.get_mut("identity").and_then(Value::as_object_mut))
                    {
                        identity.insert("apiKey".into(), Value::String(key.to_owned()));
                    }
                }
            }
            Err(AuthzFailure::Denied(explicit)) => return denied(explicit),
            Err(AuthzFailure::Invalid(reason)) => {
                tracing::warn!(%reason, "authorizer answered an invalid response: 500");
                return authorizer_failure();
            }
        }
    }

    // apiKeyRequired without an authorizer: with apiKeySource AUTHORIZER
    // there is no key.
    if operation.api_key_required && !operation.secured {
        if let Some(refused) = meter(&inner.meter, None).await {
            return refused;
        }
    }

    if let Some(http) = &operation.http {
        let outgoing = http
            .outgoing(&method, parts.uri.query(), &parts.headers, &event)
            .and_then(|out| Ok((http.local_url(&out.url, &inner.upstreams)?, out)));
        let (url, outgoing) = match outgoing {
            Ok(v) => v,
            Err(reason) => {
                tracing::error!(%reason, "Execution failed due to configuration error: 500");
                return integration_config_error();
            }
        };
        return match http_integration::send(
            &inner.http_client,
            &outgoing.method,
            &url,
            outgoing.headers,
            body,
            operation.timeout,
        )
        .await
        {
            Ok(resp) => resp,
            Err(Failure::TimedOut) => timed_out(),
            Err(Failure::Failed(reason)) => {
                tracing::warn!(%reason, "HTTP integration failed: 500");
                integration_config_error()
            }
            Err(Failure::TooLarge) => {
                tracing::warn!(
                    limit = http_integration::MAX_RESPONSE_BYTES,
                    "HTTP integration answered more than API Gateway's 10 MB response payload limit: 502"
                );
                internal_error()
            }
        };
    }

    let Some(function) = inner.functions.get(&operation.function) else {
        tracing::error!(function = %operation.function, "no function registered for this integration: 500");
        return message(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
            "InternalServerErrorException",
        );
    };
    match invoke(function.as_ref(), event, request_id, operation.timeout).await {
        Invoked::Ok(v) => map_response(&inner.api, &parts.headers, &v).unwrap_or_else(|reason| {
            tracing::warn!(function = %operation.function, %reason, "malformed Lambda proxy response: 502");
            internal_error()
        }),
        Invoked::Err(e) => {
            tracing::warn!(function = %operation.function, error = %e, "integration failed: 502");
            internal_error()
        }
        Invoked::TimedOut => timed_out(),
    }
}

/// The usage plan's answer for a request that requires an API key: `None`
/// to go on, else API Gateway's refusal.
async fn meter(meter: &Meter, usage_identifier_key: Option<&str>) -> Option<Response<Body>> {
    match meter.check(usage_identifier_key).await {
        Verdict::Pass => None,
        Verdict::Forbidden => Some(forbidden()),
        Verdict::Throttled => Some(too_many()),
        Verdict::QuotaExceeded => Some(limit_exceeded()),
        Verdict::Unavailable(reason) => {
            tracing::error!(%reason, "cannot meter the request: 500");
            Some(typed(
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                    "InternalServerErrorException",
                ),
                "API_CONFIGURATION_ERROR",
            ))
        }
    }
}

enum Invoked {
    Ok(Value),
    Err(String),
    TimedOut,
}

async fn invoke(f: &dyn Integration, event: Value, request_id: &str, timeout: Duration) -> Invoked {
    let mut context = Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    context.deadline = now_ms + timeout.as_millis() as u64;
    context.xray_trace_id = Some(format!(
        "Root=1-{:08x}-{}",
        now_ms / 1000,
        &request_id.replace('-', "")[..24]
    ));
    // A panicking handler fails the invocation (as the Lambda runtime reports
    // it) instead of tearing down the connection.
    let call = std::panic::AssertUnwindSafe(f.invoke(event, context)).catch_unwind();
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Invoked::TimedOut,
        Ok(Ok(Ok(v))) => Invoked::Ok(v),
        Ok(Ok(Err(e))) => Invoked::Err(e.to_string()),
        Ok(Err(_)) => Invoked::Err("the function panicked".to_owned()),
    }
}

enum AuthzFailure {
    Denied(bool),
    Invalid(String),
}

/// Check the authorizer's answer and build `requestContext.authorizer`.
fn authorize(
    answer: &Value,
    method_arn: &str,
    latency_ms: u64,
) -> Result<serde_json::Map<String, Value>, AuthzFailure> {
    let principal = answer
        .get("principalId")
        .and_then(Value::as_str)
        .ok_or_else(|| AuthzFailure::Invalid("principalId is missing".into()))?;
    let policy = answer
        .get("policyDocument")
        .ok_or_else(|| AuthzFailure::Invalid("policyDocument is missing".into()))?;
    match policy::evaluate(policy, method_arn) {
        Ok(Decision::Allow) => {}
        Ok(Decision::ImplicitDeny) => return Err(AuthzFailure::Denied(false)),
        Ok(Decision::ExplicitDeny) => return Err(AuthzFailure::Denied(true)),
        Err(e) => return Err(AuthzFailure::Invalid(e.to_string())),
    }
    let mut out = serde_json::Map::new();
    if let Some(ctx) = answer.get("context").filter(|c| !c.is_null()) {
        let ctx = ctx
            .as_object()
            .ok_or_else(|| AuthzFailure::Invalid("context is not an object".into()))?;
        for (k, v) in ctx {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => continue,
                _ => {
                    return Err(AuthzFailure::Invalid(format!(
                        "context value {k} is not a string, number or boolean"
                    )));
                }
            };
            out.insert(k.clone(), Value::String(s));
        }
    }
    out.insert("principalId".into(), Value::String(principal.to_owned()));
    out.insert("integrationLatency".into(), json!(latency_ms));
    Ok(out)
}

/// Map a Lambda proxy response to HTTP.
fn map_response(
    api: &Api,
    request_headers: &HeaderMap,
    v: &Value,
) -> Result<Response<Body>, String> {
    let obj = v.as_object().ok_or("the response is not a JSON object")?;
    let status = obj
        .get("statusCode")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or("statusCode is missing or not an integer")?;
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or("statusCode is not a valid HTTP status")?;
    let mut headers = HeaderMap::new();
    let mut put = |name: &str, value: &str, append: bool| -> Result<(), String> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("bad header name {name:?}"))?;
        let v = HeaderValue::from_str(value).map_err(|_| format!("bad value for header {name}"))?;
        if append {
            headers.append(n, v);
        } else {
            headers.insert(n, v);
        }
        Ok(())
    };
    let mut multi_names = Vec::new();
    if let Some(m) = obj.get("multiValueHeaders").filter(|m| !m.is_null()) {
        for (name, values) in m.as_object().ok_or("multiValueHeaders is not an object")? {
            for value in values
                .as_array()
                .ok_or("multiValueHeaders values must be lists")?
            {
                put(
                    name,
                    value.as_str().ok_or("header values must be strings")?,
                    true,
                )?;
            }
            multi_names.push(name.to_ascii_lowercase());
        }
    }
    if let Some(m) = obj.get("headers").filter(|m| !m.is_null()) {
        for (name, value) in m.as_object().ok_or("headers is not an object")? {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(format!("header {name} is not a string")),
            };
            // API Gateway merges both maps; a name in both keeps every value.
            let append = multi_names.contains(&name.to_ascii_lowercase());
            put(name, &value, append)?;
        }
    }
    let is_b64 = obj
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            let content_type = headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            let accept = request_headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let binary =
                api.is_binary(content_type) || accept.is_some_and(|a| api.is_binary(Some(a)));
            if is_b64 && binary {
                B64.decode(s)
                    .map_err(|e| format!("body is not valid base64: {e}"))?
            } else {
                s.clone().into_bytes()
            }
        }
        Some(_) => return Err("body is not a string".into()),
    };
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Ok(resp)
}

#[cfg(test)]
mod tests {

    fn responses() -> BTreeMap<String, GatewayResponse> {
        let gr = |status: Option<&str>, title: &str| GatewayResponse {
            status_code: status.map(str::to_owned),
            response_parameters: BTreeMap::from([
                (
                    "gatewayresponse.header.Access-Control-Allow-Origin".to_owned(),
                    "method.request.header.Origin".to_owned(),
                ),
                (
                    "gatewayresponse.header.Vary".to_owned(),
                    "'Origin'".to_owned(),
                ),
            ]),
            response_templates: BTreeMap::from([(
                "application/json".to_owned(),
                format!(
                    "{{\"title\":\"{title}\",\"detail\":\"$context.error.message\",\"request_id\":\"$context.requestId\"}}"
                ),
            )]),
        };
        BTreeMap::from([
            ("UNAUTHORIZED".to_owned(), gr(Some("401"), "Unauthorized")),
            ("DEFAULT_4XX".to_owned(), gr(None, "Bad request")),
        ])
    }

    #[tokio::test]
    async fn gateway_responses_rewrite_the_gateways_own_answers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ORIGIN,
            HeaderValue::from_static("https://a.example"),
        );
        let mut resp = unauthorized();
        apply_gateway_response(&responses(), &mut resp, &headers, "req-1");
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://a.example"
        );
        assert_eq!(resp.headers()["vary"], "Origin");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            body,
            json!({"title": "Unauthorized", "detail": "Unauthorized", "request_id": "req-1"})
        );

        // No type of its own: DEFAULT_4XX; no Origin in the request: no header.
        let mut resp = missing_token();
        apply_gateway_response(&responses(), &mut resp, &HeaderMap::new(), "req-2");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        assert!(String::from_utf8_lossy(&body).contains("Bad request"));

        // Without gateway responses (a test contract), the answer is unchanged.
        let mut resp = unauthorized();
        apply_gateway_response(&BTreeMap::new(), &mut resp, &headers, "req-3");
        assert!(resp.headers().get("access-control-allow-origin").is_none());
    }

    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:portcullis/local/GET/v1/me";

    fn allow_all(context: Value) -> Value {
        json!({
            "principalId": "p",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
            "context": context,
        })
    }

    #[test]
    fn context_values_that_are_objects_are_an_authorizer_failure() {
        let answer = allow_all(json!({"nested": {"a": 1}}));
        assert!(matches!(
            authorize(&answer, ARN, 0),
            Err(AuthzFailure::Invalid(_))
        ));
    }

    #[test]
    fn an_answer_without_principal_or_policy_is_an_authorizer_failure() {
        let no_principal = json!({"policyDocument": {"Statement": []}});
        assert!(matches!(
            authorize(&no_principal, ARN, 0),
            Err(AuthzFailure::Invalid(_))
        ));
        let no_policy = json!({"principalId": "p"});
        assert!(matches!(
            authorize(&no_policy, ARN, 0),
            Err(AuthzFailure::Invalid(_))
        ));
    }

    #[test]
    fn headers_and_multi_value_headers_are_merged() {
        let api = Api::from_yaml_str("paths: {}").expect("empty spec");
        let resp = map_response(
            &api,
            &HeaderMap::new(),
            &json!({"statusCode": 418, "headers": {"x-a": "1", "x-b": "2"},
                    "multiValueHeaders": {"x-a": ["0"]}, "body": "hi"}),
        )
        .expect("valid response");
        assert_eq!(resp.status(), 418);
        let xa: Vec<_> = resp.headers().get_all("x-a").iter().collect();
        assert_eq!(xa.len(), 2);
        assert_eq!(resp.headers()["x-b"], "2");
    }

    #[test]
    fn a_status_code_out_of_range_is_malformed() {
        let api = Api::from_yaml_str("paths: {}").expect("empty spec");
        assert!(map_response(&api, &HeaderMap::new(), &json!({"statusCode": 70000})).is_err());
        assert!(map_response(&api, &HeaderMap::new(), &json!("text")).is_err());
    }
}
