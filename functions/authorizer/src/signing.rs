//! The identity the authorizer signs for `integration: vpc_link` services
//! (issue 13 item 1; docs/proxy.md#vpc-link-services).
//!
//! API Gateway reaches such a service over the VPC link, without the proxy
//! function, so the authorizer signs what it sees: the method, the path the
//! service receives (its `path_prefix` + the request path after
//! `/v1/services/<name>`), the identity of its context and a timestamp, with
//! the service's own key (`portcullis_identity::sign_unsigned_payload`).
//! The signature and timestamp go into the context (`identity_signature`,
//! `identity_timestamp`), which the REST API maps onto the request with the
//! other identity headers; the service checks them with the same
//! `portcullis_identity::verify` as a proxied request. Not signed: the body
//! (a REQUEST authorizer never sees it) and the query string.
//!
//! This relies on the authorizer running for every request
//! (`authorizerResultTtlInSeconds: 0` in api/openapi.yaml): a cached answer
//! would carry the first request's path and an ageing timestamp.

use crate::routes::policy_matches;
use crate::{Request, Response};
use aws_lambda_events::iam::IamPolicyEffect;
use portcullis_core::{ConfigError, Env};
use portcullis_identity::keys::{self, KeyError, Required};
use portcullis_identity::{Identity, SigningKey};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

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
        .filter(|s| match (environment, s.environments) {
            (Some(e), Some(list)) => list.contains(&e),
            _ => true,
        })
        .copied()
        .collect()
}

/// The enabled `vpc_link` services and their keys.
#[derive(Default)]
pub struct Signer {
    services: HashMap<&'static str, (VpcLinkService, SigningKey)>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.services.keys().copied().collect();
        names.sort_unstable();
        f.debug_struct("Signer").field("services", &names).finish()
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
            out.insert(s.name, (*s, key));
        }
        if let Some(other) = keys.keys().next() {
            return Err(ConfigError::invalid(
                keys::IDENTITY_SECRET_ARNS,
                KEYS_FOR,
                format!("service {other:?} is not one of the {KEYS_FOR}"),
            ));
        }
        Ok(Signer { services: out })
    }

    /// The enabled `vpc_link` services (`DEPLOYMENT_ENVIRONMENT`) and their
    /// keys from `IDENTITY_SECRET_ARNS` (`portcullis_identity::keys`), read
    /// with the authorizer's own SigV4 reader ([`crate::secrets`], no SDK).
    /// None enabled: no variable needed, no credentials, no Secrets Manager call.
    pub async fn from_env(env: &Env) -> Result<Signer, KeyError> {
        let services = enabled(env.get(DEPLOYMENT_ENVIRONMENT).as_deref());
        let names: Vec<&str> = services.iter().map(|s| s.name).collect();
        let keys = keys::load_with(
            Required {
                names: &names,
                what: KEYS_FOR,
            },
            env,
            || async { Ok(crate::secrets::SecretsManager::from_env(env)?) },
        )
        .await?;
        Ok(Signer::new(&services, keys)?)
    }

    /// Whether any service is signed for.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The `vpc_link` service a request path is for, and the path that
    /// service receives: `path_prefix` + the rest after `/v1/services/<name>`.
    pub fn target(&self, path: &str) -> Option<(&VpcLinkService, &SigningKey, String)> {
        let (name, rest) = path.strip_prefix(SERVICES_PREFIX)?.split_once('/')?;
        let (service, key) = self.services.get(name)?;
        Some((service, key, format!("{}/{rest}", service.path_prefix)))
    }

    /// Add `identity_timestamp` and `identity_signature` to the answer's
    /// context when `event` is a request for a `vpc_link` service that the
    /// answer's policy allows. Any other request is left as it is; one that
    /// cannot be signed (no path or method in the event, a path that is not
    /// text) too, logged: the service then sees no valid identity.
    pub fn sign(&self, event: &Request, method_arn: &str, answer: &mut Response) {
        if self.services.is_empty() {
            return;
        }
        let Some(path) = event.path.as_deref() else {
            tracing::warn!("the event has no path: no vpc_link identity signed");
            return;
        };
        let Some((service, key, target)) = self.target(path) else {
            return;
        };
        let Some(method) = event.http_method.as_ref() else {
            tracing::warn!(
                service = service.name,
                "the event has no httpMethod: no vpc_link identity signed"
            );
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
            }
        }
    }
}

/// Whether the answer's policy allows `method_arn` as API Gateway evaluates
/// it: an Allow statement's resource matches, and no Deny statement's does.
fn allows(answer: &Response, method_arn: &str) -> bool {
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

    #[test]
    fn the_signed_path_is_the_prefix_and_the_rest_of_the_request_path() {
        let signer = Signer::new(&[SITE], HashMap::from([("site".to_owned(), key())])).unwrap();
        let target = |p: &str| signer.target(p).map(|(s, _, t)| (s.name, t));
        assert_eq!(
            target("/v1/services/site/a/b%20c"),
            Some(("site", "/s/a/b%20c".to_owned()))
        );
        assert_eq!(
            target("/v1/services/site/"),
            Some(("site", "/s/".to_owned()))
        );
        for other in [
            "/v1/services/site",
            "/v1/services/sitex/a",
            "/v1/services/sample/a",
            "/v1/jobs",
            "/x/v1/services/site/a",
        ] {
            assert_eq!(target(other), None, "{other}");
        }
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
