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
//!     timeout_ms: 10000
//!     max_request_bytes: 1048576
//!     max_response_bytes: 4194304
//!     allow_headers: [accept, content-type]
//!     allow_cookies: false
//! ```
//!
//! The upstream base URL is resolved by the proxy at start: see
//! [`Service::upstream`] and `docs/proxy.md`.

use super::PlatformError;
use crate::task::{self, Environment, Secrets};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// API Gateway's integration timeout; the proxy stays below it.
pub const MAX_TIMEOUT_MS: u64 = 29_000;
/// API Gateway's request payload limit (10 MB).
pub const MAX_REQUEST_BYTES: u64 = 10 * 1024 * 1024;
/// Lambda's synchronous response limit (6 MB).
pub const MAX_RESPONSE_BYTES: u64 = 6 * 1024 * 1024;

/// Container variable names the platform sets on every service container
/// itself (`IDENTITY_*`: the identity-signing keys, `IDENTITY_SECRET` and
/// `IDENTITY_SECRET_PREVIOUS`); [`task::RESERVED_FOR_ECS`] besides.
pub const RESERVED_ENV: &[&str] = &["PORT", "BASE_PATH", "IDENTITY_*"];

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
        self.environments
            .as_ref()
            .is_none_or(|l| l.iter().any(|e| e == environment))
    }
}

/// The whole section, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Services(pub BTreeMap<String, Service>);

