//! The `authorizer` Lambda: an API Gateway (REST) REQUEST authorizer.
//!
//! It accepts a Portcullis API key (`x-api-key: pcs_...` or
//! `Authorization: Bearer pcs_...`) or a Cognito JWT (`Authorization: Bearer
//! eyJ...`), and answers with an IAM policy that allows every route the
//! principal's scopes permit (from `api/openapi.yaml` and the scoped routes
//! platform.yaml's services declare), an explicit Deny when none is permitted
//! (403) and of each declared route of a service it may call whose scope it
//! lacks (`routes::RouteTable::for_each_denied`), the context {principal_id, principal_type,
//! tenant, scopes, key_id} and the caller's own `usageIdentifierKey`: the
//! API key's usage key, or for Cognito principals their tenant's
//! (`portcullis_auth::usage`; throttles and quotas are per consumer). For
//! an allowed request to an `integration: vpc_link` service the context also
//! carries the signed identity's `identity_timestamp` and
//! `identity_signature` ([`signing`]), over the path the service receives
//! (`/<stage><path_prefix>/<rest>`); one whose path under the service the
//! proxy's path rule refuses (`portcullis_core::path`) gets an explicit Deny
//! of its method ARN instead. Bad or missing credentials fail the
//! invocation with "Unauthorized" (401). See docs/auth.md.
//!
//! Metrics (`portcullis_core::metrics`, docs/observability.md#metrics): one
//! record per invocation from [`handle`], `AuthorizerDecision` by `Outcome`
//! ([`Outcome`]) with `AuthorizerCacheHit`; `JwksFetch` /
//! `JwksFetchFailure` ([`jwt`]) and `IdentitySigningFailure` ([`signing`])
//! when they happen.

pub mod cache;
pub mod config;
pub mod fetch;
pub mod jwt;
pub mod keys;
pub mod routes;
pub mod secrets;
pub mod signing;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use cache::{CacheKey, TtlCache, key_of};
use config::Config;
use portcullis_auth::store::KeyRejection;
use portcullis_auth::usage::{Consumer, usage_key};
use portcullis_auth::{PrincipalType, Scopes, Tenant, apikey};
use portcullis_core::metrics::{self, Dimension, Metric, Record};
use portcullis_core::runtime::StartError;
use portcullis_core::{ConfigError, Env};
use portcullis_db::{Database, LazyDatabase};
use routes::MethodArn;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use lambda_runtime::Error;

/// The error message that makes API Gateway answer 401.
pub const UNAUTHORIZED: &str = "Unauthorized";

/// The context the integrations receive in `requestContext.authorizer`:
/// the one type the HTTP functions read back (`AuthContext::from_request`).
pub use portcullis_auth::AuthContext;

/// The authorizer's answer, in the JSON shape of aws_lambda_events'
/// `ApiGatewayCustomAuthorizerResponse` (camelCase keys, `usageIdentifierKey`
/// null when absent), with a typed [`AuthContext`]. That library type needs
/// `Default` for its context, and a caller has no meaningful default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub principal_id: String,
    pub policy_document: ApiGatewayCustomAuthorizerPolicy,
    pub context: AuthContext,
    pub usage_identifier_key: Option<String>,
}
/// The event.
pub type Request = ApiGatewayCustomAuthorizerRequestTypeRequest;

/// Who the caller is, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalType,
    pub tenant: Tenant,
    pub scopes: Scopes,
    /// API keys: the row id.
    pub key_id: Option<Uuid>,
    /// API keys: the usage plan.
    pub plan: Option<String>,
}

/// A rejected invocation: "Unauthorized" for bad credentials (why, for the
/// metrics and logs only), anything else (database down, malformed event)
/// becomes API Gateway's 500.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Unauthorized")]
    Unauthorized(Refusal),
    #[error("authorizer failure: {0}")]
    Internal(String),
}

