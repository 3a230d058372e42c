//! Signed identity headers: HMAC-SHA256 signing (the proxy, and the
//! authorizer for `vpc_link` services) and verification (private services).
//!
//! A private service learns who the caller is from these headers:
//!
//! | header | value |
//! |---|---|
//! | `x-portcullis-principal` | principal id from the authorizer |
//! | `x-portcullis-principal-type` | `api_key`, `user`, `client` (`anonymous` on a public route) |
//! | `x-portcullis-tenant` | tenant |
//! | `x-portcullis-scopes` | space-separated scopes |
//! | `x-portcullis-timestamp` | Unix seconds when the identity was signed |
//! | `x-portcullis-content-sha256` | lower-case hex SHA-256 of the exact body bytes sent, or `UNSIGNED-PAYLOAD` |
//! | `x-portcullis-signature` | `v2=<hex HMAC-SHA256>` |
//!
//! The signature (scheme v2) covers a canonical string made of a version tag,
//! the HTTP method, the request target, the digest field, and every identity
//! value, one per line. Header values cannot hold a line feed (and a signed
//! path holds no control character), so the string is unambiguous.
//! Two kinds of signer use it, and [`verify`] accepts both:
//!
//! | signer ([`VerifiedIdentity::body_signed`]) | target signed | digest field | left unsigned |
//! |---|---|---|---|
//! | the proxy function, `integration: lambda` ([`sign`]; `true`) | path and query exactly as sent | hex SHA-256 of the body | nothing |
//! | the authorizer, `integration: vpc_link` ([`sign_unsigned_payload`]; `false`) | the path only, percent-decoded, no query | the literal [`UNSIGNED_PAYLOAD`] | the body and the query string |
//!
//! Signing the method and target means a captured signature cannot be
//! replayed against another endpoint; signing the body digest means it cannot
//! be replayed with another body (the verifier hashes the body it received
//! and refuses a mismatch); the timestamp bounds replay of the *same* request
//! to the allowed skew (60 s by default). Scheme v1 (no body digest) is refused.
//!
//! An API Gateway REQUEST authorizer never sees the body, so a `vpc_link`
//! identity says nothing about it nor about the query: whoever captures one
//! can, within the skew window, send the same method and path with another
//! body or query under that identity. A service that needs more checks
//! `body_signed`. The digest field is part of the signed string, so a
//! proxy signature never verifies as an `UNSIGNED-PAYLOAD` one, nor the
//! reverse. `x-portcullis-scopes` may be absent from an `UNSIGNED-PAYLOAD`
//! request (API Gateway drops a header mapped from an empty context value):
//! it then reads as no scopes, and the signature decides.
//!
//! Keys: every service has its own key (the proxy holds the `lambda`
//! services' keys, the authorizer the `vpc_link` ones'; each signs with the
//! target service's key), so a service can verify — and could forge — only
//! identities addressed to itself. Key rotation: [`verify`] accepts a list
//! of keys (current, then previous), so a service keeps working while the
//! signer switches to a new key. With the `keys` feature, [`keys`] loads
//! the signers' keys (`IDENTITY_SECRET_ARNS`) from a Secrets Manager reader
//! (`secrets-manager`: the SDK's client).
//!
//! A private service reads its key(s) and mount path with [`service`]
//! ([`service::ServiceConfig::from_env`]).

use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq;

#[cfg(feature = "keys")]
pub mod keys;
pub mod service;

/// Every header whose name starts with this prefix is an identity header; the
/// proxy drops all of them from client requests.
pub const HEADER_PREFIX: &str = "x-portcullis-";
pub const PRINCIPAL: &str = "x-portcullis-principal";
pub const PRINCIPAL_TYPE: &str = "x-portcullis-principal-type";
pub const TENANT: &str = "x-portcullis-tenant";
pub const SCOPES: &str = "x-portcullis-scopes";
pub const TIMESTAMP: &str = "x-portcullis-timestamp";
pub const SIGNATURE: &str = "x-portcullis-signature";
/// Hex SHA-256 of the body bytes, covered by the signature; or
/// [`UNSIGNED_PAYLOAD`].
pub const CONTENT_SHA256: &str = "x-portcullis-content-sha256";
/// The `x-portcullis-content-sha256` value (and digest field of the signed
/// string) of an identity signed without the body: by the authorizer, for a
/// `vpc_link` service ([`sign_unsigned_payload`]).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The default accepted clock skew between proxy and service.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(60);
/// Keys shorter than this are refused (HMAC-SHA256 wants at least 256 bits).
pub const MIN_KEY_BYTES: usize = 32;

