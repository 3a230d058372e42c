//! Portcullis API keys: format, generation, parsing, digests.
//!
//! A key looks like `pcs_<lookup>_<secret><checksum>`:
//!
//! | part | length | content |
//! |---|---|---|
//! | `pcs_` | 4 | fixed prefix, so secret scanners (GitHub, gitleaks) can find leaked keys |
//! | lookup id | 12 | base62, random (≈71 bits); public, stored in clear, unique: finds the row |
//! | `_` | 1 | separator (not a base62 character, so the split is unambiguous) |
//! | secret | 32 | base62, from the OS CSPRNG (≈190 bits); only its SHA-256 digest is stored |
//! | checksum | 6 | base62 of the first 4 bytes of SHA-256 over `pcs_<lookup>_<secret>` |
//!
//! The checksum lets [`parse`] reject typos, truncations and made-up keys
//! without any database query. It is not a security control (anyone can
//! compute it); the secret is.
//!
//! The stored digest is a plain SHA-256 of the secret. A slow password hash
//! (argon2, bcrypt) protects low-entropy human passwords against offline
//! guessing; a 190-bit random secret cannot be guessed offline, so a fast hash
//! loses nothing and keeps the authorizer's uncached path in microseconds.
//! Digests are compared in constant time ([`verify`]).

use rand::Rng;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;

/// The fixed prefix of every key.
pub const PREFIX: &str = "pcs_";
/// Length of the public lookup id.
pub const LOOKUP_LEN: usize = 12;
/// Length of the secret part.
pub const SECRET_LEN: usize = 32;
/// Length of the checksum.
pub const CHECKSUM_LEN: usize = 6;
/// Length of a whole key: `pcs_` + lookup + `_` + secret + checksum.
pub const KEY_LEN: usize = PREFIX.len() + LOOKUP_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a well-formed Portcullis API key. The messages never
/// contain the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("not a Portcullis API key: it must start with \"pcs_\"")]
    Prefix,
    #[error("malformed API key: it must be {expected} characters long, got {actual}")]
    Length { expected: usize, actual: usize },
    #[error("malformed API key: the lookup id must be followed by \"_\"")]
    Separator,
    #[error("malformed API key: only letters and digits are allowed after the prefix")]
    Character,
    #[error(
        "malformed API key: the checksum does not match (a character was changed, added or lost)"
    )]
    Checksum,
}

/// A newly generated key in full. Shown to its owner once, never stored,
/// never logged (`Debug` prints a placeholder).
#[derive(Clone)]
pub struct PlainKey(SecretString);

impl PlainKey {
    /// The full key text (`pcs_...`), for the one response that returns it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PlainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainKey([REDACTED])")
    }
}

/// The public lookup id of a key: 12 base62 characters. Safe to log and show.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LookupId(String);

impl LookupId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LookupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not a lookup id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key lookup id: expected {LOOKUP_LEN} letters or digits")]
pub struct LookupIdError;

impl FromStr for LookupId {
    type Err = LookupIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == LOOKUP_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(LookupId(s.to_owned()))
        } else {
            Err(LookupIdError)
        }
    }
}

impl TryFrom<String> for LookupId {
    type Error = LookupIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<LookupId> for String {
    fn from(id: LookupId) -> String {
        id.0
    }
}

/// A key that passed the format and checksum checks: its lookup id and its
/// secret. Whether it is *valid* is for [`verify`] against the stored digest.
#[derive(Clone)]
pub struct ParsedKey {
    lookup_id: LookupId,
    secret: SecretString,
}

impl ParsedKey {
    pub fn lookup_id(&self) -> &LookupId {
        &self.lookup_id
    }

    /// The SHA-256 digest of the secret part (what the database stores).
    pub fn digest(&self) -> [u8; 32] {
        digest(self.secret.expose_secret())
    }
}

impl fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedKey")
            .field("lookup_id", &self.lookup_id)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// A new key from the OS CSPRNG: `(full key, lookup id, digest of the secret)`.
pub fn generate() -> (PlainKey, LookupId, [u8; 32]) {
    let lookup = random_base62(LOOKUP_LEN);
    let secret = random_base62(SECRET_LEN);
    let body = format!("{PREFIX}{lookup}_{secret}");
    let full = format!("{body}{}", checksum(&body));
    let d = digest(&secret);
    (PlainKey(SecretString::from(full)), LookupId(lookup), d)
}

/// Check a presented key's shape and checksum, with no I/O. Whitespace is
/// not trimmed: a key with stray characters is malformed.
pub fn parse(s: &str) -> Result<ParsedKey, KeyFormatError> {
    if !s.starts_with(PREFIX) {
        return Err(KeyFormatError::Prefix);
    }
    if s.len() != KEY_LEN {
        return Err(KeyFormatError::Length {
            expected: KEY_LEN,
            actual: s.len(),
        });
    }
    let rest = &s.as_bytes()[PREFIX.len()..];
    let (lookup, rest) = rest.split_at(LOOKUP_LEN);
    let (sep, rest) = rest.split_at(1);
    if sep != b"_" {
        return Err(KeyFormatError::Separator);
    }
    if !lookup
        .iter()
        .chain(rest.iter())
        .all(u8::is_ascii_alphanumeric)
    {
        return Err(KeyFormatError::Character);
    }
    // All bytes checked are ASCII, so these slices fall on char boundaries.
    let body_len = KEY_LEN - CHECKSUM_LEN;
    let (body, sum) = s.split_at(body_len);
    if checksum(body).as_bytes() != sum.as_bytes() {
        return Err(KeyFormatError::Checksum);
    }
    let lookup = &s[PREFIX.len()..PREFIX.len() + LOOKUP_LEN];
    let secret = &s[PREFIX.len() + LOOKUP_LEN + 1..body_len];
    Ok(ParsedKey {
        lookup_id: LookupId(lookup.to_owned()),
        secret: SecretString::from(secret.to_owned()),
    })
}

/// Whether a credential is meant to be a Portcullis key (starts with the
/// prefix), as opposed to a JWT. Says nothing about validity.
pub fn looks_like_key(s: &str) -> bool {
    s.starts_with(PREFIX)
}

/// SHA-256 of the secret part of a key.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether the key's secret matches the stored digest, in constant time.
/// A stored digest of the wrong length never matches.
pub fn verify(parsed: &ParsedKey, stored_digest: &[u8]) -> bool {
    let presented = parsed.digest();
    presented.as_slice().ct_eq(stored_digest).into()
}

fn random_base62(len: usize) -> String {
    let mut rng = OsRng;
    (0..len)
        .map(|_| char::from(BASE62[rng.gen_range(0..BASE62.len())]))
        .collect()
}

/// 6 base62 characters of the first 4 bytes of SHA-256(body).
fn checksum(body: &str) -> String {
    let h = Sha256::digest(body.as_bytes());
    let mut n = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_parses_and_verifies_against_its_digest() {
        let (plain, lookup, stored) = generate();
        let text = plain.expose_secret();
        assert_eq!(text.len(), KEY_LEN);
        assert!(text.starts_with("pcs_"));
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.lookup_id(), &lookup);
        assert!(verify(&parsed, &stored));
    }

