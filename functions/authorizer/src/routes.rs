//! The route → scope table from `api/openapi.yaml` (`x-portcullis-scope`)
//! and the IAM policy resources it yields for a set of scopes, with the
//! scoped routes platform.yaml's services declare (`services.<name>.routes`,
//! [`EMBEDDED_SERVICE_ROUTES`]): a principal without a declared route's scope
//! gets an explicit Deny of it ([`RouteTable::for_each_denied`]), since the
//! generic `services:<name>` resource would match its method ARN too.

/// The scopes [`RouteTable::permitted`] takes (re-exported for callers without portcullis-auth).
pub use portcullis_auth::Scope;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The API contract (`api/openapi.yaml`) as the repository holds it.
pub const EMBEDDED_OPENAPI: &str = include_str!("../../../api/openapi.yaml");

const METHODS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("patch", "PATCH"),
    ("head", "HEAD"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// The methods API Gateway's `ANY` (`x-amazon-apigateway-any-method`) stands
/// for. An ANY route becomes one route per method: a `*` method in a policy
/// resource would match across path segments too (IAM's `*` spans `/`), so
/// `*/v1/services/mine/*` would allow `GET/v1/services/other/v1/services/mine/x`.
pub const ANY_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

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

/// What the table needs of one operation of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation<'a> {
    /// The OpenAPI path, e.g. `/v1/jobs/{id}`.
    pub path: &'a str,
    /// Its key under the path: `get`, `post`, ..., `x-amazon-apigateway-any-method`
    /// (other keys are not operations and are skipped).
    pub key: &'a str,
    /// Whether it has a non-empty `security` requirement.
    pub secured: bool,
    pub scope: ScopeField<'a>,
}

/// An operation's `x-portcullis-scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeField<'a> {
    Absent,
    Text(&'a str),
    /// Present, but not a string.
    NotText,
}