/// Why credentials were refused: the caller only ever sees "Unauthorized".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `x-api-key` and no `Authorization` header.
    NoCredential,
    /// A malformed, unknown or wrong API key (or credential header).
    BadKey,
    /// A revoked API key.
    Revoked,
    /// An expired API key or token.
    Expired,
    /// A token that does not verify (or two credentials naming different
    /// principals).
    BadToken,
    /// A verified Cognito identity with no tenant: a user in no (or more
    /// than one) `tenant:` group, a machine client COGNITO_CLIENT_TENANTS
    /// does not map.
    TenantNotProvisioned,
    /// The token could not be checked: the JWKS could not be fetched.
    Unverifiable,
}

/// The `Outcome` dimension of `AuthorizerDecision`
/// (`portcullis_core::metrics::AUTHORIZER_OUTCOMES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The answer's policy allows the requested method ARN.
    Allowed,
    Refused(Refusal),
    /// A verified principal whose answer denies the requested method ARN
    /// (no scope for it; or, for a `vpc_link` service, its path refused).
    ScopeMissing,
    /// A failure of the authorizer (500), or a token it could not check.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Refused(Refusal::NoCredential) => "no_credential",
            Outcome::Refused(Refusal::BadKey) => "bad_key",
            Outcome::Refused(Refusal::Revoked) => "revoked",
            Outcome::Refused(Refusal::Expired) => "expired",
            Outcome::Refused(Refusal::BadToken) => "bad_token",
            Outcome::Refused(Refusal::TenantNotProvisioned) => "tenant_not_provisioned",
            Outcome::ScopeMissing => "scope_missing",
            Outcome::Error | Outcome::Refused(Refusal::Unverifiable) => "error",
        }
    }
}

/// Built once per process.
pub struct State {
    config: Config,
    /// Built on the first API key look-up: the JWT path never touches it.
    db: LazyDatabase,
    verifier: Option<jwt::Verifier>,
    cache: TtlCache<Arc<Principal>>,
    /// Well-formed API keys the key store refused (unknown, wrong secret,
    /// revoked, expired) and why, for the same TTL and bound: a repeated
    /// one is refused with no look-up. Only ever a reason to refuse.
    refused: TtlCache<Refusal>,
    last_touched: Mutex<std::collections::HashMap<Uuid, Instant>>,
    background: Mutex<Vec<JoinHandle<()>>>,
    key_lookups: AtomicU64,
    /// The `vpc_link` services' identity keys (none: nothing is signed).
    signer: signing::Signer,
}

impl State {
    /// The state from `env` (the process environment in Lambda): the
    /// configuration, the database variables (DATABASE_URL / DB_IAM_AUTH;
    /// DB_SECRET_ARN is refused: the pool is built without Secrets Manager)
    /// and `IDENTITY_SECRET_ARNS` for the `integration: vpc_link` services
    /// enabled here (`DEPLOYMENT_ENVIRONMENT`) are read and checked now. No
    /// network call at start: the pool (sqlx connect options, credentials)
    /// is built on the first API key look-up, the JWKS fetched on the first
    /// JWT (unless `COGNITO_JWKS_JSON` pre-loads it), the identity keys read
    /// on the first request for a `vpc_link` service ([`signing::Signer`]).
    pub async fn from_env(env: &Env) -> Result<State, StartError> {
        let config = Config::from_env(env)?;
        let db = LazyDatabase::from_env(env)?;
        let signer = signing::Signer::from_env(env)?;
        Ok(State::with_database(config, db)?.with_signer(signer))
    }

    /// The same state signing identities for the `vpc_link` services of `signer`.
    pub fn with_signer(self, signer: signing::Signer) -> State {
        State { signer, ..self }
    }

    /// From explicit parts (tests, local gateway).
    pub fn new(config: Config, db: Database) -> Result<State, ConfigError> {
        State::with_database(config, LazyDatabase::ready(db))
    }

