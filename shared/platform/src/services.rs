//! `services` section of platform.yaml: the private services the proxy may
//! reach. One entry per service holds what the proxy needs (upstream, methods,
//! scope, limits, header policy) and what Terraform needs (workload image,
//! port, health check, size) so they never drift apart.
//!
//! ```yaml
//! services:
//!   sample:
//!     workload: sample-service      # workloads/<workload>, ECR repository (default: the name)
//!     image: null                   # or a full image reference instead of the ECR build
//!     integration: lambda           # lambda (the proxy function) or vpc_link (API Gateway -> VPC link -> internal ALB)
//!     path_prefix: /sample          # ALB listener rule path prefix
//!     priority: 100                 # ALB listener rule priority: required, 1-50000, unique
//!     port: 8080
//!     health_check: { path: /health, interval_seconds: 15, timeout_seconds: 5,
//!                     healthy_threshold: 2, unhealthy_threshold: 3, matcher: "200-299" }
//!     desired_count: 1
//!     autoscaling: { min: 1, max: 4, cpu_target: 60 }   # defaults: desired_count, max(4 x desired, 2), 60
//!     cpu: 256                      # a Fargate size (task::is_fargate_size)
//!     memory: 512
//!     environment: { RUST_LOG: info }   # not PORT, BASE_PATH, IDENTITY_*, AWS_*, ECS_* (set by the platform)
//!     secrets: { API_TOKEN: "portcullis/sample/token:token" }   # Secrets Manager name or ARN [:json-key]
//!     log_retention_days: 30        # default: the environment's log_retention_days
//!     environments: [dev, prod]     # default: every environment
//!     methods: [GET, POST, PUT, PATCH, DELETE]
//!     routes:                       # optional: public routes and per-route scopes
//!       - { path: "/items", methods: [GET], public: true }
//!       - { path: "/items/{id}", methods: [PUT, DELETE], scope: "services:sample.write" }
//!     timeout_ms: 10000            # API Gateway: 50..=29000; up to 900000 when every operation streams
//!     max_request_bytes: 1048576    # lambda only: at most 4194304 (a Lambda event holds the body base64-encoded)
//!     max_response_bytes: 4194304   # lambda only: at most 6 MiB
//!     allow_headers: [accept, content-type]   # lambda only
//!     allow_cookies: false          # lambda only: true keeps Set-Cookie scoped to /v1/services/<name>
//!   web:
//!     integration: vpc_link
//!     response_transfer_mode: BUFFERED   # vpc_link only: BUFFERED (10 MB, 29 s) or STREAM; routes[] may override
//!     cookies: none                      # vpc_link only: none, or own_path (Set-Cookie scoped to /v1/services/<name>)
//!     routes:                            # vpc_link: no route may start with a variable (its /{proxy+})
//!       - { path: "/stream/{proxy+}", methods: [GET], scope: "services:web", response_transfer_mode: STREAM }
//! ```
//!
//! Routes never put two path variables side by side under one parent
//! (`/f/{id}` beside `/f/{p+}`): API Gateway refuses sibling variables.
//!
//! The upstream base URL is resolved by the proxy at start: see
//! [`Service::upstream`] and `docs/proxy.md`.

use super::PlatformError;
use crate::task::{self, Environment, Secrets};
use portcullis_contract::{IntegrationKind, Method, Operation, ScopeField};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

/// API Gateway's shortest integration timeout (Amazon API Gateway quotas,
/// REST APIs: "Integration timeout", 50 milliseconds - 29 seconds).
pub const MIN_TIMEOUT_MS: u64 = 50;
/// API Gateway's integration timeout of a buffered integration; the proxy
/// stays below it.
pub const MAX_TIMEOUT_MS: u64 = 29_000;
/// The integration timeout of a streamed (`responseTransferMode: STREAM`)
/// integration: 15 minutes ("Stream the integration response for your proxy
/// integrations").
pub const MAX_STREAM_TIMEOUT_MS: u64 = 900_000;
/// Lambda's synchronous invocation payload limit, request and response
/// (AWS Lambda quotas: 6 MB).
pub const LAMBDA_PAYLOAD_BYTES: u64 = 6_291_456;
/// The largest request body a lambda service takes (4 MiB): the proxy
/// function receives it base64-encoded (4/3: 5592408 bytes) inside the
/// Lambda event, whose headers and context need the rest of
/// [`LAMBDA_PAYLOAD_BYTES`].
pub const MAX_REQUEST_BYTES: u64 = 4 * 1024 * 1024;
/// Lambda's synchronous response limit (6 MB).
pub const MAX_RESPONSE_BYTES: u64 = 6 * 1024 * 1024;

/// Container variable names the platform sets on every service container
/// itself (`IDENTITY_*`: the identity-signing keys, `IDENTITY_SECRET` and
/// `IDENTITY_SECRET_PREVIOUS`; `PORTCULLIS_*`: the service kit's controls,
/// `PORTCULLIS_COOKIES` and `PORTCULLIS_PUBLIC_PATH`, which a service's own
/// `environment` must not loosen); [`task::RESERVED_FOR_ECS`] besides.
pub const RESERVED_ENV: &[&str] = &["PORT", "BASE_PATH", "IDENTITY_*", "PORTCULLIS_*"];

/// The ALB listener rule priorities a service may take.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<u32> = 1..=50_000;

/// Every method a service may allow.
pub const KNOWN_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// One private service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub description: Option<String>,
    /// Full upstream base URL when the registry pins one (rare: usually
    /// resolved from the ALB URL and `path_prefix`, or overridden locally).
    pub upstream: Option<String>,
    /// How API Gateway reaches the service: through the proxy function, or
    /// straight to the internal ALB over a VPC link.
    pub integration: Integration,
    /// ALB listener-rule prefix (`/sample`); the service sees paths under it.
    pub path_prefix: String,
    /// Upper-case HTTP methods, in registry order.
    pub methods: Vec<String>,
    /// Scope a caller needs (default `services:<name>`).
    pub scope: String,
    pub timeout: Duration,
    pub max_request_bytes: u64,
    pub max_response_bytes: u64,
    /// Lower-case client header names forwarded as they are.
    pub allow_headers: Vec<String>,
    pub allow_cookies: bool,
    /// `vpc_link` only: whether API Gateway buffers the service's answers
    /// (10 MB, 29 s) or streams them; a route may say otherwise
    /// ([`Route::response_transfer_mode`]).
    pub response_transfer_mode: TransferMode,
    /// `vpc_link` only: which `Set-Cookie` headers the service may send and
    /// whether the caller's `Cookie` reaches it.
    pub cookies: Cookies,
    // --- what Terraform needs ---
    /// `workloads/<workload>` and its ECR repository (default: the name).
    pub workload: String,
    /// A full image reference used instead of the workload's ECR image.
    pub image: Option<String>,
    pub port: u16,
    /// ALB listener rule priority, unique across services. Always set in a
    /// registry loaded through [`crate::Platform`] (platform.yaml requires
    /// it, as Terraform does); `None` only in a `services:` fragment parsed
    /// with [`Services::from_text`] that leaves it out (tests).
    pub priority: Option<u32>,
    pub health_check: HealthCheck,
    pub desired_count: u32,
    pub autoscaling: Autoscaling,
    /// Fargate task size: cpu units and memory MiB.
    pub cpu: u32,
    pub memory: u32,
    /// Container environment (besides `PORT`, `BASE_PATH`, `IDENTITY_SECRET`).
    pub environment: Environment,
    /// Container variables read from Secrets Manager at task start.
    pub secrets: Secrets,
    /// Retention of the service's log group; none: the environment's.
    pub log_retention_days: Option<u32>,
    /// Deployment environments the service exists in; none: every one.
    pub environments: Option<Vec<String>>,
    /// Declared routes: public ones, and ones needing their own scope
    /// instead of [`Service::scope`]. Every other path needs `scope`.
    pub routes: Vec<Route>,
}

/// How API Gateway reaches a service (`services.<name>.integration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Integration {
    /// The proxy function (`AWS_PROXY`): it signs the identity over the
    /// body, applies the header policy and the size limits; responses are
    /// capped by Lambda's 6 MB.
    #[default]
    Lambda,
    /// An `HTTP_PROXY` private integration over a VPC link (v2) to the
    /// internal ALB: no Lambda in the path, API Gateway's own limits
    /// (10 MB payloads, 29 s). The authorizer signs the identity over what
    /// it sees (method, path, identity, timestamp; not the body or query),
    /// and API Gateway maps it onto the request, overwriting any client copy.
    VpcLink,
}

/// How API Gateway returns a `vpc_link` integration's answer
/// (`responseTransferMode`; registry `response_transfer_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TransferMode {
    /// Read whole, then sent: API Gateway's 10 MB response payload and 29 s
    /// integration timeout.
    #[default]
    Buffered,
    /// Sent as it arrives ("Stream the integration response for your proxy
    /// integrations"): no 10 MB cap, up to 15 minutes, 5 minutes idle at most
    /// (regional endpoints).
    Stream,
}

