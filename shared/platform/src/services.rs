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
//!     path_prefix: /sample          # ALB listener rule path prefix
//!     port: 8080
//!     health_check_path: /health
//!     desired_count: 1
//!     autoscaling: { min: 1, max: 4, cpu_target: 60 }   # defaults: desired_count, max(4 x desired, 2), 60
//!     cpu: 256                      # a Fargate size (task::is_fargate_size)
//!     memory: 512
//!     environment: { LOG_LEVEL: info }  # not PORT, BASE_PATH, IDENTITY_SECRET (set by Terraform)
//!     methods: [GET, POST, PUT, PATCH, DELETE]
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
use crate::task::{self, Environment};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// API Gateway's integration timeout; the proxy stays below it.
pub const MAX_TIMEOUT_MS: u64 = 29_000;
/// API Gateway's request payload limit (10 MB).
pub const MAX_REQUEST_BYTES: u64 = 10 * 1024 * 1024;
/// Lambda's synchronous response limit (6 MB).
pub const MAX_RESPONSE_BYTES: u64 = 6 * 1024 * 1024;

/// Environment names Terraform sets on every service container itself.
pub const RESERVED_ENV: &[&str] = &["PORT", "BASE_PATH", "IDENTITY_SECRET"];

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
    pub health_check_path: String,
    pub desired_count: u32,
    pub autoscaling: Autoscaling,
    /// Fargate task size: cpu units and memory MiB.
    pub cpu: u32,
    pub memory: u32,
    /// Container environment (besides `PORT`, `BASE_PATH`, `IDENTITY_SECRET`).
    pub environment: Environment,
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

    /// Parse and validate the `services:` value of platform.yaml (or the same
    /// shape given as JSON).
    pub fn from_value(value: &serde_norway::Value) -> Result<Self, PlatformError> {
        if value.is_null() {
            return Ok(Services::default());
        }
        Self::from_raw(serde_norway::from_value(value.clone())?)
    }

    pub(crate) fn from_raw(raw: BTreeMap<String, RawService>) -> Result<Self, PlatformError> {
        let mut out = BTreeMap::new();
        for (name, r) in raw {
            let svc = r.validate(&name)?;
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
    upstream: Option<String>,
    #[serde(default)]
    path_prefix: Option<String>,
    methods: Vec<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_max_request")]
    max_request_bytes: u64,
    #[serde(default = "default_max_response")]
    max_response_bytes: u64,
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
    #[serde(default = "default_health")]
    health_check_path: String,
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
fn default_health() -> String {
    "/health".to_owned()
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
        if self.max_request_bytes == 0 || self.max_request_bytes > MAX_REQUEST_BYTES {
            return Err(invalid(
                name,
                "max_request_bytes",
                format!(
                    "{} is out of range 1..={MAX_REQUEST_BYTES}",
                    self.max_request_bytes
                ),
            ));
        }
        if self.max_response_bytes == 0 || self.max_response_bytes > MAX_RESPONSE_BYTES {
            return Err(invalid(
                name,
                "max_response_bytes",
                format!(
                    "{} is out of range 1..={MAX_RESPONSE_BYTES} (the Lambda response limit)",
                    self.max_response_bytes
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
        if !self.health_check_path.starts_with('/') {
            return Err(invalid(
                name,
                "health_check_path",
                "expected a path such as /health",
            ));
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
        let autoscaling = self
            .autoscaling
            .unwrap_or_default()
            .resolve(name, self.desired_count)?;
        Ok(Service {
            name: name.to_owned(),
            description: self.description,
            upstream: self.upstream,
            path_prefix,
            methods,
            scope,
            timeout: Duration::from_millis(self.timeout_ms),
            max_request_bytes: self.max_request_bytes,
            max_response_bytes: self.max_response_bytes,
            allow_headers,
            allow_cookies: self.allow_cookies,
            workload,
            image: self.image,
            port: self.port,
            health_check_path: self.health_check_path,
            desired_count: self.desired_count,
            autoscaling,
            cpu: self.cpu,
            memory: self.memory,
            environment: self.environment,
        })
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

    const MINIMAL: &str = "sample:\n  workload: sample-service\n  methods: [get, POST]\n";

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
        let s = parse("api:\n  methods: [GET]\n  desired_count: 3\n").unwrap();
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
        let s = parse("api:\n  methods: [GET]\n  desired_count: 0\n").unwrap();
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
        let e = parse("sample:\n  workload: Bad/Name\n  methods: [GET]\n").unwrap_err();
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
        assert!(parse("s:\n  workload: w\n  methods: [FETCH]\n").is_err());
        assert!(parse("s:\n  workload: w\n  methods: [GET]\n  timeout: 3\n").is_err());
        assert!(parse("s:\n  workload: w\n  methods: []\n").is_err());
        assert!(parse("s:\n  workload: w\n  methods: [GET, get]\n").is_err());
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
        assert!(parse("Bad_Name:\n  workload: w\n  methods: [GET]\n").is_err());
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
            r#"{"sample":{"workload":"sample-service","methods":["GET"],"timeout_ms":500}}"#,
        )
        .unwrap();
        assert_eq!(s.get("sample").unwrap().timeout, Duration::from_millis(500));
    }
}
