//! Reading `api/openapi.yaml`: the route table, the integrations, the
//! authorizer and binary media types. CORS is not the gateway's: with Lambda
//! proxy integrations API Gateway adds no CORS header, the functions do.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_norway::Value as Yaml;

/// API Gateway's default (and maximum, for REST APIs) integration timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(29_000);

/// The longest `timeoutInMillis` of an integration whose response is
/// streamed: 15 minutes (AWS, "Set up an HTTP proxy integration with payload
/// response streaming in API Gateway": "When you use response streaming, you
/// can configure the integration timeout up to 15 minutes").
pub const MAX_STREAM_TIMEOUT_MS: u64 = 900_000;

/// How API Gateway returns an integration's response (`responseTransferMode`;
/// AWS, "Stream the integration response for your proxy integrations in API
/// Gateway"): `BUFFERED` (the default) reads it whole first, `STREAM` sends
/// it on as it arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransferMode {
    #[default]
    Buffered,
    Stream,
}

/// The HTTP methods API Gateway REST knows; `ANY` stands for all of them.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(
        "cannot read the OpenAPI file {path}: {source}; set OPENAPI_FILE to the contract (api/openapi.yaml)"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the OpenAPI document is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("the OpenAPI document is invalid at {at}: {reason}")]
    Invalid { at: String, reason: String },
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

/// One segment of a resource path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: one or more remaining segments (only as the last segment).
    Greedy(String),
}

/// One operation (resource + method) and where it goes.
#[derive(Debug, Clone)]
pub struct Operation {
    pub operation_id: Option<String>,
    /// Function name taken from the integration uri placeholder
    /// `${<name>_function_arn}`.
    pub function: String,
    pub secured: bool,
    /// `apiKeyRequired`: its security requirement names a plain `apiKey`
    /// scheme (not a custom authorizer), so usage plans apply.
    pub api_key_required: bool,
    pub scope: Option<String>,
    pub timeout: Duration,
    /// `responseTransferMode` (http_proxy integrations only, locally).
    pub transfer_mode: TransferMode,
    /// An `http_proxy` integration (VPC link or internet); `function` is
    /// then empty.
    pub http: Option<crate::http_integration::HttpIntegration>,
}

/// A resource of the REST API (`/v1/jobs/{id}`) and its methods. The key
/// `ANY` holds an `x-amazon-apigateway-any-method` operation.
#[derive(Debug, Clone)]
pub struct Resource {
    pub path: String,
    pub segments: Vec<Segment>,
    pub methods: BTreeMap<String, Operation>,
}

impl Resource {
    /// The operation answering `method`, a declared method before `ANY`.
    pub fn operation(&self, method: &str) -> Option<&Operation> {
        self.methods.get(method).or_else(|| self.methods.get("ANY"))
    }
}

/// The parts of the contract the gateway acts on.
#[derive(Debug, Clone)]
pub struct Api {
    pub resources: Vec<Resource>,
    pub binary_media_types: Vec<String>,
    /// The function named by the security scheme's `authorizerUri`.
    pub authorizer: Option<String>,
}

