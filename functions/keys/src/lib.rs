//! The `keys` Lambda: API key management and the identity routes.
//!
//! | route | scope | what |
//! |---|---|---|
//! | `GET /v1/health` | none | database and AWS status, 200 or 503 |
//! | `GET /v1/me` | any principal | the authorizer's view of the caller |
//! | `GET /v1/keys` | `keys:admin` | the tenant's keys, newest first, cursor pagination |
//! | `POST /v1/keys` | `keys:admin` | create a key; the full key is returned once |
//! | `GET /v1/keys/{id}` | `keys:admin` | one key of the tenant |
//! | `DELETE /v1/keys/{id}` | `keys:admin` | revoke (idempotent), disable its usage key, flush the authorizer cache |
//! | `GET /v1/tenants` | `keys:admin` of the platform tenant | every tenant's entitlements |
//! | `GET /v1/tenants/{tenant}` | `keys:admin` of the platform tenant | one tenant's entitlements |
//! | `PUT /v1/tenants/{tenant}` | `keys:admin` of the platform tenant | set them; the tenant's usage key in its `user_plan` |
//!
//! Every Portcullis key has its own API Gateway usage key in its plan, and
//! every tenant one for its Cognito users (`portcullis_auth::usage`,
//! [`usage`]): throttles and quotas are per consumer.
//!
//! The gateway already enforces the scopes through the authorizer's policy;
//! the handler checks them again (defence in depth). Keys are created,
//! revoked and audited through `portcullis_auth::store` (the one store of
//! `api_keys`), each change in one transaction with its `audit_log` row.
//! See `docs/keys.md`.
//!
//! Metrics (`portcullis_core::metrics`, docs/observability.md#metrics):
//! `KeyCreated` and `KeyRevoked` once the change committed, each with the
//! account's API key count (`ApiKeyCount`, [`key_changed`]) when usage
//! plans are configured; `TenantChanged` for each stored `PUT
//! /v1/tenants/{tenant}`.

pub mod body;
mod error;
mod health;
mod routes;
pub mod usage;

pub use error::Error;
pub use portcullis_auth::store::{CreatedKey, KeyRecord};
pub use routes::{KeyView, handle};

use portcullis_auth::audit::Actor;
use portcullis_auth::store::{self, KeyName, NewKey};
use portcullis_auth::{Scope, Scopes, Tenant};
use portcullis_core::Env;
use portcullis_core::metrics::{Metric, Record};
use portcullis_core::runtime::StartError;
use portcullis_db::Database;
use portcullis_platform::Platform;
use std::collections::BTreeMap;
use std::time::Duration;

/// Configuration read once at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// REST API id and stage whose authorizer cache a revocation flushes
    /// (`APIGW_REST_API_ID`, `APIGW_STAGE`); both unset = skip the flush.
    pub flush_target: Option<(String, String)>,
    /// The tenant whose `keys:admin` holders may manage keys of any tenant
    /// (`PLATFORM_TENANT`, default `platform`).
    pub platform_tenant: Tenant,
    /// Usage plan names from `platform.yaml`.
    pub plans: Vec<String>,
    /// Private service names from `platform.yaml` (what `services:<x>`
    /// entitlements may name).
    pub services: Vec<String>,
    /// `USAGE_KEY_PREFIX` (default empty): the prefix of every usage key
    /// (`portcullis_auth::usage`), the same as the authorizer's.
    pub usage_key_prefix: String,
    /// `USAGE_PLAN_IDS` (`plan=<usage plan id>;...`, one per plan of
    /// platform.yaml): where usage keys go. Unset: no API Gateway usage keys
    /// are made (tests and runs without API Gateway); Terraform always sets it.
    pub usage_plan_ids: Option<BTreeMap<String, String>>,
    /// The plan of a key created without one (`DEFAULT_PLAN`, default `standard`).
    pub default_plan: String,
    /// Bound on each `/v1/health` dependency check (`HEALTH_TIMEOUT_MS`, default 2000).
    pub health_timeout: Duration,
    /// The AWS endpoint reported by `/v1/health`.
    pub aws_endpoint: String,
    /// The CORS policy of every answer (`CORS_*`, `portcullis_core::cors`).
    pub cors: portcullis_core::CorsPolicy,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, Error> {
        let flush_target = flush_target(env)?;
        let platform_tenant = env
            .get("PLATFORM_TENANT")
            .unwrap_or_else(|| "platform".to_owned())
            .parse::<Tenant>()
            .map_err(|e| {
                portcullis_core::ConfigError::invalid(
                    "PLATFORM_TENANT",
                    portcullis_auth::tenant::TENANT_SYNTAX,
                    e,
                )
            })?;
        // PLATFORM_FILE, else the registry compiled in (docs/decisions.md).
        let platform = Platform::from_env(env)?;
        let plans: Vec<String> = platform.usage_plans.names().map(str::to_owned).collect();
        let default_plan = default_plan(env, &plans)?;
        let services: Vec<String> = platform.services.0.keys().cloned().collect();
        let usage_key_prefix = env
            .get(portcullis_auth::usage::USAGE_KEY_PREFIX)
            .unwrap_or_default();
        portcullis_auth::usage::check_prefix(&usage_key_prefix).map_err(|e| {
            portcullis_core::ConfigError::invalid(
                portcullis_auth::usage::USAGE_KEY_PREFIX,
                portcullis_auth::usage::PREFIX_SYNTAX,
                e,
            )
        })?;
        let usage_plan_ids = env
            .get("USAGE_PLAN_IDS")
            .map(|raw| parse_usage_plan_ids(&raw, &plans))
            .transpose()?;
        let health_timeout = env.millis_or(
            "HEALTH_TIMEOUT_MS",
            Duration::from_millis(2000),
            Duration::from_millis(50),
            Duration::from_secs(10),
        )?;
        let aws_endpoint = apigateway_endpoint(env);
        Ok(Config {
            flush_target,
            platform_tenant,
            plans,
            services,
            usage_key_prefix,
            usage_plan_ids,
            default_plan,
            health_timeout,
            aws_endpoint,
            cors: portcullis_core::CorsPolicy::from_env(env)?,
        })
    }
}