/// The signature scheme signed and the only one accepted.
pub const VERSION: &str = "v2";
const CANONICAL_TAG: &str = "portcullis-identity-v2";

type HmacSha256 = Hmac<Sha256>;

/// What went wrong signing or verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("identity header {0} is missing")]
    Missing(&'static str),
    #[error("identity header {header} is malformed: {reason}")]
    Malformed {
        header: &'static str,
        reason: String,
    },
    #[error(
        "the identity timestamp is {skew_secs} s away from now; the limit is {max_secs} s (stale or replayed request, or clocks out of sync)"
    )]
    Stale { skew_secs: u64, max_secs: u64 },
    #[error(
        "the identity signature does not match (tampered headers, another endpoint, or a key that is not this service's)"
    )]
    BadSignature,
    #[error(
        "the request body does not match the signed x-portcullis-content-sha256 (changed in transit, or a signature replayed with another body)"
    )]
    BodyMismatch,
    #[error(
        "identity signature scheme {version} is not accepted; only v2 (which covers the body) is: upgrade the proxy, or the portcullis-identity crate of the sender"
    )]
    Unsupported { version: String },
    #[error("identity value for {field} cannot be sent as a header: {reason}")]
    Unsendable { field: &'static str, reason: String },
    #[error(
        "the identity signing key is invalid: {0}; expected base64 of at least 32 random bytes (e.g. `openssl rand -base64 32`)"
    )]
    BadKey(String),
}

/// An HMAC key. Never printed.
#[derive(Clone)]
pub struct SigningKey(SecretSlice<u8>);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// A key from raw bytes (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(IdentityError::BadKey(format!(
                "it is {} bytes long, at least {MIN_KEY_BYTES} are required",
                bytes.len()
            )));
        }
        Ok(SigningKey(SecretSlice::from(bytes.to_vec())))
    }

    /// A key from its base64 text form (the Secrets Manager secret string, or
    /// the `IDENTITY_SECRET` variable of a service). Surrounding whitespace is ignored.
    pub fn from_base64(text: &str) -> Result<Self, IdentityError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| IdentityError::BadKey(format!("it is not base64 ({e})")))?;
        Self::from_bytes(&bytes)
    }

    fn mac(&self) -> HmacSha256 {
        // Infallible: HMAC accepts keys of any length.
        <HmacSha256 as Mac>::new_from_slice(self.0.expose_secret())
            .expect("HMAC takes keys of any length")
    }
}

/// Who the caller is, as the proxy asserts it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    pub principal: String,
    pub principal_type: String,
    pub tenant: String,
    pub scopes: Vec<String>,
}

/// An identity whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifiedIdentity {
    pub principal: String,
    pub principal_type: String,
    pub tenant: String,
    pub scopes: Vec<String>,
    /// Unix seconds when the identity was signed.
    pub timestamp: i64,
    /// `true`: the signature covers the body and the whole target, query
    /// included (the proxy's); `false`: an [`UNSIGNED_PAYLOAD`] identity
    /// (the authorizer's, `vpc_link`), covering the path but not the body
    /// nor the query.
    pub body_signed: bool,
}

impl VerifiedIdentity {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Lower-case hex SHA-256 of `body` (the `x-portcullis-content-sha256` value).
pub fn content_sha256(body: &[u8]) -> String {
    hex(&Sha256::digest(body))
}

fn canonical(
    method: &Method,
    target: &str,
    digest: &str,
    id: &Identity,
    scopes: &str,
    timestamp: i64,
) -> String {
    format!(
        "{CANONICAL_TAG}\n{}\n{target}\n{digest}\n{}\n{}\n{}\n{scopes}\n{timestamp}",
        method.as_str(),
        id.principal,
        id.principal_type,
        id.tenant
    )
}

fn header_value(field: &'static str, v: &str) -> Result<HeaderValue, IdentityError> {
    if v.is_empty() && field != "scopes" {
        return Err(IdentityError::Unsendable {
            field,
            reason: "it is empty".to_owned(),
        });
    }
    if v.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
        return Err(IdentityError::Unsendable {
            field,
            reason: "only printable ASCII can be sent".to_owned(),
        });
    }
    HeaderValue::from_str(v).map_err(|e| IdentityError::Unsendable {
        field,
        reason: e.to_string(),
    })
}

