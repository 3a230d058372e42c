//! Cognito JWT verification on `jsonwebtoken` (aws-lc-rs backend), after
//! awslabs/aws-jwt-verify:
//!
//! - RS256 only, whatever the header says; `kid` required; `crit` refused;
//! - the issuer is pinned and checked before any JWKS fetch;
//! - `token_use`, `client_id` (access) / `aud` (id) against an allowlist;
//! - `exp` required, `nbf` and `iat` honoured, with a bounded leeway;
//! - claims are read into a typed struct: an `exp`, `nbf` or `iat` given as
//!   a string, a float or a negative number is rejected (CVE-2026-25537
//!   class), before the token reaches `jsonwebtoken`;
//! - JWKS cached by `kid` as ready `DecodingKey`s, fetched with a short
//!   timeout ([`crate::fetch`]), refetched only for an unknown `kid` and at most once per
//!   penalty window, one fetch shared by concurrent callers; it may be
//!   pre-loaded from configuration. A fetched document is merged into the
//!   cache by `kid` (an empty or partial answer evicts nothing), within
//!   [`MAX_CACHED_KEYS`].
//!
//! `jsonwebtoken::decode` checks the signature (RS256 only), `exp`, `nbf`
//! and `iss`; the Cognito rules (`iat`, `token_use`, client, `sub`, tenant,
//! scopes) are checked here on the typed claims. The signature is checked
//! with the RSA key parsed once per `kid` (see [`provider`]).
//!
//! Tenancy (docs/auth.md#tenancy) comes only from what an administrator
//! controls: a user's tenant is its one `tenant:<id>` Cognito group and its
//! scopes are those its role groups grant (COGNITO_GROUP_SCOPES), narrowed
//! by the token's resource-server scopes when it carries any; a machine
//! client's tenant is its entry of COGNITO_CLIENT_TENANTS and its scopes
//! the token's (the client's allowed scopes are set by an administrator).
//! No claim a user can write (`custom:*`) is read.

use crate::config::{CognitoConfig, TokenUse};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use portcullis_auth::{PrincipalType, Scope, Tenant};
use portcullis_core::metrics::{self, Metric};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest token accepted (Cognito tokens are 1–4 KB).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Largest JWKS document accepted.
pub const MAX_JWKS_LEN: usize = 256 * 1024;
/// Most keys the JWKS cache holds (a Cognito pool publishes two); also the
/// most keys read from one document.
pub const MAX_CACHED_KEYS: usize = 64;
/// The prefix of the Cognito groups that carry a tenant: a member of
/// `tenant:acme` is a member of the tenant `acme`.
pub const TENANT_GROUP_PREFIX: &str = "tenant:";

/// Why a token was refused. Logged; the caller only ever sees "Unauthorized".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("algorithm {0:?} is not RS256")]
    Algorithm(String),
    #[error("the token header has no kid")]
    MissingKid,
    #[error("the token header has a crit parameter")]
    Crit,
    #[error("no key with this kid in the JWKS")]
    UnknownKid,
    #[error("the JWKS could not be fetched: {0}")]
    JwksUnavailable(String),
    #[error("bad signature")]
    Signature,
    #[error("claim {0} has the wrong JSON type or is malformed: {1}")]
    ClaimType(&'static str, String),
    #[error("issuer missing or not the configured one")]
    Issuer,
    #[error("token_use missing or not accepted")]
    TokenUse,
    #[error("client_id / aud missing or not in the allowlist")]
    Client,
    #[error("exp missing")]
    MissingExp,
    #[error("expired")]
    Expired,
    #[error("not valid yet (nbf)")]
    NotYetValid,
    #[error("issued in the future (iat)")]
    IssuedInFuture,
    #[error("sub missing")]
    MissingSub,
    #[error(
        "the user is in no `tenant:<tenant id>` group: an administrator adds it to exactly one \
         (aws cognito-idp admin-add-user-to-group; docs/auth.md#tenancy)"
    )]
    NoTenantGroup,
    #[error(
        "the user is in {0} `tenant:` groups ({1}): a user belongs to exactly one tenant; an \
         administrator removes it from the others (admin-remove-user-from-group)"
    )]
    SeveralTenantGroups(usize, String),
    #[error("the user's group {0:?} is `tenant:` followed by no valid tenant id: {1}")]
    BadTenantGroup(String, String),
    #[error(
        "machine client {0:?} has no tenant: COGNITO_CLIENT_TENANTS does not list it \
         (Terraform: cognito_machine_client_tenant)"
    )]
    NoClientTenant(String),
}

/// What is read of the header before `jsonwebtoken` (which reads it again,
/// strictly): `alg` as text, so a refused algorithm it has no name for
/// (`none`, `RS1`, ...) gets its own reason, `kid`, and whether `crit` is there.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// `aud`: a string (Cognito) or an array of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims Portcullis reads, with strict JSON types: numbers are u64
/// (a string, float, negative or null `exp` fails to deserialise). Read in
/// one pass by [`ClaimsSeed`]; a claim given twice is refused.
#[derive(Default)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<u64>,
    /// Typed here only (a string is refused); `jsonwebtoken` checks its value.
    nbf: Option<u64>,
    iat: Option<u64>,
    token_use: Option<String>,
    client_id: Option<String>,
    aud: Option<Audience>,
    scope: Option<String>,
    /// `cognito:groups`
    groups: Option<Vec<String>>,
    username: Option<String>,
    /// `cognito:username`
    cognito_username: Option<String>,
}