impl<'a> Operation<'a> {
    /// The operations of an OpenAPI document's `paths`, in document order.
    /// `build.rs` reads the embedded contract the same way.
    pub fn all(doc: &'a serde_norway::Value) -> Result<Vec<Operation<'a>>, RouteError> {
        let paths = doc
            .get("paths")
            .and_then(|p| p.as_mapping())
            .ok_or(RouteError::NoPaths)?;
        let mut out = Vec::new();
        for (path, item) in paths {
            let (Some(path), Some(item)) = (path.as_str(), item.as_mapping()) else {
                continue;
            };
            for (key, op) in item {
                let (Some(key), Some(op)) = (key.as_str(), op.as_mapping()) else {
                    continue;
                };
                out.push(Operation {
                    path,
                    key,
                    secured: op
                        .get("security")
                        .and_then(|s| s.as_sequence())
                        .is_some_and(|s| !s.is_empty()),
                    scope: match op.get("x-portcullis-scope") {
                        None => ScopeField::Absent,
                        Some(v) => v.as_str().map_or(ScopeField::NotText, ScopeField::Text),
                    },
                });
            }
        }
        Ok(out)
    }
}

/// The operations of the embedded `api/openapi.yaml`, read by `build.rs`
/// when the binary is built: the default table costs no YAML parse at
/// start-up (parsing the contract was most of the cold start).
pub const EMBEDDED_OPERATIONS: &[Operation<'static>] =
    include!(concat!(env!("OUT_DIR"), "/operations.rs"));

/// The scoped routes of platform.yaml's services (`services.<name>.routes`
/// with a `scope`), as operations on `/v1/services/<name><path>`, read by
/// `build.rs` from the repository's platform.yaml: the same file Terraform
/// renders those paths of the REST API from. Public routes are not here:
/// API Gateway runs no authorizer for them.
pub const EMBEDDED_SERVICE_ROUTES: &[Operation<'static>] =
    include!(concat!(env!("OUT_DIR"), "/service_routes.rs"));

impl RouteTable {
    /// Parse the `paths` of an OpenAPI document (OPENAPI_FILE): see
    /// [`RouteTable::from_operations`].
    pub fn from_openapi(text: &str) -> Result<Self, RouteError> {
        let doc: serde_norway::Value = serde_norway::from_str(text)?;
        RouteTable::from_operations(&Operation::all(&doc)?)
    }

    /// The table of the embedded contract and the registry's declared
    /// service routes.
    pub fn embedded() -> Result<Self, RouteError> {
        RouteTable::from_operations(EMBEDDED_OPERATIONS)?
            .with_service_routes(EMBEDDED_SERVICE_ROUTES)
    }

    /// Adds declared service routes (`ops`: each with a fixed scope): each
    /// is permitted to holders of its scope and denied to the others.
    pub fn with_service_routes(self, ops: &[Operation<'_>]) -> Result<Self, RouteError> {
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
    pub fn from_operations(ops: &[Operation<'_>]) -> Result<Self, RouteError> {
        let mut routes = Vec::new();
        for op in ops {
            let Some((_, method)) = METHODS.iter().find(|(k, _)| *k == op.key) else {
                continue;
            };
            let err = |reason: String| RouteError::Route {
                method: (*method).to_owned(),
                path: op.path.to_owned(),
                reason,
            };
            let scope = match op.scope {
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
            let requirement = parse_requirement(op.path, scope).map_err(err)?;
            let methods: &[&str] = if *method == "ANY" {
                &ANY_METHODS
            } else {
                std::slice::from_ref(method)
            };
            for m in methods {
                routes.push(Route {
                    method: (*m).to_owned(),
                    path: op.path.to_owned(),
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

/// IAM's resource wildcards as API Gateway applies them to an authorizer's
/// policy: `*` any run of characters (`/` included), `?` exactly one. (The
/// local gateway's `local::policy::glob_match` is the same rule.)
pub fn policy_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    // The last `*` seen and the text position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
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
    fn the_table_read_at_build_time_is_the_contracts_table() {
        let doc: serde_norway::Value = serde_norway::from_str(EMBEDDED_OPENAPI).unwrap();
        assert_eq!(Operation::all(&doc).unwrap(), EMBEDDED_OPERATIONS);
        let whole = RouteTable::from_openapi(EMBEDDED_OPENAPI).unwrap();
        assert!(!whole.routes().is_empty());
        let embedded = RouteTable::embedded().unwrap();
        assert_eq!(
            whole.routes(),
            &embedded.routes()[..embedded.routes().len() - service_route_count()]
        );
    }

    fn service_route_count() -> usize {
        RouteTable::from_operations(EMBEDDED_SERVICE_ROUTES)
            .unwrap()
            .routes()
            .len()
    }

    /// build.rs reads platform.yaml without shared/platform's checks: its
    /// list must be the validated registry's scoped routes.
    #[test]
    fn the_service_routes_read_at_build_time_are_the_registrys() {
        let platform = portcullis_platform::Platform::embedded().unwrap();
        let mut want = Vec::new();
        for svc in platform.services.iter() {
            for r in &svc.routes {
                let Some(scope) = r.scope() else { continue };
                for m in &r.methods {
                    want.push((
                        format!("/v1/services/{}{}", svc.name, r.path),
                        m.to_ascii_lowercase(),
                        scope.to_owned(),
                    ));
                }
            }
        }
        let have: Vec<_> = EMBEDDED_SERVICE_ROUTES
            .iter()
            .map(|o| match o.scope {
                ScopeField::Text(s) if o.secured => {
                    (o.path.to_owned(), o.key.to_owned(), s.to_owned())
                }
                _ => panic!("{o:?}: a declared route is secured and has a scope"),
            })
            .collect();
        assert_eq!(have, want);
    }

    const DECLARED: &[Operation<'static>] = &[
        Operation {
            path: "/v1/services/shop/items/{id}",
            key: "put",
            secured: true,
            scope: ScopeField::Text("services:shop.write"),
        },
        Operation {
            path: "/v1/services/shop/items/{id}",
            key: "delete",
            secured: true,
            scope: ScopeField::Text("services:shop.write"),
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
            path: "/v1/services/shop/x",
            key: "get",
            secured: true,
            scope: ScopeField::Text("authenticated"),
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
