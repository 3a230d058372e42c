//! Signed identity headers: HMAC-SHA256 signing (proxy) and verification
//! (private services).
//!
//! The proxy tells a private service who the caller is with these headers:
//!
//! | header | value |
//! |---|---|
//! | `x-portcullis-principal` | principal id from the authorizer |
//! | `x-portcullis-principal-type` | `api_key`, `user`, `client` |
//! | `x-portcullis-tenant` | tenant |
//! | `x-portcullis-scopes` | space-separated scopes |
//! | `x-portcullis-timestamp` | Unix seconds when the proxy signed |
//! | `x-portcullis-content-sha256` | lower-case hex SHA-256 of the exact body bytes sent |
//! | `x-portcullis-signature` | `v2=<hex HMAC-SHA256>` |
//!
//! The signature (scheme v2) covers a canonical string made of a version tag,
//! the HTTP method, the request target the service receives (path and query,
//! exactly as sent), the body digest, and every identity value, one per line.
//! Header values cannot hold a line feed, so the string is unambiguous.
//! Signing the method and target means a captured signature cannot be
//! replayed against another endpoint; signing the body digest means it cannot
//! be replayed with another body (the verifier hashes the body it received
//! and refuses a mismatch); the timestamp bounds replay of the *same* request
//! to the allowed skew (60 s by default). Scheme v1 (no body digest) is refused.
//!
//! Keys: every service has its own key (the proxy holds them all and signs
//! with the target service's key), so a service can verify — and could
//! forge — only identities addressed to itself. Key rotation: [`verify`]
//! accepts a list of keys (current, then previous), so a service keeps
//! working while the proxy switches to a new key.

use base64::Engine;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// Every header whose name starts with this prefix is an identity header; the
/// proxy drops all of them from client requests.
pub const HEADER_PREFIX: &str = "x-portcullis-";
pub const PRINCIPAL: &str = "x-portcullis-principal";
pub const PRINCIPAL_TYPE: &str = "x-portcullis-principal-type";
pub const TENANT: &str = "x-portcullis-tenant";
pub const SCOPES: &str = "x-portcullis-scopes";
pub const TIMESTAMP: &str = "x-portcullis-timestamp";
pub const SIGNATURE: &str = "x-portcullis-signature";
/// Hex SHA-256 of the body bytes, covered by the signature.
pub const CONTENT_SHA256: &str = "x-portcullis-content-sha256";

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
    /// Unix seconds when the proxy signed.
    pub timestamp: i64,
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
    let digest = content_sha256(body);
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
        header_value("content_sha256", &digest)?,
    );
    let mut mac = key.mac();
    mac.update(canonical(method, target, &digest, identity, &scopes, timestamp).as_bytes());
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
    let principal = get(headers, PRINCIPAL)?;
    let principal_type = get(headers, PRINCIPAL_TYPE)?;
    let tenant = get(headers, TENANT)?;
    let scopes = get(headers, SCOPES)?;
    let ts_text = get(headers, TIMESTAMP)?;
    let timestamp: i64 = ts_text.parse().map_err(|_| IdentityError::Malformed {
        header: TIMESTAMP,
        reason: "expected whole Unix seconds".to_owned(),
    })?;
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
    let given = sha256_hex(mac_hex).ok_or_else(malformed_signature)?;
    let signed_digest = get(headers, CONTENT_SHA256)?;
    if sha256_hex(signed_digest).is_none() {
        return Err(IdentityError::Malformed {
            header: CONTENT_SHA256,
            reason: "expected 64 hex digits (SHA-256 of the body)".to_owned(),
        });
    }
    let skew = now.abs_diff(timestamp);
    if skew > max_skew.as_secs() {
        return Err(IdentityError::Stale {
            skew_secs: skew,
            max_secs: max_skew.as_secs(),
        });
    }
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
    let text = canonical(method, target, signed_digest, &identity, scopes, timestamp);
    // Check every key (no early exit) so timing says nothing about which matched.
    let mut matched = subtle::Choice::from(0u8);
    for key in keys {
        let mut mac = key.mac();
        mac.update(text.as_bytes());
        matched |= mac.finalize().into_bytes().as_slice().ct_eq(&given);
    }
    if !bool::from(matched) {
        return Err(IdentityError::BadSignature);
    }
    // The headers are the proxy's: now the body must be the one it signed.
    if !signed_digest.eq_ignore_ascii_case(&content_sha256(body)) {
        return Err(IdentityError::BodyMismatch);
    }
    Ok(VerifiedIdentity {
        principal: identity.principal,
        principal_type: identity.principal_type,
        tenant: identity.tenant,
        scopes: identity.scopes,
        timestamp,
    })
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

    #[test]
    fn identity_header_prefix_is_matched_case_insensitively() {
        assert!(is_identity_header("X-Portcullis-Tenant"));
        assert!(is_identity_header("x-portcullis-anything"));
        assert!(is_identity_header(CONTENT_SHA256));
        assert!(!is_identity_header("x-port"));
        assert!(!is_identity_header("x-request-id"));
    }
}
