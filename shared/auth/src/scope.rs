//! Portcullis scopes: `jobs:read`, `jobs:write`, `keys:admin`,
//! `services:<name>` (name: 1–63 of `a-z`, `0-9`, `-`), and a service's
//! route scopes `services:<name>.<word>` (word: 1–32 of `a-z`, `0-9`, `-`;
//! e.g. `services:sample.write`), which a registry route may require
//! (platform.yaml `services.<name>.routes`, docs/proxy.md). A route scope
//! grants no other route of the service: `services:<name>` does.
//!
//! API keys carry scopes; Cognito scopes and groups are mapped onto them by
//! the authorizer's configuration. Every route in `api/openapi.yaml` names
//! the scope it needs in `x-portcullis-scope`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The fixed scopes, in the order they are documented.
pub const FIXED: [&str; 3] = ["jobs:read", "jobs:write", "keys:admin"];
/// Prefix of the per-service scopes.
pub const SERVICE_PREFIX: &str = "services:";
/// Longest service name.
pub const SERVICE_NAME_MAX: usize = 63;

/// A valid Portcullis scope. Parse with `str::parse` / `TryFrom<String>`;
/// serde (de)serialises it as its string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(String);

/// Why a string is not a scope. The message repeats (a bounded prefix of)
/// the input, which is never secret, and lists what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("empty scope; expected one of jobs:read, jobs:write, keys:admin or services:<name>")]
    Empty,
    #[error(
        "unknown scope {0:?}; expected one of jobs:read, jobs:write, keys:admin or services:<name>"
    )]
    Unknown(String),
    #[error(
        "invalid service name in scope {0:?}; a service name is 1 to 63 characters of lowercase letters, digits and '-' (a route scope adds .<word>: 1 to 32 of the same, e.g. services:sample.write)"
    )]
    ServiceName(String),
}