impl TransferMode {
    /// The spelling of the registry and of API Gateway: `BUFFERED` or `STREAM`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferMode::Buffered => "BUFFERED",
            TransferMode::Stream => "STREAM",
        }
    }
}

/// The cookie policy of a `vpc_link` service (registry `cookies`). Every
/// service shares the API's origin, so a service's cookies would otherwise
/// reach every other service. API Gateway cannot alter an `HTTP_PROXY`
/// answer, so the identity service kit enforces it in the service
/// (`PORTCULLIS_COOKIES`, `PORTCULLIS_PUBLIC_PATH`, set by Terraform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cookies {
    /// The caller's `Cookie` header is overwritten before the service and
    /// every `Set-Cookie` of the service is dropped.
    #[default]
    None,
    /// The caller's `Cookie` header passes; a `Set-Cookie` is kept only when
    /// scoped to the service's public path `/v1/services/<name>` (with or
    /// without the stage) and without `Domain`.
    OwnPath,
}

impl Cookies {
    /// The registry spelling: `none` or `own_path`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cookies::None => "none",
            Cookies::OwnPath => "own_path",
        }
    }
}

impl Integration {
    /// The registry spelling: `lambda` or `vpc_link`.
    pub fn as_str(self) -> &'static str {
        match self {
            Integration::Lambda => "lambda",
            Integration::VpcLink => "vpc_link",
        }
    }
}

/// A declared route of a service (`services.<name>.routes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Relative to the service: `/items`, `/items/{id}`, `/files/{proxy+}`.
    pub path: String,
    /// Upper-case methods, each one of the service's.
    pub methods: Vec<String>,
    pub access: RouteAccess,
    /// `vpc_link` only: the route's integration's `responseTransferMode`
    /// (default: the service's).
    pub response_transfer_mode: TransferMode,
}

/// Who may call a declared route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAccess {
    /// No credential: API Gateway calls no authorizer; the service sees an
    /// anonymous identity.
    Public,
    /// This scope (`services:<name>` or `services:<name>.<word>`), not the
    /// service's.
    Scope(String),
}

impl Route {
    /// The scope the route needs; `None` when it is public.
    pub fn scope(&self) -> Option<&str> {
        match &self.access {
            RouteAccess::Public => None,
            RouteAccess::Scope(s) => Some(s),
        }
    }
}

/// The target group's health check (ALB), with Terraform's defaults resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// HTTP codes that count as healthy: `200`, `200,204` or `200-299`.
    pub matcher: String,
}

/// ECS service auto scaling on average CPU, with Terraform's defaults
/// resolved: `min` = `desired_count`, `max` = max(4 x `desired_count`, 2),
/// `cpu_target` = 60 (percent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autoscaling {
    pub min: u32,
    pub max: u32,
    pub cpu_target: u32,
}

/// Default target of average CPU utilisation (percent).
pub const DEFAULT_CPU_TARGET: u32 = 60;

impl Service {
    pub fn allows(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m == method)
    }

    /// Whether the service is deployed in `environment` (Terraform's
    /// `var.environment`): listed in `environments`, or no list.
    pub fn enabled_in(&self, environment: &str) -> bool {
        portcullis_contract::deployed_in(self.environments.as_deref(), Some(environment))
    }

    /// The operations the service's declared routes add to the REST API:
    /// each route and method on `/v1/services/<name><path>`, in registry
    /// order; a scoped route is secured with its scope, a public one runs no
    /// authorizer. (Terraform's body adds more paths for a service, every
    /// one needing the service's own scope, which the generic
    /// `/v1/services/{service}/{proxy+}` operation already grants.)
    pub fn route_operations(&self) -> Vec<Operation> {
        let integration = match self.integration {
            Integration::Lambda => IntegrationKind::AwsProxy,
            Integration::VpcLink => IntegrationKind::HttpProxy,
        };
        let mut out = Vec::new();
        for route in &self.routes {
            let path = format!("/v1/services/{}{}", self.name, route.path);
            for method in route.methods.iter().filter_map(|m| Method::from_name(m)) {
                out.push(Operation {
                    path: Cow::Owned(path.clone()),
                    method,
                    secured: route.scope().is_some(),
                    scope: route.scope().map_or(ScopeField::Absent, |s| {
                        ScopeField::Text(Cow::Owned(s.to_owned()))
                    }),
                    integration: Some(integration),
                });
            }
        }
        out
    }
}

/// The whole section, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services(pub BTreeMap<String, Service>);

impl Services {
    pub fn get(&self, name: &str) -> Option<&Service> {
        self.0.get(name)
    }

    /// Every service's [`Service::route_operations`], by service name.
    pub fn route_operations(&self) -> Vec<Operation> {
        self.iter().flat_map(Service::route_operations).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.0.values()
    }

    /// Parse and validate a `services:` fragment (the shape of platform.yaml's
    /// section, or the same as JSON). Every check of the registry applies
    /// except that `priority` may be left out: a whole registry is loaded
    /// with [`crate::Platform`], which requires it.
    pub fn from_value(value: &serde_norway::Value) -> Result<Self, PlatformError> {
        if value.is_null() {
            return Ok(Services::default());
        }
        Self::from_raw(serde_norway::from_value(value.clone())?, false)
    }

    /// `registry`: the section of a whole registry, where every service
    /// must give its listener rule priority.
    pub(crate) fn from_raw(
        raw: BTreeMap<String, RawService>,
        registry: bool,
    ) -> Result<Self, PlatformError> {
        let mut out: BTreeMap<String, Service> = BTreeMap::new();
        for (name, r) in raw {
            let svc = r.validate(&name)?;
            if registry && svc.priority.is_none() {
                return Err(invalid(
                    &name,
                    "priority",
                    "required: the service's ALB listener rule priority, 1-50000 and unique across services (an explicit number, so adding a service renumbers no other rule)",
                ));
            }
            // One listener, one rule per priority: the ALB refuses a second.
            if let Some(other) = out
                .values()
                .find(|o| o.priority.is_some() && o.priority == svc.priority)
            {
                return Err(invalid(
                    &name,
                    "priority",
                    format!(
                        "{} is already the priority of services.{}; every service needs its own listener rule priority",
                        svc.priority.unwrap_or_default(),
                        other.name
                    ),
                ));
            }
            out.insert(name, svc);
        }
        Ok(Services(out))
    }

