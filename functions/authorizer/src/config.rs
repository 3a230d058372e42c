//! The authorizer's configuration, read once from the environment
//! (see docs/auth.md for the table).

use crate::routes::RouteTable;
use portcullis_auth::{Scope, Tenant, usage};
use portcullis_core::{ConfigError, Env};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

/// Which Cognito token kind is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Access,
    Id,
    Any,
}

impl std::str::FromStr for TokenUse {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "access" => Ok(TokenUse::Access),
            "id" => Ok(TokenUse::Id),
            "any" => Ok(TokenUse::Any),
            other => Err(format!("{other:?} is not access, id or any")),
        }
    }
}

/// Cognito JWT verification settings.
#[derive(Debug, Clone)]
pub struct CognitoConfig {
    /// `https://cognito-idp.<region>.amazonaws.com/<pool-id>`, compared exactly with `iss`.
    pub issuer: String,
    /// Where the JWKS is fetched; `None` = only the pre-loaded keys.
    pub jwks_url: Option<String>,
    /// A JWKS document to start with (COGNITO_JWKS_JSON).
    pub jwks_json: Option<String>,
    pub token_use: TokenUse,
    pub client_ids: Vec<String>,
    pub leeway: Duration,
    pub jwks_timeout: Duration,
    pub jwks_penalty: Duration,
    pub scope_prefix: String,
    /// Cognito group → Portcullis scopes (role groups; COGNITO_GROUP_SCOPES).
    pub group_scopes: HashMap<String, Vec<Scope>>,
    /// Machine (client-credentials) app client id → its tenant
    /// (COGNITO_CLIENT_TENANTS). A client not listed is refused. Users get
    /// their tenant from their `tenant:<id>` group instead (docs/auth.md#tenancy).
    pub client_tenants: HashMap<String, Tenant>,
}

/// Everything the authorizer needs besides its connections.
#[derive(Clone)]
pub struct Config {
    /// `None`: JWTs are not accepted (API keys only).
    pub cognito: Option<CognitoConfig>,
    /// How long a verified API key stays cached (0 disables the cache).
    pub cache_ttl: Duration,
    pub cache_max_entries: usize,
    pub last_used_interval: Duration,
    /// `USAGE_KEY_PREFIX` (default empty): the prefix of every usage
    /// identifier (`portcullis_auth::usage`), the keys function's too.
    pub usage_key_prefix: String,
    pub routes: RouteTable,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("cognito", &self.cognito)
            .field("cache_ttl", &self.cache_ttl)
            .field("cache_max_entries", &self.cache_max_entries)
            .field("last_used_interval", &self.last_used_interval)
            .field("usage_key_prefix", &self.usage_key_prefix)
            .field("routes", &self.routes.routes().len())
            .finish()
    }
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let routes = match env.get("OPENAPI_FILE") {
            None => RouteTable::embedded()
                .map_err(|e| ConfigError::invalid("OPENAPI_FILE", "a valid api/openapi.yaml", e))?,
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError::invalid(
                        "OPENAPI_FILE",
                        "the path of a readable api/openapi.yaml",
                        e,
                    )
                })?;
                RouteTable::from_openapi(&text)
                    .and_then(|t| t.with_service_routes(crate::routes::EMBEDDED_SERVICE_ROUTES))
                    .map_err(|e| {
                        ConfigError::invalid("OPENAPI_FILE", "a valid api/openapi.yaml", e)
                    })?
            }
        };
        let cache_ttl = env.secs_or(
            "AUTH_CACHE_TTL_SECS",
            Duration::from_secs(60),
            Duration::ZERO,
            Duration::from_secs(3600),
        )?;
        let cache_max_entries: usize = env.parse_or(
            "AUTH_CACHE_MAX_ENTRIES",
            "a whole number of entries (0 disables the cache)",
            10_000,
        )?;
        if cache_max_entries > 1_000_000 {
            return Err(ConfigError::invalid(
                "AUTH_CACHE_MAX_ENTRIES",
                "at most 1000000",
                format!("{cache_max_entries} is out of range"),
            ));
        }
        let last_used_interval = env.secs_or(
            "AUTH_LAST_USED_INTERVAL_SECS",
            Duration::from_secs(300),
            Duration::ZERO,
            Duration::from_secs(86_400),
        )?;
        let usage_key_prefix = env.get(usage::USAGE_KEY_PREFIX).unwrap_or_default();
        usage::check_prefix(&usage_key_prefix)
            .map_err(|e| ConfigError::invalid(usage::USAGE_KEY_PREFIX, usage::PREFIX_SYNTAX, e))?;
        let cognito = match env.get("COGNITO_ISSUER") {
            None => None,
            Some(issuer) => Some(cognito_from_env(env, issuer)?),
        };
        Ok(Config {
            cognito,
            cache_ttl,
            cache_max_entries,
            last_used_interval,
            usage_key_prefix,
            routes,
        })
    }
}