/// Sign `identity` for a request `method target` carrying `body` at
/// `timestamp` (Unix seconds), with the target service's key. `target` is the
/// path and query exactly as the service will receive them (`/items/1?x=1`);
/// `body` the exact bytes sent. Returns the seven identity headers.
pub fn sign(
    identity: &Identity,
    method: &Method,
    target: &str,
    body: &[u8],
    timestamp: i64,
    key: &SigningKey,
) -> Result<HeaderMap, IdentityError> {
    signed_headers(
        identity,
        method,
        target,
        &content_sha256(body),
        timestamp,
        key,
    )
}

/// Sign `identity` for a request `method path` without its body, at
/// `timestamp` (Unix seconds), with the target service's key: what the
/// authorizer does for a `vpc_link` service, which it reaches without
/// seeing the body. `path` is the path the service receives (a query, if
/// any, is dropped; percent-escapes are decoded, as [`verify`] does).
/// Returns the seven identity headers, `x-portcullis-content-sha256` being
/// [`UNSIGNED_PAYLOAD`]. A path that does not decode to UTF-8 text without
/// control characters is refused.
pub fn sign_unsigned_payload(
    identity: &Identity,
    method: &Method,
    path: &str,
    timestamp: i64,
    key: &SigningKey,
) -> Result<HeaderMap, IdentityError> {
    let path = signed_path(path).ok_or_else(|| IdentityError::Unsendable {
        field: "path",
        reason: "it does not decode to UTF-8 text without control characters".to_owned(),
    })?;
    signed_headers(identity, method, &path, UNSIGNED_PAYLOAD, timestamp, key)
}

/// The target an [`UNSIGNED_PAYLOAD`] signature covers: the path of
/// `target` without its query, percent-decoded; `None` when that is not
/// UTF-8 or holds a control character (never signed).
fn signed_path(target: &str) -> Option<String> {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    (!decoded.chars().any(char::is_control)).then(|| decoded.into_owned())
}

/// The seven headers for `identity`, signed over `target` and `digest`.
fn signed_headers(
    identity: &Identity,
    method: &Method,
    target: &str,
    digest: &str,
    timestamp: i64,
    key: &SigningKey,
) -> Result<HeaderMap, IdentityError> {
    if identity
        .scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return Err(IdentityError::Unsendable {
            field: "scopes",
            reason: "a scope is empty or holds whitespace".to_owned(),
        });
    }
    let scopes = identity.scopes.join(" ");
    let mut headers = HeaderMap::with_capacity(7);
    headers.insert(
        HeaderName::from_static(PRINCIPAL),
        header_value("principal", &identity.principal)?,
    );
    headers.insert(
        HeaderName::from_static(PRINCIPAL_TYPE),
        header_value("principal_type", &identity.principal_type)?,
    );
    headers.insert(
        HeaderName::from_static(TENANT),
        header_value("tenant", &identity.tenant)?,
    );
    headers.insert(
        HeaderName::from_static(SCOPES),
        header_value("scopes", &scopes)?,
    );
    headers.insert(
        HeaderName::from_static(TIMESTAMP),
        HeaderValue::from(timestamp),
    );
    headers.insert(
        HeaderName::from_static(CONTENT_SHA256),
        header_value("content_sha256", digest)?,
    );
    let mut mac = key.mac();
    mac.update(canonical(method, target, digest, identity, &scopes, timestamp).as_bytes());
    let sig = format!("{VERSION}={}", hex(&mac.finalize().into_bytes()));
    headers.insert(
        HeaderName::from_static(SIGNATURE),
        header_value("signature", &sig)?,
    );
    Ok(headers)
}

fn get<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, IdentityError> {
    let mut values = headers.get_all(name).iter();
    let v = values.next().ok_or(IdentityError::Missing(name))?;
    if values.next().is_some() {
        return Err(IdentityError::Malformed {
            header: name,
            reason: "it is repeated".to_owned(),
        });
    }
    v.to_str().map_err(|_| IdentityError::Malformed {
        header: name,
        reason: "it is not printable ASCII".to_owned(),
    })
}

/// The 32 bytes of `text`, 64 hex digits, or `None`.
fn sha256_hex(text: &str) -> Option<Vec<u8>> {
    unhex(text).filter(|b| b.len() == 32)
}