    /// Parse JSON or YAML text of the same shape.
    pub fn from_text(text: &str) -> Result<Self, PlatformError> {
        let v: serde_norway::Value = serde_norway::from_str(text)?;
        Self::from_value(&v)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    integration: Integration,
    #[serde(default)]
    upstream: Option<String>,
    #[serde(default)]
    path_prefix: Option<String>,
    methods: Vec<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default)]
    max_request_bytes: Option<u64>,
    #[serde(default)]
    max_response_bytes: Option<u64>,
    #[serde(default)]
    allow_headers: Vec<String>,
    #[serde(default)]
    allow_cookies: bool,
    #[serde(default)]
    response_transfer_mode: Option<TransferMode>,
    #[serde(default)]
    cookies: Option<Cookies>,
    #[serde(default)]
    workload: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default)]
    priority: Option<u32>,
    #[serde(default)]
    health_check: RawHealthCheck,
    #[serde(default = "default_desired")]
    desired_count: u32,
    #[serde(default)]
    autoscaling: Option<RawAutoscaling>,
    #[serde(default = "default_cpu")]
    cpu: u32,
    #[serde(default = "default_memory")]
    memory: u32,
    #[serde(default)]
    environment: Environment,
    #[serde(default)]
    secrets: Secrets,
    #[serde(default)]
    log_retention_days: Option<u32>,
    #[serde(default)]
    environments: Option<Vec<String>>,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    path: String,
    methods: Vec<String>,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    response_transfer_mode: Option<TransferMode>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealthCheck {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    interval_seconds: Option<u32>,
    #[serde(default)]
    timeout_seconds: Option<u32>,
    #[serde(default)]
    healthy_threshold: Option<u32>,
    #[serde(default)]
    unhealthy_threshold: Option<u32>,
    #[serde(default)]
    matcher: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAutoscaling {
    #[serde(default)]
    min: Option<u32>,
    #[serde(default)]
    max: Option<u32>,
    #[serde(default)]
    cpu_target: Option<u32>,
}

fn default_timeout_ms() -> u64 {
    10_000
}
fn default_max_request() -> u64 {
    1024 * 1024
}
fn default_max_response() -> u64 {
    4 * 1024 * 1024
}
fn default_port() -> u16 {
    8080
}
fn default_desired() -> u32 {
    1
}
fn default_cpu() -> u32 {
    task::DEFAULT_CPU
}
fn default_memory() -> u32 {
    task::DEFAULT_MEMORY
}

fn invalid(name: &str, field: &str, reason: impl Into<String>) -> PlatformError {
    PlatformError::Invalid {
        at: format!("services.{name}.{field}"),
        reason: reason.into(),
    }
}

/// Whether a registry may never allow this (lower-case) header through:
/// the proxy sets or strips it itself ([`portcullis_contract::HOP_BY_HOP`],
/// [`portcullis_contract::STRIPPED_BY_PROXY`]), or it is the caller's
/// `Cookie`, which `allow_cookies` governs.
fn never_allowed(lower: &str) -> bool {
    portcullis_contract::is_hop_by_hop(lower)
        || portcullis_contract::STRIPPED_BY_PROXY.contains(&lower)
        || lower == "cookie"
}

impl RawService {
    /// Every check of one entry, per concern; the resolved [`Service`].
    fn validate(self, name: &str) -> Result<Service, PlatformError> {
        check_name(name)?;
        let methods = check_methods(name, &self.methods)?;
        self.check_vpc_link_only(name)?;
        // A timeout over 29 s only where every operation streams: the
        // service's timeout is each of its integrations' (Terraform's
        // openapi module checks the same rule).
        let streams = self.response_transfer_mode == Some(TransferMode::Stream)
            && self
                .routes
                .iter()
                .all(|r| r.response_transfer_mode != Some(TransferMode::Buffered));
        check_timeout(name, self.timeout_ms, streams)?;
        let (max_request_bytes, max_response_bytes) = self.body_limits(name)?;
        let allow_headers = check_allow_headers(name, &self.allow_headers)?;
        let path_prefix = check_path_prefix(name, self.path_prefix.as_deref())?;
        check_upstream(name, self.upstream.as_deref())?;
        let scope = self
            .scope
            .clone()
            .unwrap_or_else(|| format!("services:{name}"));
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err(invalid(
                name,
                "scope",
                "a scope is one word such as services:sample",
            ));
        }
        let response_transfer_mode = self.response_transfer_mode.unwrap_or_default();
        let deployed = self.check_deployment(name)?;
        let routes = check_routes(
            &RouteOwner {
                name,
                methods: &methods,
                integration: self.integration,
                transfer_mode: response_transfer_mode,
            },
            self.routes,
        )?;
        Ok(Service {
            name: name.to_owned(),
            description: self.description,
            integration: self.integration,
            upstream: self.upstream,
            path_prefix,
            methods,
            scope,
            timeout: Duration::from_millis(self.timeout_ms),
            max_request_bytes,
            max_response_bytes,
            allow_headers,
            allow_cookies: self.allow_cookies,
            response_transfer_mode,
            cookies: self.cookies.unwrap_or_default(),
            workload: deployed.workload,
            image: self.image,
            port: self.port,
            priority: self.priority,
            health_check: deployed.health_check,
            desired_count: self.desired_count,
            autoscaling: deployed.autoscaling,
            cpu: self.cpu,
            memory: self.memory,
            environment: self.environment,
            secrets: self.secrets,
            log_retention_days: self.log_retention_days,
            environments: self.environments,
            routes,
        })
    }

    /// The proxy's own policy (body limits, header and cookie allowlists, a
    /// pinned upstream) means nothing where no proxy runs; the VPC link's
    /// options (streaming, cookie scoping by the service kit) nothing where
    /// the proxy does.
    fn check_vpc_link_only(&self, name: &str) -> Result<(), PlatformError> {
        if self.integration == Integration::VpcLink {
            let proxy_only = [
                ("max_request_bytes", self.max_request_bytes.is_some()),
                ("max_response_bytes", self.max_response_bytes.is_some()),
                ("allow_headers", !self.allow_headers.is_empty()),
                ("allow_cookies", self.allow_cookies),
                ("upstream", self.upstream.is_some()),
            ];
            if let Some((field, _)) = proxy_only.iter().find(|(_, set)| *set) {
                return Err(invalid(
                    name,
                    field,
                    "applies to integration: lambda only (the proxy function's policy); a vpc_link service is reached over the VPC link with API Gateway's own limits (10 MB payloads, its own body limits are the service's) and every client header but the identity ones: remove it",
                ));
            }
            return Ok(());
        }
        let route_streams = self
            .routes
            .iter()
            .position(|r| r.response_transfer_mode.is_some());
        let vpc_link_only = [
            (
                "response_transfer_mode".to_owned(),
                self.response_transfer_mode.is_some(),
            ),
            ("cookies".to_owned(), self.cookies.is_some()),
            (
                format!(
                    "routes[{}].response_transfer_mode",
                    route_streams.unwrap_or_default()
                ),
                route_streams.is_some(),
            ),
        ];
        if let Some((field, _)) = vpc_link_only.iter().find(|(_, set)| *set) {
            return Err(invalid(
                name,
                field,
                "applies to integration: vpc_link only: a lambda service's responses pass through the proxy function (buffered, Lambda's 6 MB) and its cookies follow allow_cookies; remove it",
            ));
        }
        Ok(())
    }

    /// `max_request_bytes` and `max_response_bytes`, defaulted and within
    /// what a Lambda invocation carries.
    fn body_limits(&self, name: &str) -> Result<(u64, u64), PlatformError> {
        let max_request_bytes = self.max_request_bytes.unwrap_or_else(default_max_request);
        if max_request_bytes == 0 || max_request_bytes > MAX_REQUEST_BYTES {
            return Err(invalid(
                name,
                "max_request_bytes",
                format!(
                    "{max_request_bytes} is out of range 1..={MAX_REQUEST_BYTES}: the proxy function receives the request in a Lambda event, and Lambda's synchronous invocation payload is at most 6 MB ({LAMBDA_PAYLOAD_BYTES} bytes, AWS Lambda quotas) with the body base64-encoded (4/3 of its size) plus the event's headers and context, so 4 MiB of body is what fits"
                ),
            ));
        }
        let max_response_bytes = self.max_response_bytes.unwrap_or_else(default_max_response);
        if max_response_bytes == 0 || max_response_bytes > MAX_RESPONSE_BYTES {
            return Err(invalid(
                name,
                "max_response_bytes",
                format!(
                    "{max_response_bytes} is out of range 1..={MAX_RESPONSE_BYTES} (the Lambda response limit)"
                ),
            ));
        }
        Ok((max_request_bytes, max_response_bytes))
    }
}

/// A service name: 1-32 of a-z, 0-9 and '-', not starting with '-'.
fn check_name(name: &str) -> Result<(), PlatformError> {
    let name_ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if name_ok {
        return Ok(());
    }
    Err(invalid(
        name,
        "name",
        "a service name is 1-32 characters of a-z, 0-9 and '-', not starting with '-'",
    ))
}

/// Upper-cased, known, each once, at least one.
fn check_methods(name: &str, raw: &[String]) -> Result<Vec<String>, PlatformError> {
    let mut methods = Vec::new();
    for m in raw {
        let up = m.trim().to_ascii_uppercase();
        if !KNOWN_METHODS.contains(&up.as_str()) {
            return Err(invalid(
                name,
                "methods",
                format!("{m:?} is not one of {}", KNOWN_METHODS.join(", ")),
            ));
        }
        if methods.contains(&up) {
            return Err(invalid(name, "methods", format!("{up} is listed twice")));
        }
        methods.push(up);
    }
    if methods.is_empty() {
        return Err(invalid(name, "methods", "at least one method is required"));
    }
    Ok(methods)
}

/// API Gateway's integration timeout: 50 ms to 29 s for a buffered
/// integration (Amazon API Gateway quotas, "Integration timeout"), up to 15
/// minutes for a streamed one ("Stream the integration response for your
/// proxy integrations"): `streams` when every operation of the service
/// streams (`response_transfer_mode: STREAM` and no `BUFFERED` route): the
/// one timeout is every integration's, and a buffered one is capped at 29 s.
fn check_timeout(name: &str, timeout_ms: u64, streams: bool) -> Result<(), PlatformError> {
    let max = if streams {
        MAX_STREAM_TIMEOUT_MS
    } else {
        MAX_TIMEOUT_MS
    };
    if (MIN_TIMEOUT_MS..=max).contains(&timeout_ms) {
        return Ok(());
    }
    let why = if streams {
        "API Gateway's integration timeout: at least 50 ms, and a STREAM integration at most 15 minutes (\"Stream the integration response for your proxy integrations\")"
    } else {
        "API Gateway's integration timeout is 50 ms to 29 s (Amazon API Gateway quotas, REST APIs); only a vpc_link service whose every operation streams (response_transfer_mode: STREAM and no BUFFERED route) may wait up to 900000 ms"
    };
    Err(invalid(
        name,
        "timeout_ms",
        format!("{timeout_ms} is out of range {MIN_TIMEOUT_MS}..={max}: {why}"),
    ))
}