impl Api {
    pub fn from_file(path: impl AsRef<Path>) -> Result<Api, SpecError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Api::from_yaml_str(&text)
    }

    /// A contract whose integration uris name `${<function>_function_arn}`
    /// placeholders (`api/openapi.yaml`, test contracts).
    pub fn from_yaml_str(text: &str) -> Result<Api, SpecError> {
        Api::parse(text, &|uri: &str| function_from_uri(uri))
    }

    /// The REST API body as Terraform rendered and applied it (JSON, real
    /// Lambda ARNs in the integration uris): `functions` maps each Lambda
    /// ARN to the function's crate name.
    pub fn from_rendered_body(
        body: &str,
        functions: &BTreeMap<String, String>,
    ) -> Result<Api, SpecError> {
        Api::parse(body, &|uri: &str| {
            lambda_arn_from_uri(uri).and_then(|arn| functions.get(arn).cloned())
        })
    }

    fn parse(text: &str, resolve: &dyn Fn(&str) -> Option<String>) -> Result<Api, SpecError> {
        let doc: Yaml = serde_norway::from_str(text)?;
        let authorizer = authorizer_function(&doc, resolve)?;
        let binary_media_types = match doc.get("x-amazon-apigateway-binary-media-types") {
            None => Vec::new(),
            Some(v) => strings(v, "x-amazon-apigateway-binary-media-types")?,
        };
        let api_key_schemes = api_key_schemes(&doc);
        let default_security = doc
            .get("security")
            .map(|v| Security::of(v, &api_key_schemes))
            .unwrap_or_default();
        let mut resources = Vec::new();
        let paths = doc
            .get("paths")
            .and_then(Yaml::as_mapping)
            .ok_or_else(|| invalid("paths", "a mapping of resource paths is required"))?;
        for (key, item) in paths {
            let path = key
                .as_str()
                .ok_or_else(|| invalid("paths", "resource paths must be strings"))?;
            let segments = parse_template(path)?;
            let mut methods = BTreeMap::new();
            let Some(item) = item.as_mapping() else {
                return Err(invalid(
                    format!("paths.{path}"),
                    "must be a mapping of methods",
                ));
            };
            for (method, op) in item {
                let Some(method) = method.as_str() else {
                    continue;
                };
                let name = if method == "x-amazon-apigateway-any-method" {
                    "ANY".to_owned()
                } else if METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                    method.to_ascii_uppercase()
                } else {
                    continue; // parameters, summary, other extensions
                };
                let at = format!("paths.{path}.{method}");
                methods.insert(
                    name,
                    parse_operation(op, &at, default_security, &api_key_schemes, resolve)?,
                );
            }
            resources.push(Resource {
                path: path.to_owned(),
                segments,
                methods,
            });
        }
        Ok(Api {
            resources,
            binary_media_types,
            authorizer,
        })
    }

    /// Whether a payload of this content type is binary for API Gateway
    /// (`x-amazon-apigateway-binary-media-types`, `*` wildcards allowed).
    pub fn is_binary(&self, content_type: Option<&str>) -> bool {
        let ct = content_type
            .map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        self.binary_media_types.iter().any(|pattern| {
            let pattern = pattern.to_ascii_lowercase();
            if pattern == "*/*" {
                return true;
            }
            crate::policy::glob_match(&pattern, &ct)
        })
    }
}

/// What an operation's `security` asks of API Gateway.
#[derive(Debug, Clone, Copy, Default)]
struct Security {
    /// A requirement names a scheme other than a plain API key (the authorizer).
    secured: bool,
    /// A requirement names a plain API key scheme (`apiKeyRequired`).
    api_key_required: bool,
}

impl Security {
    fn of(v: &Yaml, api_key_schemes: &[String]) -> Security {
        let names = v
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(Yaml::as_mapping)
            .flat_map(|m| m.keys().filter_map(Yaml::as_str));
        let mut out = Security::default();
        for name in names {
            if api_key_schemes.iter().any(|s| s == name) {
                out.api_key_required = true;
            } else {
                out.secured = true;
            }
        }
        out
    }
}

/// Security schemes that are API keys checked by API Gateway itself
/// (`type: apiKey` without `x-amazon-apigateway-authorizer`): an operation
/// naming one gets `apiKeyRequired` on import.
fn api_key_schemes(doc: &Yaml) -> Vec<String> {
    doc.get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
        .filter(|(_, scheme)| {
            scheme.get("type").and_then(Yaml::as_str) == Some("apiKey")
                && scheme.get("x-amazon-apigateway-authorizer").is_none()
                && scheme.get("x-amazon-apigateway-authtype").is_none()
        })
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect()
}

