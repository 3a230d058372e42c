//! The route → scope table from `api/openapi.yaml` (`x-portcullis-scope`)
//! and the IAM policy resources it yields for a set of scopes, with the
//! scoped routes platform.yaml's services declare (`services.<name>.routes`,
//! [`EMBEDDED_SERVICE_ROUTES`]): a principal without a declared route's scope
//! gets an explicit Deny of it ([`RouteTable::for_each_denied`]), since the
//! generic `services:<name>` resource would match its method ARN too.

/// The scopes [`RouteTable::permitted`] takes (re-exported for callers without portcullis-auth).
pub use portcullis_auth::Scope;
use portcullis_contract::Contract;
/// IAM's resource wildcards (`portcullis_contract::wildcard_match`): how
/// API Gateway matches the policy's resources against a method ARN.
pub use portcullis_contract::wildcard_match as policy_matches;
/// The contract's model of an operation, its methods and method ARNs
/// (`portcullis_contract`), as this table uses them.
pub use portcullis_contract::{
    ANY_METHODS, ContractError, MethodArn, MethodArnError, Operation, ScopeField,
};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The API contract (`api/openapi.yaml`) as the repository holds it.
pub const EMBEDDED_OPENAPI: &str = include_str!("../../../api/openapi.yaml");

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
    /// `GET`, `POST`, ...: an ANY operation is one route per [`ANY_METHODS`].
    pub method: String,
    /// The OpenAPI path, e.g. `/v1/jobs/{id}`.
    pub path: String,
    pub requirement: Requirement,
}

/// The table of secured routes.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    /// Each route's policy resource, made once when the table is read (the
    /// decision on every request only picks among them).
    resources: Vec<Resource>,
    /// The declared service routes' scopes and resources: denied to a
    /// principal without the scope.
    denials: Vec<(Scope, String)>,
}

/// A route's policy resource, ready to use.
#[derive(Debug, Clone)]
enum Resource {
    /// `METHOD/path` with `*` for every path parameter.
    Fixed(String),
    /// The resource cut at the service parameter: the pieces joined by the
    /// service name give the resource for that service.
    Service(Vec<String>),
}

/// Why the OpenAPI document cannot give a route table.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("{method} {path}: {reason}")]
    Route {
        method: String,
        path: String,
        reason: String,
    },
}

/// The operations of the embedded `api/openapi.yaml`, read by `build.rs`
/// with `portcullis_contract` when the binary is built: the default table
/// costs no YAML parse at start-up (parsing the contract was most of the
/// cold start).
pub const EMBEDDED_OPERATIONS: &[Operation] = include!(concat!(env!("OUT_DIR"), "/operations.rs"));

/// The scoped routes of platform.yaml's services (`services.<name>.routes`
/// with a `scope`), as operations on `/v1/services/<name><path>`
/// (`portcullis_platform`'s `Services::route_operations`), from the
/// repository's platform.yaml, validated by `build.rs`: the same file
/// Terraform renders those paths of the REST API from. Public routes are not
/// here: API Gateway runs no authorizer for them.
pub const EMBEDDED_SERVICE_ROUTES: &[Operation] =
    include!(concat!(env!("OUT_DIR"), "/service_routes.rs"));

impl RouteTable {
    /// Parse the `paths` of an OpenAPI document (OPENAPI_FILE): see
    /// [`RouteTable::from_operations`].
    pub fn from_openapi(text: &str) -> Result<Self, RouteError> {
        RouteTable::from_operations(Contract::from_yaml(text)?.operations())
    }

    /// The table of the embedded contract and the registry's declared
    /// service routes.
    pub fn embedded() -> Result<Self, RouteError> {
        RouteTable::from_operations(EMBEDDED_OPERATIONS)?
            .with_service_routes(EMBEDDED_SERVICE_ROUTES)
    }