/// Lower-cased header names the proxy may pass as they are.
fn check_allow_headers(name: &str, raw: &[String]) -> Result<Vec<String>, PlatformError> {
    let mut allow_headers = Vec::new();
    for h in raw {
        let lower = h.trim().to_ascii_lowercase();
        if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return Err(invalid(
                name,
                "allow_headers",
                format!("{h:?} is not a header name"),
            ));
        }
        if never_allowed(&lower) || portcullis_identity::is_identity_header(&lower) {
            return Err(invalid(
                name,
                "allow_headers",
                format!(
                    "{lower} is set or stripped by the proxy and cannot be allowed (cookies: use allow_cookies)"
                ),
            ));
        }
        if !allow_headers.contains(&lower) {
            allow_headers.push(lower);
        }
    }
    Ok(allow_headers)
}

/// The ALB listener-rule prefix: `/<name>` by default; a trailing `/` dropped.
fn check_path_prefix(name: &str, raw: Option<&str>) -> Result<String, PlatformError> {
    let Some(p) = raw else {
        return Ok(format!("/{name}"));
    };
    let p = p.trim_end_matches('/').to_owned();
    if !(p.is_empty() || p.starts_with('/'))
        || p.contains("..")
        || p.contains(['?', '#', '\\', ' '])
    {
        return Err(invalid(
            name,
            "path_prefix",
            "expected a path such as /sample",
        ));
    }
    Ok(p)
}

/// A pinned upstream: an http(s) base URL without a query.
fn check_upstream(name: &str, raw: Option<&str>) -> Result<(), PlatformError> {
    match raw.map(url::Url::parse) {
        None => Ok(()),
        Some(Ok(url)) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {
            Ok(())
        }
        Some(_) => Err(invalid(
            name,
            "upstream",
            "expected an http(s) base URL without a query",
        )),
    }
}

/// The resolved deployment fields that have defaults from other fields.
struct Deployed {
    workload: String,
    health_check: HealthCheck,
    autoscaling: Autoscaling,
}

impl RawService {
    /// What Terraform deploys: its defaults resolved, then what ECS, the
    /// ALB and CloudWatch would refuse at apply.
    fn check_deployment(&self, name: &str) -> Result<Deployed, PlatformError> {
        if let Some(p) = self.priority.filter(|p| !PRIORITY_RANGE.contains(p)) {
            return Err(invalid(
                name,
                "priority",
                format!("{p} is out of range 1..=50000 (ALB listener rule priorities)"),
            ));
        }
        let health_check = self.health_check.resolve(name)?;
        task::check_log_retention(&format!("services.{name}"), self.log_retention_days)?;
        if let Some(envs) = &self.environments {
            check_environments(name, envs)?;
        }
        let at = format!("services.{name}");
        let workload = self.workload.clone().unwrap_or_else(|| name.to_owned());
        task::check_workload(&at, &workload)?;
        task::check_image(&at, self.image.as_deref())?;
        if self.port == 0 {
            return Err(invalid(name, "port", "a container port is 1-65535"));
        }
        task::check_fargate_size(&at, self.cpu, self.memory)?;
        self.environment.check(&at, RESERVED_ENV)?;
        self.secrets.check(&at, RESERVED_ENV, &self.environment)?;
        let autoscaling = self
            .autoscaling
            .as_ref()
            .map_or_else(RawAutoscaling::default, RawAutoscaling::clone)
            .resolve(name, self.desired_count)?;
        Ok(Deployed {
            workload,
            health_check,
            autoscaling,
        })
    }
}

/// Whether `scope` may guard a route of service `name`: `services:<name>`
/// or a route scope `services:<name>.<word>` (shared/auth's syntax; a
/// tenant entitled to the service may hold both).
fn is_route_scope_of(name: &str, scope: &str) -> bool {
    let Some(rest) = scope.strip_prefix("services:") else {
        return false;
    };
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.len() <= 32
            && w.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match rest.split_once('.') {
        None => rest == name,
        Some((n, w)) => n == name && word_ok(w),
    }
}

/// A route path relative to the service: `/`-separated literal segments
/// (`A-Za-z0-9._~-`) or `{param}`, the last possibly `{param+}`.
fn check_route_path(path: &str) -> Result<(), String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!(
            "{path:?} must start with '/' (relative to the service, e.g. /items)"
        ));
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let mut params: Vec<&str> = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        if let Some(p) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let (p, greedy) = match p.strip_suffix('+') {
                Some(p) => (p, true),
                None => (p, false),
            };
            if greedy && i + 1 != segs.len() {
                return Err(format!(
                    "{path:?}: a greedy {{{p}+}} must be the last segment"
                ));
            }
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!(
                    "{path:?}: parameter {seg} must be {{name}} of A-Za-z0-9_"
                ));
            }
            if p == "service" || params.contains(&p) {
                return Err(format!(
                    "{path:?}: parameter {{{p}}} is used twice (the gateway's path has {{service}} already)"
                ));
            }
            params.push(p);
        } else if seg.is_empty()
            || *seg == "."
            || *seg == ".."
            || !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b))
        {
            return Err(format!(
                "{path:?}: segment {seg:?} must be A-Za-z0-9._~- or {{param}} (no empty segment, no trailing '/')"
            ));
        }
    }
    Ok(())
}

/// The methods the proxy audits (a public route may not take them).
pub const MUTATIONS: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];

fn is_mutation(method: &str) -> bool {
    MUTATIONS.contains(&method)
}

fn is_variable(segment: &str) -> bool {
    segment.starts_with('{')
}

/// Why two route paths cannot both be resources of one REST API: under one
/// parent, API Gateway takes a single path-variable child (`{id}` and
/// `{key}`, or `{id}` and `{proxy+}`, are refused: "A sibling ({id}) of this
/// resource already has a variable path part -- only one is allowed").
fn sibling_variables(a: &str, b: &str) -> Option<String> {
    let (sa, sb): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    let i = sa.iter().zip(&sb).position(|(x, y)| x != y)?;
    let (x, y) = (sa[i], sb[i]);
    if !(is_variable(x) && is_variable(y)) {
        return None;
    }
    let parent = match sa[..i].join("/") {
        p if p.is_empty() => "/".to_owned(),
        p => p,
    };
    let kind = if x.ends_with("+}") != y.ends_with("+}") {
        "a {x} segment beside a greedy {y+} segment"
    } else if path_shape(a) == path_shape(b) {
        "paths that differ only in parameter names"
    } else {
        "two different path variables at one position"
    };
    Some(format!(
        "{a} and {b} are {kind}: under {parent} they put the path variables {x} and {y} side by side, and API Gateway refuses sibling path variables (one variable child per resource); use the same parameter, or a literal segment"
    ))
}

/// The path with every parameter as `{}` (greedy: `{+}`).
fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|s| match (is_variable(s), s.ends_with("+}")) {
            (true, true) => "{+}",
            (true, false) => "{}",
            _ => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The service a route belongs to, as its checks need it.
struct RouteOwner<'a> {
    name: &'a str,
    methods: &'a [String],
    integration: Integration,
    /// The service's `response_transfer_mode`, the routes' default.
    transfer_mode: TransferMode,
}

fn check_routes(owner: &RouteOwner<'_>, raw: Vec<RawRoute>) -> Result<Vec<Route>, PlatformError> {
    let name = owner.name;
    let mut out: Vec<Route> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("routes[{i}].{f}");
        check_route_path(&r.path).map_err(|e| invalid(name, &field("path"), e))?;
        check_route_siblings(owner, &r.path, &out).map_err(|e| invalid(name, &field("path"), e))?;
        let methods = check_route_methods(owner, &r, &out, &field)?;
        let access = route_access(name, &methods, r.public, r.scope, &field)?;
        out.push(Route {
            path: r.path,
            methods,
            access,
            response_transfer_mode: r.response_transfer_mode.unwrap_or(owner.transfer_mode),
        });
    }
    Ok(out)
}