fn cognito_from_env(env: &Env, issuer: String) -> Result<CognitoConfig, ConfigError> {
    let issuer = issuer.trim().to_owned();
    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) || issuer.ends_with('/') {
        return Err(ConfigError::invalid(
            "COGNITO_ISSUER",
            "https://cognito-idp.<region>.amazonaws.com/<user-pool-id> (no trailing slash)",
            "not an http(s) URL without a trailing slash",
        ));
    }
    let jwks_json = env.get("COGNITO_JWKS_JSON");
    let jwks_url = jwks_url(env, &issuer, jwks_json.is_some())?;
    let token_use: TokenUse =
        env.parse_or("COGNITO_TOKEN_USE", "access, id or any", TokenUse::Access)?;
    let client_ids = env.required_list(
        "COGNITO_CLIENT_IDS",
        "a comma-separated list of the Cognito app client ids whose tokens are accepted",
    )?;
    let leeway = env.secs_or(
        "JWT_LEEWAY_SECS",
        Duration::from_secs(30),
        Duration::ZERO,
        Duration::from_secs(300),
    )?;
    let jwks_timeout = env.millis_or(
        "JWKS_TIMEOUT_MS",
        Duration::from_millis(2000),
        Duration::from_millis(50),
        Duration::from_millis(10_000),
    )?;
    let jwks_penalty = env.secs_or(
        "JWKS_PENALTY_SECS",
        Duration::from_secs(60),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    )?;
    let scope_prefix = env
        .get("COGNITO_SCOPE_PREFIX")
        .unwrap_or_else(|| "portcullis/".to_owned());
    let group_scopes = parse_group_scopes(env.get("COGNITO_GROUP_SCOPES").as_deref())?;
    refuse_removed_tenant_settings(env)?;
    let client_tenants =
        parse_client_tenants(env.get("COGNITO_CLIENT_TENANTS").as_deref(), &client_ids)?;
    Ok(CognitoConfig {
        issuer,
        jwks_url,
        jwks_json,
        token_use,
        client_ids,
        leeway,
        jwks_timeout,
        jwks_penalty,
        scope_prefix,
        group_scopes,
        client_tenants,
    })
}

/// `COGNITO_JWKS_URL`, else the issuer's well-known JWKS unless the keys
/// are pre-loaded (`COGNITO_JWKS_JSON`).
fn jwks_url(env: &Env, issuer: &str, preloaded: bool) -> Result<Option<String>, ConfigError> {
    Ok(match env.get("COGNITO_JWKS_URL") {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            Some(u.trim().to_owned())
        }
        Some(_) => {
            return Err(ConfigError::invalid(
                "COGNITO_JWKS_URL",
                "an http(s) URL of the pool's JWKS",
                "not an http(s) URL",
            ));
        }
        // Pre-loaded keys and no URL: never fetch (no egress from the VPC).
        None if preloaded => None,
        None => Some(format!("{issuer}/.well-known/jwks.json")),
    })
}