/// Reads [`Claims`] from the payload; other claims (`custom:*` among them)
/// are skipped without being kept.
struct ClaimsSeed;

impl<'de> serde::de::DeserializeSeed<'de> for ClaimsSeed {
    type Value = Claims;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Claims, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ClaimsSeed {
    type Value = Claims;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let mut c = Claims::default();
        // One bit per claim of CLAIMS read, to refuse a second occurrence.
        let mut seen: u32 = 0;
        while let Some(ClaimName(key)) = map.next_key::<ClaimName<'de>>()? {
            let Some(i) = CLAIMS.iter().position(|n| *n == key) else {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            };
            if seen & (1 << i) != 0 {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate claim `{key}`"
                )));
            }
            seen |= 1 << i;
            let name = CLAIMS.get(i).copied().unwrap_or("claim");
            match i {
                0 => c.iss = claim(&mut map, name)?,
                1 => c.sub = claim(&mut map, name)?,
                2 => c.exp = claim(&mut map, name)?,
                3 => c.nbf = claim(&mut map, name)?,
                4 => c.iat = claim(&mut map, name)?,
                5 => c.token_use = claim(&mut map, name)?,
                6 => c.client_id = claim(&mut map, name)?,
                7 => c.aud = claim(&mut map, name)?,
                8 => c.scope = claim(&mut map, name)?,
                9 => c.groups = claim(&mut map, name)?,
                10 => c.username = claim(&mut map, name)?,
                _ => c.cognito_username = claim(&mut map, name)?,
            }
        }
        Ok(c)
    }
}

/// The claims [`ClaimsSeed`] reads, by position.
const CLAIMS: [&str; 12] = [
    "iss",
    "sub",
    "exp",
    "nbf",
    "iat",
    "token_use",
    "client_id",
    "aud",
    "scope",
    "cognito:groups",
    "username",
    "cognito:username",
];

