//! Start-up configuration of the proxy.
//!
//! | variable | meaning |
//! |---|---|
//! | `PLATFORM_FILE` | path of platform.yaml (default: the copy compiled in; Terraform ships the file in the zip) |
//! | `PROXY_ALB_URL` | internal ALB base URL; a service's upstream is this + its `path_prefix` |
//! | `PROXY_UPSTREAM_<NAME>` | full upstream base URL of one service (wins; `make local` sets it) |
//! | `IDENTITY_SECRET_ARNS` | `<service>=<secret ARN>,...`: each served service's own Secrets Manager secret (base64 signing key); all read at start |
//! | `DEPLOYMENT_ENVIRONMENT` | Terraform's `environment`: only services enabled in it (their `environments`) are served; unset: all |
//! | `PROXY_AUDIT` | `true` (default): write `audit_log` for mutations via `portcullis_db` |
//! | `PROXY_TIMEOUT_MARGIN_MS` | margin under the gateway/Lambda deadlines (default 500) |
//! | `CORS_*` | the CORS policy of every answer (`portcullis_core::cors`) |

use crate::{DEFAULT_MARGIN, State};
use portcullis_core::Env;
use portcullis_identity::SigningKey;
use portcullis_platform::services::{Service, Services};
use portcullis_platform::{Platform, PlatformError};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use url::Url;

/// The variable naming each service's identity secret.
pub const IDENTITY_SECRET_ARNS: &str = "IDENTITY_SECRET_ARNS";
/// The deployment environment (Terraform's `var.environment`): services not
/// enabled in it are not served.
pub const DEPLOYMENT_ENVIRONMENT: &str = "DEPLOYMENT_ENVIRONMENT";
/// The single shared key of earlier releases: refused with what to do.
const RETIRED_IDENTITY_SECRET_ARN: &str = "IDENTITY_SECRET_ARN";

/// One service and where it lives.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub service: Service,
    /// Base URL, e.g. `http://internal-alb.../sample` or `http://127.0.0.1:8081`.
    pub base: Url,
}

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Env(#[from] portcullis_core::ConfigError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("no upstream for service {service}: {reason}")]
    Upstream { service: String, reason: String },
    #[error("the identity signing keys cannot be loaded (IDENTITY_SECRET_ARNS): {0}")]
    Secret(String),
    #[error("the HTTP client cannot be built: {0}")]
    Client(String),
    #[error(
        "the audit database cannot be set up: {0}; set PROXY_AUDIT=false to run without audit_log"
    )]
    Database(String),
}

/// The variable that overrides one service's upstream: `PROXY_UPSTREAM_<NAME>`
/// with the name upper-cased and `-` turned into `_`.
pub fn upstream_var(service: &str) -> String {
    format!(
        "PROXY_UPSTREAM_{}",
        service.to_ascii_uppercase().replace('-', "_")
    )
}

fn parse_base(service: &str, raw: &str, from: &str) -> Result<Url, ConfigError> {
    let bad = |reason: String| ConfigError::Upstream {
        service: service.to_owned(),
        reason: format!("{from}: {reason}"),
    };
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
pub fn resolve_upstreams(services: &Services, env: &Env) -> Result<Vec<Upstream>, ConfigError> {
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
                return Err(ConfigError::Upstream {
                    service: s.name.clone(),
                    reason: format!(
                        "set {var} (a full base URL) or PROXY_ALB_URL (the internal ALB URL)"
                    ),
                });
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
pub fn services_from_env(env: &Env) -> Result<Services, ConfigError> {
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

/// Each registered service's identity secret from `IDENTITY_SECRET_ARNS`
/// (`<service>=<ARN or name>,...`; Terraform sets it): every service of the
/// registry exactly once, no other name.
pub fn identity_secret_arns(
    services: &Services,
    env: &Env,
) -> Result<BTreeMap<String, String>, ConfigError> {
    const EXPECTED: &str = "<service>=<Secrets Manager secret ARN>,... with one secret per service of platform.yaml (Terraform sets it)";
    let invalid = |reason: String| {
        ConfigError::Env(portcullis_core::ConfigError::invalid(
            IDENTITY_SECRET_ARNS,
            EXPECTED,
            reason,
        ))
    };
    if env.get(IDENTITY_SECRET_ARNS).is_none() && env.get(RETIRED_IDENTITY_SECRET_ARN).is_some() {
        return Err(invalid(format!(
            "it is not set, and {RETIRED_IDENTITY_SECRET_ARN} (one key shared by every service) is no longer read: give each service its own secret"
        )));
    }
    let entries = env.required_list(IDENTITY_SECRET_ARNS, EXPECTED)?;
    let mut arns = BTreeMap::new();
    for entry in entries {
        let (name, arn) = entry
            .split_once('=')
            .map(|(n, a)| (n.trim(), a.trim()))
            .filter(|(n, a)| !n.is_empty() && !a.is_empty())
            .ok_or_else(|| invalid(format!("{entry:?} is not <service>=<secret ARN>")))?;
        if services.get(name).is_none() {
            return Err(invalid(format!(
                "service {name:?} is not registered in platform.yaml"
            )));
        }
        if arns.insert(name.to_owned(), arn.to_owned()).is_some() {
            return Err(invalid(format!("service {name:?} is named twice")));
        }
    }
    let missing: Vec<&str> = services
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !arns.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "no secret for service(s) {}",
            missing.join(", ")
        )));
    }
    Ok(arns)
}