impl Scope {
    pub fn jobs_read() -> Scope {
        Scope("jobs:read".to_owned())
    }
    pub fn jobs_write() -> Scope {
        Scope("jobs:write".to_owned())
    }
    pub fn keys_admin() -> Scope {
        Scope("keys:admin".to_owned())
    }
    /// `services:<name>`; fails if the name is not a valid service name.
    pub fn service(name: &str) -> Result<Scope, ScopeError> {
        format!("{SERVICE_PREFIX}{name}").parse()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The service name of a `services:<name>` scope (not of a route
    /// scope `services:<name>.<word>`: it grants only its routes).
    pub fn service_name(&self) -> Option<&str> {
        self.0
            .strip_prefix(SERVICE_PREFIX)
            .filter(|n| !n.contains('.'))
    }

    /// The service a `services:<name>` or `services:<name>.<word>` scope
    /// belongs to (entitlements: a tenant entitled to the service may hold both).
    pub fn service_owner(&self) -> Option<&str> {
        let rest = self.0.strip_prefix(SERVICE_PREFIX)?;
        Some(rest.split_once('.').map_or(rest, |(name, _)| name))
    }

    /// Parse a whitespace- or comma-separated list; duplicates are removed
    /// and the result is sorted, so equal sets compare equal.
    pub fn parse_list(s: &str) -> Result<Vec<Scope>, ScopeError> {
        let mut out = s
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()?;
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Space-separated, as the authorizer context carries them.
    pub fn join(scopes: &[Scope]) -> String {
        scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A set of scopes: sorted, without duplicates, so equal sets compare
/// equal. Written space-separated (the authorizer context's form, see
/// [`Scopes::to_string`]) and parsed from a whitespace- or comma-separated
/// list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Scopes {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Scopes(v)
    }

    /// Whether the set holds `scope`, given by its text (`"keys:admin"`).
    pub fn has(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl std::ops::Deref for Scopes {
    type Target = [Scope];
    fn deref(&self) -> &[Scope] {
        &self.0
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes::new(iter)
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Scopes> for Vec<Scope> {
    fn from(s: Scopes) -> Vec<Scope> {
        s.0
    }
}

impl FromStr for Scopes {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::parse_list(s).map(Scopes)
    }
}

impl fmt::Display for Scopes {
    /// Space-separated, sorted: `jobs:read services:echo`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Scope::join(&self.0))
    }
}

/// Compares with the space-separated form (`scopes == "jobs:read jobs:write"`).
impl PartialEq<&str> for Scopes {
    fn eq(&self, other: &&str) -> bool {
        let mut rest = *other;
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                match rest.strip_prefix(' ') {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            match rest.strip_prefix(s.as_str()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }
}

/// Whether `name` is a valid service name: 1–63 of `a-z`, `0-9`, `-`.
pub fn is_valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= SERVICE_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Longest word of a route scope (`services:<name>.<word>`).
pub const ROUTE_WORD_MAX: usize = 32;

/// Whether `word` may end a route scope: 1–32 of `a-z`, `0-9`, `-`.
pub fn is_valid_route_word(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= ROUTE_WORD_MAX
        && word
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn shown(s: &str) -> String {
    // Bound what an error message repeats.
    s.chars().take(80).collect()
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        if FIXED.contains(&s) {
            return Ok(Scope(s.to_owned()));
        }
        if let Some(rest) = s.strip_prefix(SERVICE_PREFIX) {
            let valid = match rest.split_once('.') {
                None => is_valid_service_name(rest),
                Some((name, word)) => is_valid_service_name(name) && is_valid_route_word(word),
            };
            return if valid {
                Ok(Scope(s.to_owned()))
            } else {
                Err(ScopeError::ServiceName(shown(s)))
            };
        }
        Err(ScopeError::Unknown(shown(s)))
    }
}

impl TryFrom<String> for Scope {
    type Error = ScopeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&str> for Scope {
    type Error = ScopeError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_scopes_and_service_scopes_parse() {
        for s in [
            "jobs:read",
            "jobs:write",
            "keys:admin",
            "services:echo",
            "services:a-1",
        ] {
            assert_eq!(s.parse::<Scope>().unwrap().as_str(), s);
        }
        assert_eq!(Scope::service("echo").unwrap().service_name(), Some("echo"));
        assert_eq!(Scope::jobs_read().service_name(), None);
    }

    #[test]
    fn a_route_scope_belongs_to_its_service_but_names_none() {
        let s: Scope = "services:sample.write".parse().unwrap();
        assert_eq!(s.service_name(), None);
        assert_eq!(s.service_owner(), Some("sample"));
        assert_eq!(
            Scope::service("echo").unwrap().service_owner(),
            Some("echo")
        );
        for bad in [
            "services:sample.",
            "services:.write",
            "services:sample.Write",
            "services:a.b.c",
        ] {
            assert!(bad.parse::<Scope>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn unknown_scopes_are_rejected_with_what_is_accepted() {
        let err = "jobs:delete".parse::<Scope>().unwrap_err();
        assert!(matches!(err, ScopeError::Unknown(_)));
        assert!(err.to_string().contains("services:<name>"), "{err}");
        assert_eq!("".parse::<Scope>().unwrap_err(), ScopeError::Empty);
        assert!("JOBS:READ".parse::<Scope>().is_err());
        assert!(" jobs:read".parse::<Scope>().is_err());
    }

    #[test]
    fn bad_service_names_are_rejected() {
        for s in [
            "services:",
            "services:Echo",
            "services:a_b",
            "services:*",
            "services:a/b",
        ] {
            assert!(
                matches!(s.parse::<Scope>(), Err(ScopeError::ServiceName(_))),
                "{s}"
            );
        }
        let long = format!("services:{}", "a".repeat(64));
        assert!(long.parse::<Scope>().is_err());
        let ok = format!("services:{}", "a".repeat(63));
        assert!(ok.parse::<Scope>().is_ok());
    }

    #[test]
    fn error_messages_are_bounded() {
        let huge = "x".repeat(10_000);
        assert!(huge.parse::<Scope>().unwrap_err().to_string().len() < 300);
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() {
        let l = Scope::parse_list("jobs:write jobs:read,jobs:write  services:echo").unwrap();
        assert_eq!(Scope::join(&l), "jobs:read jobs:write services:echo");
        assert!(Scope::parse_list("jobs:read nope").is_err());
        assert!(Scope::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn a_scope_set_is_sorted_deduplicated_and_written_space_separated() {
        let s: Scopes = "services:echo jobs:read,jobs:read".parse().unwrap();
        assert_eq!(s.to_string(), "jobs:read services:echo");
        assert_eq!(s, "jobs:read services:echo");
        assert_ne!(s, "jobs:read services:echoes");
        assert_ne!(s, "jobs:read  services:echo");
        assert_ne!(s, "jobs:read");
        assert_eq!(Scopes::default(), "");
        assert!(s.has("jobs:read") && !s.has("jobs:write"));
        assert_eq!(s.len(), 2);
        assert_eq!("".parse::<Scopes>().unwrap(), Scopes::default());
        assert!("jobs:read root".parse::<Scopes>().is_err());
        let again: Scopes = s.to_string().parse().unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn serde_round_trips_and_rejects_bad_values() {
        let s: Scope = serde_json::from_str("\"keys:admin\"").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"keys:admin\"");
        let err = serde_json::from_str::<Scope>("\"root\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown scope"), "{err}");
    }
}
