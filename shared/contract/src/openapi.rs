//! The REST API as `api/openapi.yaml` declares it (or the body Terraform
//! rendered from it): each operation's path, method, security, scope and
//! integration, read once by [`Contract::from_yaml`].
//!
//! [`Operation`] is what the authorizer's route table needs and what the
//! registry's service routes add (`portcullis_platform`): it can be a
//! `const` ([`rust_slice`] writes one), so the authorizer embeds the table
//! at build time instead of parsing YAML at start-up. [`Endpoint`] is the
//! whole operation, with its integration, for the local gateway.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_norway::Value as Yaml;

/// API Gateway's default (and maximum, for REST APIs) integration timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(29_000);

/// The longest `timeoutInMillis` of an integration whose response is
/// streamed: 15 minutes (AWS, "Set up an HTTP proxy integration with payload
/// response streaming in API Gateway": "When you use response streaming, you
/// can configure the integration timeout up to 15 minutes").
pub const MAX_STREAM_TIMEOUT_MS: u64 = 900_000;

/// The methods API Gateway's `ANY` (`x-amazon-apigateway-any-method`) stands
/// for, sorted. An ANY route becomes one policy resource per method: a `*`
/// method in a policy resource would match across path segments too (IAM's
/// `*` spans `/`), so `*/v1/services/mine/*` would allow
/// `GET/v1/services/other/v1/services/mine/x`.
pub const ANY_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// The method of an operation: one HTTP method, or `ANY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
    Options,
    /// `x-amazon-apigateway-any-method`: every method of [`ANY_METHODS`].
    Any,
}

impl Method {
    /// Every method, in the order API Gateway's documentation lists them.
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Patch,
        Method::Head,
        Method::Options,
        Method::Any,
    ];

    /// `GET`, `PUT`, ..., `ANY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Any => "ANY",
        }
    }

    /// Its key under an OpenAPI path: `get`, ..., `x-amazon-apigateway-any-method`.
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Put => "put",
            Method::Post => "post",
            Method::Delete => "delete",
            Method::Patch => "patch",
            Method::Head => "head",
            Method::Options => "options",
            Method::Any => "x-amazon-apigateway-any-method",
        }
    }

    /// The method of an OpenAPI path key (any letter case); `None` for
    /// the other keys of a path item (`parameters`, `summary`, extensions).
    pub fn from_key(key: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.key().eq_ignore_ascii_case(key))
    }

    /// The method of an upper-case name (`GET`, as the registry spells it).
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The HTTP methods it answers: itself, or every one of [`ANY_METHODS`].
    pub fn http_methods(self) -> &'static [&'static str] {
        match self {
            Method::Get => &["GET"],
            Method::Put => &["PUT"],
            Method::Post => &["POST"],
            Method::Delete => &["DELETE"],
            Method::Patch => &["PATCH"],
            Method::Head => &["HEAD"],
            Method::Options => &["OPTIONS"],
            Method::Any => &ANY_METHODS,
        }
    }

    fn variant(self) -> &'static str {
        match self {
            Method::Get => "Get",
            Method::Put => "Put",
            Method::Post => "Post",
            Method::Delete => "Delete",
            Method::Patch => "Patch",
            Method::Head => "Head",
            Method::Options => "Options",
            Method::Any => "Any",
        }
    }
}

/// An operation's `x-portcullis-scope`: the scope a caller needs,
/// `authenticated`, or `services:{param}` (the authorizer gives it meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeField {
    Absent,
    Text(Cow<'static, str>),
    /// Present, but not a string.
    NotText,
}

impl ScopeField {
    /// The scope text, when it is one.
    pub fn text(&self) -> Option<&str> {
        match self {
            ScopeField::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// How API Gateway reaches what answers an operation
/// (`x-amazon-apigateway-integration.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationKind {
    /// `aws_proxy` (the default when `type` is absent): a Lambda function.
    AwsProxy,
    /// `http_proxy`: an HTTP endpoint, over a VPC link or the internet.
    HttpProxy,
    /// Any other type (`mock`, `aws`, `http`).
    Other,
}

impl IntegrationKind {
    fn of(kind: &str) -> IntegrationKind {
        if kind.eq_ignore_ascii_case("aws_proxy") {
            IntegrationKind::AwsProxy
        } else if kind.eq_ignore_ascii_case("http_proxy") {
            IntegrationKind::HttpProxy
        } else {
            IntegrationKind::Other
        }
    }

    fn variant(self) -> &'static str {
        match self {
            IntegrationKind::AwsProxy => "AwsProxy",
            IntegrationKind::HttpProxy => "HttpProxy",
            IntegrationKind::Other => "Other",
        }
    }
}

/// One operation of the REST API: what routes, authorizes and integrates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The resource path, e.g. `/v1/jobs/{id}`.
    pub path: Cow<'static, str>,
    pub method: Method,
    /// API Gateway runs the authorizer: a security requirement names a
    /// scheme other than a plain API key (the operation's own `security`,
    /// else the document's).
    pub secured: bool,
    pub scope: ScopeField,
    /// `None` when the document declares no integration (test contracts).
    pub integration: Option<IntegrationKind>,
}