/// Where to flush the authorizer cache after a key changes
/// (`APIGW_REST_API_ID` and `APIGW_STAGE`, both or neither).
fn flush_target(env: &Env) -> Result<Option<(String, String)>, Error> {
    Ok(
        match (env.get("APIGW_REST_API_ID"), env.get("APIGW_STAGE")) {
            (Some(api), Some(stage)) => Some((api, stage)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(portcullis_core::ConfigError::Missing {
                var: "APIGW_STAGE".into(),
                expected: "the stage name of APIGW_REST_API_ID (both set, or both unset to skip flushing the authorizer cache)".into(),
            }
            .into());
            }
            (None, Some(_)) => {
                return Err(portcullis_core::ConfigError::Missing {
                    var: "APIGW_REST_API_ID".into(),
                    expected:
                        "the REST API id that APIGW_STAGE belongs to (both set, or both unset)"
                            .into(),
                }
                .into());
            }
        },
    )
}

/// `DEFAULT_PLAN` (default `standard`), one of the registry's `plans`.
fn default_plan(env: &Env, plans: &[String]) -> Result<String, Error> {
    let default_plan = env
        .get("DEFAULT_PLAN")
        .unwrap_or_else(|| "standard".to_owned());
    if !plans.contains(&default_plan) {
        return Err(portcullis_core::ConfigError::invalid(
            "DEFAULT_PLAN",
            "the name of a usage plan in platform.yaml",
            format!(
                "{default_plan:?} is not among the usage plans ({})",
                plans.join(", ")
            ),
        )
        .into());
    }
    Ok(default_plan)
}

/// The API Gateway endpoint reported by `/v1/health`.
fn apigateway_endpoint(env: &Env) -> String {
    // The SDK prefers the service-specific override, then the global one.
    match env
        .get("AWS_ENDPOINT_URL_API_GATEWAY")
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
    {
        Some(url) => url,
        None => {
            let region = env
                .get("AWS_REGION")
                .or_else(|| env.get("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned());
            format!("https://apigateway.{region}.amazonaws.com")
        }
    }
}

/// `USAGE_PLAN_IDS="standard=abc123;gold=def456"`: the API Gateway usage
/// plan id of every plan of the registry (Terraform renders it).
pub fn parse_usage_plan_ids(
    raw: &str,
    plans: &[String],
) -> Result<BTreeMap<String, String>, portcullis_core::ConfigError> {
    const EXPECTED: &str = "plan=<API Gateway usage plan id> pairs separated by ';', one for each usage plan of platform.yaml";
    let bad = |why: String| portcullis_core::ConfigError::invalid("USAGE_PLAN_IDS", EXPECTED, why);
    let mut out = BTreeMap::new();
    for item in raw.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((plan, id)) = item.split_once('=') else {
            return Err(bad(format!("{item:?} has no '='")));
        };
        let (plan, id) = (plan.trim(), id.trim());
        if !plans.iter().any(|p| p == plan) {
            return Err(bad(format!(
                "{plan:?} is not a usage plan of platform.yaml ({})",
                plans.join(", ")
            )));
        }
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(bad(format!(
                "the id of plan {plan:?} is empty or not alphanumeric"
            )));
        }
        if out.insert(plan.to_owned(), id.to_owned()).is_some() {
            return Err(bad(format!("plan {plan:?} appears twice")));
        }
    }
    if let Some(missing) = plans.iter().find(|p| !out.contains_key(*p)) {
        return Err(bad(format!("plan {missing:?} has no usage plan id")));
    }
    Ok(out)
}

