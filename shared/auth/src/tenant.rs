//! The tenant: the security boundary of every key, job and audit entry.
//!
//! A tenant id is **1 to 128 characters of ASCII letters, digits and
//! `-` `_` `.` `:` `@`**, compared exactly (case-sensitive). That is the
//! syntax Cognito tenants were already accepted with (`Acme.Corp`,
//! `org:42`, `team@acme`); every tenant the keys API ever accepted
//! (`[a-z0-9-_]{1,64}`) is within it, so no stored row changes meaning.
//! Letters are not folded: `Acme` and `acme` are two tenants, because
//! merging two identity-provider tenants into one would let each see the
//! other's keys and jobs.
//!
//! Parse once where a tenant enters (API key rows, a Cognito user's
//! `tenant:<id>` group and `COGNITO_CLIENT_TENANTS`, the keys API body and `?tenant=`,
//! `PLATFORM_TENANT`, the authorizer context) and pass [`Tenant`] on.
//! The database holds the same rule as a check constraint
//! (`migrations/20261129000000_tenant_syntax.sql`).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest tenant id, in characters (all ASCII, so also bytes).
pub const TENANT_MAX: usize = 128;

/// What a tenant id may hold, for messages and docs.
pub const TENANT_SYNTAX: &str =
    "1 to 128 characters of ASCII letters, digits, '-', '_', '.', ':' or '@'";

/// A well-formed tenant id. Parse with `str::parse` / `TryFrom<String>`;
/// serde (de)serialises it as its string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tenant(String);

/// Why a string is not a tenant id. The message repeats a bounded prefix of
/// the input (tenants are not secret) and says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown:?} is not a tenant id: use {TENANT_SYNTAX}")]
pub struct TenantError {
    shown: String,
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@')
}

impl Tenant {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tenant {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.is_empty() && s.len() <= TENANT_MAX && s.bytes().all(allowed) {
            Ok(Tenant(s.to_owned()))
        } else {
            Err(TenantError {
                shown: s.chars().take(80).collect(),
            })
        }
    }
}

impl TryFrom<String> for Tenant {
    type Error = TenantError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&str> for Tenant {
    type Error = TenantError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Tenant> for String {
    fn from(t: Tenant) -> String {
        t.0
    }
}

impl std::ops::Deref for Tenant {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Tenant {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Tenant {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Tenant {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(feature = "store")]
mod sql {
    //! `text` columns decode into a `Tenant` (the check constraint keeps
    //! them well formed; a row that is not is a decode error, not a tenant).
    use super::Tenant;
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
    use sqlx::{Decode, Encode, Postgres, Type};

    impl Type<Postgres> for Tenant {
        fn type_info() -> PgTypeInfo {
            <String as Type<Postgres>>::type_info()
        }
        fn compatible(ty: &PgTypeInfo) -> bool {
            <String as Type<Postgres>>::compatible(ty)
        }
    }

    impl Encode<'_, Postgres> for Tenant {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            <&str as Encode<Postgres>>::encode(self.as_str(), buf)
        }
    }

    impl<'r> Decode<'r, Postgres> for Tenant {
        fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            let s = <&str as Decode<Postgres>>::decode(value)?;
            Ok(s.parse::<Tenant>()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_of_both_former_syntaxes_parse() {
        // The keys API's former rule and the authorizer's former rule.
        for t in [
            "acme",
            "a",
            "team-1_x",
            "Acme.Corp",
            "org:42",
            "ops@acme",
            "platform",
        ] {
            assert_eq!(t.parse::<Tenant>().unwrap().as_str(), t);
        }
        assert!("x".repeat(128).parse::<Tenant>().is_ok());
    }

    #[test]
    fn anything_else_is_refused_saying_what_is_accepted() {
        for t in [
            "", " acme", "acme ", "a/b", "a b", "Acme!", "é", "a\u{0}b", "a,b",
        ] {
            let err = t.parse::<Tenant>().unwrap_err();
            assert!(err.to_string().contains("ASCII letters"), "{t:?}: {err}");
        }
        assert!("x".repeat(129).parse::<Tenant>().is_err());
        let huge = "!".repeat(10_000);
        assert!(huge.parse::<Tenant>().unwrap_err().to_string().len() < 300);
    }

    #[test]
    fn case_is_kept_and_significant() {
        let a: Tenant = "Acme".parse().unwrap();
        let b: Tenant = "acme".parse().unwrap();
        assert_ne!(a, b);
        assert_eq!(a, "Acme");
    }

    #[test]
    fn serde_round_trips_and_rejects_bad_values() {
        let t: Tenant = serde_json::from_str("\"Acme.Corp\"").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"Acme.Corp\"");
        assert!(serde_json::from_str::<Tenant>("\"a b\"").is_err());
    }
}