fn parse_operation(
    op: &Yaml,
    at: &str,
    default_security: Security,
    api_key_schemes: &[String],
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Operation, SpecError> {
    let integration = op
        .get("x-amazon-apigateway-integration")
        .ok_or_else(|| invalid(at, "x-amazon-apigateway-integration is missing"))?;
    let uri = integration
        .get("uri")
        .and_then(Yaml::as_str)
        .ok_or_else(|| {
            invalid(
                format!("{at}.x-amazon-apigateway-integration"),
                "uri is missing",
            )
        })?;
    let kind = integration
        .get("type")
        .and_then(Yaml::as_str)
        .unwrap_or("aws_proxy");
    let http = if kind.eq_ignore_ascii_case("http_proxy") {
        Some(http_integration(integration, uri, at)?)
    } else {
        None
    };
    let function = if http.is_some() {
        String::new()
    } else {
        resolve(uri).ok_or_else(|| {
            invalid(
                format!("{at}.x-amazon-apigateway-integration.uri"),
                format!("{uri:?} is not the invocation uri of a known Lambda function"),
            )
        })?
    };
    let transfer_mode = transfer_mode(integration, http.is_some(), at)?;
    let timeout = timeout(integration, transfer_mode, at)?;
    let security = match op.get("security") {
        Some(v) => Security::of(v, api_key_schemes),
        None => default_security,
    };
    Ok(Operation {
        operation_id: op
            .get("operationId")
            .and_then(Yaml::as_str)
            .map(str::to_owned),
        function,
        secured: security.secured,
        api_key_required: security.api_key_required,
        scope: op
            .get("x-portcullis-scope")
            .and_then(Yaml::as_str)
            .map(str::to_owned),
        timeout,
        transfer_mode,
        http,
    })
}

/// `responseTransferMode`: `BUFFERED` (default) or `STREAM`. A streamed
/// Lambda integration (InvokeWithResponseStream) is not modelled locally, so
/// it is refused rather than buffered (which would be kinder than AWS).
fn transfer_mode(integration: &Yaml, is_http: bool, at: &str) -> Result<TransferMode, SpecError> {
    let at = format!("{at}.x-amazon-apigateway-integration.responseTransferMode");
    let Some(value) = integration.get("responseTransferMode") else {
        return Ok(TransferMode::Buffered);
    };
    match value.as_str() {
        Some("BUFFERED") => Ok(TransferMode::Buffered),
        Some("STREAM") if is_http => Ok(TransferMode::Stream),
        Some("STREAM") => Err(invalid(
            at,
            "STREAM is modelled locally for http_proxy integrations only; a streamed Lambda integration needs InvokeWithResponseStream, which the local gateway does not run",
        )),
        _ => Err(invalid(at, format!("{value:?} is not BUFFERED or STREAM"))),
    }
}

/// `timeoutInMillis`: 50..=29000 (default 29000), up to 900000 (15 minutes)
/// when the response is streamed.
fn timeout(integration: &Yaml, mode: TransferMode, at: &str) -> Result<Duration, SpecError> {
    let max = match mode {
        TransferMode::Buffered => DEFAULT_TIMEOUT.as_millis() as u64,
        TransferMode::Stream => MAX_STREAM_TIMEOUT_MS,
    };
    let Some(v) = integration.get("timeoutInMillis") else {
        return Ok(DEFAULT_TIMEOUT);
    };
    v.as_u64()
        .filter(|ms| (50..=max).contains(ms))
        .map(Duration::from_millis)
        .ok_or_else(|| {
            invalid(
                format!("{at}.x-amazon-apigateway-integration.timeoutInMillis"),
                format!("must be 50..={max} ({mode:?} responseTransferMode)"),
            )
        })
}

/// An `http_proxy` integration: `connectionType` (`INTERNET` unless
/// `VPC_LINK`, which needs `connectionId`), `httpMethod`, `requestParameters`.
fn http_integration(
    integration: &Yaml,
    uri: &str,
    at: &str,
) -> Result<crate::http_integration::HttpIntegration, SpecError> {
    let at = format!("{at}.x-amazon-apigateway-integration");
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(invalid(
            format!("{at}.uri"),
            format!("{uri:?} is not an http(s) URL, as an http_proxy integration needs"),
        ));
    }
    let text = |key: &str| {
        integration
            .get(key)
            .and_then(Yaml::as_str)
            .map(str::to_owned)
    };
    let connection_type = text("connectionType").unwrap_or_else(|| "INTERNET".to_owned());
    let connection_id = text("connectionId");
    if connection_type.eq_ignore_ascii_case("VPC_LINK") && connection_id.is_none() {
        return Err(invalid(
            format!("{at}.connectionId"),
            "a VPC_LINK integration needs the VPC link id",
        ));
    }
    let mut request_parameters = BTreeMap::new();
    if let Some(params) = integration.get("requestParameters") {
        let params = params
            .as_mapping()
            .ok_or_else(|| invalid(format!("{at}.requestParameters"), "must be a mapping"))?;
        for (k, v) in params {
            let (Some(k), Some(v)) = (k.as_str(), v.as_str()) else {
                return Err(invalid(
                    format!("{at}.requestParameters"),
                    "targets and sources must be strings",
                ));
            };
            request_parameters.insert(k.to_owned(), v.to_owned());
        }
    }
    Ok(crate::http_integration::HttpIntegration {
        connection_type,
        connection_id,
        uri: uri.to_owned(),
        http_method: text("httpMethod").unwrap_or_else(|| "ANY".to_owned()),
        request_parameters,
    })
}