/// Everything a warm invocation reuses: configuration, pool, AWS client.
pub struct State {
    pub config: Config,
    pub db: Database,
    /// Built on first use (most requests call no API Gateway API).
    pub apigw: portcullis_aws::LazyClient<aws_sdk_apigateway::Client>,
}

impl State {
    /// Start-up from `env`: the configuration, the pool from
    /// `portcullis_db`, and the API Gateway client of the SDK configuration
    /// of `env` (`portcullis_aws::SdkSource`: an `Env::Map` is the
    /// function's own Lambda environment, credentials included), built by
    /// the first request that calls API Gateway.
    pub async fn from_env(env: &Env) -> Result<State, StartError> {
        let config = Config::from_env(env)?;
        let apigw = portcullis_aws::LazyClient::new(
            portcullis_aws::SdkSource::from_env(env)?,
            portcullis_aws::clients::api_gateway,
        );
        let db = Database::from_env(env).await?;
        Ok(State::new(config, db, apigw))
    }

    /// Explicit parts, for tests and the local gateway.
    pub fn new(
        config: Config,
        db: Database,
        apigw: impl Into<portcullis_aws::LazyClient<aws_sdk_apigateway::Client>>,
    ) -> State {
        State {
            config,
            db,
            apigw: apigw.into(),
        }
    }

    /// The usage-key operations, or `None` when `USAGE_PLAN_IDS` is unset.
    pub async fn usage_keys(&self) -> Option<usage::UsageKeys<'_>> {
        let plan_ids = self.config.usage_plan_ids.as_ref()?;
        Some(usage::UsageKeys {
            apigw: self.apigw.get().await,
            prefix: &self.config.usage_key_prefix,
            plan_ids,
        })
    }
}

/// The record of a key created or revoked (`metric`: `KeyCreated` or
/// `KeyRevoked`), after the commit. With `usage` (usage plans configured: a
/// real API Gateway) it also carries `ApiKeyCount`, the account's API keys
/// counted now ([`usage::UsageKeys::count_api_keys`]), for the alarm near
/// the 10,000-key quota; a count that fails is logged and left out.
pub async fn key_changed(usage: Option<usage::UsageKeys<'_>>, metric: Metric) {
    let mut record = Record::new().count(metric);
    if let Some(u) = usage {
        match u.count_api_keys().await {
            Ok(n) => record = record.add(Metric::ApiKeyCount, n),
            Err(e) => tracing::warn!(error = %e, "ApiKeyCount left out: the keys were not counted"),
        }
    }
    record.emit();
}

/// Create a `keys:admin` key for `tenant` outside any request (the
/// `create-admin-key` tool; `make local` runs it for the demo key), through
/// the same creation service as `POST /v1/keys`. The creation is audited
/// with principal `bootstrap`. The caller checks `plan` against the registry.
/// No API Gateway usage key is made: see [`bootstrap_admin_key_with_usage`].
pub async fn bootstrap_admin_key(
    db: &Database,
    tenant: &str,
    name: &str,
    plan: &str,
) -> Result<CreatedKey, Error> {
    bootstrap_admin_key_with_usage(db, None, tenant, name, plan).await
}

/// [`bootstrap_admin_key`], and with `usage` the key's API Gateway usage
/// key in its plan, as `POST /v1/keys` makes it: the key commits only once
/// the usage key exists (without one, API Gateway refuses the key).
pub async fn bootstrap_admin_key_with_usage(
    db: &Database,
    usage: Option<usage::UsageKeys<'_>>,
    tenant: &str,
    name: &str,
    plan: &str,
) -> Result<CreatedKey, Error> {
    let tenant: Tenant = tenant
        .parse()
        .map_err(|e: portcullis_auth::TenantError| Error::Invalid(e.to_string()))?;
    let name = KeyName::parse(name).map_err(|e| Error::Invalid(format!("key {e}")))?;
    let new = NewKey {
        name,
        tenant,
        scopes: Scopes::new([Scope::keys_admin()]),
        plan: plan.to_owned(),
        expires_at: None,
    };
    let mut tx = db.begin().await?;
    let created = store::create_in(&mut tx, &new, Actor::Bootstrap, None).await?;
    if let Some(u) = &usage {
        u.create_for_key(&created.record).await.map_err(|e| {
            Error::Invalid(format!(
                "the key was not created: its API Gateway usage key could not be made ({e}); check the AWS credentials and their API Gateway permissions, then run again"
            ))
        })?;
    }
    tx.commit().await.map_err(portcullis_db::DbError::from)?;
    key_changed(usage, Metric::KeyCreated).await;
    Ok(created)
}