/// A claim's name, borrowed from the payload unless it holds escapes.
struct ClaimName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for ClaimName<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ClaimName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<ClaimName<'de>, E> {
                Ok(ClaimName(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<ClaimName<'de>, E> {
                Ok(ClaimName(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// One typed claim (`null` counts as absent); a type error names the claim.
fn claim<'de, T: Deserialize<'de>, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    name: &str,
) -> Result<Option<T>, A::Error> {
    map.next_value::<Option<T>>()
        .map_err(|e| serde::de::Error::custom(format_args!("claim `{name}`: {e}")))
}

/// A verified Cognito identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub` (users) or the client id (client-credentials tokens).
    pub principal_id: String,
    /// `User` or `Client`.
    pub principal_type: PrincipalType,
    pub tenant: Tenant,
    pub scopes: Vec<Scope>,
    /// `exp` in seconds since the epoch.
    pub exp: u64,
}

/// Verification keys by `kid`, each built once.
pub type Keys = HashMap<String, Arc<DecodingKey>>;

/// The JWKS cache.
pub struct Jwks {
    url: Option<String>,
    timeout: Duration,
    penalty: Duration,
    preloaded: Keys,
    keys: RwLock<Keys>,
    /// Single flight: one fetch at a time; holds the time of the last attempt.
    fetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

impl Jwks {
    pub fn new(
        url: Option<String>,
        preloaded_json: Option<&str>,
        timeout: Duration,
        penalty: Duration,
    ) -> Result<Self, String> {
        let preloaded = match preloaded_json {
            None => Keys::new(),
            Some(j) => {
                let keys = parse_jwks(j.as_bytes())?;
                if keys.is_empty() {
                    return Err("the JWKS holds no usable RS256 signing key".to_owned());
                }
                keys
            }
        };
        Ok(Jwks {
            url,
            timeout,
            penalty,
            keys: RwLock::new(preloaded.clone()),
            preloaded,
            fetch: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// How many JWKS fetches were attempted since start.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .cloned()
    }

    /// The key for `kid`: from the cache, or after one (shared, rate-limited) fetch.
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, JwtError> {
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        let Some(url) = &self.url else {
            return Err(JwtError::UnknownKid);
        };
        let mut last = self.fetch.lock().await;
        // Another caller may have fetched while we waited.
        if let Some(k) = self.cached(kid) {
            return Ok(k);
        }
        if let Some(t) = *last {
            if t.elapsed() < self.penalty {
                return Err(JwtError::UnknownKid);
            }
        }
        *last = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::SeqCst);
        metrics::count(Metric::JwksFetch, &[]);
        let fetched = self.download(url).await?;
        if fetched.is_empty() {
            tracing::warn!("the JWKS answer holds no usable RS256 key; the cached keys are kept");
        }
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let merged = merge_keys(&keys, &self.preloaded, fetched);
        tracing::info!(keys = merged.len(), "JWKS refreshed");
        let found = merged.get(kid).cloned();
        *keys = merged;
        found.ok_or(JwtError::UnknownKid)
    }

    /// One fetch of the JWKS document, bounded in time and size.
    async fn download(&self, url: &str) -> Result<Keys, JwtError> {
        let unavailable = |e: String| {
            tracing::warn!(error = %e, "JWKS fetch failed");
            metrics::count(Metric::JwksFetchFailure, &[]);
            JwtError::JwksUnavailable(e)
        };
        let body = tokio::time::timeout(self.timeout, crate::fetch::get(url, MAX_JWKS_LEN))
            .await
            .map_err(|_| unavailable(format!("no answer within {:?}", self.timeout)))?
            .map_err(unavailable)?;
        parse_jwks(&body).map_err(unavailable)
    }
}

/// The cache after a fetch: every key already cached, with the fetched
/// document's keys added or replacing theirs by `kid`, so an empty or
/// partial answer (a Cognito hiccup, a proxy's error page in JSON) evicts
/// nothing. Past [`MAX_CACHED_KEYS`], the fetched keys and then the
/// pre-loaded ones, while room remains.
fn merge_keys(current: &Keys, preloaded: &Keys, fetched: Keys) -> Keys {
    let kept = current.keys().filter(|k| !fetched.contains_key(*k)).count();
    if kept + fetched.len() <= MAX_CACHED_KEYS {
        let mut merged = current.clone();
        merged.extend(fetched);
        return merged;
    }
    tracing::warn!(
        bound = MAX_CACHED_KEYS,
        "the JWKS cache is full: keeping the fetched keys and the pre-loaded ones"
    );
    let mut merged = fetched;
    for (kid, k) in preloaded {
        if merged.len() >= MAX_CACHED_KEYS {
            break;
        }
        merged.entry(kid.clone()).or_insert_with(|| k.clone());
    }
    merged
}

#[derive(Deserialize)]
struct JwksDoc {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
    n: String,
    e: String,
}

/// The RS256 signing keys of a JWKS document, as `DecodingKey`s built once;
/// other keys are skipped.
pub fn parse_jwks(bytes: &[u8]) -> Result<Keys, String> {
    let doc: JwksDoc =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut out = Keys::new();
    for v in doc.keys {
        if out.len() >= MAX_CACHED_KEYS {
            tracing::warn!(
                bound = MAX_CACHED_KEYS,
                "JWKS document holds more keys than the cache keeps; the rest are skipped"
            );
            break;
        }
        let Ok(k) = serde_json::from_value::<Jwk>(v) else {
            continue;
        };
        if k.kty != "RSA"
            || k.alg.as_deref().is_some_and(|a| a != "RS256")
            || k.use_.as_deref().is_some_and(|u| u != "sig")
        {
            continue;
        }
        let (Ok(n), Ok(e)) = (
            URL_SAFE_NO_PAD.decode(k.n.trim_end_matches('=')),
            URL_SAFE_NO_PAD.decode(k.e.trim_end_matches('=')),
        ) else {
            tracing::warn!(kid = %k.kid, "JWKS key with bad base64 skipped");
            continue;
        };
        let strip = |b: &[u8]| -> Vec<u8> { b.iter().skip_while(|&&x| x == 0).copied().collect() };
        let (n, e) = (strip(&n), strip(&e));
        // RS256 verification checks the size only when verifying: refuse
        // weak or absurd keys now, with a log line.
        if !(256..=1024).contains(&n.len()) {
            tracing::warn!(kid = %k.kid, bits = n.len() * 8, "JWKS key skipped: modulus not 2048-8192 bits");
            continue;
        }
        // Parse the RSA key now, once: a bad one is skipped at load, and
        // every verification with this key reuses the parsed form.
        if provider::register(&n, &e).is_err() {
            tracing::warn!(kid = %k.kid, "JWKS key rejected (not a valid RSA key)");
            continue;
        }
        out.insert(
            k.kid,
            Arc::new(DecodingKey::from_rsa_raw_components(&n, &e)),
        );
    }
    Ok(out)
}

/// `jsonwebtoken`'s crypto provider, with RS256 verification on keys parsed
/// once.
///
/// The crate's aws-lc-rs provider builds the RSA key from its components on
/// every verification, Montgomery context included, which costs about as
/// much as the verification itself. This provider is that one except for
/// RS256 with a key the JWKS parser registered: it verifies with the
/// `ParsedPublicKey` made when the JWKS was read (same algorithm parameters,
/// RSA PKCS#1 v1.5 SHA-256 with 2048–8192-bit moduli). Any other key or
/// algorithm goes to the crate's own provider. `jsonwebtoken` takes a
/// provider as plain functions, hence the process-wide registry, keyed by
/// the modulus.
pub mod provider {
    use aws_lc_rs::signature::{
        ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    };
    use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, aws_lc};
    use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, LazyLock, Once, RwLock};

    /// Bound of the registry; past it, it starts over (keys then re-register
    /// with the next JWKS read, and verify meanwhile through the slow path).
    const MAX_KEYS: usize = 1024;

    struct Entry {
        e: Vec<u8>,
        key: Arc<ParsedPublicKey>,
        uses: Arc<AtomicU64>,
    }

    static REGISTRY: LazyLock<RwLock<HashMap<Vec<u8>, Entry>>> =
        LazyLock::new(|| RwLock::new(HashMap::new()));

    static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
        signer_factory: aws_lc::DEFAULT_PROVIDER.signer_factory,
        verifier_factory: new_verifier,
        jwk_utils: aws_lc::DEFAULT_PROVIDER.jwk_utils.clone(),
    });

    /// Make this the process's `jsonwebtoken` provider (once; before any
    /// token is decoded).
    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            if CryptoProvider::install_default(&PROVIDER).is_err() {
                tracing::warn!(
                    "another jsonwebtoken crypto provider is installed: RS256 keys are rebuilt \
                     on every verification"
                );
            }
        });
    }

    /// Parse an RSA public key (big-endian modulus and exponent, no leading
    /// zeros) and register it for RS256 verification.
    pub fn register(n: &[u8], e: &[u8]) -> Result<(), aws_lc_rs::error::KeyRejected> {
        let key =
            RsaPublicKeyComponents { n, e }.to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)?;
        let mut map = REGISTRY.write().unwrap_or_else(|p| p.into_inner());
        if map.get(n).is_some_and(|entry| entry.e == e) {
            return Ok(());
        }
        if map.len() >= MAX_KEYS {
            map.clear();
        }
        map.insert(
            n.to_vec(),
            Entry {
                e: e.to_vec(),
                key: Arc::new(key),
                uses: Arc::new(AtomicU64::new(0)),
            },
        );
        Ok(())
    }

    /// How many verifications used the parsed form of the key with modulus `n`.
    pub fn uses(n: &[u8]) -> u64 {
        REGISTRY
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(n)
            .map_or(0, |entry| entry.uses.load(Ordering::SeqCst))
    }

    struct Rs256 {
        key: Arc<ParsedPublicKey>,
        uses: Arc<AtomicU64>,
    }

    impl jsonwebtoken::signature::Verifier<Vec<u8>> for Rs256 {
        fn verify(
            &self,
            msg: &[u8],
            signature: &Vec<u8>,
        ) -> Result<(), jsonwebtoken::signature::Error> {
            self.uses.fetch_add(1, Ordering::Relaxed);
            self.key
                .verify_sig(msg, signature)
                .map_err(jsonwebtoken::signature::Error::from_source)
        }
    }

    impl JwtVerifier for Rs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::RS256
        }
    }

    fn new_verifier(
        algorithm: &Algorithm,
        key: &DecodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        if *algorithm == Algorithm::RS256 {
            if let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() {
                let map = REGISTRY.read().unwrap_or_else(|p| p.into_inner());
                if let Some(entry) = map.get(n.as_slice()).filter(|entry| entry.e == *e) {
                    return Ok(Box::new(Rs256 {
                        key: entry.key.clone(),
                        uses: entry.uses.clone(),
                    }));
                }
            }
        }
        (aws_lc::DEFAULT_PROVIDER.verifier_factory)(algorithm, key)
    }
}

