//! Reading `api/openapi.yaml` for the local gateway: the route table, the
//! integrations, the authorizer and binary media types, from the
//! contract's one reader (`portcullis_contract::Contract`), with what only
//! the local gateway adds (the function behind each Lambda uri, path
//! templates to route on). CORS is not the gateway's: with Lambda proxy
//! integrations API Gateway adds no CORS header, the functions do.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use portcullis_contract::{Contract, ContractError, Endpoint, PathItem};
pub use portcullis_contract::{DEFAULT_TIMEOUT, MAX_STREAM_TIMEOUT_MS, TransferMode};

/// The HTTP methods API Gateway REST knows; `ANY` stands for all of them.
pub const METHODS: [&str; 7] = portcullis_contract::ANY_METHODS;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(
        "cannot read the OpenAPI file {path}: {source}; set OPENAPI_FILE to the contract (api/openapi.yaml)"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Contract(#[from] ContractError),
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
    pub http: Option<portcullis_contract::HttpIntegration>,
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
        let contract = Contract::from_yaml(text)?;
        let authorizer = match &contract.authorizer {
            None => None,
            Some(a) => Some(resolve(&a.uri).ok_or_else(|| {
                invalid(
                    format!("components.securitySchemes.{}", a.scheme),
                    format!(
                        "authorizerUri {:?} is not the invocation uri of a known Lambda function",
                        a.uri
                    ),
                )
            })?),
        };
        let resources = contract
            .paths
            .into_iter()
            .map(|item| resource(item, resolve))
            .collect::<Result<_, _>>()?;
        Ok(Api {
            resources,
            binary_media_types: contract.binary_media_types,
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
            portcullis_contract::wildcard_match(&pattern, &ct)
        })
    }
}

/// A resource of the contract with its path template and its operations.
fn resource(
    item: PathItem,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Resource, SpecError> {
    let segments = parse_template(&item.path)?;
    let mut methods = BTreeMap::new();
    for endpoint in item.endpoints {
        let method = endpoint.operation.method;
        let at = format!("paths.{}.{}", item.path, method.key());
        methods.insert(
            method.as_str().to_owned(),
            operation(endpoint, &at, resolve)?,
        );
    }
    Ok(Resource {
        path: item.path,
        segments,
        methods,
    })
}

/// An operation as the gateway runs it: its integration is required, a
/// Lambda one must name a known function, and a streamed one must be
/// `http_proxy`. A streamed Lambda integration (InvokeWithResponseStream) is
/// not modelled locally, so it is refused rather than buffered (which would
/// be kinder than AWS).
fn operation(
    endpoint: Endpoint,
    at: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Result<Operation, SpecError> {
    let integration = endpoint
        .integration
        .ok_or_else(|| invalid(at, "x-amazon-apigateway-integration is missing"))?;
    let at = format!("{at}.x-amazon-apigateway-integration");
    let http = integration.http;
    let function = match http {
        Some(_) => String::new(),
        None => resolve(&integration.uri).ok_or_else(|| {
            invalid(
                format!("{at}.uri"),
                format!(
                    "{:?} is not the invocation uri of a known Lambda function",
                    integration.uri
                ),
            )
        })?,
    };
    if http.is_none() && integration.transfer_mode == TransferMode::Stream {
        return Err(invalid(
            format!("{at}.responseTransferMode"),
            "STREAM is modelled locally for http_proxy integrations only; a streamed Lambda integration needs InvokeWithResponseStream, which the local gateway does not run",
        ));
    }
    Ok(Operation {
        operation_id: endpoint.operation_id,
        function,
        secured: endpoint.operation.secured,
        api_key_required: endpoint.api_key_required,
        scope: endpoint.operation.scope.text().map(str::to_owned),
        timeout: integration.timeout,
        transfer_mode: integration.transfer_mode,
        http,
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
    use serde_norway::Value as Yaml;

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