/// Removed settings: a tenant from a token claim the user can write, or a
/// fallback tenant, let any Cognito user into a tenant by default. Refused rather than ignored,
/// so an old deployment does not start believing they still apply.
fn refuse_removed_tenant_settings(env: &Env) -> Result<(), ConfigError> {
    for removed in ["COGNITO_DEFAULT_TENANT", "COGNITO_TENANT_CLAIM"] {
        if env.get(removed).is_some() {
            return Err(ConfigError::invalid(
                removed,
                "unset (removed)",
                "a Cognito user's tenant now comes only from its `tenant:<tenant id>` group, \
                 and a machine client's from COGNITO_CLIENT_TENANTS (docs/auth.md#tenancy); \
                 remove this variable",
            ));
        }
    }
    Ok(())
}

/// `COGNITO_CLIENT_TENANTS="<client id>=<tenant>;<client id>=<tenant>"`: the
/// tenant of each machine (client-credentials) app client, set by an
/// administrator (Terraform's `cognito_machine_client_tenant`). Each client
/// must be one of COGNITO_CLIENT_IDS.
pub fn parse_client_tenants(
    raw: Option<&str>,
    client_ids: &[String],
) -> Result<HashMap<String, Tenant>, ConfigError> {
    const VAR: &str = "COGNITO_CLIENT_TENANTS";
    const EXPECTED: &str = "<app client id>=<tenant id> pairs separated by ';'";
    let mut out = HashMap::new();
    let Some(raw) = raw else { return Ok(out) };
    for item in raw.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let shown: String = item.chars().take(200).collect();
        let Some((client, tenant)) = item.split_once('=') else {
            return Err(ConfigError::invalid(
                VAR,
                EXPECTED,
                format!("{shown:?} has no '='"),
            ));
        };
        let (client, tenant) = (client.trim(), tenant.trim());
        if client.is_empty() {
            return Err(ConfigError::invalid(
                VAR,
                EXPECTED,
                format!("{shown:?} names no client"),
            ));
        }
        if !client_ids.iter().any(|c| c == client) {
            return Err(ConfigError::invalid(
                VAR,
                EXPECTED,
                format!("client {client:?} is not one of COGNITO_CLIENT_IDS"),
            ));
        }
        let tenant: Tenant = tenant
            .parse()
            .map_err(|e| ConfigError::invalid(VAR, EXPECTED, format!("client {client:?}: {e}")))?;
        if out.insert(client.to_owned(), tenant).is_some() {
            return Err(ConfigError::invalid(
                VAR,
                EXPECTED,
                format!("client {client:?} appears twice"),
            ));
        }
    }
    Ok(out)
}