/// Verifies Cognito tokens.
pub struct Verifier {
    cfg: CognitoConfig,
    jwks: Jwks,
    /// RS256 only, `exp` and `iss` required, `exp`/`nbf` with the leeway,
    /// `iss` pinned; `aud` is checked here (Cognito access tokens have none).
    validation: Validation,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn decode_part(part: &str, what: &'static str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(what))
}

impl Verifier {
    pub fn new(cfg: CognitoConfig) -> Result<Self, String> {
        provider::install();
        let jwks = Jwks::new(
            cfg.jwks_url.clone(),
            cfg.jwks_json.as_deref(),
            cfg.jwks_timeout,
            cfg.jwks_penalty,
        )?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = cfg.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[cfg.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        Ok(Verifier {
            cfg,
            jwks,
            validation,
        })
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// Verify a compact JWS and map it to a Portcullis identity.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed("too long"));
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed("not three dot-separated parts"));
        };
        if h64.is_empty() || p64.is_empty() || s64.is_empty() {
            return Err(JwtError::Malformed("an empty part"));
        }
        let kid = header_kid(h64)?;
        let payload = decode_part(p64, "payload is not base64url")?;
        let mut de = serde_json::Deserializer::from_slice(&payload);
        let claims = serde::de::DeserializeSeed::deserialize(ClaimsSeed, &mut de)
            .and_then(|c| de.end().map(|()| c))
            .map_err(|e| claim_error(&e))?;
        // Pin the issuer before any JWKS fetch: foreign tokens cost nothing.
        if claims.iss.as_deref() != Some(self.cfg.issuer.as_str()) {
            return Err(JwtError::Issuer);
        }
        // Checked before any JWKS fetch, without decoding: `jsonwebtoken`
        // decodes it (and refuses non-canonical base64 there).
        let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if s64.len() % 4 == 1 || !s64.bytes().all(base64url) {
            return Err(JwtError::Malformed("signature is not base64url"));
        }
        let key = self.jwks.key(&kid).await?;
        // Signature (RS256 only), exp, nbf, iss. The claims were typed above;
        // here they are only skipped over.
        jsonwebtoken::decode::<serde::de::IgnoredAny>(token, &key, &self.validation)
            .map_err(|e| library_error(e.kind()))?;
        self.check_claims(claims, now_secs())
    }

