//! The route → scope table from `api/openapi.yaml` (`x-portcullis-scope`)
//! and the IAM policy resources it yields for a set of scopes.

use portcullis_auth::Scope;
use std::collections::BTreeSet;

/// The API contract compiled into the binary (overridable with OPENAPI_FILE).
pub const EMBEDDED_OPENAPI: &str = include_str!("../../../api/openapi.yaml");

const METHODS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("patch", "PATCH"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "*"),
];

/// What a route requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Any valid principal (`authenticated`).
    Authenticated,
    /// One fixed scope.
    Scope(Scope),
    /// `services:{param}`: one resource per `services:<name>` scope held,
    /// with the path parameter `param` replaced by the name.
    ServiceParam(String),
}

/// One secured operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, ... or `*` for ANY.
    pub method: String,
    /// The OpenAPI path, e.g. `/v1/jobs/{id}`.
    pub path: String,
    pub requirement: Requirement,
}

/// The table of secured routes.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// Why the OpenAPI document cannot give a route table.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("the OpenAPI document is not valid YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("the OpenAPI document has no `paths` mapping")]
    NoPaths,
    #[error("{method} {path}: {reason}")]
    Route {
        method: String,
        path: String,
        reason: String,
    },
}

impl RouteTable {
    /// Parse the `paths` of an OpenAPI document. Operations with a
    /// `security` requirement must declare `x-portcullis-scope`; operations
    /// without one (e.g. `/v1/health`) are not part of the table.
    pub fn from_openapi(text: &str) -> Result<Self, RouteError> {
        let doc: serde_norway::Value = serde_norway::from_str(text)?;
        let paths = doc
            .get("paths")
            .and_then(|p| p.as_mapping())
            .ok_or(RouteError::NoPaths)?;
        let mut routes = Vec::new();
        for (path, item) in paths {
            let Some(path) = path.as_str() else { continue };
            for (key, method) in METHODS {
                let Some(op) = item.get(key) else { continue };
                let err = |reason: String| RouteError::Route {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    reason,
                };
                let secured = op
                    .get("security")
                    .and_then(|s| s.as_sequence())
                    .is_some_and(|s| !s.is_empty());
                let scope = op.get("x-portcullis-scope");
                let Some(scope) = scope else {
                    if secured {
                        return Err(err(
                            "has a security requirement but no x-portcullis-scope; add the scope it needs".to_owned(),
                        ));
                    }
                    continue;
                };
                let scope = scope
                    .as_str()
                    .ok_or_else(|| err("x-portcullis-scope must be a string".to_owned()))?;
                let requirement = parse_requirement(path, scope).map_err(err)?;
                routes.push(Route {
                    method: method.to_owned(),
                    path: path.to_owned(),
                    requirement,
                });
            }
        }
        Ok(RouteTable { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The resources (`{METHOD}/{path}` with `*` for path parameters, no
    /// leading slash on the path) that `scopes` permit, sorted, no duplicates.
    pub fn permitted(&self, scopes: &[Scope]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for r in &self.routes {
            match &r.requirement {
                Requirement::Authenticated => {
                    out.insert(resource(&r.method, &r.path, None));
                }
                Requirement::Scope(s) => {
                    if scopes.contains(s) {
                        out.insert(resource(&r.method, &r.path, None));
                    }
                }
                Requirement::ServiceParam(param) => {
                    for name in scopes.iter().filter_map(Scope::service_name) {
                        out.insert(resource(&r.method, &r.path, Some((param, name))));
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}

fn parse_requirement(path: &str, scope: &str) -> Result<Requirement, String> {
    if scope == "authenticated" {
        return Ok(Requirement::Authenticated);
    }
    if let Some(rest) = scope.strip_prefix("services:{") {
        let param = rest
            .strip_suffix('}')
            .ok_or_else(|| format!("scope {scope:?} is not of the form services:{{param}}"))?;
        if !path.split('/').any(|seg| seg == format!("{{{param}}}")) {
            return Err(format!(
                "scope {scope:?} names path parameter {param:?}, which the path lacks"
            ));
        }
        return Ok(Requirement::ServiceParam(param.to_owned()));
    }
    scope.parse::<Scope>().map(Requirement::Scope).map_err(|e| {
        format!("x-portcullis-scope: {e}; or use \"authenticated\" or \"services:{{param}}\"")
    })
}

/// `METHOD/path` with path parameters replaced by `*` (or by the service
/// name for the parameter named in `bind`).
fn resource(method: &str, path: &str, bind: Option<(&String, &str)>) -> String {
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                let name = seg
                    .trim_start_matches('{')
                    .trim_end_matches('}')
                    .trim_end_matches('+');
                match bind {
                    Some((p, value)) if p == name => value.to_owned(),
                    _ => "*".to_owned(),
                }
            } else {
                seg.to_owned()
            }
        })
        .collect();
    format!("{method}/{}", segs.join("/"))
}

/// The parts of a `methodArn` the policy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn {
    /// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}`
    pub prefix: String,
}

/// The `methodArn` of the event is not an execute-api ARN.
#[derive(Debug, thiserror::Error)]
#[error(
    "the event's methodArn is not arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>"
)]
pub struct MethodArnError;

impl MethodArn {
    pub fn parse(arn: &str) -> Result<Self, MethodArnError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [arn_lit, partition, service, region, account, rest] = parts.as_slice() else {
            return Err(MethodArnError);
        };
        if *arn_lit != "arn"
            || partition.is_empty()
            || *service != "execute-api"
            || region.is_empty()
            || account.is_empty()
        {
            return Err(MethodArnError);
        }
        let mut it = rest.splitn(3, '/');
        let (Some(api), Some(stage)) = (it.next(), it.next()) else {
            return Err(MethodArnError);
        };
        if api.is_empty() || stage.is_empty() {
            return Err(MethodArnError);
        }
        Ok(MethodArn {
            prefix: format!("arn:{partition}:execute-api:{region}:{account}:{api}/{stage}"),
        })
    }

    /// The full resource ARN of a `METHOD/path` resource.
    pub fn resource(&self, method_and_path: &str) -> String {
        format!("{}/{method_and_path}", self.prefix)
    }

    /// Every method and path of this API stage.
    pub fn everything(&self) -> String {
        format!("{}/*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(s: &str) -> Vec<Scope> {
        Scope::parse_list(s).unwrap()
    }

    #[test]
    fn the_embedded_contract_parses_with_health_left_out() {
        let t = RouteTable::from_openapi(EMBEDDED_OPENAPI).unwrap();
        assert!(t.routes().iter().all(|r| r.path != "/v1/health"));
        assert!(t.routes().iter().any(|r| r.path == "/v1/me"));
    }

    #[test]
    fn path_parameters_become_wildcards_and_any_becomes_star() {
        let t = RouteTable::from_openapi(EMBEDDED_OPENAPI).unwrap();
        let p = t.permitted(&scopes("jobs:read services:echo"));
        assert!(p.contains(&"GET/v1/jobs/*".to_owned()), "{p:?}");
        assert!(p.contains(&"*/v1/services/echo/*".to_owned()), "{p:?}");
        assert!(!p.iter().any(|r| r.starts_with("POST/")), "{p:?}");
    }

    #[test]
    fn secured_route_without_scope_is_a_configuration_error() {
        let doc = "paths:\n  /x:\n    get:\n      security: [{portcullis: []}]\n";
        let e = RouteTable::from_openapi(doc).unwrap_err().to_string();
        assert!(
            e.contains("GET /x") && e.contains("x-portcullis-scope"),
            "{e}"
        );
        let doc = "paths:\n  /x:\n    get:\n      x-portcullis-scope: root\n";
        assert!(RouteTable::from_openapi(doc).is_err());
        let doc = "paths:\n  /x:\n    get:\n      x-portcullis-scope: \"services:{svc}\"\n";
        assert!(RouteTable::from_openapi(doc).is_err());
    }

    #[test]
    fn method_arns_give_the_api_stage_prefix() {
        let a = MethodArn::parse(
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/jobs/9",
        )
        .unwrap();
        assert_eq!(
            a.prefix,
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"
        );
        assert_eq!(
            a.resource("GET/v1/me"),
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/me"
        );
        for bad in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:execute-api:r:a:api",
            "arn:aws:execute-api:r::api/prod/GET/x",
        ] {
            assert!(MethodArn::parse(bad).is_err(), "{bad}");
        }
    }
}