    /// Adds declared service routes (`ops`: each with a fixed scope): each
    /// is permitted to holders of its scope and denied to the others.
    pub fn with_service_routes(self, ops: &[Operation]) -> Result<Self, RouteError> {
        let declared = RouteTable::from_operations(ops)?;
        let mut routes = self.routes;
        let mut denials = self.denials;
        for r in declared.routes {
            let Requirement::Scope(scope) = &r.requirement else {
                return Err(RouteError::Route {
                    method: r.method.clone(),
                    path: r.path.clone(),
                    reason: "a declared service route needs a fixed scope (services:<name> or services:<name>.<word>)".to_owned(),
                });
            };
            denials.push((
                scope.clone(),
                resource_pieces(&r.method, &r.path, None).concat(),
            ));
            routes.push(r);
        }
        let mut table = RouteTable::new(routes);
        table.denials = denials;
        Ok(table)
    }

    /// Operations with a `security` requirement must declare
    /// `x-portcullis-scope`; operations without one (e.g. `/v1/health`) are
    /// not part of the table.
    pub fn from_operations<'o>(
        ops: impl IntoIterator<Item = &'o Operation>,
    ) -> Result<Self, RouteError> {
        let mut routes = Vec::new();
        for op in ops {
            let err = |reason: String| RouteError::Route {
                method: op.method.as_str().to_owned(),
                path: op.path.to_string(),
                reason,
            };
            let scope = match &op.scope {
                ScopeField::Absent if op.secured => {
                    return Err(err(
                        "has a security requirement but no x-portcullis-scope; add the scope it needs"
                            .to_owned(),
                    ));
                }
                ScopeField::Absent => continue,
                ScopeField::NotText => {
                    return Err(err("x-portcullis-scope must be a string".to_owned()));
                }
                ScopeField::Text(s) => s,
            };
            let requirement = parse_requirement(&op.path, scope).map_err(err)?;
            for m in op.method.http_methods() {
                routes.push(Route {
                    method: (*m).to_owned(),
                    path: op.path.to_string(),
                    requirement: requirement.clone(),
                });
            }
        }
        Ok(RouteTable::new(routes))
    }

    fn new(routes: Vec<Route>) -> Self {
        let resources = routes
            .iter()
            .map(|r| match &r.requirement {
                Requirement::ServiceParam(param) => {
                    Resource::Service(resource_pieces(&r.method, &r.path, Some(param)))
                }
                _ => Resource::Fixed(resource_pieces(&r.method, &r.path, None).concat()),
            })
            .collect();
        RouteTable {
            routes,
            resources,
            denials: Vec::new(),
        }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The resources (`{METHOD}/{path}` with `*` for path parameters, no
    /// leading slash on the path) that `scopes` permit, sorted, no duplicates.
    pub fn permitted(&self, scopes: &[Scope]) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_permitted(scopes, |r| out.push(r.to_owned()));
        out
    }

    /// [`RouteTable::permitted`] without a `String` per resource: `f` sees
    /// each permitted resource once, in sorted order.
    pub fn for_each_permitted(&self, scopes: &[Scope], mut f: impl FnMut(&str)) {
        let mut out: BTreeSet<Cow<'_, str>> = BTreeSet::new();
        for (r, res) in self.routes.iter().zip(&self.resources) {
            match (&r.requirement, res) {
                (Requirement::Authenticated, Resource::Fixed(s)) => {
                    out.insert(Cow::Borrowed(s));
                }
                (Requirement::Scope(scope), Resource::Fixed(s)) if scopes.contains(scope) => {
                    out.insert(Cow::Borrowed(s));
                }
                (Requirement::ServiceParam(_), Resource::Service(pieces)) => {
                    for name in scopes.iter().filter_map(Scope::service_name) {
                        out.insert(Cow::Owned(pieces.join(name)));
                    }
                }
                // A scope not held (`new` pairs the other requirements with a Fixed resource).
                _ => {}
            }
        }
        for r in &out {
            f(r);
        }
    }
}

