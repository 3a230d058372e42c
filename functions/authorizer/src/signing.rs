//! The identity the authorizer signs for `integration: vpc_link` services
//! (docs/proxy.md#vpc-link-services).
//!
//! API Gateway reaches such a service over the VPC link, without the proxy
//! function, so the authorizer signs what it sees: the method, the path the
//! service receives (`/<stage>` + its `path_prefix` + the request path after
//! `/v1/services/<name>`: API Gateway puts the stage in a private
//! integration's path), the identity of its context and a timestamp, with
//! the service's own key (`portcullis_identity::sign_unsigned_payload`).
//! The signature and timestamp go into the context (`identity_signature`,
//! `identity_timestamp`), which the REST API maps onto the request with the
//! other identity headers; the service checks them with the same
//! `portcullis_identity::verify` as a proxied request. Not signed: the body
//! (a REQUEST authorizer never sees it) and the query string.
//!
//! It applies the proxy's path rule (`portcullis_core::path`) to the path
//! under the service and answers an explicit Deny when it is refused: the
//! VPC link path has no proxy function to refuse traversal or double
//! encoding.
//!
//! This relies on the authorizer running for every request
//! (`authorizerResultTtlInSeconds: 0` in api/openapi.yaml): a cached answer
//! would carry the first request's path and an ageing timestamp.

use crate::routes::policy_matches;
use crate::{Request, Response};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use portcullis_core::metrics::{self, Metric};
use portcullis_core::path::PathRefused;
use portcullis_core::{ConfigError, Env};
use portcullis_identity::keys::{self, KeyError, Required};
use portcullis_identity::{Identity, SigningKey};
use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::OnceCell;

/// One `integration: vpc_link` service of platform.yaml, as build.rs reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VpcLinkService {
    pub name: &'static str,
    /// Where the internal ALB routes it; the service receives paths under it.
    pub path_prefix: &'static str,
    /// The deployment environments it exists in; `None`: every one.
    pub environments: Option<&'static [&'static str]>,
}

/// The `vpc_link` services of the platform.yaml the authorizer was built
/// with (the REST API comes from the same file).
pub const EMBEDDED_VPC_LINK_SERVICES: &[VpcLinkService] =
    include!(concat!(env!("OUT_DIR"), "/vpc_link_services.rs"));

/// The deployment environment (Terraform's `var.environment`): only the
/// `vpc_link` services enabled in it need a key. Unset: every one.
pub const DEPLOYMENT_ENVIRONMENT: &str = "DEPLOYMENT_ENVIRONMENT";

/// What the authorizer's `IDENTITY_SECRET_ARNS` must name, for its errors.
pub const KEYS_FOR: &str = "integration: vpc_link services of platform.yaml enabled here";

/// Where the services' resources start.
const SERVICES_PREFIX: &str = "/v1/services/";

/// The embedded `vpc_link` services deployed in `environment` (all when `None`).
pub fn enabled(environment: Option<&str>) -> Vec<VpcLinkService> {
    enabled_of(EMBEDDED_VPC_LINK_SERVICES, environment)
}

/// Those of `services` deployed in `environment` (all when `None`): an
/// entry's `environments`, absent = every environment.
pub fn enabled_of(services: &[VpcLinkService], environment: Option<&str>) -> Vec<VpcLinkService> {
    services
        .iter()
        .filter(|s| portcullis_contract::deployed_in(s.environments, environment))
        .copied()
        .collect()
}

/// The enabled `vpc_link` services and their keys. The keys are read from
/// Secrets Manager by the first request that needs one (a request for one of
/// these services), not at start: most first requests sign nothing, and the
/// read is a TLS round trip that would otherwise lengthen every cold start.
#[derive(Default)]
pub struct Signer {
    services: HashMap<&'static str, VpcLinkService>,
    keys: OnceCell<HashMap<&'static str, SigningKey>>,
    /// Where the keys are read from; `None` when they were given.
    source: Option<KeySource>,
}

/// The secret of each service, and the reader of `IDENTITY_SECRET_ARNS`'s secrets.
struct KeySource {
    reader: crate::secrets::SecretsManager,
    arns: BTreeMap<String, String>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.services.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("Signer")
            .field("services", &names)
            .field("keys_read", &self.keys.initialized())
            .finish()
    }
}