/// Every service's key, read concurrently (one GetSecretValue each).
pub async fn signing_keys(
    client: &aws_sdk_secretsmanager::Client,
    arns: &BTreeMap<String, String>,
) -> Result<HashMap<String, SigningKey>, ConfigError> {
    let mut reads = tokio::task::JoinSet::new();
    for (service, arn) in arns {
        let (client, service, arn) = (client.clone(), service.clone(), arn.clone());
        reads.spawn(async move {
            let key = signing_key(&client, &arn).await.map_err(|e| match e {
                ConfigError::Secret(why) => {
                    ConfigError::Secret(format!("service {service} ({arn}): {why}"))
                }
                other => other,
            })?;
            Ok::<_, ConfigError>((service, key))
        });
    }
    let mut keys = HashMap::with_capacity(arns.len());
    while let Some(read) = reads.join_next().await {
        let (service, key) =
            read.map_err(|e| ConfigError::Secret(format!("a key read did not finish: {e}")))??;
        keys.insert(service, key);
    }
    Ok(keys)
}

/// Fetch one signing key (the secret string is base64 of ≥ 32 bytes).
pub async fn signing_key(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<SigningKey, ConfigError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            ConfigError::Secret(format!(
                "GetSecretValue failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| ConfigError::Secret("the secret has no string value".to_owned()))?;
    SigningKey::from_base64(text).map_err(|e| ConfigError::Secret(e.to_string()))
}

/// The proxy's state from `env` (`State::from_env` passes `Env::Process`):
/// registry, upstreams, every service's identity signing key read with the SDK
/// configuration of `env` (`portcullis_core::aws::sdk_config_in`: an
/// `Env::Map` is the function's own Lambda environment, credentials
/// included), and the audit database.
pub async fn state_from_env(env: &Env) -> Result<State, ConfigError> {
    let services = services_from_env(env)?;
    let upstreams = resolve_upstreams(&services, env)?;
    let cors = portcullis_core::CorsPolicy::from_env(env)?;
    let arns = identity_secret_arns(&services, env)?;
    let margin = env.millis_or(
        "PROXY_TIMEOUT_MARGIN_MS",
        DEFAULT_MARGIN,
        Duration::from_millis(50),
        Duration::from_secs(5),
    )?;
    let sdk = portcullis_core::aws::sdk_config_in(env).await?;
    let keys = signing_keys(&aws_sdk_secretsmanager::Client::new(&sdk), &arns).await?;
    let audit = if env.flag("PROXY_AUDIT", true)? {
        Some(
            portcullis_db::Database::from_env(env)
                .await
                .map_err(|e| ConfigError::Database(e.to_string()))?,
        )
    } else {
        tracing::warn!("PROXY_AUDIT=false: proxied mutations are recorded in the access log only");
        None
    };
    State::new(upstreams, keys, audit, margin).map(|s| s.with_cors(cors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Services {
        Services::from_text("my-svc:\n  workload: w\n  methods: [GET]\n  path_prefix: /my\n")
            .unwrap()
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
        assert!(identity_secret_arns(&prod, &env).is_ok());
        let dev = enabled_services(all.clone(), Some("dev"));
        assert!(dev.get("dev-only").is_some());
        assert!(
            identity_secret_arns(&dev, &env).is_err(),
            "dev serves dev-only: its key is needed"
        );
        assert_eq!(enabled_services(all.clone(), None), all);
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

    fn two() -> Services {
        Services::from_text(
            "my-svc:\n  workload: w\n  methods: [GET]\nother:\n  workload: w\n  methods: [GET]\n",
        )
        .unwrap()
    }

    #[test]
    fn each_service_names_its_own_identity_secret() {
        let env = Env::from_pairs([(
            "IDENTITY_SECRET_ARNS",
            "my-svc=arn:aws:secretsmanager:r:1:secret:p/identity/my-svc-AbCdEf, other=p/identity/other",
        )]);
        let arns = identity_secret_arns(&two(), &env).unwrap();
        assert_eq!(
            arns["my-svc"],
            "arn:aws:secretsmanager:r:1:secret:p/identity/my-svc-AbCdEf"
        );
        assert_eq!(arns["other"], "p/identity/other");
    }

    #[test]
    fn a_service_without_a_secret_or_an_unknown_or_repeated_one_is_refused() {
        for (value, says) in [
            ("my-svc=a", "no secret for service(s) other"),
            ("my-svc=a,other=b,ghost=c", "\"ghost\" is not registered"),
            ("my-svc=a,other=b,other=c", "named twice"),
            ("my-svc=a,other", "is not <service>=<secret ARN>"),
        ] {
            let env = Env::from_pairs([("IDENTITY_SECRET_ARNS", value)]);
            let e = identity_secret_arns(&two(), &env).unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains("IDENTITY_SECRET_ARNS"),
                "{value}: {e}"
            );
        }
        // The single shared key of earlier releases is refused, saying why.
        let env = Env::from_pairs([("IDENTITY_SECRET_ARN", "arn:shared")]);
        let e = identity_secret_arns(&two(), &env).unwrap_err().to_string();
        assert!(
            e.contains("no longer read") && e.contains("IDENTITY_SECRET_ARNS"),
            "{e}"
        );
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