impl RouteTable {
    /// The declared service routes' resources `scopes` lack the scope of,
    /// sorted, once each: the policy's explicit Deny. A Deny wins over the
    /// generic `services:<name>` Allow, whose `METHOD/v1/services/<name>/*`
    /// matches them too, and over another declared route of the service that
    /// contains them. Only routes of services the principal holds some scope
    /// of: no other Allow can match theirs. (IAM's `*` spans `/`: a declared `/items/{id}` is
    /// denied with everything below it, `/items/1/tags` included.)
    pub fn for_each_denied(&self, scopes: &[Scope], mut f: impl FnMut(&str)) {
        let out: BTreeSet<&str> = self
            .denials
            .iter()
            .filter(|(scope, _)| {
                !scopes.contains(scope)
                    && scopes.iter().any(|s| {
                        s.service_owner().is_some() && s.service_owner() == scope.service_owner()
                    })
            })
            .map(|(_, r)| r.as_str())
            .collect();
        for r in out {
            f(r);
        }
    }

    /// [`RouteTable::for_each_denied`] as a list.
    pub fn denied(&self, scopes: &[Scope]) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_denied(scopes, |r| out.push(r.to_owned()));
        out
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

/// `METHOD/path` with path parameters replaced by `*`, cut where the
/// parameter named `bound` stands (one piece when it is `None` or absent).
fn resource_pieces(method: &str, path: &str, bound: Option<&str>) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut cur = format!("{method}/");
    for (i, seg) in path.trim_start_matches('/').split('/').enumerate() {
        if i > 0 {
            cur.push('/');
        }
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) if bound == Some(name.trim_end_matches('+')) => {
                pieces.push(std::mem::take(&mut cur));
            }
            Some(_) => cur.push('*'),
            None => cur.push_str(seg),
        }
    }
    pieces.push(cur);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_contract::Method;

    fn scopes(s: &str) -> Vec<Scope> {
        Scope::parse_list(s).unwrap()
    }

    #[test]
    fn the_embedded_contract_parses_with_health_left_out() {
        let t = RouteTable::from_openapi(EMBEDDED_OPENAPI).unwrap();
        assert!(t.routes().iter().all(|r| r.path != "/v1/health"));
        assert!(t.routes().iter().any(|r| r.path == "/v1/me"));
    }

    /// The embedded table: the contract's routes, then the registry's
    /// declared scoped routes (platform.yaml's `sample` service guards
    /// `PUT /items/{id}` with `services:sample.write`).
    #[test]
    fn the_embedded_table_holds_the_contracts_routes_and_the_registrys_scoped_routes() {
        let t = RouteTable::embedded().unwrap();
        assert!(t.routes().iter().any(|r| r.path == "/v1/jobs/{id}"));
        assert!(
            !t.routes()
                .iter()
                .any(|r| r.path == "/v1/services/sample/items"),
            "a public route runs no authorizer"
        );
        assert_eq!(
            t.denied(&scopes("services:sample")),
            vec!["PUT/v1/services/sample/items/*"]
        );
        assert!(t.denied(&scopes("services:sample.write")).is_empty());
        assert!(
            EMBEDDED_SERVICE_ROUTES
                .iter()
                .all(|o| o.secured && o.scope.text().is_some())
        );
    }

    const DECLARED: &[Operation] = &[
        Operation {
            path: Cow::Borrowed("/v1/services/shop/items/{id}"),
            method: Method::Put,
            secured: true,
            scope: ScopeField::Text(Cow::Borrowed("services:shop.write")),
            integration: None,
        },
        Operation {
            path: Cow::Borrowed("/v1/services/shop/items/{id}"),
            method: Method::Delete,
            secured: true,
            scope: ScopeField::Text(Cow::Borrowed("services:shop.write")),
            integration: None,
        },
    ];

    #[test]
    fn a_declared_route_is_denied_without_its_scope_and_allowed_with_it() {
        let t = RouteTable::from_openapi(EMBEDDED_OPENAPI)
            .unwrap()
            .with_service_routes(DECLARED)
            .unwrap();
        let arn = MethodArn::parse("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/x")
            .unwrap();
        // API Gateway's evaluation: an explicit Deny wins, then an Allow.
        let decide = |held: &str, method_and_path: &str| {
            let target = arn.resource(method_and_path);
            let m = |r: &String| policy_matches(&arn.resource(r), &target);
            let s = scopes(held);
            !t.denied(&s).iter().any(m) && t.permitted(&s).iter().any(m)
        };
        assert_eq!(
            t.denied(&scopes("services:shop")),
            vec![
                "DELETE/v1/services/shop/items/*",
                "PUT/v1/services/shop/items/*"
            ]
        );
        assert!(t.denied(&scopes("services:shop.write")).is_empty());
        // The service's scope alone: every other route, not the write route.
        assert!(decide("services:shop", "GET/v1/services/shop/items/1"));
        assert!(decide("services:shop", "POST/v1/services/shop/items"));
        assert!(!decide("services:shop", "PUT/v1/services/shop/items/1"));
        assert!(!decide("services:shop", "DELETE/v1/services/shop/items/1"));
        // The write scope: the write route (with or without services:shop).
        assert!(decide(
            "services:shop services:shop.write",
            "PUT/v1/services/shop/items/1"
        ));
        assert!(decide(
            "services:shop.write",
            "PUT/v1/services/shop/items/1"
        ));
        assert!(!decide(
            "services:shop.write",
            "GET/v1/services/shop/items/1"
        ));
        // Another service's scopes reach neither, and need no Deny.
        assert!(!decide("services:other", "PUT/v1/services/shop/items/1"));
        assert!(t.denied(&scopes("services:other jobs:read")).is_empty());
    }

    #[test]
    fn a_declared_route_needs_a_fixed_scope() {
        let bad = [Operation {
            path: Cow::Borrowed("/v1/services/shop/x"),
            method: Method::Get,
            secured: true,
            scope: ScopeField::Text(Cow::Borrowed("authenticated")),
            integration: None,
        }];
        let e = RouteTable::default().with_service_routes(&bad).unwrap_err();
        assert!(e.to_string().contains("fixed scope"), "{e}");
    }

    #[test]
    fn path_parameters_become_wildcards_and_any_becomes_each_method() {
        let t = RouteTable::from_openapi(EMBEDDED_OPENAPI).unwrap();
        let p = t.permitted(&scopes("jobs:read services:echo"));
        assert!(p.contains(&"GET/v1/jobs/*".to_owned()), "{p:?}");
        for m in ANY_METHODS {
            assert!(p.contains(&format!("{m}/v1/services/echo/*")), "{m}: {p:?}");
        }
        assert!(!p.iter().any(|r| r.starts_with('*')), "{p:?}");
        assert!(
            !p.iter()
                .any(|r| r.starts_with("POST/") && !r.contains("/services/")),
            "{p:?}"
        );
    }

    #[test]
    fn a_service_scope_does_not_reach_another_service_through_the_proxy_path() {
        let t = RouteTable::embedded().unwrap();
        let arn = MethodArn::parse("arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/x")
            .unwrap();
        let allowed: Vec<String> = t
            .permitted(&scopes("services:mine"))
            .iter()
            .map(|r| arn.resource(r))
            .collect();
        let allows = |method_and_path: &str| {
            let target = arn.resource(method_and_path);
            allowed.iter().any(|r| policy_matches(r, &target))
        };
        for m in ANY_METHODS {
            assert!(
                allows(&format!("{m}/v1/services/mine/x")),
                "{m}: {allowed:?}"
            );
            assert!(
                !allows(&format!("{m}/v1/services/other/v1/services/mine/x")),
                "{m}: {allowed:?}"
            );
            assert!(
                !allows(&format!("{m}/v1/services/other/x/v1/services/mine/")),
                "{m}: {allowed:?}"
            );
        }
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
}
