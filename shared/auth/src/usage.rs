//! The API Gateway usage identifier of each consumer: one definition of the
//! value the authorizer returns as `usageIdentifierKey` and of the API
//! Gateway API key the keys function creates under that value (and name).
//!
//! Throttles and quotas apply per consumer: each Portcullis API key has its
//! own API Gateway key in its plan, and the Cognito users of a tenant share
//! their tenant's key in the tenant's `user_plan` (docs/keys.md).
//!
//! The values are **not secrets**: the REST API reads them from the
//! authorizer (`api_key_source = AUTHORIZER`), never from a client header, so
//! knowing one lets nobody in.
//!
//! | consumer | value (and API key name) |
//! |---|---|
//! | Portcullis key `id` | `{prefix}key-{id}` |
//! | Cognito users of tenant `t` | `{prefix}tenant-{t}` when `t` is ASCII letters, digits and `-` and the value fits 128 characters; otherwise `{prefix}tenanth-{32 hex of SHA-256(t)}` |
//!
//! API Gateway wants 20 to 128 characters: a shorter value is padded with
//! `_` to 20 (no key id or literal tenant in a value holds `_`, so a padded
//! value never equals another consumer's). `prefix` is `USAGE_KEY_PREFIX`
//! (Terraform: `"<name>-"`), [`check_prefix`]ed at start-up.

use crate::tenant::Tenant;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The variable holding the prefix (authorizer and keys function).
pub const USAGE_KEY_PREFIX: &str = "USAGE_KEY_PREFIX";
/// Longest prefix: leaves room for `key-<uuid>` and readable tenants.
pub const PREFIX_MAX: usize = 48;
/// What a prefix may hold, for messages.
pub const PREFIX_SYNTAX: &str = "at most 48 ASCII letters, digits or '-'";
/// API Gateway's bounds on an API key value.
pub const VALUE_MIN: usize = 20;
pub const VALUE_MAX: usize = 128;

/// Who a usage identifier meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consumer<'a> {
    /// One Portcullis API key, by its row id.
    Key(Uuid),
    /// The Cognito users (and machine clients) of a tenant.
    Tenant(&'a Tenant),
}

/// Whether `prefix` is a valid `USAGE_KEY_PREFIX` (empty is valid).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() <= PREFIX_MAX
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a usage key prefix: use {PREFIX_SYNTAX}",
            prefix.chars().take(64).collect::<String>()
        ))
    }
}

/// The usage identifier (API Gateway API key value and name) of `consumer`.
/// `prefix` must pass [`check_prefix`].
pub fn usage_key(prefix: &str, consumer: Consumer<'_>) -> String {
    let mut v = String::with_capacity(VALUE_MAX);
    v.push_str(prefix);
    match consumer {
        Consumer::Key(id) => {
            v.push_str("key-");
            v.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        }
        Consumer::Tenant(t) => {
            let t = t.as_str();
            let literal = t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && prefix.len() + "tenant-".len() + t.len() <= VALUE_MAX;
            if literal {
                v.push_str("tenant-");
                v.push_str(t);
            } else {
                v.push_str("tenanth-");
                let digest = Sha256::digest(t.as_bytes());
                for b in &digest[..16] {
                    v.push_str(&format!("{b:02x}"));
                }
            }
        }
    }
    while v.len() < VALUE_MIN {
        v.push('_');
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(t: &str) -> Tenant {
        t.parse().unwrap()
    }

    #[test]
    fn keys_and_tenants_have_their_documented_values() {
        let id = Uuid::parse_str("0190b6a8-1c2d-7e3f-8a9b-0c1d2e3f4a5b").unwrap();
        assert_eq!(
            usage_key("pc-dev-", Consumer::Key(id)),
            "pc-dev-key-0190b6a8-1c2d-7e3f-8a9b-0c1d2e3f4a5b"
        );
        assert_eq!(
            usage_key("portcullis-dev-", Consumer::Tenant(&tenant("acme"))),
            "portcullis-dev-tenant-acme"
        );
        // Short values are padded to API Gateway's 20 characters.
        assert_eq!(
            usage_key("", Consumer::Tenant(&tenant("a"))),
            "tenant-a____________"
        );
        assert_eq!(usage_key("", Consumer::Tenant(&tenant("a"))).len(), 20);
    }

    #[test]
    fn every_value_is_within_api_gateways_bounds_and_distinct() {
        let long = "x".repeat(128);
        let mut seen = std::collections::HashSet::new();
        for prefix in ["", "p-", &"p".repeat(PREFIX_MAX)] {
            for t in [
                "a",
                "a_",
                "a-",
                "A",
                "Acme.Corp",
                "org:42",
                "team@acme",
                &long,
                "a________",
            ] {
                let v = usage_key(prefix, Consumer::Tenant(&tenant(t)));
                assert!((VALUE_MIN..=VALUE_MAX).contains(&v.len()), "{v}");
                assert!(seen.insert(v.clone()), "{t}: {v} twice");
            }
            let v = usage_key(prefix, Consumer::Key(Uuid::nil()));
            assert!((VALUE_MIN..=VALUE_MAX).contains(&v.len()), "{v}");
            assert!(seen.insert(v));
        }
        // Tenants outside [A-Za-z0-9-] are hashed: no '.', ':' or '@' reaches API Gateway.
        let v = usage_key("p-", Consumer::Tenant(&tenant("team@acme")));
        assert!(v.starts_with("p-tenanth-") && v.len() == 2 + 8 + 32, "{v}");
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("portcullis-dev-").is_ok());
        assert!(check_prefix("bad prefix").is_err());
        assert!(check_prefix("a_b").is_err());
        assert!(check_prefix(&"p".repeat(PREFIX_MAX + 1)).is_err());
    }
}
