//! Start-up configuration of the proxy.
//!
//! | variable | meaning |
//! |---|---|
//! | `PLATFORM_FILE` | path of platform.yaml (default: the copy compiled in; Terraform ships the file in the zip) |
//! | `PROXY_ALB_URL` | internal ALB base URL; a service's upstream is this + its `path_prefix` |
//! | `PROXY_UPSTREAM_<NAME>` | full upstream base URL of one service (wins; `make local` sets it) |
//! | `IDENTITY_SECRET_ARNS` | `<service>=<secret ARN>,...`: each served (`integration: lambda`, enabled here) service's own Secrets Manager secret (base64 signing key), no other; checked at start, all read by the first request that signs (`portcullis_identity::keys`) |
//! | `DEPLOYMENT_ENVIRONMENT` | Terraform's `environment`: only services enabled in it (their `environments`) are served; unset: all |
//! | `PROXY_AUDIT` | `true` (default): write `audit_log` for mutations via `portcullis_db` |
//! | `PROXY_TIMEOUT_MARGIN_MS` | margin under the gateway/Lambda deadlines (default 500) |
//! | `CORS_*` | the CORS policy of every answer (`portcullis_core::cors`) |

use crate::{DEFAULT_MARGIN, State};
use portcullis_core::Env;
use portcullis_core::runtime::StartError;
use portcullis_identity::keys;
use portcullis_platform::Platform;
use portcullis_platform::services::{Integration, Service, Services};
use std::time::Duration;
use url::Url;

/// The variable naming each `lambda` service's identity secret (read by
/// `portcullis_identity::keys`, the loader the authorizer shares).
pub use portcullis_identity::keys::IDENTITY_SECRET_ARNS;
/// The deployment environment (Terraform's `var.environment`): services not
/// enabled in it are not served.
pub const DEPLOYMENT_ENVIRONMENT: &str = "DEPLOYMENT_ENVIRONMENT";

/// One service and where it lives.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub service: Service,
    /// Base URL, e.g. `http://internal-alb.../sample` or `http://127.0.0.1:8081`.
    pub base: Url,
}

/// Why a service has no usable upstream.
fn no_upstream(service: &str, reason: &str) -> StartError {
    StartError::msg(format!("no upstream for service {service}: {reason}"))
}