impl Signer {
    /// The keys of `services`, by name: exactly one per service.
    pub fn new(
        services: &[VpcLinkService],
        mut keys: HashMap<String, SigningKey>,
    ) -> Result<Signer, ConfigError> {
        let mut out = HashMap::new();
        for s in services {
            let key = keys.remove(s.name).ok_or_else(|| {
                ConfigError::invalid(
                    keys::IDENTITY_SECRET_ARNS,
                    KEYS_FOR,
                    format!("no identity key for service {}", s.name),
                )
            })?;
            out.insert(s.name, key);
        }
        if let Some(other) = keys.keys().next() {
            return Err(ConfigError::invalid(
                keys::IDENTITY_SECRET_ARNS,
                KEYS_FOR,
                format!("service {other:?} is not one of the {KEYS_FOR}"),
            ));
        }
        Ok(Signer {
            services: services.iter().map(|s| (s.name, *s)).collect(),
            keys: OnceCell::new_with(Some(out)),
            source: None,
        })
    }

    /// The enabled `vpc_link` services (`DEPLOYMENT_ENVIRONMENT`) and where
    /// their keys are: `IDENTITY_SECRET_ARNS` (`portcullis_identity::keys`)
    /// and the Secrets Manager settings are checked now, with no network
    /// call; the keys are read by [`Signer::load_for`], with the
    /// authorizer's own SigV4 reader ([`crate::secrets`], no SDK). None
    /// enabled: no variable needed, no credentials, no Secrets Manager call.
    pub fn from_env(env: &Env) -> Result<Signer, ConfigError> {
        let services = enabled(env.get(DEPLOYMENT_ENVIRONMENT).as_deref());
        let names: Vec<&str> = services.iter().map(|s| s.name).collect();
        let required = Required {
            names: &names,
            what: KEYS_FOR,
        };
        let arns = keys::identity_secret_arns(required, env).map_err(|e| match e {
            KeyError::Env(e) => e,
            KeyError::Secret(why) => {
                ConfigError::invalid(keys::IDENTITY_SECRET_ARNS, KEYS_FOR, why)
            }
        })?;
        if services.is_empty() {
            return Ok(Signer::default());
        }
        Ok(Signer {
            services: services.iter().map(|s| (s.name, *s)).collect(),
            keys: OnceCell::new(),
            source: Some(KeySource {
                reader: crate::secrets::SecretsManager::from_env(env)?,
                arns,
            }),
        })
    }

    /// Make sure the keys are read when `event` is a request for an enabled
    /// `vpc_link` service: the first such request reads every service's key
    /// (one `GetSecretValue` each, concurrently); a failed read is tried
    /// again by the next such request. Any other request reads nothing.
    pub async fn load_for(&self, event: &Request) -> Result<(), KeyError> {
        if self.keys.initialized()
            || service_of(event).is_none_or(|n| !self.services.contains_key(n.as_str()))
        {
            return Ok(());
        }
        let Some(source) = &self.source else {
            return Ok(());
        };
        self.keys
            .get_or_try_init(|| async {
                let mut read = keys::signing_keys(&source.reader, &source.arns).await?;
                let mut out = HashMap::with_capacity(read.len());
                for name in self.services.keys() {
                    if let Some(key) = read.remove(*name) {
                        out.insert(*name, key);
                    }
                }
                Ok::<_, KeyError>(out)
            })
            .await?;
        Ok(())
    }

    /// Whether the keys were read (or given).
    pub fn keys_loaded(&self) -> bool {
        self.keys.initialized()
    }