/// `arn:...:functions/${keys_function_arn}/invocations` → `keys`.
pub fn function_from_uri(uri: &str) -> Option<String> {
    let end = uri.find("_function_arn}")?;
    let start = uri[..end].rfind("${")? + 2;
    let name = &uri[start..end];
    (!name.is_empty()).then(|| name.replace('_', "-"))
}

/// `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<lambda arn>/invocations`
/// → `<lambda arn>`.
pub fn lambda_arn_from_uri(uri: &str) -> Option<&str> {
    let start = uri.find("/functions/")? + "/functions/".len();
    let rest = &uri[start..];
    let arn = rest.strip_suffix("/invocations")?;
    arn.starts_with("arn:").then_some(arn)
}

fn authorizer_function(
    doc: &Yaml,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, SpecError> {
    let Some(schemes) = doc
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Yaml::as_mapping)
    else {
        return Ok(None);
    };
    for (name, scheme) in schemes {
        if let Some(uri) = scheme
            .get("x-amazon-apigateway-authorizer")
            .and_then(|a| a.get("authorizerUri"))
        {
            let uri = uri.as_str().unwrap_or_default();
            return resolve(uri).map(Some).ok_or_else(|| {
                invalid(
                    format!(
                        "components.securitySchemes.{}",
                        name.as_str().unwrap_or("?")
                    ),
                    format!(
                        "authorizerUri {uri:?} is not the invocation uri of a known Lambda function"
                    ),
                )
            });
        }
    }
    Ok(None)
}

fn strings(v: &Yaml, at: &str) -> Result<Vec<String>, SpecError> {
    v.as_sequence()
        .ok_or_else(|| invalid(at, "must be a list of strings"))?
        .iter()
        .map(|s| {
            s.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(at, "must be a list of strings"))
        })
        .collect()
}