/// The variable that overrides one service's upstream: `PROXY_UPSTREAM_<NAME>`
/// with the name upper-cased and `-` turned into `_`.
pub fn upstream_var(service: &str) -> String {
    format!(
        "PROXY_UPSTREAM_{}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

fn parse_base(service: &str, raw: &str, from: &str) -> Result<Url, StartError> {
    let bad = |reason: String| no_upstream(service, &format!("{from}: {reason}"));
    let url = Url::parse(raw.trim()).map_err(|e| bad(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad("expected an http(s) URL with a host".to_owned()));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad(
            "a base URL has no query, fragment or credentials".to_owned()
        ));
    }
    Ok(url)
}

/// Resolve every service's base URL: `PROXY_UPSTREAM_<NAME>`, else the
/// registry's `upstream`, else `PROXY_ALB_URL` + `path_prefix`.
pub fn resolve_upstreams(services: &Services, env: &Env) -> Result<Vec<Upstream>, StartError> {
    let alb = env.get("PROXY_ALB_URL");
    services
        .iter()
        .map(|s| {
            let var = upstream_var(&s.name);
            let base = if let Some(raw) = env.get(&var) {
                parse_base(&s.name, &raw, &var)?
            } else if let Some(raw) = &s.upstream {
                parse_base(&s.name, raw, "platform.yaml upstream")?
            } else if let Some(alb) = &alb {
                let joined = format!("{}{}", alb.trim().trim_end_matches('/'), s.path_prefix);
                parse_base(&s.name, &joined, "PROXY_ALB_URL + path_prefix")?
            } else {
                return Err(no_upstream(
                    &s.name,
                    &format!("set {var} (a full base URL) or PROXY_ALB_URL (the internal ALB URL)"),
                ));
            };
            Ok(Upstream {
                service: s.clone(),
                base,
            })
        })
        .collect()
}

/// The registry's services deployed here: `PLATFORM_FILE`, else the
/// platform.yaml compiled in (the loader every function uses;
/// docs/decisions.md), less those whose `environments` leave out
/// `DEPLOYMENT_ENVIRONMENT`.
pub fn services_from_env(env: &Env) -> Result<Services, StartError> {
    let all = Platform::from_env(env)?.services;
    Ok(enabled_services(
        all,
        env.get(DEPLOYMENT_ENVIRONMENT).as_deref(),
    ))
}

/// The services deployed in `environment` (an entry's `environments`;
/// absent = every environment). Terraform creates nothing for the others (no
/// target group, no identity key), so the proxy does not serve them: a request
/// gets the unknown-service 404. Every service when no environment is named.
pub fn enabled_services(services: Services, environment: Option<&str>) -> Services {
    match environment {
        None => services,
        Some(e) => Services(
            services
                .0
                .into_iter()
                .filter(|(_, s)| s.enabled_in(e))
                .collect(),
        ),
    }
}

/// The services this function serves: the `integration: lambda` ones. A
/// `vpc_link` service is reached by API Gateway over the VPC link, never
/// through the proxy (no upstream, no key of its here).
pub fn lambda_services(services: Services) -> Services {
    Services(
        services
            .0
            .into_iter()
            .filter(|(_, s)| s.integration == Integration::Lambda)
            .collect(),
    )
}

/// What the proxy's `IDENTITY_SECRET_ARNS` must name, for its errors.
pub const KEYS_FOR: &str = "integration: lambda services of platform.yaml enabled here";

/// The proxy's state from `env` (`State::from_env` passes `Env::Process`):
/// registry, upstreams, each `lambda` service's identity secret (read by the
/// first request that signs) with the SDK
/// configuration of `env` (`portcullis_aws::sdk_config_in`: an
/// `Env::Map` is the function's own Lambda environment, credentials
/// included), and the audit database.
pub async fn state_from_env(env: &Env) -> Result<State, StartError> {
    let services = lambda_services(services_from_env(env)?);
    let upstreams = resolve_upstreams(&services, env)?;
    let cors = portcullis_core::CorsPolicy::from_env(env)?;
    let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let required = keys::Required {
        names: &names,
        what: KEYS_FOR,
    };
    let margin = env.millis_or(
        "PROXY_TIMEOUT_MARGIN_MS",
        DEFAULT_MARGIN,
        Duration::from_millis(50),
        Duration::from_secs(5),
    )?;
    // Checked now (every served service named once); read by the first
    // request that signs (State::lazy_keys), so init makes no network call.
    let arns = keys::identity_secret_arns(required, env)?;
    let sdk = portcullis_aws::SdkSource::from_env(env)?;
    let audit = if env.flag("PROXY_AUDIT", true)? {
        Some(
            portcullis_db::Database::from_env(env)
                .await
                .map_err(|e| {
                    StartError::msg(format!(
                        "the audit database cannot be set up: {e}; set PROXY_AUDIT=false to run without audit_log"
                    ))
                })?,
        )
    } else {
        tracing::warn!("PROXY_AUDIT=false: proxied mutations are recorded in the access log only");
        None
    };
    State::lazy_keys(upstreams, crate::KeySource { arns, sdk }, audit, margin)
        .map(|s| s.with_cors(cors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Services {
        Services::from_text("my-svc:\n  workload: w\n  methods: [GET]\n  path_prefix: /my\n")
            .unwrap()
    }

    fn required<'a>(names: &'a [&'a str]) -> keys::Required<'a> {
        keys::Required {
            names,
            what: KEYS_FOR,
        }
    }

    fn names(services: &Services) -> Vec<&str> {
        services.iter().map(|s| s.name.as_str()).collect()
    }

    /// A service limited to other environments has no key, target group or
    /// identity secret here (Terraform filters it): the proxy neither asks for
    /// its key at start nor serves it.
    #[test]
    fn a_service_not_enabled_in_this_environment_is_not_served() {
        let all = Services::from_text(
            "my-svc:\n  workload: w\n  methods: [GET]\n  path_prefix: /my\n\
             dev-only:\n  workload: w\n  methods: [GET]\n  path_prefix: /dev\n  environments: [dev]\n",
        )
        .unwrap();
        let prod = enabled_services(all.clone(), Some("prod"));
        assert!(prod.get("my-svc").is_some() && prod.get("dev-only").is_none());
        let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, "my-svc=arn:1")]);
        assert!(keys::identity_secret_arns(required(&names(&prod)), &env).is_ok());
        let dev = enabled_services(all.clone(), Some("dev"));
        assert!(dev.get("dev-only").is_some());
        assert!(
            keys::identity_secret_arns(required(&names(&dev)), &env).is_err(),
            "dev serves dev-only: its key is needed"
        );
        assert_eq!(enabled_services(all.clone(), None), all);
    }

    /// The proxy serves and holds keys of the `lambda` services only: a
    /// `vpc_link` service needs no upstream here, and its key (the
    /// authorizer's to hold) is refused if handed to the proxy.
    #[test]
    fn only_the_lambda_services_are_served_and_need_a_key() {
        let all = Services::from_text(
            "my-svc:\n  workload: w\n  methods: [GET]\n\
             site:\n  workload: w\n  methods: [GET]\n  integration: vpc_link\n",
        )
        .unwrap();
        let served = lambda_services(all);
        assert_eq!(names(&served), ["my-svc"]);
        let env = Env::from_pairs([("PROXY_UPSTREAM_MY_SVC", "http://127.0.0.1:9")]);
        assert_eq!(resolve_upstreams(&served, &env).unwrap().len(), 1);
        let ok = Env::from_pairs([(IDENTITY_SECRET_ARNS, "my-svc=arn:1")]);
        assert!(keys::identity_secret_arns(required(&names(&served)), &ok).is_ok());
        let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, "my-svc=arn:1,site=arn:2")]);
        let e = keys::identity_secret_arns(required(&names(&served)), &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"site\" is not one of the integration: lambda services"),
            "{e}"
        );
        // The registry as shipped: `web` is vpc_link, `sample` lambda.
        let embedded =
            lambda_services(services_from_env(&Env::from_pairs::<&str, &str>([])).unwrap());
        assert!(embedded.get("sample").is_some() && embedded.get("web").is_none());
    }

    #[test]
    fn local_override_wins_over_the_alb_url() {
        let env = Env::from_pairs([
            ("PROXY_ALB_URL", "http://alb.internal"),
            ("PROXY_UPSTREAM_MY_SVC", "http://127.0.0.1:9000"),
        ]);
        let u = resolve_upstreams(&services(), &env).unwrap();
        assert_eq!(u[0].base.as_str(), "http://127.0.0.1:9000/");
    }

    #[test]
    fn alb_url_is_joined_with_the_path_prefix() {
        let env = Env::from_pairs([("PROXY_ALB_URL", "http://alb.internal/")]);
        assert_eq!(
            resolve_upstreams(&services(), &env).unwrap()[0]
                .base
                .as_str(),
            "http://alb.internal/my"
        );
    }

    #[test]
    fn missing_or_bad_upstream_names_the_variable() {
        let e = resolve_upstreams(&services(), &Env::from_pairs::<&str, &str>([])).unwrap_err();
        assert!(e.to_string().contains("PROXY_UPSTREAM_MY_SVC"), "{e}");
        let env = Env::from_pairs([("PROXY_UPSTREAM_MY_SVC", "http://u:p@127.0.0.1:1/?x=1")]);
        assert!(resolve_upstreams(&services(), &env).is_err());
        let env = Env::from_pairs([("PROXY_UPSTREAM_MY_SVC", "file:///etc")]);
        assert!(resolve_upstreams(&services(), &env).is_err());
    }

    #[tokio::test]
    async fn missing_identity_secret_arns_fails_start_up_naming_it() {
        // The embedded registry, with a local upstream for its sample service.
        let env = Env::from_pairs([("PROXY_UPSTREAM_SAMPLE", "http://127.0.0.1:9")]);
        let e = state_from_env(&env).await.unwrap_err();
        assert!(e.to_string().contains("IDENTITY_SECRET_ARNS"), "{e}");
    }

    #[tokio::test]
    async fn missing_registry_file_fails_start_up_naming_platform_file() {
        let env = Env::from_pairs([("PLATFORM_FILE", "/nonexistent/platform.yaml")]);
        let e = state_from_env(&env).await.unwrap_err();
        assert!(e.to_string().contains("PLATFORM_FILE"), "{e}");
    }

    #[test]
    fn the_registry_defaults_to_the_embedded_copy_and_is_validated() {
        let embedded = services_from_env(&Env::from_pairs::<&str, &str>([])).unwrap();
        assert!(embedded.get("sample").is_some());
        let path = std::env::temp_dir().join(format!("proxy-registry-{}.yaml", std::process::id()));
        std::fs::write(&path, "services:\n  a:\n    methods: [FETCH]\n").unwrap();
        let e = services_from_env(&Env::from_pairs([(
            "PLATFORM_FILE",
            path.to_str().unwrap(),
        )]))
        .unwrap_err()
        .to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(
            e.contains("services.a.methods") && e.contains("PLATFORM_FILE"),
            "{e}"
        );
    }
}