/// Verify the identity headers of a request `method target` whose body is
/// `body` (the exact bytes received), at `now` (Unix seconds), against any of
/// `keys` (this service's current key first, then its previous one).
/// `target` is the path and query as received; the same call serves both
/// kinds of identity (module documentation): with `x-portcullis-content-sha256:
/// UNSIGNED-PAYLOAD` only the path of `target` (percent-decoded, query
/// dropped) is compared, the body is not, and the result says
/// `body_signed: false`.
/// Rejects missing, repeated or malformed headers, a signature scheme other
/// than v2, a timestamp more than `max_skew` away from `now`, any signature
/// that does not match, and a body whose SHA-256 is not the signed one.
pub fn verify(
    headers: &HeaderMap,
    method: &Method,
    target: &str,
    body: &[u8],
    now: i64,
    keys: &[SigningKey],
    max_skew: Duration,
) -> Result<VerifiedIdentity, IdentityError> {
    let signature = get(headers, SIGNATURE)?;
    // Read before the rest: only an UNSIGNED-PAYLOAD identity may lack the
    // scopes header (API Gateway drops a header mapped from an empty value).
    let unsigned_payload = headers
        .get(CONTENT_SHA256)
        .is_some_and(|v| v.as_bytes() == UNSIGNED_PAYLOAD.as_bytes());
    let principal = get(headers, PRINCIPAL)?;
    let principal_type = get(headers, PRINCIPAL_TYPE)?;
    let tenant = get(headers, TENANT)?;
    let scopes = match get(headers, SCOPES) {
        Err(IdentityError::Missing(_)) if unsigned_payload => "",
        other => other?,
    };
    let ts_text = get(headers, TIMESTAMP)?;
    let timestamp: i64 = ts_text.parse().map_err(|_| IdentityError::Malformed {
        header: TIMESTAMP,
        reason: "expected whole Unix seconds".to_owned(),
    })?;
    let given = signature_mac(signature)?;
    let signed_digest = get(headers, CONTENT_SHA256)?;
    if !unsigned_payload && sha256_hex(signed_digest).is_none() {
        return Err(IdentityError::Malformed {
            header: CONTENT_SHA256,
            reason: format!("expected 64 hex digits (SHA-256 of the body) or {UNSIGNED_PAYLOAD}"),
        });
    }
    check_skew(now, timestamp, max_skew)?;
    // An UNSIGNED-PAYLOAD identity covers the received path only; a path
    // that cannot have been signed (not UTF-8, a control character) matches
    // no signature.
    let signed_target = if unsigned_payload {
        signed_path(target).ok_or(IdentityError::BadSignature)?
    } else {
        target.to_owned()
    };
    let identity = Identity {
        principal: principal.to_owned(),
        principal_type: principal_type.to_owned(),
        tenant: tenant.to_owned(),
        scopes: scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let text = canonical(
        method,
        &signed_target,
        signed_digest,
        &identity,
        scopes,
        timestamp,
    );
    if !any_key_signed(keys, &text, &given) {
        return Err(IdentityError::BadSignature);
    }
    // The headers are the signer's: now the body must be the one it signed
    // (an UNSIGNED-PAYLOAD signer never saw it).
    if !unsigned_payload && !signed_digest.eq_ignore_ascii_case(&content_sha256(body)) {
        return Err(IdentityError::BodyMismatch);
    }
    Ok(VerifiedIdentity {
        principal: identity.principal,
        principal_type: identity.principal_type,
        tenant: identity.tenant,
        scopes: identity.scopes,
        timestamp,
        body_signed: !unsigned_payload,
    })
}

/// The MAC of an `x-portcullis-signature` value, `v2=<64 hex digits>`; a
/// well-formed other version is unsupported, anything else malformed.
fn signature_mac(signature: &str) -> Result<Vec<u8>, IdentityError> {
    let malformed_signature = || IdentityError::Malformed {
        header: SIGNATURE,
        reason: format!("expected {VERSION}=<64 hex digits>"),
    };
    let (version, mac_hex) = signature.split_once('=').ok_or_else(malformed_signature)?;
    if version != VERSION {
        let known = version.len() <= 8 && version.bytes().all(|b| b.is_ascii_alphanumeric());
        if !known {
            return Err(malformed_signature());
        }
        return Err(IdentityError::Unsupported {
            version: version.to_owned(),
        });
    }
    sha256_hex(mac_hex).ok_or_else(malformed_signature)
}

/// A signing time at most `max_skew` away from `now`.
fn check_skew(now: i64, timestamp: i64, max_skew: Duration) -> Result<(), IdentityError> {
    let skew = now.abs_diff(timestamp);
    if skew > max_skew.as_secs() {
        return Err(IdentityError::Stale {
            skew_secs: skew,
            max_secs: max_skew.as_secs(),
        });
    }
    Ok(())
}

/// Whether any of `keys` signed `text` with the MAC `given`. Every key is
/// checked (no early exit) so timing says nothing about which matched.
fn any_key_signed(keys: &[SigningKey], text: &str, given: &[u8]) -> bool {
    let mut matched = subtle::Choice::from(0u8);
    for key in keys {
        let mut mac = key.mac();
        mac.update(text.as_bytes());
        matched |= mac.finalize().into_bytes().as_slice().ct_eq(given);
    }
    bool::from(matched)
}

/// True for a header name the proxy must never pass from a client.
pub fn is_identity_header(name: &str) -> bool {
    name.len() >= HEADER_PREFIX.len()
        && name[..HEADER_PREFIX.len()].eq_ignore_ascii_case(HEADER_PREFIX)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::from_bytes(&[byte; 32]).unwrap()
    }

    fn alice() -> Identity {
        Identity {
            principal: "key_abc".into(),
            principal_type: "api_key".into(),
            tenant: "acme".into(),
            scopes: vec!["services:sample".into(), "jobs:read".into()],
        }
    }

    const NOW: i64 = 1_800_000_000;
    const TARGET: &str = "/items?a=1&a=2";
    const BODY: &[u8] = br#"{"name":"box"}"#;

    fn signed() -> HeaderMap {
        sign(&alice(), &Method::POST, TARGET, BODY, NOW, &key(1)).unwrap()
    }

    /// `verify` of a POST to TARGET with BODY at `now`, against `keys`.
    fn check(
        h: &HeaderMap,
        now: i64,
        keys: &[SigningKey],
    ) -> Result<VerifiedIdentity, IdentityError> {
        verify(h, &Method::POST, TARGET, BODY, now, keys, DEFAULT_MAX_SKEW)
    }

    /// A signature made the way v1 did (no body digest): what a proxy of the
    /// previous release, or anyone holding an old capture, would send.
    fn v1_signed(
        id: &Identity,
        method: &Method,
        target: &str,
        ts: i64,
        k: &SigningKey,
    ) -> HeaderMap {
        let scopes = id.scopes.join(" ");
        let text = format!(
            "portcullis-identity-v1\n{}\n{target}\n{}\n{}\n{}\n{scopes}\n{ts}",
            method.as_str(),
            id.principal,
            id.principal_type,
            id.tenant
        );
        let mut mac = k.mac();
        mac.update(text.as_bytes());
        let mut h = HeaderMap::new();
        h.insert(PRINCIPAL, HeaderValue::from_str(&id.principal).unwrap());
        h.insert(
            PRINCIPAL_TYPE,
            HeaderValue::from_str(&id.principal_type).unwrap(),
        );
        h.insert(TENANT, HeaderValue::from_str(&id.tenant).unwrap());
        h.insert(SCOPES, HeaderValue::from_str(&scopes).unwrap());
        h.insert(TIMESTAMP, HeaderValue::from(ts));
        let sig = format!("v1={}", hex(&mac.finalize().into_bytes()));
        h.insert(SIGNATURE, HeaderValue::from_str(&sig).unwrap());
        h
    }

    #[test]
    fn signed_headers_verify_and_return_the_identity() {
        let v = check(&signed(), NOW + 5, &[key(1)]).unwrap();
        assert_eq!(v.principal, "key_abc");
        assert_eq!(v.tenant, "acme");
        assert_eq!(v.scopes, vec!["services:sample", "jobs:read"]);
        assert!(v.has_scope("jobs:read"));
        assert_eq!(v.timestamp, NOW);
    }

    #[test]
    fn the_signature_is_v2_and_carries_the_body_digest() {
        let h = signed();
        let sig = h[SIGNATURE].to_str().unwrap();
        assert!(sig.starts_with("v2=") && sig.len() == 3 + 64, "{sig}");
        // SHA-256 of the exact body bytes, lower-case hex.
        assert_eq!(
            h[CONTENT_SHA256],
            "3b515b74b84e73561ec1c9a610ee542a253adf71b48439a426f60a085640313c"
        );
        assert_eq!(
            content_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let empty = sign(&alice(), &Method::GET, "/", b"", NOW, &key(1)).unwrap();
        assert_eq!(empty[CONTENT_SHA256], content_sha256(b""));
    }

    #[test]
    fn a_changed_body_is_refused() {
        let h = signed();
        for other in [&br#"{"name":"crate"}"#[..], b"", b"{\"name\":\"box\"} "] {
            assert_eq!(
                verify(
                    &h,
                    &Method::POST,
                    TARGET,
                    other,
                    NOW,
                    &[key(1)],
                    DEFAULT_MAX_SKEW
                )
                .unwrap_err(),
                IdentityError::BodyMismatch,
                "{:?}",
                String::from_utf8_lossy(other)
            );
        }
        // A digest header rewritten to match the new body breaks the signature.
        let mut h = signed();
        h.insert(
            CONTENT_SHA256,
            HeaderValue::from_str(&content_sha256(b"evil")).unwrap(),
        );
        assert_eq!(
            verify(
                &h,
                &Method::POST,
                TARGET,
                b"evil",
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            IdentityError::BadSignature
        );
    }

    #[test]
    fn a_missing_or_malformed_body_digest_is_refused() {
        let mut h = signed();
        h.remove(CONTENT_SHA256);
        assert_eq!(
            check(&h, NOW, &[key(1)]).unwrap_err(),
            IdentityError::Missing(CONTENT_SHA256)
        );
        let mut h = signed();
        h.insert(CONTENT_SHA256, HeaderValue::from_static("abc"));
        assert!(matches!(
            check(&h, NOW, &[key(1)]),
            Err(IdentityError::Malformed {
                header: CONTENT_SHA256,
                ..
            })
        ));
    }

    #[test]
    fn a_signature_made_with_another_services_key_is_refused() {
        // Each service has its own key: what the proxy signs for service B
        // (or what B itself forges) never verifies at service A.
        let for_b = sign(&alice(), &Method::POST, TARGET, BODY, NOW, &key(2)).unwrap();
        assert_eq!(
            check(&for_b, NOW, &[key(1)]).unwrap_err(),
            IdentityError::BadSignature
        );
        assert!(check(&for_b, NOW, &[key(2)]).is_ok());
    }

    #[test]
    fn a_v1_signature_is_refused_even_with_the_right_key() {
        let h = v1_signed(&alice(), &Method::POST, TARGET, NOW, &key(1));
        let e = check(&h, NOW, &[key(1)]).unwrap_err();
        assert_eq!(
            e,
            IdentityError::Unsupported {
                version: "v1".into()
            }
        );
        assert!(e.to_string().contains("v2"), "{e}");
        let mut h = signed();
        h.insert(SIGNATURE, HeaderValue::from_static("v3=00"));
        assert!(matches!(
            check(&h, NOW, &[key(1)]),
            Err(IdentityError::Unsupported { .. })
        ));
    }

    #[test]
    fn tampered_tenant_is_rejected() {
        let mut h = signed();
        h.insert(TENANT, HeaderValue::from_static("other"));
        assert_eq!(
            check(&h, NOW, &[key(1)]).unwrap_err(),
            IdentityError::BadSignature
        );
    }

    #[test]
    fn tampered_scopes_are_rejected() {
        let mut h = signed();
        h.insert(
            SCOPES,
            HeaderValue::from_static("services:sample jobs:read keys:admin"),
        );
        assert_eq!(
            check(&h, NOW, &[key(1)]).unwrap_err(),
            IdentityError::BadSignature
        );
    }

    #[test]
    fn signature_cannot_be_replayed_to_another_method_or_path() {
        let h = signed();
        for (m, t) in [
            (Method::DELETE, TARGET),
            (Method::POST, "/admin?a=1&a=2"),
            (Method::POST, "/items?a=1"),
        ] {
            assert_eq!(
                verify(&h, &m, t, BODY, NOW, &[key(1)], DEFAULT_MAX_SKEW).unwrap_err(),
                IdentityError::BadSignature,
                "{m} {t}"
            );
        }
    }

    #[test]
    fn stale_and_future_timestamps_are_rejected() {
        for now in [NOW + 61, NOW - 61] {
            let e = check(&signed(), now, &[key(1)]).unwrap_err();
            assert!(
                matches!(e, IdentityError::Stale { skew_secs: 61, .. }),
                "{e:?}"
            );
        }
    }

    #[test]
    fn unknown_key_is_rejected_and_previous_key_is_accepted_during_rotation() {
        let h = signed();
        assert_eq!(
            check(&h, NOW, &[key(2)]).unwrap_err(),
            IdentityError::BadSignature
        );
        assert!(check(&h, NOW, &[key(2), key(1)]).is_ok());
    }

    #[test]
    fn unsigned_request_is_rejected_as_missing_signature() {
        let mut h = signed();
        h.remove(SIGNATURE);
        assert_eq!(
            check(&h, NOW, &[key(1)]).unwrap_err(),
            IdentityError::Missing(SIGNATURE)
        );
    }

    #[test]
    fn repeated_or_malformed_headers_are_rejected() {
        let mut h = signed();
        h.append(TENANT, HeaderValue::from_static("acme"));
        assert!(matches!(
            check(&h, NOW, &[key(1)]),
            Err(IdentityError::Malformed { header: TENANT, .. })
        ));
        let mut h = signed();
        h.insert(SIGNATURE, HeaderValue::from_static("v2=zz"));
        assert!(matches!(
            check(&h, NOW, &[key(1)]),
            Err(IdentityError::Malformed {
                header: SIGNATURE,
                ..
            })
        ));
        let mut h = signed();
        h.insert(TIMESTAMP, HeaderValue::from_static("yesterday"));
        assert!(matches!(
            check(&h, NOW, &[key(1)]),
            Err(IdentityError::Malformed {
                header: TIMESTAMP,
                ..
            })
        ));
    }

    #[test]
    fn values_that_cannot_be_headers_are_refused_when_signing() {
        let mut id = alice();
        id.tenant = "ac\nme".into();
        assert!(matches!(
            sign(&id, &Method::GET, "/", b"", NOW, &key(1)),
            Err(IdentityError::Unsendable {
                field: "tenant",
                ..
            })
        ));
        let mut id = alice();
        id.scopes = vec!["a b".into()];
        assert!(sign(&id, &Method::GET, "/", b"", NOW, &key(1)).is_err());
    }

    #[test]
    fn short_or_non_base64_keys_are_refused_and_keys_never_print() {
        assert!(SigningKey::from_base64("c2hvcnQ=").is_err());
        assert!(SigningKey::from_base64("not base64!").is_err());
        let k = SigningKey::from_base64("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=").unwrap();
        assert!(!format!("{k:?}").contains("MDEy"));
    }

    /// What the authorizer signs for a `vpc_link` service, and what that
    /// service receives: the path under its prefix, a query the authorizer
    /// did not sign.
    const PATH: &str = "/web/items/a b";
    const RECEIVED: &str = "/web/items/a%20b?page=2&q=x";

    fn unsigned() -> HeaderMap {
        sign_unsigned_payload(&alice(), &Method::POST, PATH, NOW, &key(1)).unwrap()
    }

    #[test]
    fn an_unsigned_payload_identity_verifies_on_the_received_path_whatever_the_body_and_query() {
        let h = unsigned();
        assert_eq!(h[CONTENT_SHA256], UNSIGNED_PAYLOAD);
        assert_eq!(h.len(), 7);
        for (target, body) in [
            (RECEIVED, &b"any body"[..]),
            ("/web/items/a%20b", b""),
            ("/web/items/a b?other=1", BODY),
        ] {
            let v = verify(
                &h,
                &Method::POST,
                target,
                body,
                NOW + 5,
                &[key(1)],
                DEFAULT_MAX_SKEW,
            )
            .unwrap_or_else(|e| panic!("{target}: {e}"));
            assert!(!v.body_signed, "{target}");
            assert_eq!(v.principal, "key_abc");
            assert_eq!(v.scopes, vec!["services:sample", "jobs:read"]);
        }
        // Signing drops a query and decodes escapes the same way.
        let same = sign_unsigned_payload(
            &alice(),
            &Method::POST,
            "/web/items/a%20b?x=1",
            NOW,
            &key(1),
        )
        .unwrap();
        assert_eq!(same[SIGNATURE], h[SIGNATURE]);
        // The proxy's identities say the body was signed.
        assert!(check(&signed(), NOW, &[key(1)]).unwrap().body_signed);
    }

    #[test]
    fn an_unsigned_payload_identity_is_bound_to_method_path_identity_key_and_time() {
        let h = unsigned();
        for (m, t) in [
            (Method::GET, RECEIVED),
            (Method::POST, "/web/items/a%20c"),
            (Method::POST, "/web/items/a%20b/"),
            (Method::POST, "/web/items"),
            (Method::POST, "/sample/items/a%20b"),
        ] {
            assert_eq!(
                verify(&h, &m, t, b"", NOW, &[key(1)], DEFAULT_MAX_SKEW).unwrap_err(),
                IdentityError::BadSignature,
                "{m} {t}"
            );
        }
        let v = |h: &HeaderMap, now: i64, k: &[SigningKey]| {
            verify(h, &Method::POST, RECEIVED, b"", now, k, DEFAULT_MAX_SKEW)
        };
        assert_eq!(
            v(&h, NOW, &[key(2)]).unwrap_err(),
            IdentityError::BadSignature
        );
        assert!(matches!(
            v(&h, NOW + 61, &[key(1)]),
            Err(IdentityError::Stale { .. })
        ));
        let mut t = unsigned();
        t.insert(TENANT, HeaderValue::from_static("other"));
        assert_eq!(
            v(&t, NOW, &[key(1)]).unwrap_err(),
            IdentityError::BadSignature
        );
    }

    /// The digest field is signed: a proxy signature relabelled
    /// UNSIGNED-PAYLOAD (to escape the body check) fails, and an
    /// UNSIGNED-PAYLOAD signature given a body digest fails, even where the
    /// targets agree.
    #[test]
    fn a_proxy_signature_never_verifies_as_unsigned_payload_nor_the_reverse() {
        let proxy = sign(&alice(), &Method::POST, "/web/x", BODY, NOW, &key(1)).unwrap();
        let mut relabelled = proxy.clone();
        relabelled.insert(CONTENT_SHA256, HeaderValue::from_static(UNSIGNED_PAYLOAD));
        assert_eq!(
            verify(
                &relabelled,
                &Method::POST,
                "/web/x",
                b"other",
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            IdentityError::BadSignature
        );
        let gateway =
            sign_unsigned_payload(&alice(), &Method::POST, "/web/x", NOW, &key(1)).unwrap();
        let mut relabelled = gateway.clone();
        relabelled.insert(
            CONTENT_SHA256,
            HeaderValue::from_str(&content_sha256(BODY)).unwrap(),
        );
        assert_eq!(
            verify(
                &relabelled,
                &Method::POST,
                "/web/x",
                BODY,
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            IdentityError::BadSignature
        );
        // A lower-case spelling is not UNSIGNED-PAYLOAD: it must be a digest.
        let mut h = gateway;
        h.insert(CONTENT_SHA256, HeaderValue::from_static("unsigned-payload"));
        assert!(matches!(
            verify(
                &h,
                &Method::POST,
                "/web/x",
                b"",
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            ),
            Err(IdentityError::Malformed {
                header: CONTENT_SHA256,
                ..
            })
        ));
    }

    /// API Gateway drops a header mapped from an empty context value: an
    /// UNSIGNED-PAYLOAD identity without scopes arrives with no scopes
    /// header, and verifies as no scopes. A proxy identity still needs it.
    #[test]
    fn a_missing_scopes_header_reads_as_no_scopes_only_for_unsigned_payload() {
        let mut none = alice();
        none.scopes.clear();
        let mut h = sign_unsigned_payload(&none, &Method::GET, "/web/x", NOW, &key(1)).unwrap();
        assert_eq!(h[SCOPES], "");
        h.remove(SCOPES);
        let v = verify(
            &h,
            &Method::GET,
            "/web/x",
            b"",
            NOW,
            &[key(1)],
            DEFAULT_MAX_SKEW,
        )
        .unwrap();
        assert!(v.scopes.is_empty() && !v.body_signed);
        // Dropping a non-empty scopes header does not lose scopes silently:
        // the signature covered them.
        let mut h = unsigned();
        h.remove(SCOPES);
        assert_eq!(
            verify(
                &h,
                &Method::POST,
                RECEIVED,
                b"",
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            IdentityError::BadSignature
        );
        let mut h = sign(&none, &Method::GET, "/x", b"", NOW, &key(1)).unwrap();
        h.remove(SCOPES);
        assert_eq!(
            verify(
                &h,
                &Method::GET,
                "/x",
                b"",
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            IdentityError::Missing(SCOPES)
        );
    }

    #[test]
    fn a_path_that_cannot_be_signed_is_refused_and_never_verifies() {
        for path in ["/web/%FF", "/web/a%0Ab", "/web/a\tb"] {
            assert!(
                matches!(
                    sign_unsigned_payload(&alice(), &Method::GET, path, NOW, &key(1)),
                    Err(IdentityError::Unsendable { field: "path", .. })
                ),
                "{path:?}"
            );
        }
        let h = sign_unsigned_payload(&alice(), &Method::GET, "/web/a", NOW, &key(1)).unwrap();
        assert_eq!(
            verify(
                &h,
                &Method::GET,
                "/web/%FF",
                b"",
                NOW,
                &[key(1)],
                DEFAULT_MAX_SKEW
            )
            .unwrap_err(),
            IdentityError::BadSignature
        );
    }

    #[test]
    fn identity_header_prefix_is_matched_case_insensitively() {
        assert!(is_identity_header("X-Portcullis-Tenant"));
        assert!(is_identity_header("x-portcullis-anything"));
        assert!(is_identity_header(CONTENT_SHA256));
        assert!(!is_identity_header("x-port"));
        assert!(!is_identity_header("x-request-id"));
    }
}