/// The operations as a Rust slice expression of [`Operation`] constants
/// (`&[...]`, every name fully qualified): what the authorizer's build
/// script writes for `include!`.
pub fn rust_slice(ops: &[Operation]) -> String {
    let mut out = String::from("&[\n");
    for op in ops {
        let scope = match &op.scope {
            ScopeField::Absent => "::portcullis_contract::ScopeField::Absent".to_owned(),
            ScopeField::NotText => "::portcullis_contract::ScopeField::NotText".to_owned(),
            ScopeField::Text(s) => format!(
                "::portcullis_contract::ScopeField::Text(::std::borrow::Cow::Borrowed({s:?}))"
            ),
        };
        let integration = match op.integration {
            None => "None".to_owned(),
            Some(k) => format!(
                "Some(::portcullis_contract::IntegrationKind::{})",
                k.variant()
            ),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "    ::portcullis_contract::Operation {{ path: ::std::borrow::Cow::Borrowed({:?}), method: ::portcullis_contract::Method::{}, secured: {}, scope: {scope}, integration: {integration} }},",
            op.path,
            op.method.variant(),
            op.secured,
        );
    }
    out.push(']');
    out
}

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

/// An `http_proxy` integration's target and mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpIntegration {
    /// `VPC_LINK` (with `connection_id`) or `INTERNET`.
    pub connection_type: String,
    pub connection_id: Option<String>,
    /// `http://<host>/<path with {name} placeholders>`.
    pub uri: String,
    /// `ANY` sends the client's method.
    pub http_method: String,
    /// `integration.request.<path|querystring|header>.<name>` → source.
    pub request_parameters: BTreeMap<String, String>,
}

/// An operation's `x-amazon-apigateway-integration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub kind: IntegrationKind,
    /// The Lambda invocation uri, or the HTTP endpoint's URL.
    pub uri: String,
    /// `timeoutInMillis`: 50..=29000 (default 29000), up to 900000 when streamed.
    pub timeout: Duration,
    pub transfer_mode: TransferMode,
    /// Present for an `http_proxy` integration.
    pub http: Option<HttpIntegration>,
}

/// One operation with everything the document says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub operation: Operation,
    pub operation_id: Option<String>,
    /// `apiKeyRequired`: a requirement names a plain `apiKey` scheme (not a
    /// custom authorizer), so usage plans apply.
    pub api_key_required: bool,
    pub integration: Option<Integration>,
}

/// A resource path and its operations, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathItem {
    pub path: String,
    pub endpoints: Vec<Endpoint>,
}

/// The security scheme whose `x-amazon-apigateway-authorizer` API Gateway runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    /// Its name under `components.securitySchemes`.
    pub scheme: String,
    /// `authorizerUri` (empty when it is not a string).
    pub uri: String,
}

/// The parts of an OpenAPI document API Gateway acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub paths: Vec<PathItem>,
    /// `x-amazon-apigateway-binary-media-types`.
    pub binary_media_types: Vec<String>,
    pub authorizer: Option<Authorizer>,
}

/// Why a document is not a contract API Gateway would import.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("the OpenAPI document is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("the OpenAPI document is invalid at {at}: {reason}")]
    Invalid { at: String, reason: String },
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> ContractError {
    ContractError::Invalid {
        at: at.into(),
        reason: reason.into(),
    }
}

/// What an operation's `security` asks of API Gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Security {
    /// A requirement names a scheme other than a plain API key (the authorizer).
    pub secured: bool,
    /// A requirement names a plain API key scheme (`apiKeyRequired`).
    pub api_key_required: bool,
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

/// What every operation of a document shares.
struct Defaults {
    security: Security,
    api_key_schemes: Vec<String>,
}