/// `COGNITO_GROUP_SCOPES="admins=keys:admin jobs:read jobs:write;operators=jobs:read"`:
/// groups separated by `;`, each `group=` followed by space-separated scopes.
pub fn parse_group_scopes(raw: Option<&str>) -> Result<HashMap<String, Vec<Scope>>, ConfigError> {
    const EXPECTED: &str =
        "group=scope scope;group=scope (groups separated by ';', scopes by spaces)";
    let mut out = HashMap::new();
    let Some(raw) = raw else { return Ok(out) };
    for item in raw.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((group, scopes)) = item.split_once('=') else {
            return Err(ConfigError::invalid(
                "COGNITO_GROUP_SCOPES",
                EXPECTED,
                format!("{item:?} has no '='"),
            ));
        };
        let group = group.trim();
        if group.is_empty() {
            return Err(ConfigError::invalid(
                "COGNITO_GROUP_SCOPES",
                EXPECTED,
                "a group name is empty",
            ));
        }
        let scopes = Scope::parse_list(scopes).map_err(|e| {
            ConfigError::invalid(
                "COGNITO_GROUP_SCOPES",
                EXPECTED,
                format!("group {group:?}: {e}"),
            )
        })?;
        out.entry(group.to_owned())
            .or_insert_with(Vec::new)
            .extend(scopes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_without_cognito() {
        let c = Config::from_env(&Env::from_pairs::<&str, &str>([])).unwrap();
        assert!(c.cognito.is_none());
        assert_eq!(c.cache_ttl, Duration::from_secs(60));
        assert_eq!(c.last_used_interval, Duration::from_secs(300));
        assert_eq!(c.usage_key_prefix, "");
    }

    #[test]
    fn cognito_needs_client_ids_and_defaults_the_jwks_url() {
        let e = Config::from_env(&Env::from_pairs([(
            "COGNITO_ISSUER",
            "https://cognito-idp.x/p",
        )]))
        .unwrap_err();
        assert_eq!(e.var(), "COGNITO_CLIENT_IDS");
        let c = Config::from_env(&Env::from_pairs([
            ("COGNITO_ISSUER", "https://cognito-idp.x/p"),
            ("COGNITO_CLIENT_IDS", "a, b"),
        ]))
        .unwrap();
        let cg = c.cognito.unwrap();
        assert_eq!(
            cg.jwks_url.as_deref(),
            Some("https://cognito-idp.x/p/.well-known/jwks.json")
        );
        assert_eq!(cg.client_ids, vec!["a", "b"]);
        assert_eq!(cg.token_use, TokenUse::Access);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let base = [
            ("COGNITO_ISSUER", "https://i/p"),
            ("COGNITO_CLIENT_IDS", "a"),
        ];
        for (var, val) in [
            ("JWT_LEEWAY_SECS", "301"),
            ("COGNITO_TOKEN_USE", "refresh"),
            ("COGNITO_GROUP_SCOPES", "admins=root"),
            ("COGNITO_JWKS_URL", "ftp://x"),
            ("USAGE_KEY_PREFIX", "bad prefix"),
            ("AUTH_CACHE_TTL_SECS", "-1"),
        ] {
            let mut pairs = base.to_vec();
            pairs.push((var, val));
            let e = Config::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert_eq!(e.var(), var, "{e}");
        }
        let e =
            Config::from_env(&Env::from_pairs([("COGNITO_ISSUER", "https://i/p/")])).unwrap_err();
        assert_eq!(e.var(), "COGNITO_ISSUER");
    }

    #[test]
    fn the_usage_key_prefix_is_read_and_checked() {
        let c = Config::from_env(&Env::from_pairs([("USAGE_KEY_PREFIX", "pc-dev-")])).unwrap();
        assert_eq!(c.usage_key_prefix, "pc-dev-");
        let e = Config::from_env(&Env::from_pairs([("USAGE_KEY_PREFIX", "a_b")])).unwrap_err();
        assert_eq!(e.var(), "USAGE_KEY_PREFIX");
    }

    #[test]
    fn client_tenants_parse_in_the_documented_format() {
        let ids = vec!["m1".to_owned(), "m2".to_owned()];
        let m = parse_client_tenants(Some(" m1 = acme ; m2=platform;"), &ids).unwrap();
        assert_eq!(m["m1"].as_str(), "acme");
        assert_eq!(m["m2"].as_str(), "platform");
        assert!(parse_client_tenants(None, &ids).unwrap().is_empty());
        for bad in ["m1", "m1=", "=acme", "m3=acme", "m1=a b", "m1=a;m1=b"] {
            let e = parse_client_tenants(Some(bad), &ids).unwrap_err();
            assert_eq!(e.var(), "COGNITO_CLIENT_TENANTS", "{bad}: {e}");
        }
    }

    #[test]
    fn group_scopes_parse_in_the_documented_format() {
        let m = parse_group_scopes(Some(
            "admins=keys:admin jobs:read; ops = jobs:read services:echo",
        ))
        .unwrap();
        assert_eq!(Scope::join(&m["admins"]), "jobs:read keys:admin");
        assert_eq!(Scope::join(&m["ops"]), "jobs:read services:echo");
    }
}