    #[test]
    fn two_generated_keys_differ() {
        let (a, la, da) = generate();
        let (b, lb, db) = generate();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(la, lb);
        assert_ne!(da, db);
    }

    #[test]
    fn every_single_character_change_is_caught_by_the_checksum_or_format() {
        let (plain, _, _) = generate();
        let text = plain.expose_secret();
        for i in PREFIX.len()..text.len() {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert!(parse(&changed).is_err(), "change at {i} was accepted");
        }
    }

    #[test]
    fn wrong_prefix_length_separator_and_characters_are_named() {
        let (plain, _, _) = generate();
        let text = plain.expose_secret();
        assert_eq!(
            parse(&text.replacen("pcs_", "pck_", 1)).unwrap_err(),
            KeyFormatError::Prefix
        );
        assert!(matches!(
            parse(&text[..text.len() - 1]),
            Err(KeyFormatError::Length { .. })
        ));
        assert!(matches!(
            parse(&format!("{text}x")),
            Err(KeyFormatError::Length { .. })
        ));
        let mut sep = text.as_bytes().to_vec();
        sep[PREFIX.len() + LOOKUP_LEN] = b'x';
        assert_eq!(
            parse(std::str::from_utf8(&sep).unwrap()).unwrap_err(),
            KeyFormatError::Separator
        );
        let mut bad = text.as_bytes().to_vec();
        bad[PREFIX.len() + 2] = b'-';
        assert_eq!(
            parse(std::str::from_utf8(&bad).unwrap()).unwrap_err(),
            KeyFormatError::Character
        );
        assert!(parse("").is_err());
        assert!(parse(&"pcs_".repeat(30_000)).is_err());
    }

    #[test]
    fn non_ascii_input_of_the_right_length_is_rejected_without_panic() {
        let s = format!("pcs_{}", "é".repeat((KEY_LEN - 4) / 2 + 1));
        let s: String = s.chars().take(KEY_LEN).collect();
        assert!(parse(&s).is_err());
        let mut t = "pcs_".to_owned();
        while t.len() < KEY_LEN {
            t.push('€');
        }
        assert!(parse(&t).is_err());
    }

    #[test]
    fn a_valid_key_does_not_match_another_keys_digest() {
        let (a, _, _) = generate();
        let (_, _, other) = generate();
        let parsed = parse(a.expose_secret()).unwrap();
        assert!(!verify(&parsed, &other));
        assert!(!verify(&parsed, &other[..31]));
        assert!(!verify(&parsed, &[]));
    }

    #[test]
    fn debug_output_never_contains_the_secret() {
        let (plain, _, _) = generate();
        let text = plain.expose_secret().to_owned();
        let parsed = parse(&text).unwrap();
        let secret = &text[PREFIX.len() + LOOKUP_LEN + 1..];
        assert!(!format!("{plain:?}").contains(secret));
        assert!(!format!("{parsed:?}").contains(&secret[..SECRET_LEN]));
        assert!(format!("{:?}", parse("pcs_x").unwrap_err()).len() < 200);
        assert!(
            !parse(&text[..text.len() - 1])
                .unwrap_err()
                .to_string()
                .contains(&secret[..10])
        );
    }

    #[test]
    fn lookup_id_parses_only_twelve_alphanumerics() {
        assert!("AbCdEf123456".parse::<LookupId>().is_ok());
        assert!("AbCdEf12345".parse::<LookupId>().is_err());
        assert!("AbCdEf12345_".parse::<LookupId>().is_err());
        let id: LookupId = serde_json::from_str("\"AbCdEf123456\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"AbCdEf123456\"");
        assert!(serde_json::from_str::<LookupId>("\"nope\"").is_err());
    }

    #[test]
    fn digest_is_sha256_of_the_secret() {
        // SHA-256("abc"), FIPS 180-2 test vector.
        let d = digest("abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