impl Contract {
    /// An OpenAPI document (YAML, or the JSON body Terraform renders).
    pub fn from_yaml(text: &str) -> Result<Contract, ContractError> {
        let doc: Yaml = serde_norway::from_str(text)?;
        let binary_media_types = match doc.get("x-amazon-apigateway-binary-media-types") {
            None => Vec::new(),
            Some(v) => strings(v, "x-amazon-apigateway-binary-media-types")?,
        };
        let api_key_schemes = api_key_schemes(&doc);
        let defaults = Defaults {
            security: doc
                .get("security")
                .map(|v| Security::of(v, &api_key_schemes))
                .unwrap_or_default(),
            api_key_schemes,
        };
        let paths = doc
            .get("paths")
            .and_then(Yaml::as_mapping)
            .ok_or_else(|| invalid("paths", "a mapping of resource paths is required"))?;
        let mut items = Vec::with_capacity(paths.len());
        for (key, item) in paths {
            let path = key
                .as_str()
                .ok_or_else(|| invalid("paths", "resource paths must be strings"))?;
            items.push(path_item(path, item, &defaults)?);
        }
        Ok(Contract {
            paths: items,
            binary_media_types,
            authorizer: authorizer(&doc),
        })
    }

    /// Every operation, in document order.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.paths
            .iter()
            .flat_map(|p| p.endpoints.iter().map(|e| &e.operation))
    }
}

fn path_item(path: &str, item: &Yaml, defaults: &Defaults) -> Result<PathItem, ContractError> {
    let Some(item) = item.as_mapping() else {
        return Err(invalid(
            format!("paths.{path}"),
            "must be a mapping of methods",
        ));
    };
    let mut endpoints = Vec::new();
    for (key, op) in item {
        let Some(method) = key.as_str().and_then(Method::from_key) else {
            continue; // parameters, summary, other extensions
        };
        let at = format!("paths.{path}.{}", key.as_str().unwrap_or_default());
        endpoints.push(endpoint(path, method, op, &at, defaults)?);
    }
    Ok(PathItem {
        path: path.to_owned(),
        endpoints,
    })
}

fn endpoint(
    path: &str,
    method: Method,
    op: &Yaml,
    at: &str,
    defaults: &Defaults,
) -> Result<Endpoint, ContractError> {
    if op.as_mapping().is_none() {
        return Err(invalid(at, "an operation must be a mapping"));
    }
    let security = match op.get("security") {
        Some(v) => Security::of(v, &defaults.api_key_schemes),
        None => defaults.security,
    };
    let integration = match op.get("x-amazon-apigateway-integration") {
        None => None,
        Some(i) => Some(integration(
            i,
            &format!("{at}.x-amazon-apigateway-integration"),
        )?),
    };
    Ok(Endpoint {
        operation: Operation {
            path: Cow::Owned(path.to_owned()),
            method,
            secured: security.secured,
            scope: match op.get("x-portcullis-scope") {
                None => ScopeField::Absent,
                Some(v) => v.as_str().map_or(ScopeField::NotText, |s| {
                    ScopeField::Text(s.to_owned().into())
                }),
            },
            integration: integration.as_ref().map(|i| i.kind),
        },
        operation_id: op
            .get("operationId")
            .and_then(Yaml::as_str)
            .map(str::to_owned),
        api_key_required: security.api_key_required,
        integration,
    })
}

/// `at` is the integration's place in the document.
fn integration(integration: &Yaml, at: &str) -> Result<Integration, ContractError> {
    let uri = integration
        .get("uri")
        .and_then(Yaml::as_str)
        .ok_or_else(|| invalid(at, "uri is missing"))?;
    let kind = IntegrationKind::of(
        integration
            .get("type")
            .and_then(Yaml::as_str)
            .unwrap_or("aws_proxy"),
    );
    let http = match kind {
        IntegrationKind::HttpProxy => Some(http_integration(integration, uri, at)?),
        _ => None,
    };
    let transfer_mode = transfer_mode(integration, at)?;
    Ok(Integration {
        kind,
        uri: uri.to_owned(),
        timeout: timeout(integration, transfer_mode, at)?,
        transfer_mode,
        http,
    })
}

/// `responseTransferMode`: `BUFFERED` (default) or `STREAM`.
fn transfer_mode(integration: &Yaml, at: &str) -> Result<TransferMode, ContractError> {
    let Some(value) = integration.get("responseTransferMode") else {
        return Ok(TransferMode::Buffered);
    };
    match value.as_str() {
        Some("BUFFERED") => Ok(TransferMode::Buffered),
        Some("STREAM") => Ok(TransferMode::Stream),
        _ => Err(invalid(
            format!("{at}.responseTransferMode"),
            format!("{value:?} is not BUFFERED or STREAM"),
        )),
    }
}