fn parse_template(path: &str) -> Result<Vec<Segment>, SpecError> {
    if !path.starts_with('/') {
        return Err(invalid(
            format!("paths.{path}"),
            "resource paths start with /",
        ));
    }
    let parts: Vec<&str> = path.split('/').skip(1).filter(|s| !s.is_empty()).collect();
    let mut segments = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let seg = if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if let Some(name) = inner.strip_suffix('+') {
                if i + 1 != parts.len() {
                    return Err(invalid(
                        format!("paths.{path}"),
                        "a greedy {name+} parameter must be last",
                    ));
                }
                Segment::Greedy(name.to_owned())
            } else {
                Segment::Param(inner.to_owned())
            }
        } else {
            Segment::Literal((*part).to_owned())
        };
        segments.push(seg);
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_name_comes_from_the_uri_placeholder() {
        let uri = "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${task_events_function_arn}/invocations";
        assert_eq!(function_from_uri(uri).as_deref(), Some("task-events"));
        assert_eq!(
            function_from_uri("arn:aws:lambda:us-east-1:1:function:x"),
            None
        );
    }

    #[test]
    fn the_project_contract_loads() {
        let api = Api::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.yaml"))
            .expect("contract loads");
        assert_eq!(api.authorizer.as_deref(), Some("authorizer"));
        let health = api
            .resources
            .iter()
            .find(|r| r.path == "/v1/health")
            .expect("health route");
        assert!(!health.methods["GET"].secured);
    }

    #[test]
    fn an_api_key_scheme_in_the_requirement_makes_the_operation_require_a_key() {
        let api = Api::from_yaml_str(
            r#"
components:
  securitySchemes:
    gate:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer: { type: request, authorizerUri: "${gate_function_arn}" }
    api_key: { type: apiKey, name: x-api-key, in: header }
paths:
  /metered:
    get: &op
      security: [ { gate: [], api_key: [] } ]
      x-amazon-apigateway-integration: { uri: "${echo_function_arn}" }
  /open:
    get:
      security: []
      x-amazon-apigateway-integration: { uri: "${echo_function_arn}" }
  /gated:
    get:
      security: [ { gate: [] } ]
      x-amazon-apigateway-integration: { uri: "${echo_function_arn}" }
"#,
        )
        .expect("spec loads");
        let op = |path: &str| {
            api.resources
                .iter()
                .find(|r| r.path == path)
                .map(|r| r.methods["GET"].clone())
                .expect("route")
        };
        assert!(op("/metered").secured && op("/metered").api_key_required);
        assert!(!op("/open").secured && !op("/open").api_key_required);
        assert!(op("/gated").secured && !op("/gated").api_key_required);
    }

    #[test]
    fn the_rendered_body_requires_a_key_on_secured_operations_only() {
        // What terraform/modules/openapi adds: the api_key scheme, in the
        // requirement of every operation the authorizer secures.
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.yaml"))
                .expect("contract");
        let mut doc: Yaml = serde_norway::from_str(&text).expect("yaml");
        let schemes = doc["components"]["securitySchemes"]
            .as_mapping_mut()
            .expect("schemes");
        schemes.insert(
            Yaml::from("api_key"),
            serde_norway::from_str("{type: apiKey, name: x-api-key, in: header}").expect("yaml"),
        );
        for (_, item) in doc["paths"].as_mapping_mut().expect("paths") {
            for (_, op) in item.as_mapping_mut().into_iter().flatten() {
                if let Some(reqs) = op.get_mut("security").and_then(Yaml::as_sequence_mut) {
                    for req in reqs.iter_mut().filter_map(Yaml::as_mapping_mut) {
                        if req.contains_key("portcullis") {
                            req.insert(Yaml::from("api_key"), Yaml::Sequence(Vec::new()));
                        }
                    }
                }
            }
        }
        let api = Api::from_yaml_str(&serde_norway::to_string(&doc).expect("yaml"))
            .expect("rendered contract loads");
        for r in &api.resources {
            for (m, op) in &r.methods {
                assert_eq!(op.api_key_required, op.secured, "{m} {}", r.path);
            }
        }
        let health = api
            .resources
            .iter()
            .find(|r| r.path == "/v1/health")
            .expect("health");
        assert!(!health.methods["GET"].api_key_required);
    }

    #[test]
    fn a_greedy_parameter_that_is_not_last_is_refused() {
        let err = parse_template("/a/{p+}/b").expect_err("must fail");
        assert!(err.to_string().contains("must be last"));
    }

    fn http_body(integration: serde_json::Value) -> String {
        serde_json::json!({
            "openapi": "3.0.1",
            "paths": {"/v1/services/web/{proxy+}": {
                "x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integration}
            }}
        })
        .to_string()
    }

    #[test]
    fn a_rendered_vpc_link_integration_is_an_http_proxy_with_its_mappings() {
        let body = http_body(serde_json::json!({
            "type": "http_proxy",
            "httpMethod": "ANY",
            "connectionType": "VPC_LINK",
            "connectionId": "abc123",
            "integrationTarget": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/i/1",
            "uri": "http://internal-alb/web/{proxy}",
            "requestParameters": {
                "integration.request.path.proxy": "method.request.path.proxy",
                "integration.request.header.x-portcullis-principal": "context.authorizer.principal_id"
            },
            "timeoutInMillis": 10000
        }));
        let api = Api::from_rendered_body(&body, &BTreeMap::new()).expect("loads");
        let op = &api.resources[0].methods["ANY"];
        let http = op.http.as_ref().expect("an http integration");
        assert_eq!(op.function, "");
        assert_eq!(op.timeout, Duration::from_millis(10_000));
        assert_eq!(http.connection_type, "VPC_LINK");
        assert_eq!(http.connection_id.as_deref(), Some("abc123"));
        assert_eq!(http.http_method, "ANY");
        assert_eq!(
            http.request_parameters["integration.request.header.x-portcullis-principal"],
            "context.authorizer.principal_id"
        );
    }

    #[test]
    fn a_vpc_link_without_its_id_or_an_http_proxy_without_a_url_is_refused() {
        let no_id = http_body(serde_json::json!({
            "type": "http_proxy", "connectionType": "VPC_LINK", "uri": "http://alb/web/{proxy}"
        }));
        let err = Api::from_rendered_body(&no_id, &BTreeMap::new()).expect_err("refused");
        assert!(err.to_string().contains("connectionId"), "{err}");
        let not_url = http_body(serde_json::json!({
            "type": "http_proxy", "uri": "arn:aws:apigateway:us-east-1:lambda:path/x"
        }));
        let err = Api::from_rendered_body(&not_url, &BTreeMap::new()).expect_err("refused");
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
    }

    #[test]
    fn a_streamed_integration_may_wait_15_minutes_and_a_buffered_one_29_seconds() {
        let op = |integration: serde_json::Value| {
            Api::from_rendered_body(&http_body(integration), &BTreeMap::new())
                .map(|api| api.resources[0].methods["ANY"].clone())
        };
        let streamed = op(serde_json::json!({
            "type": "http_proxy", "uri": "http://alb/web/{proxy}",
            "responseTransferMode": "STREAM", "timeoutInMillis": 900_000
        }))
        .expect("a streamed integration may wait 15 minutes");
        assert_eq!(streamed.transfer_mode, TransferMode::Stream);
        assert_eq!(streamed.timeout, Duration::from_secs(900));

        let buffered =
            op(serde_json::json!({"type": "http_proxy", "uri": "http://alb/web/{proxy}"}))
                .expect("loads");
        assert_eq!(buffered.transfer_mode, TransferMode::Buffered);
        let err = op(serde_json::json!({
            "type": "http_proxy", "uri": "http://alb/web/{proxy}", "timeoutInMillis": 29_001
        }))
        .expect_err("a buffered integration waits at most 29 s");
        assert!(err.to_string().contains("50..=29000"), "{err}");
        let err = op(serde_json::json!({
            "type": "http_proxy", "uri": "http://alb/web/{proxy}",
            "responseTransferMode": "STREAM", "timeoutInMillis": 900_001
        }))
        .expect_err("15 minutes at most");
        assert!(err.to_string().contains("50..=900000"), "{err}");
        let err = op(serde_json::json!({
            "type": "http_proxy", "uri": "http://alb/web/{proxy}", "responseTransferMode": "CHUNKED"
        }))
        .expect_err("an unknown mode is refused");
        assert!(err.to_string().contains("BUFFERED or STREAM"), "{err}");
    }
}