    /// What `jsonwebtoken` leaves to us: `iat`, `token_use`, the client
    /// allowlist, `sub`, the tenant and the scopes.
    fn check_claims(&self, c: Claims, now: u64) -> Result<VerifiedToken, JwtError> {
        let leeway = self.cfg.leeway.as_secs();
        let exp = c.exp.ok_or(JwtError::MissingExp)?;
        if let Some(iat) = c.iat {
            if iat > now.saturating_add(leeway) {
                return Err(JwtError::IssuedInFuture);
            }
        }
        let token_use = c.token_use.as_deref().ok_or(JwtError::TokenUse)?;
        let accepted = matches!(
            (self.cfg.token_use, token_use),
            (TokenUse::Access | TokenUse::Any, "access") | (TokenUse::Id | TokenUse::Any, "id")
        );
        if !accepted {
            return Err(JwtError::TokenUse);
        }
        if !self.client_allowed(token_use, &c) {
            return Err(JwtError::Client);
        }
        let sub = c
            .sub
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or(JwtError::MissingSub)?;
        // A client-credentials token: no user, the app client is the subject.
        let is_client = token_use == "access"
            && c.username.is_none()
            && c.cognito_username.is_none()
            && c.client_id.as_deref() == Some(sub.as_str());
        let requested = self.requested_scopes(c.scope.as_deref());
        let (tenant, mut scopes) = if is_client {
            // The tenant an administrator mapped the client to; its scopes
            // are the token's, within the client's allowed scopes (admin-set).
            let tenant = self
                .cfg
                .client_tenants
                .get(&sub)
                .cloned()
                .ok_or_else(|| JwtError::NoClientTenant(sub.chars().take(128).collect()))?;
            (tenant, requested.unwrap_or_default())
        } else {
            self.user_grant(c.groups.as_deref().unwrap_or_default(), requested)?
        };
        scopes.sort();
        scopes.dedup();
        Ok(VerifiedToken {
            principal_id: sub,
            principal_type: if is_client {
                PrincipalType::Client
            } else {
                PrincipalType::User
            },
            tenant,
            scopes,
            exp,
        })
    }

    /// Whether the token was issued to an allowed app client: its
    /// `client_id` (access tokens) or its audience (ID tokens).
    fn client_allowed(&self, token_use: &str, c: &Claims) -> bool {
        let allowed = |id: &str| self.cfg.client_ids.iter().any(|c| c == id);
        if token_use == "access" {
            c.client_id.as_deref().is_some_and(allowed)
        } else {
            match &c.aud {
                Some(Audience::One(a)) => allowed(a),
                Some(Audience::Many(v)) => !v.is_empty() && v.iter().any(|a| allowed(a)),
                None => false,
            }
        }
    }

    /// The token's resource-server scopes; `None` when it carries none
    /// (an unknown name under the prefix still counts as asking).
    fn requested_scopes(&self, scope: Option<&str>) -> Option<Vec<Scope>> {
        scope.and_then(|s| {
            let mut asked = false;
            let mut scopes = Vec::new();
            for item in s.split_whitespace() {
                let Some(rest) = item.strip_prefix(self.cfg.scope_prefix.as_str()) else {
                    continue;
                };
                asked = true;
                if let Ok(scope) = rest.replacen('.', ":", 1).parse::<Scope>() {
                    scopes.push(scope);
                }
            }
            asked.then_some(scopes)
        })
    }

    /// A user's tenant (from its groups) and scopes: what its groups grant,
    /// narrowed to what the token asked for, if it asked.
    fn user_grant(
        &self,
        groups: &[String],
        requested: Option<Vec<Scope>>,
    ) -> Result<(Tenant, Vec<Scope>), JwtError> {
        let tenant = user_tenant(groups)?;
        let granted: Vec<Scope> = groups
            .iter()
            .filter_map(|g| self.cfg.group_scopes.get(g))
            .flatten()
            .cloned()
            .collect();
        // A sign-in can narrow what the groups grant, never widen it.
        let scopes = match requested {
            None => granted,
            Some(asked) => asked.into_iter().filter(|s| granted.contains(s)).collect(),
        };
        Ok((tenant, scopes))
    }
}

/// A user's tenant: the one tenant named by its `tenant:<id>` groups.
fn user_tenant(groups: &[String]) -> Result<Tenant, JwtError> {
    let mut tenants: Vec<Tenant> = Vec::new();
    for g in groups {
        let Some(id) = g.strip_prefix(TENANT_GROUP_PREFIX) else {
            continue;
        };
        let shown = || g.chars().take(160).collect::<String>();
        let tenant: Tenant = id
            .parse()
            .map_err(|e: portcullis_auth::tenant::TenantError| {
                JwtError::BadTenantGroup(shown(), e.to_string())
            })?;
        if !tenants.contains(&tenant) {
            tenants.push(tenant);
        }
    }
    match tenants.len() {
        0 => Err(JwtError::NoTenantGroup),
        1 => Ok(tenants.swap_remove(0)),
        n => {
            let names: Vec<&str> = tenants.iter().take(8).map(Tenant::as_str).collect();
            Err(JwtError::SeveralTenantGroups(n, names.join(", ")))
        }
    }
}

/// The header's `kid`, once `alg` is RS256 and no `crit` is present.
fn header_kid(h64: &str) -> Result<String, JwtError> {
    let raw = decode_part(h64, "header is not base64url")?;
    let header: Header = serde_json::from_slice(&raw)
        .map_err(|_| JwtError::Malformed("header is not a JSON object with alg"))?;
    if header.alg != "RS256" {
        return Err(JwtError::Algorithm(header.alg.chars().take(16).collect()));
    }
    if header.crit.is_some() {
        return Err(JwtError::Crit);
    }
    header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(JwtError::MissingKid)
}

