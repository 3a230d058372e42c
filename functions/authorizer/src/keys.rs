//! API key look-up in PostgreSQL (`api_keys`), and the throttled
//! `last_used_at` write.

use chrono::{DateTime, Utc};
use portcullis_auth::Scope;
use portcullis_auth::apikey::{self, ParsedKey};
use portcullis_db::{Database, DbError};
use uuid::Uuid;

/// The row of a presented key, as far as the authorizer needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: Uuid,
    pub tenant: String,
    pub scopes: Vec<String>,
    pub plan: Option<String>,
    pub secret_digest: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Why a well-formed key was refused. The caller sees "Unauthorized" for
/// all of them; logs tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    Unknown,
    WrongSecret,
    Revoked,
    Expired,
}

impl KeyRejection {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRejection::Unknown => "unknown key",
            KeyRejection::WrongSecret => "secret does not match",
            KeyRejection::Revoked => "revoked key",
            KeyRejection::Expired => "expired key",
        }
    }
}

/// A key that passed every check.
#[derive(Debug, Clone)]
pub struct ValidKey {
    pub record: KeyRecord,
    /// The scopes of the row that parse; others are dropped with a warning.
    pub scopes: Vec<Scope>,
}

pub async fn find(db: &Database, lookup_id: &str) -> Result<Option<KeyRecord>, DbError> {
    let lookup_id = lookup_id.to_owned();
    db.with_retry(|pool| {
        let lookup_id = lookup_id.clone();
        async move {
            sqlx::query_as::<_, KeyRecord>(
                "select id, tenant, scopes, plan, secret_digest, expires_at, revoked_at, last_used_at \
                 from api_keys where lookup_id = $1",
            )
            .bind(&lookup_id)
            .fetch_optional(&pool)
            .await
        }
    })
    .await
}

/// Check a parsed key against its row (if any).
pub fn check(
    parsed: &ParsedKey,
    record: Option<KeyRecord>,
    now: DateTime<Utc>,
) -> Result<ValidKey, KeyRejection> {
    let Some(record) = record else {
        // Spend the same digest work as for a known key.
        let _ = apikey::verify(parsed, &[0u8; 32]);
        return Err(KeyRejection::Unknown);
    };
    if !apikey::verify(parsed, &record.secret_digest) {
        return Err(KeyRejection::WrongSecret);
    }
    if record.revoked_at.is_some_and(|r| r <= now) {
        return Err(KeyRejection::Revoked);
    }
    if record.expires_at.is_some_and(|e| e <= now) {
        return Err(KeyRejection::Expired);
    }
    let mut scopes = Vec::with_capacity(record.scopes.len());
    for s in &record.scopes {
        match s.parse::<Scope>() {
            Ok(scope) => scopes.push(scope),
            Err(e) => tracing::warn!(key_id = %record.id, error = %e, "stored scope ignored"),
        }
    }
    scopes.sort();
    scopes.dedup();
    Ok(ValidKey { record, scopes })
}

/// Set `last_used_at = now()` unless it was set less than `interval_secs` ago
/// (the where-clause makes concurrent Lambda instances no-op).
pub async fn touch(db: &Database, id: Uuid, interval_secs: f64) -> Result<u64, DbError> {
    db.with_retry(|pool| async move {
        let r = sqlx::query(
            "update api_keys set last_used_at = now() \
             where id = $1 and (last_used_at is null or last_used_at < now() - make_interval(secs => $2))",
        )
        .bind(id)
        .bind(interval_secs)
        .execute(&pool)
        .await?;
        Ok(r.rows_affected())
    })
    .await
}