    /// Whether any service is signed for.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// What the authorizer does for `event` ([`Target`]): a request for an
    /// enabled `vpc_link` service is signed over the path that service
    /// receives, `/<stage><path_prefix>/<rest>` (API Gateway puts the stage
    /// in a private integration's path: "Private integrations for REST APIs",
    /// Considerations), or refused when `<rest>` breaks the path rule of
    /// every private service (`portcullis_core::path`, the proxy's). `<rest>`
    /// is the event's resource under `/v1/services/<name>` with its path
    /// parameters filled (API Gateway decodes them once), as the proxy
    /// computes it, and is signed percent-encoded once.
    pub fn target(&self, event: &Request) -> Target<'_> {
        if self.services.is_empty() {
            return Target::Other;
        }
        let Some(resource) = event.resource.as_deref() else {
            return Target::Unsigned("the event has no resource");
        };
        let param = |name: &str| event.path_parameters.get(name).map(String::as_str);
        let Some(path) = portcullis_core::path::fill_template(resource, param) else {
            return Target::Unsigned("the event lacks a path parameter of its resource");
        };
        let Some((name, rest)) = format!("/{path}")
            .strip_prefix(SERVICES_PREFIX)
            .and_then(|p| p.split_once('/'))
            .map(|(n, r)| (n.to_owned(), r.to_owned()))
        else {
            return Target::Other;
        };
        let Some(service) = self.services.get(name.as_str()) else {
            return Target::Other;
        };
        let Some(key) = self.keys.get().and_then(|k| k.get(service.name)) else {
            return Target::Unsigned("the service's identity key is not loaded");
        };
        let rest = match portcullis_core::path::upstream_path(&rest) {
            Ok(rest) => rest,
            Err(e) => return Target::Refused(service, e),
        };
        match event.request_context.stage.as_deref() {
            Some(stage) if !stage.is_empty() => Target::Sign {
                service,
                key,
                path: format!("/{stage}{}/{rest}", service.path_prefix),
            },
            _ => Target::Unsigned("the event has no requestContext.stage"),
        }
    }

    /// For a request to a `vpc_link` service ([`Signer::target`]): add
    /// `identity_timestamp` and `identity_signature` to the answer's context
    /// when the answer's policy allows it, or an explicit Deny of the
    /// request's method ARN when its path is refused (logged with the
    /// reason; API Gateway answers 403). Any other request is left as it is;
    /// one that cannot be signed (no resource, path parameter, stage or
    /// method in the event) too, logged: the service then sees no valid
    /// identity.
    pub fn sign(&self, event: &Request, method_arn: &str, answer: &mut Response) {
        let (service, key, target) = match self.target(event) {
            Target::Other => return,
            Target::Unsigned(why) => {
                tracing::warn!(reason = why, "no vpc_link identity signed");
                metrics::count(Metric::IdentitySigningFailure, &[]);
                return;
            }
            Target::Refused(service, e) => {
                tracing::info!(
                    service = service.name,
                    reason = e.reason,
                    method_arn,
                    "vpc_link path refused: explicit deny"
                );
                deny(answer, method_arn);
                return;
            }
            Target::Sign { service, key, path } => (service, key, path),
        };
        let Some(method) = event.http_method.as_ref() else {
            tracing::warn!(
                service = service.name,
                "the event has no httpMethod: no vpc_link identity signed"
            );
            metrics::count(Metric::IdentitySigningFailure, &[]);
            return;
        };
        if !allows(answer, method_arn) {
            return;
        }
        let context = &answer.context;
        let scopes = context.scopes.to_string();
        let identity = Identity {
            principal: context.principal_id.clone(),
            principal_type: context.principal_type.as_str().to_owned(),
            tenant: context.tenant.to_string(),
            scopes: scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        match portcullis_identity::sign_unsigned_payload(&identity, method, &target, now, key) {
            Ok(headers) => {
                let value = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                answer.context.identity_timestamp = value(portcullis_identity::TIMESTAMP);
                answer.context.identity_signature = value(portcullis_identity::SIGNATURE);
            }
            Err(e) => {
                tracing::warn!(service = service.name, error = %e, "no vpc_link identity signed");
                metrics::count(Metric::IdentitySigningFailure, &[]);
            }
        }
    }
}

/// The `<name>` of a request under `/v1/services/<name>/`, from the event's
/// resource and path parameters.
fn service_of(event: &Request) -> Option<String> {
    let resource = event.resource.as_deref()?;
    let param = |name: &str| event.path_parameters.get(name).map(String::as_str);
    let path = portcullis_core::path::fill_template(resource, param)?;
    format!("/{path}")
        .strip_prefix(SERVICES_PREFIX)?
        .split_once('/')
        .map(|(name, _)| name.to_owned())
}