/// The refusal reason for a `jsonwebtoken` error.
fn library_error(kind: &ErrorKind) -> JwtError {
    match kind {
        ErrorKind::InvalidSignature => JwtError::Signature,
        ErrorKind::ExpiredSignature => JwtError::Expired,
        ErrorKind::ImmatureSignature => JwtError::NotYetValid,
        ErrorKind::InvalidIssuer => JwtError::Issuer,
        ErrorKind::MissingRequiredClaim(c) if c == "exp" => JwtError::MissingExp,
        ErrorKind::MissingRequiredClaim(_) => JwtError::Issuer,
        ErrorKind::InvalidClaimFormat(c) if c == "exp" => {
            JwtError::ClaimType("exp", "not a number".to_owned())
        }
        ErrorKind::InvalidClaimFormat(_) => JwtError::ClaimType("nbf", "not a number".to_owned()),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            JwtError::Algorithm("not RS256".to_owned())
        }
        ErrorKind::Base64(_) => JwtError::Malformed("a part is not base64url"),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => JwtError::Malformed("a part is not JSON"),
        _ => JwtError::Malformed("refused by the JWT library"),
    }
}

fn claim_error(e: &serde_json::Error) -> JwtError {
    let msg = e.to_string();
    let claim = [
        "exp",
        "nbf",
        "iat",
        "iss",
        "sub",
        "token_use",
        "client_id",
        "aud",
        "scope",
        "cognito:groups",
    ]
    .into_iter()
    .find(|c| msg.contains(&format!("`{c}`")))
    .unwrap_or("payload");
    JwtError::ClaimType(claim, msg.chars().take(120).collect())
}

#[cfg(test)]
mod tests {
    //! The exact reason for each refusal (the integration tests only see
    //! "Unauthorized").
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
    use serde_json::{Value, json};
    use std::sync::OnceLock;

    const ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X";