    /// From a configuration and a database built now or on first use.
    pub fn with_database(config: Config, db: LazyDatabase) -> Result<State, ConfigError> {
        let verifier = match &config.cognito {
            None => None,
            Some(c) => Some(jwt::Verifier::new(c.clone()).map_err(|e| {
                ConfigError::invalid(
                    "COGNITO_JWKS_JSON",
                    "a JWKS document with at least one RS256 key",
                    e,
                )
            })?),
        };
        let entries = if config.cache_ttl.is_zero() {
            0
        } else {
            config.cache_max_entries
        };
        Ok(State {
            cache: TtlCache::new(entries),
            refused: TtlCache::new(entries),
            config,
            db,
            verifier,
            last_touched: Mutex::new(std::collections::HashMap::new()),
            background: Mutex::new(Vec::new()),
            key_lookups: AtomicU64::new(0),
            signer: signing::Signer::default(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `vpc_link` services' signer (whether their keys were read yet).
    pub fn signer(&self) -> &signing::Signer {
        &self.signer
    }

    /// How many API key database look-ups ran since start.
    pub fn key_lookups(&self) -> u64 {
        self.key_lookups.load(Ordering::SeqCst)
    }

    /// Whether the database pool was built (the first API key look-up builds it).
    pub fn database_built(&self) -> bool {
        self.db.get_if_built().is_some()
    }

    /// How many JWKS fetches were attempted since start.
    pub fn jwks_fetches(&self) -> u64 {
        self.verifier.as_ref().map_or(0, |v| v.jwks().fetch_count())
    }

    /// Wait for background writes (`last_used_at`) started so far.
    pub async fn settle(&self) {
        let handles: Vec<_> =
            std::mem::take(&mut *self.background.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.await;
        }
    }

    /// Verify one credential (cache first).
    pub async fn verify(&self, credential: &str) -> Result<Arc<Principal>, AuthError> {
        self.verify_counted(credential, &mut 0).await
    }

    /// [`State::verify`], adding 1 to `cache_hits` when the cache answered.
    async fn verify_counted(
        &self,
        credential: &str,
        cache_hits: &mut u64,
    ) -> Result<Arc<Principal>, AuthError> {
        // No digest of the credential when the cache is off.
        let key = self.cache.is_enabled().then(|| key_of(credential));
        let now = Instant::now();
        if let Some(p) = key.and_then(|k| self.cache.get(&k, now)) {
            *cache_hits += 1;
            if let Some(id) = p.key_id {
                self.touch_later(id, None);
            }
            return Ok(p);
        }
        if apikey::looks_like_key(credential) {
            if let Some(why) = key.and_then(|k| self.refused.get(&k, now)) {
                tracing::info!("API key refused again within the cache TTL: no look-up");
                return Err(AuthError::Unauthorized(why));
            }
            let (p, left) = self.verify_key(credential, key).await?;
            let p = Arc::new(p);
            // Never past the key's expires_at, and no longer than the TTL.
            if let Some(key) = key {
                let ttl = left.map_or(self.config.cache_ttl, |l| l.min(self.config.cache_ttl));
                self.cache.insert(key, p.clone(), now + ttl, now);
            }
            Ok(p)
        } else {
            let (p, exp) = self.verify_jwt(credential).await?;
            let p = Arc::new(p);
            let now_unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let left = Duration::from_secs(exp.saturating_sub(now_unix));
            // Never past exp, and no longer than the TTL.
            if let Some(key) = key {
                self.cache
                    .insert(key, p.clone(), now + left.min(self.config.cache_ttl), now);
            }
            Ok(p)
        }
    }

    /// `key`: the credential's cache key, remembered in `refused` when the
    /// key store refuses it (not when the store is unavailable). With the
    /// principal: how long until the key expires, if it has an expiry.
    async fn verify_key(
        &self,
        credential: &str,
        key: Option<CacheKey>,
    ) -> Result<(Principal, Option<Duration>), AuthError> {
        let parsed = apikey::parse(credential).map_err(|e| {
            tracing::info!(reason = %e, "API key refused before any look-up");
            AuthError::Unauthorized(Refusal::BadKey)
        })?;
        self.key_lookups.fetch_add(1, Ordering::SeqCst);
        // Boxed: building the pool (secrets, IAM token) is a deep future, and
        // nesting it unboxed overflows the compiler's layout depth in the binary.
        let db = Box::pin(self.db.get()).await.map_err(|e| {
            tracing::error!(error = %e, "the database could not be set up");
            AuthError::Internal("the key store is unavailable".to_owned())
        })?;
        let found = keys::find(db, parsed.lookup_id()).await.map_err(|e| {
            tracing::error!(error = %e, lookup_id = %parsed.lookup_id(), "API key look-up failed");
            AuthError::Internal("the key store is unavailable".to_owned())
        })?;
        let r = portcullis_auth::store::check(&parsed, found, chrono::Utc::now()).map_err(|r| {
            tracing::info!(reason = r.as_str(), lookup_id = %parsed.lookup_id(), "API key refused");
            let why = match r {
                KeyRejection::Revoked => Refusal::Revoked,
                KeyRejection::Expired => Refusal::Expired,
                KeyRejection::Unknown | KeyRejection::WrongSecret => Refusal::BadKey,
            };
            if let Some(k) = key {
                let now = Instant::now();
                self.refused
                    .insert(k, why, now + self.config.cache_ttl, now);
            }
            AuthError::Unauthorized(why)
        })?;
        self.touch_later(r.id, r.last_used_at);
        let left = r
            .expires_at
            .map(|at| (at - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO));
        Ok((
            Principal {
                id: parsed.lookup_id().to_string(),
                kind: PrincipalType::ApiKey,
                tenant: r.tenant,
                scopes: r.scopes,
                key_id: Some(r.id),
                plan: Some(r.plan),
            },
            left,
        ))
    }

    async fn verify_jwt(&self, token: &str) -> Result<(Principal, u64), AuthError> {
        let Some(v) = &self.verifier else {
            tracing::info!("bearer token refused: Cognito is not configured (COGNITO_ISSUER)");
            return Err(AuthError::Unauthorized(Refusal::BadToken));
        };
        let t = v.verify(token).await.map_err(|e| {
            tracing::info!(reason = %e, "JWT refused");
            AuthError::Unauthorized(refusal_of(&e))
        })?;
        Ok((
            Principal {
                id: t.principal_id,
                kind: t.principal_type,
                tenant: t.tenant,
                scopes: Scopes::new(t.scopes),
                key_id: None,
                plan: None,
            },
            t.exp,
        ))
    }

    /// Write `last_used_at` off the answer's path, at most once per key per
    /// interval from this process (and the SQL no-ops when another did).
    fn touch_later(&self, id: Uuid, stored: Option<chrono::DateTime<chrono::Utc>>) {
        let interval = self.config.last_used_interval;
        let now = Instant::now();
        {
            let mut map = self.last_touched.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(t) = map.get(&id) {
                if now.duration_since(*t) < interval {
                    return;
                }
            }
            if map.len() >= 10_000 {
                map.clear();
            }
            map.insert(id, now);
        }
        if let Some(s) = stored {
            let age = chrono::Utc::now().signed_duration_since(s);
            if age.to_std().is_ok_and(|a| a < interval) {
                return;
            }
        }
        // Keys are only touched after a look-up, which built the database.
        let Some(db) = self.db.get_if_built().cloned() else {
            return;
        };
        let secs = interval.as_secs_f64();
        let handle = tokio::spawn(async move {
            if let Err(e) = keys::touch(&db, id, secs).await {
                tracing::warn!(key_id = %id, error = %e, "last_used_at not written");
            }
        });
        let mut bg = self.background.lock().unwrap_or_else(|p| p.into_inner());
        bg.retain(|h| !h.is_finished());
        bg.push(handle);
    }
}

/// Why a token was refused, as the metrics count it.
fn refusal_of(e: &jwt::JwtError) -> Refusal {
    use jwt::JwtError as J;
    match e {
        J::Expired => Refusal::Expired,
        J::NoTenantGroup
        | J::SeveralTenantGroups(..)
        | J::BadTenantGroup(..)
        | J::NoClientTenant(_) => Refusal::TenantNotProvisioned,
        J::JwksUnavailable(_) => Refusal::Unverifiable,
        _ => Refusal::BadToken,
    }
}

/// The credentials of a request: `x-api-key` and/or `Authorization: Bearer`.
fn credentials(event: &Request) -> Result<Vec<String>, AuthError> {
    let mut out: Vec<String> = Vec::new();
    for name in ["x-api-key", "authorization"] {
        // A malformed header: a bad key (x-api-key), else a bad token.
        let bad = AuthError::Unauthorized(if name == "x-api-key" {
            Refusal::BadKey
        } else {
            Refusal::BadToken
        });
        let mut values: Vec<&str> = Vec::new();
        for v in event
            .headers
            .get_all(name)
            .iter()
            .chain(event.multi_value_headers.get_all(name).iter())
        {
            let Ok(v) = v.to_str() else {
                return Err(bad);
            };
            if !values.contains(&v) {
                values.push(v);
            }
        }
        match values.as_slice() {
            [] => {}
            [v] => {
                let cred = if name == "authorization" {
                    let Some((scheme, rest)) = v.trim().split_once(' ') else {
                        return Err(bad);
                    };
                    if !scheme.eq_ignore_ascii_case("bearer") {
                        return Err(bad);
                    }
                    rest.trim()
                } else {
                    // x-api-key carries Portcullis keys only, never a JWT.
                    let k = v.trim();
                    if !apikey::looks_like_key(k) {
                        return Err(bad);
                    }
                    k
                };
                if cred.is_empty() || cred.len() > jwt::MAX_TOKEN_LEN {
                    return Err(bad);
                }
                out.push(cred.to_owned());
            }
            _ => {
                tracing::info!(
                    header = name,
                    "credential header sent more than once with different values"
                );
                return Err(bad);
            }
        }
    }
    out.dedup();
    Ok(out)
}

/// The authorizer's decision for one request.
pub async fn authorize(state: &State, event: &Request) -> Result<Response, AuthError> {
    authorize_counted(state, event, &mut 0).await
}

/// [`authorize`], adding the credential cache's answers to `cache_hits`.
async fn authorize_counted(
    state: &State,
    event: &Request,
    cache_hits: &mut u64,
) -> Result<Response, AuthError> {
    let method_arn = event
        .method_arn
        .as_deref()
        .ok_or_else(|| AuthError::Internal("the event has no methodArn".to_owned()))?;
    let arn = MethodArn::parse(method_arn).map_err(|e| AuthError::Internal(e.to_string()))?;
    let creds = credentials(event)?;
    // A request for a vpc_link service needs its key: the first one reads
    // it while the credential is verified (JWKS fetch, key look-up).
    let (principal, keys) = tokio::join!(
        principal(state, &creds, cache_hits),
        state.signer.load_for(event)
    );
    let principal = principal?;
    keys.map_err(|e| {
        metrics::count(Metric::IdentitySigningFailure, &[]);
        AuthError::Internal(e.to_string())
    })?;
    let mut answer = decision(state, &arn, &principal);
    state.signer.sign(event, method_arn, &mut answer);
    Ok(answer)
}

/// The verified principal of the request's credentials (one, or the same
/// principal twice).
async fn principal(
    state: &State,
    creds: &[String],
    cache_hits: &mut u64,
) -> Result<Arc<Principal>, AuthError> {
    let principal = match creds {
        [] => {
            tracing::info!("no credentials");
            return Err(AuthError::Unauthorized(Refusal::NoCredential));
        }
        [one] => state.verify_counted(one, cache_hits).await?,
        [a, b] => {
            let pa = state.verify_counted(a, cache_hits).await?;
            let pb = state.verify_counted(b, cache_hits).await?;
            if pa.id != pb.id || pa.kind != pb.kind {
                tracing::info!("x-api-key and Authorization name different principals");
                return Err(AuthError::Unauthorized(Refusal::BadToken));
            }
            pa
        }
        _ => return Err(AuthError::Unauthorized(Refusal::BadToken)),
    };
    Ok(principal)
}

/// The policy, context and usage key for a verified principal.
pub fn decision(state: &State, arn: &MethodArn, p: &Principal) -> Response {
    let mut resources = Vec::new();
    state
        .config
        .routes
        .for_each_permitted(&p.scopes, |r| resources.push(arn.resource(r)));
    let any_allowed = !resources.is_empty();
    let statement = if resources.is_empty() {
        tracing::info!(principal_id = %p.id, "no route permitted: explicit deny");
        let mut s = IamPolicyStatement::default();
        s.action = vec!["execute-api:Invoke".to_owned()];
        s.effect = IamPolicyEffect::Deny;
        s.resource = vec![arn.everything()];
        s
    } else {
        let mut s = IamPolicyStatement::default();
        s.action = vec!["execute-api:Invoke".to_owned()];
        s.effect = IamPolicyEffect::Allow;
        s.resource = resources;
        s
    };
    // The declared service routes (platform.yaml services.<name>.routes)
    // whose scope the principal lacks: the generic services:<name> Allow
    // matches them too, and an explicit Deny wins in API Gateway.
    let mut denied = Vec::new();
    state
        .config
        .routes
        .for_each_denied(&p.scopes, |r| denied.push(arn.resource(r)));
    let mut statements = vec![statement];
    if !denied.is_empty() && any_allowed {
        let mut s = IamPolicyStatement::default();
        s.action = vec!["execute-api:Invoke".to_owned()];
        s.effect = IamPolicyEffect::Deny;
        s.resource = denied;
        statements.push(s);
    }
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = statements;
    // Each API key is metered on its own usage key (in its plan); Cognito
    // principals (users and machine clients) on their tenant's (in the
    // tenant's user_plan). The keys function creates both under these names.
    let consumer = match p.key_id {
        Some(id) => Consumer::Key(id),
        None => Consumer::Tenant(&p.tenant),
    };
    let usage = usage_key(&state.config.usage_key_prefix, consumer);
    Response {
        principal_id: p.id.clone(),
        policy_document: policy,
        context: AuthContext {
            principal_id: p.id.clone(),
            principal_type: p.kind,
            tenant: p.tenant.clone(),
            scopes: p.scopes.clone(),
            key_id: p.key_id,
            identity_timestamp: None,
            identity_signature: None,
        },
        usage_identifier_key: Some(usage),
    }
}

/// The Lambda handler: `Err("Unauthorized")` → 401, other errors → 500.
/// Each invocation writes one metrics record: `AuthorizerDecision` by
/// [`Outcome`] (and `Tenant`, with the operator's opt-in, when the caller
/// was verified) and `AuthorizerCacheHit` (0, 1 or 2).
pub async fn handle(state: &State, event: Request) -> Result<Response, Error> {
    let mut cache_hits = 0;
    let result = authorize_counted(state, &event, &mut cache_hits).await;
    let outcome = outcome_of(&result, event.method_arn.as_deref().unwrap_or_default());
    let mut record = Record::new()
        .dimension(Dimension::Outcome, outcome.as_str())
        .count(Metric::AuthorizerDecision)
        .add(Metric::AuthorizerCacheHit, cache_hits);
    if let Ok(answer) = &result {
        record = record.tenant(answer.context.tenant.as_str());
    }
    record.emit();
    match result {
        Ok(r) => Ok(r),
        Err(AuthError::Unauthorized(_)) => Err(UNAUTHORIZED.into()),
        Err(AuthError::Internal(e)) => {
            tracing::error!(error = %e, "authorizer failure");
            Err(e.into())
        }
    }
}

/// The outcome of an invocation for `method_arn`: an answer is `allowed`
/// when its policy allows the method ARN as API Gateway evaluates it (an
/// Allow matches, no Deny does), else `scope_missing`.
pub fn outcome_of(result: &Result<Response, AuthError>, method_arn: &str) -> Outcome {
    match result {
        Ok(answer) if signing::allows(answer, method_arn) => Outcome::Allowed,
        Ok(_) => Outcome::ScopeMissing,
        Err(AuthError::Unauthorized(why)) => Outcome::Refused(*why),
        Err(AuthError::Internal(_)) => Outcome::Error,
    }
}