impl Services {
    pub fn get(&self, name: &str) -> Option<&Service> {
        self.0.get(name)
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

#[derive(Debug, Default, Deserialize)]
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

/// Header names a registry may never allow through: the proxy sets or strips them itself.
const NEVER_ALLOWED: &[&str] = &[
    "host",
    "authorization",
    "x-api-key",
    "cookie",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-request-id",
    "x-amzn-trace-id",
];

impl RawService {
    fn validate(self, name: &str) -> Result<Service, PlatformError> {
        let name_ok = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if !name_ok {
            return Err(invalid(
                name,
                "name",
                "a service name is 1-32 characters of a-z, 0-9 and '-', not starting with '-'",
            ));
        }
        let mut methods = Vec::new();
        for m in &self.methods {
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
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(invalid(
                name,
                "timeout_ms",
                format!(
                    "{} is out of range 1..={MAX_TIMEOUT_MS} (API Gateway stops waiting at 29 s)",
                    self.timeout_ms
                ),
            ));
        }
        let max_request_bytes = self.max_request_bytes.unwrap_or_else(default_max_request);
        if max_request_bytes == 0 || max_request_bytes > MAX_REQUEST_BYTES {
            return Err(invalid(
                name,
                "max_request_bytes",
                format!("{max_request_bytes} is out of range 1..={MAX_REQUEST_BYTES}"),
            ));
        }
        // The proxy's own policy (response cap, header and cookie
        // allowlists, a pinned upstream) means nothing where no proxy runs.
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
        let mut allow_headers = Vec::new();
        for h in &self.allow_headers {
            let lower = h.trim().to_ascii_lowercase();
            if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                return Err(invalid(
                    name,
                    "allow_headers",
                    format!("{h:?} is not a header name"),
                ));
            }
            if NEVER_ALLOWED.contains(&lower.as_str())
                || portcullis_identity::is_identity_header(&lower)
            {
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
        let path_prefix = match self.path_prefix {
            None => format!("/{name}"),
            Some(p) => {
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
                p
            }
        };
        if let Some(u) = &self.upstream {
            match url::Url::parse(u) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.query().is_none() => {}
                _ => {
                    return Err(invalid(
                        name,
                        "upstream",
                        "expected an http(s) base URL without a query",
                    ));
                }
            }
        }
        let scope = self.scope.unwrap_or_else(|| format!("services:{name}"));
        if scope.is_empty() || scope.contains(char::is_whitespace) {
            return Err(invalid(
                name,
                "scope",
                "a scope is one word such as services:sample",
            ));
        }
        let priority = self.priority;
        if let Some(p) = priority.filter(|p| !PRIORITY_RANGE.contains(p)) {
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
        let workload = self.workload.unwrap_or_else(|| name.to_owned());
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
            .unwrap_or_default()
            .resolve(name, self.desired_count)?;
        let routes = check_routes(name, &methods, self.routes)?;
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
            workload,
            image: self.image,
            port: self.port,
            priority,
            health_check,
            desired_count: self.desired_count,
            autoscaling,
            cpu: self.cpu,
            memory: self.memory,
            environment: self.environment,
            secrets: self.secrets,
            log_retention_days: self.log_retention_days,
            environments: self.environments,
            routes,
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

/// The path with every parameter as `{}`: two paths with the same shape
/// are one resource to API Gateway (sibling parameters must agree).
fn path_shape(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') {
                if s.ends_with("+}") { "{+}" } else { "{}" }
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods the proxy audits (a public route may not take them).
pub const MUTATIONS: &[&str] = &["POST", "PUT", "PATCH", "DELETE"];

fn is_mutation(method: &str) -> bool {
    MUTATIONS.contains(&method)
}

fn check_routes(
    name: &str,
    service_methods: &[String],
    raw: Vec<RawRoute>,
) -> Result<Vec<Route>, PlatformError> {
    let mut out: Vec<Route> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let field = |f: &str| format!("routes[{i}].{f}");
        check_route_path(&r.path).map_err(|e| invalid(name, &field("path"), e))?;
        if let Some(other) = out
            .iter()
            .find(|o| o.path != r.path && path_shape(&o.path) == path_shape(&r.path))
        {
            return Err(invalid(
                name,
                &field("path"),
                format!(
                    "{} and {} differ only in parameter names; API Gateway needs one name per position: use the same",
                    r.path, other.path
                ),
            ));
        }
        let mut methods: Vec<String> = Vec::new();
        for m in &r.methods {
            let up = m.trim().to_ascii_uppercase();
            if !service_methods.contains(&up) {
                return Err(invalid(
                    name,
                    &field("methods"),
                    format!(
                        "{m:?} is not one of the service's methods ({})",
                        service_methods.join(", ")
                    ),
                ));
            }
            if methods.contains(&up)
                || out
                    .iter()
                    .any(|o| o.path == r.path && o.methods.contains(&up))
            {
                return Err(invalid(
                    name,
                    &field("methods"),
                    format!("{up} {} is declared twice", r.path),
                ));
            }
            methods.push(up);
        }
        if methods.is_empty() {
            return Err(invalid(
                name,
                &field("methods"),
                "at least one method is required",
            ));
        }
        let access = match (r.public, r.scope) {
            (Some(true), None) => {
                if let Some(m) = methods.iter().find(|m| is_mutation(m)) {
                    return Err(invalid(
                        name,
                        &field("methods"),
                        format!(
                            "a public route takes no {m}: every proxied mutation is audited with its caller's tenant, and an anonymous caller has none (give the route a scope)"
                        ),
                    ));
                }
                RouteAccess::Public
            }
            (None | Some(false), Some(scope)) => {
                if !is_route_scope_of(name, &scope) {
                    return Err(invalid(
                        name,
                        &field("scope"),
                        format!(
                            "{scope:?} is not a scope of this service: use services:{name} or services:{name}.<word> (word: 1-32 of a-z, 0-9, '-'; e.g. services:{name}.write)"
                        ),
                    ));
                }
                RouteAccess::Scope(scope)
            }
            (Some(true), Some(_)) => {
                return Err(invalid(
                    name,
                    &field("public"),
                    "a route is either public: true or has a scope, not both",
                ));
            }
            (_, None) => {
                return Err(invalid(
                    name,
                    &field("scope"),
                    "a route needs public: true or a scope (otherwise leave it out: the service's scope applies)",
                ));
            }
        };
        out.push(Route {
            path: r.path,
            methods,
            access,
        });
    }
    Ok(out)
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
    fn resolve(self, name: &str) -> Result<HealthCheck, PlatformError> {
        let hc = HealthCheck {
            path: self
                .path
                .unwrap_or_else(|| DEFAULT_HEALTH_CHECK_PATH.to_owned()),
            interval_seconds: self.interval_seconds.unwrap_or(15),
            timeout_seconds: self.timeout_seconds.unwrap_or(5),
            healthy_threshold: self.healthy_threshold.unwrap_or(2),
            unhealthy_threshold: self.unhealthy_threshold.unwrap_or(3),
            matcher: self.matcher.unwrap_or_else(|| "200-299".to_owned()),
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

    // --- issue 13 item 3: the registry fields Terraform deploys ---

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