    fn pair() -> &'static RsaKeyPair {
        static K: OnceLock<RsaKeyPair> = OnceLock::new();
        K.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap())
    }

    fn b64(b: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(b)
    }

    fn sign(header: &Value, claims: &Value) -> String {
        sign_raw(&header.to_string(), &claims.to_string())
    }

    fn sign_raw(header: &str, claims: &str) -> String {
        let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let mut sig = vec![0u8; pair().public_modulus_len()];
        pair()
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                msg.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{msg}.{}", b64(&sig))
    }

    fn verifier() -> Verifier {
        let pk = pair().public_key();
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "k1", "n": b64(pk.modulus().big_endian_without_leading_zero()), "e": b64(pk.exponent().big_endian_without_leading_zero())}]});
        Verifier::new(CognitoConfig {
            issuer: ISS.to_owned(),
            jwks_url: None,
            jwks_json: Some(jwks.to_string()),
            token_use: TokenUse::Access,
            client_ids: vec!["c1".to_owned()],
            leeway: Duration::from_secs(30),
            jwks_timeout: Duration::from_secs(1),
            jwks_penalty: Duration::from_secs(60),
            scope_prefix: "portcullis/".to_owned(),
            group_scopes: HashMap::from([("readers".to_owned(), vec![Scope::jobs_read()])]),
            client_tenants: HashMap::from([("c1".to_owned(), "robots".parse().unwrap())]),
        })
        .unwrap()
    }

    fn claims() -> Value {
        let now = now_secs() as i64;
        json!({"iss": ISS, "sub": "s", "username": "u", "client_id": "c1", "token_use": "access", "exp": now + 60, "iat": now, "scope": "portcullis/jobs.read", "cognito:groups": ["tenant:t", "readers"]})
    }

    fn with(k: &str, v: Value) -> Value {
        let mut c = claims();
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v;
        }
        c
    }

    async fn reason(header: Value, claims: Value) -> JwtError {
        verifier()
            .verify(&sign(&header, &claims))
            .await
            .unwrap_err()
    }

    fn rs256() -> Value {
        json!({"alg": "RS256", "kid": "k1"})
    }

    #[tokio::test]
    async fn a_good_token_verifies() {
        let t = verifier().verify(&sign(&rs256(), &claims())).await.unwrap();
        assert_eq!(t.scopes, vec![Scope::jobs_read()]);
    }

    #[tokio::test]
    async fn each_refusal_has_its_own_reason() {
        let now = now_secs();
        assert_eq!(
            reason(json!({"alg": "none", "kid": "k1"}), claims()).await,
            JwtError::Algorithm("none".into())
        );
        assert_eq!(
            reason(json!({"alg": "HS256", "kid": "k1"}), claims()).await,
            JwtError::Algorithm("HS256".into())
        );
        assert_eq!(
            reason(json!({"alg": "PS256", "kid": "k1"}), claims()).await,
            JwtError::Algorithm("PS256".into())
        );
        assert_eq!(
            reason(json!({"alg": "RS256"}), claims()).await,
            JwtError::MissingKid
        );
        assert_eq!(
            reason(json!({"alg": "RS256", "kid": "k9"}), claims()).await,
            JwtError::UnknownKid
        );
        assert_eq!(
            reason(
                json!({"alg": "RS256", "kid": "k1", "crit": ["x"]}),
                claims()
            )
            .await,
            JwtError::Crit
        );
        assert_eq!(
            reason(rs256(), with("exp", Value::Null)).await,
            JwtError::MissingExp
        );
        assert_eq!(
            reason(rs256(), with("exp", json!(now - 31))).await,
            JwtError::Expired
        );
        assert_eq!(
            reason(rs256(), with("nbf", json!(now + 31))).await,
            JwtError::NotYetValid
        );
        assert_eq!(
            reason(rs256(), with("iat", json!(now + 31))).await,
            JwtError::IssuedInFuture
        );
        assert_eq!(
            reason(rs256(), with("iss", json!("https://x"))).await,
            JwtError::Issuer
        );
        assert_eq!(
            reason(rs256(), with("iss", Value::Null)).await,
            JwtError::Issuer
        );
        assert_eq!(
            reason(rs256(), with("token_use", json!("id"))).await,
            JwtError::TokenUse
        );
        assert_eq!(
            reason(rs256(), with("client_id", json!("c2"))).await,
            JwtError::Client
        );
        assert_eq!(
            reason(rs256(), with("sub", Value::Null)).await,
            JwtError::MissingSub
        );
    }

    #[tokio::test]
    async fn each_tenancy_refusal_has_its_own_reason() {
        let groups = |g: Value| with("cognito:groups", g);
        assert_eq!(
            reason(rs256(), groups(json!(["readers"]))).await,
            JwtError::NoTenantGroup
        );
        assert_eq!(
            reason(rs256(), with("cognito:groups", Value::Null)).await,
            JwtError::NoTenantGroup
        );
        assert!(matches!(
            reason(rs256(), groups(json!(["tenant:a", "tenant:b"]))).await,
            JwtError::SeveralTenantGroups(2, names) if names == "a, b"
        ));
        assert!(matches!(
            reason(rs256(), groups(json!(["tenant:a b"]))).await,
            JwtError::BadTenantGroup(g, _) if g == "tenant:a b"
        ));
        // A client-credentials token of a client with no tenant mapping.
        let mut c = with("client_id", json!("c2"));
        c["sub"] = json!("c2");
        c.as_object_mut().unwrap().remove("username");
        let mut cfg = verifier().cfg;
        cfg.client_ids.push("c2".to_owned());
        let v = Verifier::new(cfg).unwrap();
        assert_eq!(
            v.verify(&sign(&rs256(), &c)).await.unwrap_err(),
            JwtError::NoClientTenant("c2".to_owned())
        );
    }

    #[tokio::test]
    async fn users_get_their_tenant_groups_tenant_and_clients_their_mapped_one() {
        let t = verifier().verify(&sign(&rs256(), &claims())).await.unwrap();
        assert_eq!(t.tenant.as_str(), "t");
        assert_eq!(t.principal_type, PrincipalType::User);
        let mut c = with("sub", json!("c1"));
        c.as_object_mut().unwrap().remove("username");
        let t = verifier().verify(&sign(&rs256(), &c)).await.unwrap();
        assert_eq!(t.principal_type, PrincipalType::Client);
        assert_eq!(t.tenant.as_str(), "robots");
        assert_eq!(t.scopes, vec![Scope::jobs_read()]);
    }

    #[test]
    fn a_jwks_merge_keeps_cached_keys_and_stays_bounded() {
        let pk = pair().public_key();
        let key = Arc::new(DecodingKey::from_rsa_raw_components(
            pk.modulus().big_endian_without_leading_zero(),
            pk.exponent().big_endian_without_leading_zero(),
        ));
        let keys =
            |names: &[String]| -> Keys { names.iter().map(|n| (n.clone(), key.clone())).collect() };
        let names = |prefix: &str, n: usize| -> Vec<String> {
            (0..n).map(|i| format!("{prefix}{i}")).collect()
        };
        let pre = keys(&names("pre", 2));
        let mut current = pre.clone();
        current.extend(keys(&names("old", 3)));
        // Empty and partial answers evict nothing.
        let merged = merge_keys(&current, &pre, Keys::new());
        assert_eq!(merged.len(), 5);
        let merged = merge_keys(&current, &pre, keys(&names("old", 1)));
        assert_eq!(merged.len(), 5);
        let merged = merge_keys(&current, &pre, keys(&names("new", 2)));
        assert_eq!(merged.len(), 7);
        // Past the bound: the fetched keys, then the pre-loaded ones.
        let fetched = keys(&names("new", MAX_CACHED_KEYS - 1));
        let merged = merge_keys(&merged, &pre, fetched);
        assert_eq!(merged.len(), MAX_CACHED_KEYS);
        assert!(
            merged.contains_key("new0")
                && merged.contains_key(&format!("new{}", MAX_CACHED_KEYS - 2))
        );
        assert_eq!(merged.keys().filter(|k| k.starts_with("pre")).count(), 1);
        assert!(!merged.keys().any(|k| k.starts_with("old")));
    }

    #[test]
    fn a_jwks_document_is_read_up_to_the_cache_bound() {
        let pk = pair().public_key();
        let n = b64(pk.modulus().big_endian_without_leading_zero());
        let e = b64(pk.exponent().big_endian_without_leading_zero());
        let doc = json!({"keys": (0..MAX_CACHED_KEYS + 5)
            .map(|i| json!({"kty": "RSA", "kid": format!("k{i}"), "n": n, "e": e}))
            .collect::<Vec<_>>()});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), MAX_CACHED_KEYS);
    }

    #[tokio::test]
    async fn numeric_claims_given_as_strings_are_type_errors() {
        let now = now_secs();
        for claim in ["exp", "nbf", "iat"] {
            let r = reason(rs256(), with(claim, json!((now + 60).to_string()))).await;
            assert!(
                matches!(r, JwtError::ClaimType(c, _) if c == claim),
                "{claim}: {r:?}"
            );
        }
        let r = reason(rs256(), with("exp", json!(1.5e12))).await;
        assert!(matches!(r, JwtError::ClaimType(..)), "{r:?}");
    }

    #[tokio::test]
    async fn a_claim_given_twice_is_refused() {
        let now = now_secs();
        let c = claims().to_string();
        let body = c.trim_end_matches('}');
        for twice in [
            format!(r#"{body},"exp":{}}}"#, now + 600),
            format!(r#"{body},"iss":"{ISS}"}}"#),
            format!(r#"{body},"cognito:groups":["tenant:b"]}}"#),
        ] {
            let t = sign_raw(&rs256().to_string(), &twice);
            let r = verifier().verify(&t).await.unwrap_err();
            assert!(matches!(r, JwtError::ClaimType(..)), "{twice}: {r:?}");
        }
        // Trailing bytes after the object are refused too.
        let t = sign_raw(&rs256().to_string(), &format!("{c} x"));
        assert!(matches!(
            verifier().verify(&t).await.unwrap_err(),
            JwtError::ClaimType(..)
        ));
    }

    #[tokio::test]
    async fn a_bad_signature_is_reported_as_such() {
        let t = sign(&rs256(), &claims());
        let (head, sig) = t.rsplit_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
        raw[10] ^= 1;
        let t = format!("{head}.{}", b64(&raw));
        assert_eq!(
            verifier().verify(&t).await.unwrap_err(),
            JwtError::Signature
        );
    }

    #[tokio::test]
    async fn a_key_is_built_once_per_kid_and_shared_by_every_verification() {
        let v = verifier();
        let first = v.jwks().key("k1").await.unwrap();
        v.verify(&sign(&rs256(), &claims())).await.unwrap();
        let second = v.jwks().key("k1").await.unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    #[tokio::test]
    async fn rs256_verifies_with_the_key_parsed_when_the_jwks_was_read() {
        // A key of its own, so no other test moves its counter.
        let own = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pk = own.public_key();
        let n = pk.modulus().big_endian_without_leading_zero().to_vec();
        let e = pk.exponent().big_endian_without_leading_zero().to_vec();
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "own", "n": b64(&n), "e": b64(&e)}]});
        let mut cfg = verifier().cfg;
        cfg.jwks_json = Some(jwks.to_string());
        let v = Verifier::new(cfg).unwrap();
        let msg = format!(
            "{}.{}",
            b64(json!({"alg": "RS256", "kid": "own"}).to_string().as_bytes()),
            b64(claims().to_string().as_bytes())
        );
        let mut sig = vec![0u8; own.public_modulus_len()];
        own.sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            msg.as_bytes(),
            &mut sig,
        )
        .unwrap();
        let token = format!("{msg}.{}", b64(&sig));
        assert_eq!(provider::uses(&n), 0);
        v.verify(&token).await.unwrap();
        v.verify(&token).await.unwrap();
        assert_eq!(provider::uses(&n), 2);
    }

    #[test]
    fn a_key_missing_from_the_registry_still_verifies_through_the_crates_provider() {
        provider::install();
        let own = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pk = own.public_key();
        let key = DecodingKey::from_rsa_raw_components(
            pk.modulus().big_endian_without_leading_zero(),
            pk.exponent().big_endian_without_leading_zero(),
        );
        let msg = b"header.payload";
        let mut sig = vec![0u8; own.public_modulus_len()];
        own.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .unwrap();
        let sig64 = b64(&sig);
        assert!(jsonwebtoken::crypto::verify(&sig64, msg, &key, Algorithm::RS256).unwrap());
        assert!(
            !jsonwebtoken::crypto::verify(&sig64, b"header.other", &key, Algorithm::RS256).unwrap()
        );
        assert_eq!(
            provider::uses(pk.modulus().big_endian_without_leading_zero()),
            0
        );
    }

    #[test]
    fn jwks_documents_keep_only_rs256_signing_keys() {
        let pk = pair().public_key();
        let n = b64(pk.modulus().big_endian_without_leading_zero());
        let e = b64(pk.exponent().big_endian_without_leading_zero());
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": n, "e": e, "alg": "RS256", "use": "sig"},
            {"kty": "RSA", "kid": "b", "n": n, "e": e, "alg": "RS512"},
            {"kty": "RSA", "kid": "c", "n": n, "e": e, "use": "enc"},
            {"kty": "EC", "kid": "d", "crv": "P-256", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "e", "n": "AQAB", "e": e},
            {"kty": "RSA", "kid": "f", "n": "***", "e": e},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, vec!["a"]);
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"not json").is_err());
    }
}