/// The route's path beside the others and, for a `vpc_link` service, its
/// implicit `/{proxy+}` (the REST API's resource for everything else).
fn check_route_siblings(
    owner: &RouteOwner<'_>,
    path: &str,
    before: &[Route],
) -> Result<(), String> {
    if owner.integration == Integration::VpcLink && path.split('/').nth(1).is_some_and(is_variable)
    {
        return Err(format!(
            "{path:?} starts with a path variable, which collides with the /{{proxy+}} every vpc_link service has under /v1/services/{} (API Gateway refuses sibling path variables): start it with a literal segment",
            owner.name
        ));
    }
    match before.iter().find_map(|o| sibling_variables(&o.path, path)) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// A route's methods: the service's, upper-cased, each declared once per path.
fn check_route_methods(
    owner: &RouteOwner<'_>,
    r: &RawRoute,
    before: &[Route],
    field: &dyn Fn(&str) -> String,
) -> Result<Vec<String>, PlatformError> {
    let mut methods: Vec<String> = Vec::new();
    for m in &r.methods {
        let up = m.trim().to_ascii_uppercase();
        if !owner.methods.contains(&up) {
            return Err(invalid(
                owner.name,
                &field("methods"),
                format!(
                    "{m:?} is not one of the service's methods ({})",
                    owner.methods.join(", ")
                ),
            ));
        }
        if methods.contains(&up)
            || before
                .iter()
                .any(|o| o.path == r.path && o.methods.contains(&up))
        {
            return Err(invalid(
                owner.name,
                &field("methods"),
                format!("{up} {} is declared twice", r.path),
            ));
        }
        methods.push(up);
    }
    if methods.is_empty() {
        return Err(invalid(
            owner.name,
            &field("methods"),
            "at least one method is required",
        ));
    }
    Ok(methods)
}

/// `public: true` (no mutation) or a scope of this service, not both.
fn route_access(
    name: &str,
    methods: &[String],
    public: Option<bool>,
    scope: Option<String>,
    field: &dyn Fn(&str) -> String,
) -> Result<RouteAccess, PlatformError> {
    match (public, scope) {
        (Some(true), None) => match methods.iter().find(|m| is_mutation(m)) {
            Some(m) => Err(invalid(
                name,
                &field("methods"),
                format!(
                    "a public route takes no {m}: every proxied mutation is audited with its caller's tenant, and an anonymous caller has none (give the route a scope)"
                ),
            )),
            None => Ok(RouteAccess::Public),
        },
        (None | Some(false), Some(scope)) if is_route_scope_of(name, &scope) => {
            Ok(RouteAccess::Scope(scope))
        }
        (None | Some(false), Some(scope)) => Err(invalid(
            name,
            &field("scope"),
            format!(
                "{scope:?} is not a scope of this service: use services:{name} or services:{name}.<word> (word: 1-32 of a-z, 0-9, '-'; e.g. services:{name}.write)"
            ),
        )),
        (Some(true), Some(_)) => Err(invalid(
            name,
            &field("public"),
            "a route is either public: true or has a scope, not both",
        )),
        (_, None) => Err(invalid(
            name,
            &field("scope"),
            "a route needs public: true or a scope (otherwise leave it out: the service's scope applies)",
        )),
    }
}

/// `environments:` names deployment environments as Terraform's
/// `var.environment` does (2-10 lower-case letters or digits).
fn check_environments(name: &str, envs: &[String]) -> Result<(), PlatformError> {
    if envs.is_empty() {
        return Err(invalid(
            name,
            "environments",
            "an empty list deploys the service nowhere; list the environments (dev, prod, ...) or leave the field out for all",
        ));
    }
    for (i, e) in envs.iter().enumerate() {
        let ok = (2..=10).contains(&e.len())
            && e.starts_with(|c: char| c.is_ascii_lowercase())
            && e.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !ok {
            return Err(invalid(
                name,
                &format!("environments[{i}]"),
                format!(
                    "{e:?} is not an environment name (2-10 lower-case letters or digits, as terraform's var.environment: dev, prod, local)"
                ),
            ));
        }
        if envs[..i].contains(e) {
            return Err(invalid(
                name,
                "environments",
                format!("{e} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// Defaults of the health check (terraform/locals.tf uses the same).
pub const DEFAULT_HEALTH_CHECK_PATH: &str = "/health";

impl RawHealthCheck {
    /// Terraform's defaults (terraform/locals.tf), then the ranges the ALB
    /// accepts for an HTTP target group.
    fn resolve(&self, name: &str) -> Result<HealthCheck, PlatformError> {
        let hc = HealthCheck {
            path: self
                .path
                .clone()
                .unwrap_or_else(|| DEFAULT_HEALTH_CHECK_PATH.to_owned()),
            interval_seconds: self.interval_seconds.unwrap_or(15),
            timeout_seconds: self.timeout_seconds.unwrap_or(5),
            healthy_threshold: self.healthy_threshold.unwrap_or(2),
            unhealthy_threshold: self.unhealthy_threshold.unwrap_or(3),
            matcher: self.matcher.clone().unwrap_or_else(|| "200-299".to_owned()),
        };
        let field = |f: &str| format!("health_check.{f}");
        if !hc.path.starts_with('/') || hc.path.contains(char::is_whitespace) {
            return Err(invalid(
                name,
                &field("path"),
                "expected a path such as /health",
            ));
        }
        for (f, v, lo, hi) in [
            ("interval_seconds", hc.interval_seconds, 5, 300),
            ("timeout_seconds", hc.timeout_seconds, 2, 120),
            ("healthy_threshold", hc.healthy_threshold, 2, 10),
            ("unhealthy_threshold", hc.unhealthy_threshold, 2, 10),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(invalid(
                    name,
                    &field(f),
                    format!("{v} is out of range {lo}..={hi} (ALB target group health checks)"),
                ));
            }
        }
        if hc.timeout_seconds >= hc.interval_seconds {
            return Err(invalid(
                name,
                &field("timeout_seconds"),
                format!(
                    "{} must be below interval_seconds ({})",
                    hc.timeout_seconds, hc.interval_seconds
                ),
            ));
        }
        if !is_matcher(&hc.matcher) {
            return Err(invalid(
                name,
                &field("matcher"),
                format!(
                    "{:?} is not an HTTP code matcher: codes 200-499 as 200, 200,204 or 200-299",
                    hc.matcher
                ),
            ));
        }
        Ok(hc)
    }
}

/// An ALB HTTP matcher: codes 200-499, comma-separated, or one range `a-b`.
fn is_matcher(m: &str) -> bool {
    let code = |c: &str| {
        c.len() == 3
            && c.bytes().all(|b| b.is_ascii_digit())
            && c.parse::<u16>().is_ok_and(|n| (200..=499).contains(&n))
    };
    match m.split_once('-') {
        Some((a, b)) => code(a) && code(b) && a < b,
        None => !m.is_empty() && m.split(',').all(code),
    }
}

impl RawAutoscaling {
    /// Terraform's defaults (terraform/locals.tf), then the checks
    /// Application Auto Scaling would make at apply.
    fn resolve(self, name: &str, desired_count: u32) -> Result<Autoscaling, PlatformError> {
        let min = self.min.unwrap_or(desired_count);
        let max = self
            .max
            .unwrap_or_else(|| desired_count.saturating_mul(4).max(2));
        let cpu_target = self.cpu_target.unwrap_or(DEFAULT_CPU_TARGET);
        if max == 0 {
            return Err(invalid(name, "autoscaling.max", "must be at least 1"));
        }
        if min > max {
            return Err(invalid(
                name,
                "autoscaling.min",
                format!("{min} is above autoscaling.max ({max})"),
            ));
        }
        if !(1..=100).contains(&cpu_target) {
            return Err(invalid(
                name,
                "autoscaling.cpu_target",
                format!("{cpu_target} is not a CPU utilisation percentage (1-100)"),
            ));
        }
        Ok(Autoscaling {
            min,
            max,
            cpu_target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Services, PlatformError> {
        Services::from_text(yaml)
    }

    const MINIMAL: &str =
        "sample:\n  workload: sample-service\n  methods: [get, POST]\n  priority: 100\n";

    /// A whole registry (as platform.yaml): `priority` is required there.
    fn registry(services: &str) -> Result<Services, PlatformError> {
        let indented: String = services.lines().map(|l| format!("  {l}\n")).collect();
        crate::Platform::from_yaml(&format!("services:\n{indented}")).map(|p| p.services)
    }

    fn error_at(yaml: &str, path: &str) -> String {
        let e = registry(yaml)
            .expect_err(&format!("expected an error at {path} for:\n{yaml}"))
            .to_string();
        assert!(e.contains(path), "expected {path} in: {e}");
        e
    }

    const ROUTED: &str = "sample:\n  methods: [GET, PUT, DELETE]\n  priority: 100\n  routes:\n";

    #[test]
    fn routes_are_public_or_scoped_by_the_service() {
        let s = registry(&format!(
            "{ROUTED}    - {{ path: /items, methods: [get], public: true }}\n    - {{ path: \"/items/{{id}}\", methods: [PUT, DELETE], scope: services:sample.write }}\n"
        ))
        .unwrap();
        let routes = &s.get("sample").unwrap().routes;
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].access, RouteAccess::Public);
        assert_eq!(routes[0].methods, vec!["GET"]);
        assert_eq!(routes[1].scope(), Some("services:sample.write"));
        assert!(
            parse(MINIMAL)
                .unwrap()
                .get("sample")
                .unwrap()
                .routes
                .is_empty()
        );
    }

    #[test]
    fn bad_routes_are_refused_with_the_field() {
        for (route, at, says) in [
            (
                "{ path: items, methods: [GET], public: true }",
                "routes[0].path",
                "start with '/'",
            ),
            (
                "{ path: \"/a/{p+}/b\", methods: [GET], public: true }",
                "routes[0].path",
                "last segment",
            ),
            (
                "{ path: /items/, methods: [GET], public: true }",
                "routes[0].path",
                "no empty segment",
            ),
            (
                "{ path: \"/{service}\", methods: [GET], public: true }",
                "routes[0].path",
                "used twice",
            ),
            (
                "{ path: /items, methods: [POST], public: true }",
                "routes[0].methods",
                "service's methods",
            ),
            (
                "{ path: /items, methods: [], public: true }",
                "routes[0].methods",
                "at least one",
            ),
            (
                "{ path: /items, methods: [GET] }",
                "routes[0].scope",
                "public: true or a scope",
            ),
            (
                "{ path: /items, methods: [GET], public: false }",
                "routes[0].scope",
                "public: true or a scope",
            ),
            (
                "{ path: /items, methods: [GET], public: true, scope: services:sample }",
                "routes[0].public",
                "not both",
            ),
            (
                "{ path: /items, methods: [GET], scope: services:other.write }",
                "routes[0].scope",
                "services:sample.<word>",
            ),
            (
                "{ path: /items, methods: [GET], scope: jobs:write }",
                "routes[0].scope",
                "not a scope of this service",
            ),
            (
                "{ path: /items, methods: [GET], scope: services:sample.Write }",
                "routes[0].scope",
                "not a scope",
            ),
            (
                "{ path: /items, methods: [GET], public: true, extra: 1 }",
                "",
                "unknown field",
            ),
        ] {
            let e = registry(&format!("{ROUTED}    - {route}\n"))
                .expect_err(route)
                .to_string();
            assert!(e.contains(at) && e.contains(says), "{route}: {e}");
        }
        for (two, says) in [
            (
                "{ path: /items, methods: [GET], public: true }\n    - { path: /items, methods: [GET, PUT], scope: services:sample.write }",
                "GET /items is declared twice",
            ),
            (
                "{ path: \"/items/{id}\", methods: [GET], public: true }\n    - { path: \"/items/{key}\", methods: [PUT], scope: services:sample.write }",
                "differ only in parameter names",
            ),
        ] {
            let e = registry(&format!("{ROUTED}    - {two}\n"))
                .expect_err(two)
                .to_string();
            assert!(
                e.contains("services.sample.routes[1]") && e.contains(says),
                "{e}"
            );
        }
    }

    #[test]
    fn the_integration_is_lambda_unless_vpc_link_is_asked_for() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.get("sample").unwrap().integration, Integration::Lambda);
        let s = parse(&format!("{MINIMAL}  integration: vpc_link\n")).unwrap();
        let svc = s.get("sample").unwrap();
        assert_eq!(svc.integration, Integration::VpcLink);
        assert_eq!(svc.integration.as_str(), "vpc_link");
        let e = parse(&format!("{MINIMAL}  integration: nlb\n")).unwrap_err();
        assert!(e.to_string().contains("`lambda` or `vpc_link`"), "{e}");
    }

    #[test]
    fn a_vpc_link_service_refuses_the_proxys_policy_fields() {
        for field in [
            "max_request_bytes: 1000",
            "max_response_bytes: 1000",
            "allow_headers: [accept]",
            "allow_cookies: true",
            "upstream: http://10.0.0.1/x",
        ] {
            let e = parse(&format!("{MINIMAL}  integration: vpc_link\n  {field}\n"))
                .expect_err(field)
                .to_string();
            let name = field.split(':').next().unwrap_or_default();
            assert!(
                e.contains(&format!("services.sample.{name}"))
                    && e.contains("integration: lambda only"),
                "{field}: {e}"
            );
            // The same field is fine for a lambda service.
            parse(&format!("{MINIMAL}  {field}\n")).expect(field);
        }
    }

    // --- the VPC link's options and API Gateway's limits ---

    const WEB: &str = "web:\n  integration: vpc_link\n  methods: [GET, POST]\n  priority: 110\n";

    #[test]
    fn streaming_and_cookies_are_vpc_link_options_with_safe_defaults() {
        let web = registry(WEB).unwrap();
        let svc = web.get("web").unwrap();
        assert_eq!(svc.response_transfer_mode, TransferMode::Buffered);
        assert_eq!(svc.cookies, Cookies::None);
        let s = registry(&format!(
            "{WEB}  response_transfer_mode: STREAM\n  cookies: own_path\n  timeout_ms: 600000\n"
        ))
        .unwrap();
        let svc = s.get("web").unwrap();
        assert_eq!(svc.response_transfer_mode.as_str(), "STREAM");
        assert_eq!(svc.cookies.as_str(), "own_path");
        for (field, at) in [
            (
                "  response_transfer_mode: STREAM\n",
                "services.sample.response_transfer_mode",
            ),
            ("  cookies: none\n", "services.sample.cookies"),
            (
                "  routes:\n    - { path: /a, methods: [GET], public: true, response_transfer_mode: BUFFERED }\n",
                "services.sample.routes[0].response_transfer_mode",
            ),
        ] {
            let e = error_at(&format!("{MINIMAL}{field}"), at);
            assert!(e.contains("integration: vpc_link only"), "{e}");
        }
        for bad in ["  response_transfer_mode: stream\n", "  cookies: all\n"] {
            registry(&format!("{WEB}{bad}")).expect_err(bad);
        }
    }

    #[test]
    fn a_route_streams_as_its_service_unless_it_says_otherwise() {
        let routes = "  routes:\n    - { path: /files, methods: [GET], scope: services:web }\n    - { path: \"/stream/{proxy+}\", methods: [GET], scope: services:web, response_transfer_mode: STREAM }\n";
        let s = registry(&format!("{WEB}{routes}")).unwrap();
        let modes: Vec<_> = s
            .get("web")
            .unwrap()
            .routes
            .iter()
            .map(|r| r.response_transfer_mode)
            .collect();
        assert_eq!(modes, [TransferMode::Buffered, TransferMode::Stream]);
        let s = registry(&format!("{WEB}  response_transfer_mode: STREAM\n{routes}")).unwrap();
        let modes: Vec<_> = s
            .get("web")
            .unwrap()
            .routes
            .iter()
            .map(|r| r.response_transfer_mode)
            .collect();
        assert_eq!(modes, [TransferMode::Stream, TransferMode::Stream]);
    }

    #[test]
    fn the_timeout_is_api_gateways_50_ms_to_29_s_and_15_minutes_when_streaming() {
        for ms in [0, 49, 29_001] {
            let e = error_at(
                &format!("{MINIMAL}  timeout_ms: {ms}\n"),
                "services.sample.timeout_ms",
            );
            assert!(
                e.contains("50..=29000") && e.contains("Amazon API Gateway quotas"),
                "{e}"
            );
        }
        for ms in [50, 29_000] {
            registry(&format!("{MINIMAL}  timeout_ms: {ms}\n")).expect("in range");
        }
        // A buffered vpc_link service: the same 29 s.
        error_at(
            &format!("{WEB}  timeout_ms: 30000\n"),
            "services.web.timeout_ms",
        );
        // A service whose every operation streams: up to 15 minutes.
        let stream_route = "  routes:\n    - { path: \"/stream/{proxy+}\", methods: [GET], scope: services:web, response_transfer_mode: STREAM }\n";
        for streamed in [
            "  response_transfer_mode: STREAM\n".to_owned(),
            format!("  response_transfer_mode: STREAM\n{stream_route}"),
        ] {
            let streamed = streamed.as_str();
            registry(&format!("{WEB}  timeout_ms: 900000\n{streamed}")).expect(streamed);
            let e = error_at(
                &format!("{WEB}  timeout_ms: 900001\n{streamed}"),
                "services.web.timeout_ms",
            );
            assert!(e.contains("50..=900000") && e.contains("15 minutes"), "{e}");
        }
        // One streamed route, the rest buffered: the buffered ones keep 29 s.
        let e = error_at(
            &format!("{WEB}  timeout_ms: 30000\n{stream_route}"),
            "services.web.timeout_ms",
        );
        assert!(e.contains("50..=29000"), "{e}");
        let buffered_route = "  routes:\n    - { path: /home, methods: [GET], public: true, response_transfer_mode: BUFFERED }\n";
        error_at(
            &format!(
                "{WEB}  timeout_ms: 30000\n  response_transfer_mode: STREAM\n{buffered_route}"
            ),
            "services.web.timeout_ms",
        );
    }

    #[test]
    fn a_lambda_request_body_is_at_most_what_fits_a_lambda_event_base64_encoded() {
        let s = registry(&format!("{MINIMAL}  max_request_bytes: 4194304\n")).unwrap();
        assert_eq!(s.get("sample").unwrap().max_request_bytes, 4_194_304);
        let e = error_at(
            &format!("{MINIMAL}  max_request_bytes: 4194305\n"),
            "services.sample.max_request_bytes",
        );
        assert!(
            e.contains("1..=4194304") && e.contains("6291456") && e.contains("base64"),
            "the error gives the number and where it comes from: {e}"
        );
    }

    #[test]
    fn sibling_path_variables_are_refused_as_api_gateway_refuses_them() {
        for (a, b, says) in [
            ("/files/{id}", "/files/{path+}", "beside a greedy"),
            ("/files/{path+}", "/files/{id}", "beside a greedy"),
            ("/a/{id}/x", "/a/{key}/y", "two different path variables"),
            ("/{id}", "/{rest+}", "beside a greedy"),
        ] {
            let e = error_at(
                &format!(
                    "{ROUTED}    - {{ path: \"{a}\", methods: [GET], public: true }}\n    - {{ path: \"{b}\", methods: [PUT], scope: services:sample }}\n"
                ),
                "services.sample.routes[1].path",
            );
            assert!(
                e.contains(says) && e.contains("sibling path variables"),
                "{a} {b}: {e}"
            );
        }
        // Variables under different parents, or the same variable, are fine.
        registry(&format!(
            "{ROUTED}    - {{ path: \"/a/{{id}}\", methods: [GET], public: true }}\n    - {{ path: \"/b/{{rest+}}\", methods: [GET], public: true }}\n    - {{ path: \"/a/{{id}}/x\", methods: [PUT], scope: services:sample }}\n"
        ))
        .unwrap();
    }

    #[test]
    fn a_vpc_link_route_may_not_start_with_a_variable_beside_its_implicit_proxy() {
        for path in ["/{id}", "/{rest+}", "/{id}/x"] {
            let e = error_at(
                &format!(
                    "{WEB}  routes:\n    - {{ path: \"{path}\", methods: [GET], public: true }}\n"
                ),
                "services.web.routes[0].path",
            );
            assert!(
                e.contains("{proxy+}") && e.contains("literal"),
                "{path}: {e}"
            );
            // A lambda service has no such resource: fine there.
            registry(&format!(
                "{ROUTED}    - {{ path: \"{path}\", methods: [GET], public: true }}\n"
            ))
            .expect(path);
        }
    }

    #[test]
    fn minimal_entry_gets_defaults() {
        let s = parse(MINIMAL).unwrap();
        let svc = s.get("sample").unwrap();
        assert_eq!(svc.methods, vec!["GET", "POST"]);
        assert_eq!(svc.scope, "services:sample");
        assert_eq!(svc.path_prefix, "/sample");
        assert_eq!(svc.timeout, Duration::from_secs(10));
        assert!(svc.allows("GET") && !svc.allows("DELETE"));
        assert!(!svc.allow_cookies);
    }

    #[test]
    fn the_repository_platform_yaml_services_parse() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../platform.yaml"))
                .unwrap();
        let p = super::super::Platform::from_yaml(&text).unwrap();
        assert!(
            p.services.get("sample").is_some(),
            "platform.yaml should register the sample service"
        );
    }

    #[test]
    fn terraform_defaults_are_resolved_the_same_way() {
        let s = parse("api:\n  methods: [GET]\n  priority: 1\n  desired_count: 3\n").unwrap();
        let svc = s.get("api").unwrap();
        assert_eq!(
            svc.workload, "api",
            "workload defaults to the name, as in locals.tf"
        );
        assert_eq!((svc.cpu, svc.memory, svc.port), (256, 512, 8080));
        assert_eq!(
            svc.autoscaling,
            Autoscaling {
                min: 3,
                max: 12,
                cpu_target: 60
            }
        );
        let s = parse("api:\n  methods: [GET]\n  priority: 1\n  desired_count: 0\n").unwrap();
        assert_eq!(s.get("api").unwrap().autoscaling.max, 2);
    }

    #[test]
    fn terraform_fields_parse_and_are_validated() {
        let s = parse(&format!(
            "{MINIMAL}  image: public.ecr.aws/x/y:1\n  autoscaling: {{ min: 2, max: 6, cpu_target: 70 }}\n  cpu: 1024\n  memory: 3072\n  environment: {{ LOG_LEVEL: debug, WORKERS: 4 }}\n"
        ))
        .unwrap();
        let svc = s.get("sample").unwrap();
        assert_eq!(svc.image.as_deref(), Some("public.ecr.aws/x/y:1"));
        assert_eq!((svc.autoscaling.min, svc.autoscaling.max), (2, 6));
        assert_eq!(svc.environment.get("WORKERS"), Some("4"));
        for (extra, path) in [
            ("  autoscaling: { min: 5, max: 2 }\n", "autoscaling.min"),
            (
                "  autoscaling: { cpu_target: 0 }\n",
                "autoscaling.cpu_target",
            ),
            ("  autoscaling: { max: 0, min: 0 }\n", "autoscaling.max"),
            ("  autoscaling: { step: 1 }\n", "step"),
            ("  cpu: 256\n  memory: 4096\n", "services.sample.memory"),
            ("  cpu: 100\n", "services.sample.cpu"),
            (
                "  environment: { PORT: 1 }\n",
                "services.sample.environment.PORT",
            ),
            ("  environment: { bad-name: 1 }\n", "environment.bad-name"),
            ("  image: \"\"\n", "services.sample.image"),
        ] {
            let e = parse(&format!("{MINIMAL}{extra}")).unwrap_err().to_string();
            assert!(e.contains(path), "{extra}: {e}");
        }
        let e =
            parse("sample:\n  workload: Bad/Name\n  methods: [GET]\n  priority: 1\n").unwrap_err();
        assert!(e.to_string().contains("services.sample.workload"), "{e}");
    }

    #[test]
    fn timeout_over_api_gateway_limit_is_rejected() {
        let e = parse(&format!("{MINIMAL}  timeout_ms: 30000\n")).unwrap_err();
        assert!(e.to_string().contains("services.sample.timeout_ms"), "{e}");
    }

    #[test]
    fn response_limit_over_lambda_limit_is_rejected() {
        let e = parse(&format!("{MINIMAL}  max_response_bytes: 7000000\n")).unwrap_err();
        assert!(e.to_string().contains("max_response_bytes"), "{e}");
    }

    #[test]
    fn unknown_method_and_unknown_field_are_rejected() {
        let p = "  priority: 1\n";
        assert!(parse(&format!("s:\n  workload: w\n  methods: [FETCH]\n{p}")).is_err());
        assert!(
            parse(&format!(
                "s:\n  workload: w\n  methods: [GET]\n  timeout: 3\n{p}"
            ))
            .is_err()
        );
        assert!(parse(&format!("s:\n  workload: w\n  methods: []\n{p}")).is_err());
        assert!(parse(&format!("s:\n  workload: w\n  methods: [GET, get]\n{p}")).is_err());
        assert!(parse(&format!("s:\n  workload: w\n  methods: [GET]\n{p}")).is_ok());
    }

    #[test]
    fn credential_and_identity_headers_cannot_be_allowed() {
        for h in [
            "Authorization",
            "x-api-key",
            "cookie",
            "x-portcullis-tenant",
            "host",
            "connection",
        ] {
            let e = parse(&format!("{MINIMAL}  allow_headers: [{h}]\n")).unwrap_err();
            assert!(e.to_string().contains("allow_headers"), "{h}: {e}");
        }
    }

    #[test]
    fn bad_names_prefixes_and_upstreams_are_rejected() {
        assert!(parse("Bad_Name:\n  workload: w\n  methods: [GET]\n  priority: 1\n").is_err());
        assert!(parse(&format!("{MINIMAL}  path_prefix: /a/../b\n")).is_err());
        assert!(parse(&format!("{MINIMAL}  upstream: ftp://x\n")).is_err());
        assert!(
            parse(&format!(
                "{MINIMAL}  upstream: http://127.0.0.1:8081/base\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn json_form_parses() {
        let s = Services::from_text(
            r#"{"sample":{"workload":"sample-service","methods":["GET"],"priority":9,"timeout_ms":500}}"#,
        )
        .unwrap();
        assert_eq!(s.get("sample").unwrap().timeout, Duration::from_millis(500));
    }

    // --- the registry fields Terraform deploys ---

    #[test]
    fn a_registry_service_without_a_priority_is_refused() {
        let e = error_at("s:\n  methods: [GET]\n", "services.s.priority");
        assert!(e.contains("required") && e.contains("1-50000"), "{e}");
        // A services fragment (proxy tests) may leave it out.
        assert_eq!(
            parse("s:\n  methods: [GET]\n")
                .unwrap()
                .get("s")
                .unwrap()
                .priority,
            None
        );
    }

    #[test]
    fn duplicate_and_out_of_range_priorities_are_refused() {
        let e = error_at(
            "a:\n  methods: [GET]\n  priority: 10\nb:\n  methods: [GET]\n  priority: 10\n",
            "services.b.priority",
        );
        assert!(
            e.contains("services.a"),
            "the error names the other service: {e}"
        );
        error_at(
            "a:\n  methods: [GET]\n  priority: 0\n",
            "services.a.priority",
        );
        error_at(
            "a:\n  methods: [GET]\n  priority: 50001\n",
            "services.a.priority",
        );
        let ok = registry(
            "a:\n  methods: [GET]\n  priority: 1\nb:\n  methods: [GET]\n  priority: 50000\n",
        )
        .unwrap();
        assert_eq!(ok.get("b").unwrap().priority, Some(50000));
    }

    #[test]
    fn log_retention_must_be_a_cloudwatch_value() {
        let e = error_at(
            &format!("{MINIMAL}  log_retention_days: 10\n"),
            "services.sample.log_retention_days",
        );
        assert!(
            e.contains("14") && e.contains("3653"),
            "the error lists the allowed values: {e}"
        );
        error_at(
            &format!("{MINIMAL}  log_retention_days: 0\n"),
            "services.sample.log_retention_days",
        );
        let s = registry(&format!("{MINIMAL}  log_retention_days: 30\n")).unwrap();
        assert_eq!(s.get("sample").unwrap().log_retention_days, Some(30));
        assert_eq!(
            registry(MINIMAL)
                .unwrap()
                .get("sample")
                .unwrap()
                .log_retention_days,
            None
        );
    }

    #[test]
    fn secret_references_are_checked() {
        let s = registry(&format!(
            "{MINIMAL}  secrets:\n    TOKEN: portcullis/sample/token:token\n    DB: arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf\n    KEYED: arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf:password\n"
        ))
        .unwrap();
        let svc = s.get("sample").unwrap();
        assert_eq!(
            svc.secrets.get("TOKEN"),
            Some(task::SecretRef {
                secret: "portcullis/sample/token".into(),
                json_key: Some("token".into())
            })
        );
        assert_eq!(svc.secrets.get("DB").unwrap().json_key, None);
        assert_eq!(
            svc.secrets.get("KEYED").unwrap().secret,
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf"
        );
        for bad in [
            "",
            "has space",
            "name:",
            "name:a:b",
            "name:key with blank",
            "arn:aws:s3:::bucket",
            "arn:aws:secretsmanager:eu-west-1:123:secret:db",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db:key:stage:id",
            "bad!name",
        ] {
            error_at(
                &format!("{MINIMAL}  secrets: {{ TOKEN: '{bad}' }}\n"),
                "services.sample.secrets.TOKEN",
            );
        }
        error_at(
            &format!("{MINIMAL}  secrets: {{ lower: s }}\n"),
            "services.sample.secrets.lower",
        );
    }

    #[test]
    fn platform_variable_names_are_refused_in_environment_and_secrets() {
        for name in [
            "PORT",
            "BASE_PATH",
            "IDENTITY_SECRET",
            "IDENTITY_SECRET_PREVIOUS",
            "IDENTITY_X",
            "PORTCULLIS_COOKIES",
            "PORTCULLIS_PUBLIC_PATH",
            "AWS_REGION",
            "ECS_CONTAINER_METADATA_URI_V4",
        ] {
            let e = error_at(
                &format!("{MINIMAL}  environment: {{ {name}: x }}\n"),
                &format!("services.sample.environment.{name}"),
            );
            assert!(e.contains("set by the platform"), "{e}");
            error_at(
                &format!("{MINIMAL}  secrets: {{ {name}: s }}\n"),
                &format!("services.sample.secrets.{name}"),
            );
        }
        let e = error_at(
            &format!("{MINIMAL}  environment: {{ TOKEN: x }}\n  secrets: {{ TOKEN: s }}\n"),
            "services.sample.secrets.TOKEN",
        );
        assert!(e.contains("both environment and secrets"), "{e}");
        assert!(
            registry(&format!(
                "{MINIMAL}  environment: {{ IDENTITY: x, MY_AWS_REGION: y }}\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn declared_routes_become_operations_of_the_rest_api_under_the_service() {
        let s = registry(&format!(
            "{ROUTED}    - {{ path: /items, methods: [GET], public: true }}\n    - {{ path: \"/items/{{id}}\", methods: [PUT, DELETE], scope: services:sample.write }}\n"
        ))
        .unwrap();
        let ops: Vec<(String, &str, bool, Option<String>)> = s
            .route_operations()
            .into_iter()
            .map(|o| {
                let scope = o.scope.text().map(str::to_owned);
                (o.path.into_owned(), o.method.as_str(), o.secured, scope)
            })
            .collect();
        let write = Some("services:sample.write".to_owned());
        assert_eq!(
            ops,
            [
                ("/v1/services/sample/items".to_owned(), "GET", false, None),
                (
                    "/v1/services/sample/items/{id}".to_owned(),
                    "PUT",
                    true,
                    write.clone()
                ),
                (
                    "/v1/services/sample/items/{id}".to_owned(),
                    "DELETE",
                    true,
                    write
                ),
            ]
        );
        assert!(
            s.route_operations()
                .iter()
                .all(|o| o.integration == Some(portcullis_contract::IntegrationKind::AwsProxy))
        );
    }

    #[test]
    fn a_vpc_link_services_routes_are_http_proxy_operations() {
        let s = crate::Platform::embedded().unwrap().services;
        let web = s.get("web").unwrap();
        assert_eq!(web.integration, Integration::VpcLink);
        let ops = web.route_operations();
        assert!(!ops.is_empty());
        assert!(ops.iter().all(|o| o.path.starts_with("/v1/services/web/")
            && o.integration == Some(portcullis_contract::IntegrationKind::HttpProxy)));
    }

    #[test]
    fn the_proxys_own_headers_and_the_hop_by_hop_ones_cannot_be_allowed() {
        for h in [
            "Connection",
            "proxy-connection",
            "x-forwarded-port",
            "cookie",
            "host",
        ] {
            error_at(
                &format!("{MINIMAL}  allow_headers: [{h}]\n"),
                "services.sample.allow_headers",
            );
        }
        assert!(registry(&format!("{MINIMAL}  allow_headers: [x-trace]\n")).is_ok());
    }

    #[test]
    fn environments_select_where_a_service_is_deployed() {
        let s = registry(&format!("{MINIMAL}  environments: [dev, local]\n")).unwrap();
        let svc = s.get("sample").unwrap();
        assert!(svc.enabled_in("dev") && svc.enabled_in("local") && !svc.enabled_in("prod"));
        assert!(
            registry(MINIMAL)
                .unwrap()
                .get("sample")
                .unwrap()
                .enabled_in("prod")
        );
        error_at(
            &format!("{MINIMAL}  environments: []\n"),
            "services.sample.environments",
        );
        error_at(
            &format!("{MINIMAL}  environments: [Prod]\n"),
            "services.sample.environments[0]",
        );
        error_at(
            &format!("{MINIMAL}  environments: [dev, dev]\n"),
            "services.sample.environments",
        );
    }

    #[test]
    fn health_check_fields_are_resolved_and_checked() {
        let svc = registry(MINIMAL)
            .unwrap()
            .get("sample")
            .unwrap()
            .health_check
            .clone();
        assert_eq!(
            svc,
            HealthCheck {
                path: "/health".into(),
                interval_seconds: 15,
                timeout_seconds: 5,
                healthy_threshold: 2,
                unhealthy_threshold: 3,
                matcher: "200-299".into()
            }
        );
        let s = registry(&format!(
            "{MINIMAL}  health_check: {{ path: /ok, interval_seconds: 30, timeout_seconds: 10, healthy_threshold: 5, unhealthy_threshold: 2, matcher: \"200,204\" }}\n"
        ))
        .unwrap();
        assert_eq!(s.get("sample").unwrap().health_check.matcher, "200,204");
        for (hc, field) in [
            ("{ path: health }", "health_check.path"),
            ("{ interval_seconds: 4 }", "health_check.interval_seconds"),
            ("{ timeout_seconds: 15 }", "health_check.timeout_seconds"),
            (
                "{ healthy_threshold: 11 }",
                "health_check.healthy_threshold",
            ),
            (
                "{ unhealthy_threshold: 1 }",
                "health_check.unhealthy_threshold",
            ),
            ("{ matcher: \"600\" }", "health_check.matcher"),
            ("{ matcher: \"299-200\" }", "health_check.matcher"),
            ("{ matcher: ok }", "health_check.matcher"),
        ] {
            error_at(
                &format!("{MINIMAL}  health_check: {hc}\n"),
                &format!("services.sample.{field}"),
            );
        }
        // The old single field is gone: one home for the health check.
        assert!(registry(&format!("{MINIMAL}  health_check_path: /health\n")).is_err());
    }
}