/// What a request is to the signer.
#[derive(Debug)]
pub enum Target<'a> {
    /// Not a request for an enabled `vpc_link` service: left alone.
    Other,
    /// A request the event does not describe well enough to sign (why).
    Unsigned(&'static str),
    /// A `vpc_link` request whose path under the service is refused.
    Refused(&'a VpcLinkService, PathRefused),
    /// A `vpc_link` request, signed with `key` over `path`, the path the
    /// service receives.
    Sign {
        service: &'a VpcLinkService,
        key: &'a SigningKey,
        path: String,
    },
}

/// An explicit Deny of `method_arn` added to the answer's policy: it wins
/// over any Allow in API Gateway's evaluation (403).
fn deny(answer: &mut Response, method_arn: &str) {
    let mut s = IamPolicyStatement::default();
    s.action = vec!["execute-api:Invoke".to_owned()];
    s.effect = IamPolicyEffect::Deny;
    s.resource = vec![method_arn.to_owned()];
    answer.policy_document.statement.push(s);
    answer.context.identity_timestamp = None;
    answer.context.identity_signature = None;
}

/// Whether the answer's policy allows `method_arn` as API Gateway evaluates
/// it: an Allow statement's resource matches, and no Deny statement's does.
pub fn allows(answer: &Response, method_arn: &str) -> bool {
    let matches = |effect: IamPolicyEffect| {
        answer
            .policy_document
            .statement
            .iter()
            .filter(|s| s.effect == effect)
            .flat_map(|s| s.resource.iter())
            .any(|r| policy_matches(r, method_arn))
    };
    matches(IamPolicyEffect::Allow) && !matches(IamPolicyEffect::Deny)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// build.rs reads platform.yaml without shared/platform's checks: its
    /// list must be the validated registry's vpc_link services.
    #[test]
    fn the_vpc_link_services_read_at_build_time_are_the_registrys() {
        let platform = portcullis_platform::Platform::embedded().unwrap();
        let want: Vec<(String, String, Option<Vec<String>>)> = platform
            .services
            .iter()
            .filter(|s| s.integration == portcullis_platform::services::Integration::VpcLink)
            .map(|s| {
                (
                    s.name.clone(),
                    s.path_prefix.clone(),
                    s.environments.clone(),
                )
            })
            .collect();
        let have: Vec<(String, String, Option<Vec<String>>)> = EMBEDDED_VPC_LINK_SERVICES
            .iter()
            .map(|s| {
                (
                    s.name.to_owned(),
                    s.path_prefix.to_owned(),
                    s.environments
                        .map(|l| l.iter().map(|e| (*e).to_owned()).collect()),
                )
            })
            .collect();
        assert_eq!(have, want);
        assert!(want.iter().any(|(n, _, _)| n == "web"), "{want:?}");
    }

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32]).unwrap()
    }

    const SITE: VpcLinkService = VpcLinkService {
        name: "site",
        path_prefix: "/s",
        environments: None,
    };

    /// A REQUEST authorizer event on `resource` with `params`, stage `v1`.
    fn event(resource: &str, params: &[(&str, &str)]) -> Request {
        let params: serde_json::Map<String, serde_json::Value> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::json!(v)))
            .collect();
        serde_json::from_value(serde_json::json!({
            "type": "REQUEST",
            "resource": resource,
            "httpMethod": "GET",
            "pathParameters": params,
            "requestContext": { "stage": "v1" },
        }))
        .unwrap()
    }

    fn signer() -> Signer {
        Signer::new(&[SITE], HashMap::from([("site".to_owned(), key())])).unwrap()
    }

    /// What the signer makes of a request: the signed path, or why not.
    fn outcome(signer: &Signer, e: &Request) -> Result<String, String> {
        match signer.target(e) {
            Target::Sign { service, path, .. } => Ok(format!("{} {path}", service.name)),
            Target::Refused(service, why) => Err(format!("refused {}: {why}", service.name)),
            Target::Unsigned(why) => Err(format!("unsigned: {why}")),
            Target::Other => Err("other".to_owned()),
        }
    }

    #[test]
    fn the_signed_path_is_the_stage_the_prefix_and_the_rest_encoded_once() {
        let s = signer();
        let proxy = |rest: &str| event("/v1/services/site/{proxy+}", &[("proxy", rest)]);
        assert_eq!(
            outcome(&s, &proxy("a/b c")),
            Ok("site /v1/s/a/b%20c".to_owned())
        );
        assert_eq!(
            outcome(&s, &proxy("notes")),
            Ok("site /v1/s/notes".to_owned())
        );
        // A declared route's resource, filled with its parameters.
        let declared = event("/v1/services/site/items/{id}", &[("id", "7")]);
        assert_eq!(outcome(&s, &declared), Ok("site /v1/s/items/7".to_owned()));
        let literal = event("/v1/services/site/home", &[]);
        assert_eq!(outcome(&s, &literal), Ok("site /v1/s/home".to_owned()));
        // The generic resource naming the service.
        let generic = event(
            "/v1/services/{service}/{proxy+}",
            &[("service", "site"), ("proxy", "x")],
        );
        assert_eq!(outcome(&s, &generic), Ok("site /v1/s/x".to_owned()));
        for other in [
            event("/v1/services/site", &[]),
            event(
                "/v1/services/{service}/{proxy+}",
                &[("service", "sample"), ("proxy", "a")],
            ),
            event("/v1/jobs", &[]),
        ] {
            assert_eq!(outcome(&s, &other), Err("other".to_owned()), "{other:?}");
        }
    }

    #[test]
    fn a_path_the_proxy_would_refuse_is_refused_for_a_vpc_link_service_too() {
        let s = signer();
        for rest in [
            "a/../b",
            "..;/admin",
            "%2e%2e/x",
            "a%0ab",
            "/etc/passwd",
            "a\\b",
            "http://x/",
        ] {
            let e = event("/v1/services/site/{proxy+}", &[("proxy", rest)]);
            let out = outcome(&s, &e).expect_err(rest);
            assert!(
                out.starts_with("refused site: the path under the service is not allowed"),
                "{rest}: {out}"
            );
        }
    }

    #[test]
    fn an_event_without_resource_parameter_or_stage_is_not_signed() {
        let s = signer();
        let mut e = event("/v1/services/site/{proxy+}", &[("proxy", "a")]);
        e.request_context.stage = None;
        assert!(outcome(&s, &e).unwrap_err().contains("stage"));
        let e = event("/v1/services/site/{proxy+}", &[]);
        assert!(outcome(&s, &e).unwrap_err().contains("path parameter"));
        let mut e = event("/v1/services/site/{proxy+}", &[("proxy", "a")]);
        e.resource = None;
        assert!(outcome(&s, &e).unwrap_err().contains("resource"));
    }

    #[test]
    fn each_enabled_service_needs_its_key_and_no_other_is_taken() {
        let e = Signer::new(&[SITE], HashMap::new()).unwrap_err();
        assert!(
            e.to_string().contains("no identity key for service site"),
            "{e}"
        );
        let e = Signer::new(
            &[SITE],
            HashMap::from([("site".to_owned(), key()), ("sample".to_owned(), key())]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("\"sample\" is not one of"), "{e}");
        assert!(Signer::new(&[], HashMap::new()).unwrap().is_empty());
    }

    #[test]
    fn a_service_limited_to_other_environments_needs_no_key() {
        const DEV_ONLY: VpcLinkService = VpcLinkService {
            name: "dev-site",
            path_prefix: "/d",
            environments: Some(&["dev"]),
        };
        let names = |env: Option<&str>| -> Vec<&str> {
            enabled_of(&[SITE, DEV_ONLY], env)
                .iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(names(None), ["site", "dev-site"]);
        assert_eq!(names(Some("dev")), ["site", "dev-site"]);
        assert_eq!(names(Some("prod")), ["site"]);
        // The registry as shipped: `web` everywhere.
        assert!(enabled(Some("prod")).iter().any(|s| s.name == "web"));
    }
}