/// `timeoutInMillis`: 50..=29000 (default 29000), up to 900000 (15 minutes)
/// when the response is streamed.
fn timeout(integration: &Yaml, mode: TransferMode, at: &str) -> Result<Duration, ContractError> {
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
                format!("{at}.timeoutInMillis"),
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
) -> Result<HttpIntegration, ContractError> {
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
    Ok(HttpIntegration {
        connection_type,
        connection_id,
        uri: uri.to_owned(),
        http_method: text("httpMethod").unwrap_or_else(|| "ANY".to_owned()),
        request_parameters: request_parameters(integration, at)?,
    })
}

fn request_parameters(
    integration: &Yaml,
    at: &str,
) -> Result<BTreeMap<String, String>, ContractError> {
    let mut out = BTreeMap::new();
    let Some(params) = integration.get("requestParameters") else {
        return Ok(out);
    };
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
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
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

/// The first security scheme with an `x-amazon-apigateway-authorizer`.
fn authorizer(doc: &Yaml) -> Option<Authorizer> {
    let schemes = doc
        .get("components")
        .and_then(|c| c.get("securitySchemes"))
        .and_then(Yaml::as_mapping)?;
    schemes.iter().find_map(|(name, scheme)| {
        let uri = scheme
            .get("x-amazon-apigateway-authorizer")
            .and_then(|a| a.get("authorizerUri"))?;
        Some(Authorizer {
            scheme: name.as_str().unwrap_or("?").to_owned(),
            uri: uri.as_str().unwrap_or_default().to_owned(),
        })
    })
}

fn strings(v: &Yaml, at: &str) -> Result<Vec<String>, ContractError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract as the repository holds it.
    const API: &str = include_str!("../../../api/openapi.yaml");

    fn api() -> Contract {
        Contract::from_yaml(API).expect("api/openapi.yaml is a contract")
    }

    fn find(c: &Contract, path: &str, method: Method) -> Endpoint {
        c.paths
            .iter()
            .filter(|p| p.path == path)
            .flat_map(|p| &p.endpoints)
            .find(|e| e.operation.method == method)
            .unwrap_or_else(|| panic!("{} {path} is in the contract", method.as_str()))
            .clone()
    }

    #[test]
    fn health_is_public_and_every_other_operation_of_the_api_names_its_scope() {
        let c = api();
        let health = find(&c, "/v1/health", Method::Get).operation;
        assert!(!health.secured && health.scope == ScopeField::Absent);
        for op in c.operations().filter(|o| o.path != "/v1/health") {
            assert!(op.secured, "{} {}", op.method.as_str(), op.path);
            assert!(
                op.scope.text().is_some(),
                "{} {}",
                op.method.as_str(),
                op.path
            );
        }
        assert_eq!(
            find(&c, "/v1/me", Method::Get).operation.scope.text(),
            Some("authenticated")
        );
    }

    #[test]
    fn the_api_runs_every_operation_on_a_lambda_behind_the_authorizer() {
        let c = api();
        assert!(
            c.operations()
                .all(|o| o.integration == Some(IntegrationKind::AwsProxy))
        );
        let services = find(&c, "/v1/services/{service}/{proxy+}", Method::Any);
        assert_eq!(services.operation.scope.text(), Some("services:{service}"));
        let authorizer = c.authorizer.expect("an authorizer scheme");
        assert_eq!(authorizer.scheme, "portcullis");
        assert!(
            authorizer.uri.contains("${authorizer_function_arn}"),
            "{}",
            authorizer.uri
        );
        assert!(!c.binary_media_types.is_empty());
    }

    #[test]
    fn a_plain_api_key_scheme_requires_a_key_and_runs_no_authorizer() {
        let doc = r#"
components:
  securitySchemes:
    api_key: { type: apiKey, name: x-api-key, in: header }
    gate: { type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: custom }
security: [{ gate: [] }]
paths:
  /metered: { get: { security: [{ gate: [], api_key: [] }] } }
  /keyed: { get: { security: [{ api_key: [] }] } }
  /open: { get: { security: [] } }
  /default: { get: {} }
"#;
        let c = Contract::from_yaml(doc).expect("loads");
        let sec = |p: &str| {
            let e = find(&c, p, Method::Get);
            (e.operation.secured, e.api_key_required)
        };
        assert_eq!(sec("/metered"), (true, true));
        assert_eq!(sec("/keyed"), (false, true));
        assert_eq!(sec("/open"), (false, false));
        assert_eq!(
            sec("/default"),
            (true, false),
            "the document's security applies"
        );
    }

    #[test]
    fn keys_that_are_not_methods_are_skipped_and_any_stands_for_every_method() {
        let doc = "paths:\n  /x:\n    parameters: []\n    summary: s\n    GET: {}\n    x-amazon-apigateway-any-method: {}\n";
        let c = Contract::from_yaml(doc).expect("loads");
        let methods: Vec<Method> = c.operations().map(|o| o.method).collect();
        assert_eq!(methods, [Method::Get, Method::Any]);
        assert_eq!(Method::Any.http_methods(), ANY_METHODS);
        assert_eq!(Method::Patch.http_methods(), ["PATCH"]);
        assert_eq!(Method::from_name("DELETE"), Some(Method::Delete));
        assert_eq!(Method::from_name("delete"), None);
    }

    #[test]
    fn a_scope_that_is_not_text_is_kept_as_such() {
        let c = Contract::from_yaml("paths:\n  /x:\n    get:\n      x-portcullis-scope: [a]\n")
            .expect("loads");
        assert_eq!(
            c.operations().next().map(|o| &o.scope),
            Some(&ScopeField::NotText)
        );
    }

    #[test]
    fn a_document_without_paths_or_with_a_malformed_one_is_refused() {
        let e = Contract::from_yaml("openapi: 3.0.1\n").expect_err("no paths");
        assert!(e.to_string().contains("invalid at paths"), "{e}");
        let e = Contract::from_yaml("paths:\n  /x: 3\n").expect_err("not a mapping");
        assert!(e.to_string().contains("paths./x"), "{e}");
        let e = Contract::from_yaml("paths: [").expect_err("not YAML");
        assert!(e.to_string().contains("not valid YAML"), "{e}");
    }

    #[test]
    fn an_http_proxy_integration_carries_its_target_and_mappings() {
        let doc = r#"{"paths": {"/web/{proxy+}": {"x-amazon-apigateway-any-method": {
            "x-amazon-apigateway-integration": {
                "type": "http_proxy", "connectionType": "VPC_LINK", "connectionId": "vl-1",
                "uri": "http://alb/web/{proxy}", "responseTransferMode": "STREAM",
                "timeoutInMillis": 900000,
                "requestParameters": {"integration.request.path.proxy": "method.request.path.proxy"}}}}}}"#;
        let c = Contract::from_yaml(doc).expect("loads");
        let e = find(&c, "/web/{proxy+}", Method::Any);
        let i = e.integration.expect("an integration");
        assert_eq!(e.operation.integration, Some(IntegrationKind::HttpProxy));
        assert_eq!(i.transfer_mode, TransferMode::Stream);
        assert_eq!(i.timeout, Duration::from_secs(900));
        let http = i.http.expect("http_proxy details");
        assert_eq!(http.connection_id.as_deref(), Some("vl-1"));
        assert_eq!(http.http_method, "ANY");
        assert_eq!(
            http.request_parameters["integration.request.path.proxy"],
            "method.request.path.proxy"
        );
    }

    #[test]
    fn the_build_scripts_rust_names_every_part_in_full() {
        let ops = [
            Operation {
                path: Cow::Borrowed("/v1/jobs/{id}"),
                method: Method::Get,
                secured: true,
                scope: ScopeField::Text(Cow::Borrowed("jobs:read")),
                integration: Some(IntegrationKind::AwsProxy),
            },
            Operation {
                path: Cow::Borrowed("/v1/health"),
                method: Method::Any,
                secured: false,
                scope: ScopeField::Absent,
                integration: None,
            },
        ];
        let text = rust_slice(&ops);
        assert!(text.starts_with("&[\n") && text.ends_with(']'), "{text}");
        assert!(text.contains(
            "::portcullis_contract::Operation { path: ::std::borrow::Cow::Borrowed(\"/v1/jobs/{id}\"), method: ::portcullis_contract::Method::Get, secured: true, scope: ::portcullis_contract::ScopeField::Text(::std::borrow::Cow::Borrowed(\"jobs:read\")), integration: Some(::portcullis_contract::IntegrationKind::AwsProxy) },"
        ), "{text}");
        assert!(text.contains("method: ::portcullis_contract::Method::Any, secured: false, scope: ::portcullis_contract::ScopeField::Absent, integration: None"), "{text}");
    }
}
