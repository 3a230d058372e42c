//! The one store of `api_keys` (feature `store`): the key record, its
//! queries, the validity check of a presented key, and the key-creation
//! service used by `POST /v1/keys` and the bootstrap tool.
//!
//! Queries take an executor or a connection, so the caller decides what
//! commits together; [`create`] owns its transaction (key and audit entry
//! commit together or not at all).

use crate::apikey::{self, LOOKUP_LEN, LookupId, PREFIX, ParsedKey, PlainKey};
use crate::audit::{self, Actor, AuditEntry};
use crate::scope::{Scope, Scopes};
use crate::tenant::Tenant;
use chrono::{DateTime, Utc};
use portcullis_db::{Database, DbError};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgExecutor, Row};
use std::fmt;
use uuid::Uuid;

/// The columns every read returns (never the digest).
const COLUMNS: &str = "id, lookup_id, name, tenant, scopes, plan, created_at, expires_at, revoked_at, last_used_at, created_by";

/// Longest key name, in characters.
pub const NAME_MAX: usize = 100;

/// One API key as stored, without its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: Uuid,
    pub lookup_id: LookupId,
    pub name: String,
    pub tenant: Tenant,
    /// The stored scopes that parse; others are dropped with a warning.
    pub scopes: Scopes,
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: String,
}

/// Where a key stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl KeyRecord {
    /// Revoked wins over expired; a revocation or expiry at `now` counts.
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some_and(|at| at <= now) {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// `pcs_<lookup id>`: the public start of the key, to recognise it.
    pub fn prefix(&self) -> String {
        let mut p = String::with_capacity(PREFIX.len() + LOOKUP_LEN);
        p.push_str(PREFIX);
        p.push_str(self.lookup_id.as_str());
        p
    }
}

fn decode_err(column: &str, e: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    }
}

impl<'r> FromRow<'r, PgRow> for KeyRecord {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        let id: Uuid = row.try_get("id")?;
        let lookup_id: LookupId = row
            .try_get::<String, _>("lookup_id")?
            .parse()
            .map_err(|e| decode_err("lookup_id", e))?;
        let stored: Vec<String> = row.try_get("scopes")?;
        let scopes = stored
            .iter()
            .filter_map(|s| match s.parse::<Scope>() {
                Ok(scope) => Some(scope),
                Err(e) => {
                    tracing::warn!(key_id = %id, error = %e, "stored scope ignored");
                    None
                }
            })
            .collect();
        Ok(KeyRecord {
            id,
            lookup_id,
            name: row.try_get("name")?,
            tenant: row.try_get("tenant")?,
            scopes,
            plan: row.try_get("plan")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
            last_used_at: row.try_get("last_used_at")?,
            created_by: row.try_get("created_by")?,
        })
    }
}

/// A key name: trimmed, 1 to [`NAME_MAX`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

/// Why a string is not a key name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyNameError {
    #[error("name must not be empty")]
    Empty,
    #[error("name is longer than {NAME_MAX} characters")]
    TooLong,
    #[error("name must not contain control characters")]
    Control,
}

impl KeyName {
    pub fn parse(raw: &str) -> Result<KeyName, KeyNameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(KeyNameError::Empty)
        } else if name.chars().count() > NAME_MAX {
            Err(KeyNameError::TooLong)
        } else if name.chars().any(char::is_control) {
            Err(KeyNameError::Control)
        } else {
            Ok(KeyName(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A key to create: everything but the generated and server-set columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: KeyName,
    pub tenant: Tenant,
    pub scopes: Scopes,
    /// A usage plan of `platform.yaml` (the caller checks it against the registry).
    pub plan: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just created: the full key (shown once, never stored) and its record.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: PlainKey,
    pub record: KeyRecord,
}

/// Create a key: generate it, store only the digest of its secret, and
/// write the `key.create` audit entry in the same transaction. The one way
/// keys are made (`POST /v1/keys`, `create-admin-key`, the local gateway).
pub async fn create(
    db: &Database,
    new: &NewKey,
    by: Actor<'_>,
    request_id: Option<&str>,
) -> Result<CreatedKey, DbError> {
    portcullis_db::traced("api_keys.create", async {
        let mut tx = db.begin().await?;
        let created = create_in(&mut tx, new, by, request_id).await?;
        tx.commit().await?;
        Ok(created)
    })
    .await
}

/// [`create`] on a connection the caller owns: insert the key and its
/// `key.create` audit entry, and commit (or roll back) later. The keys
/// function commits only once the key's API Gateway usage key exists.
pub async fn create_in(
    conn: &mut PgConnection,
    new: &NewKey,
    by: Actor<'_>,
    request_id: Option<&str>,
) -> Result<CreatedKey, DbError> {
    let (key, lookup, digest) = apikey::generate();
    let record = insert(&mut *conn, new, &lookup, &digest, by.principal()).await?;
    audit::write(
        &mut *conn,
        &AuditEntry {
            actor: by,
            tenant: &record.tenant,
            action: "key.create",
            target: &record.id.to_string(),
            request_id,
            detail: serde_json::json!({
                "name": record.name,
                "scopes": record.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
                "plan": record.plan,
                "expires_at": record.expires_at,
                "prefix": record.prefix(),
            }),
        },
    )
    .await?;
    tracing::info!(
        request_id = request_id.unwrap_or("-"),
        key_id = %record.id,
        tenant = %record.tenant,
        principal = by.principal(),
        "API key created"
    );
    Ok(CreatedKey { key, record })
}

async fn insert(
    conn: &mut PgConnection,
    new: &NewKey,
    lookup: &LookupId,
    digest: &[u8; 32],
    created_by: &str,
) -> Result<KeyRecord, sqlx::Error> {
    let sql = format!(
        "insert into api_keys (id, lookup_id, secret_digest, name, tenant, scopes, plan, expires_at, created_by) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {COLUMNS}"
    );
    let scopes: Vec<&str> = new.scopes.iter().map(Scope::as_str).collect();
    sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(Uuid::now_v7())
        .bind(lookup.as_str())
        .bind(digest.as_slice())
        .bind(new.name.as_str())
        .bind(&new.tenant)
        .bind(&scopes)
        .bind(&new.plan)
        .bind(new.expires_at)
        .bind(created_by)
        .fetch_one(conn)
        .await
}

/// Up to `limit` keys of `tenant`, newest first, strictly after the
/// `(created_at, id)` position `after`.
pub async fn list(
    db: impl PgExecutor<'_>,
    tenant: &Tenant,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<KeyRecord>, sqlx::Error> {
    match after {
        None => {
            let sql = format!(
                "select {COLUMNS} from api_keys where tenant = $1 order by created_at desc, id desc limit $2"
            );
            sqlx::query_as::<_, KeyRecord>(&sql)
                .bind(tenant)
                .bind(limit)
                .fetch_all(db)
                .await
        }
        Some((created_at, id)) => {
            let sql = format!(
                "select {COLUMNS} from api_keys where tenant = $1 and (created_at, id) < ($2, $3) \
                 order by created_at desc, id desc limit $4"
            );
            sqlx::query_as::<_, KeyRecord>(&sql)
                .bind(tenant)
                .bind(created_at)
                .bind(id)
                .bind(limit)
                .fetch_all(db)
                .await
        }
    }
}

/// One key of `tenant`.
pub async fn get(
    db: impl PgExecutor<'_>,
    tenant: &Tenant,
    id: Uuid,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_keys where id = $1 and tenant = $2");
    sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(id)
        .bind(tenant)
        .fetch_optional(db)
        .await
}

/// One key of any tenant, by its id (ids are global): what a platform
/// administrator reads or revokes without naming the tenant.
pub async fn get_any(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<KeyRecord>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_keys where id = $1");
    sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Revoke a key of `tenant` and write the `key.revoke` audit entry in the
/// same transaction. Returns the key and whether it was already revoked
/// (then `revoked_at` is the first revocation's time, and the entry says
/// `already_revoked`), or `None` when the tenant has no such key (nothing
/// is written). Concurrent calls are safe: the update locks the row, and
/// the loser sees `revoked_at` already set.
pub async fn revoke(
    db: &Database,
    tenant: &Tenant,
    id: Uuid,
    by: Actor<'_>,
    request_id: Option<&str>,
) -> Result<Option<(KeyRecord, bool)>, DbError> {
    let mut tx = db.begin().await?;
    let Some((record, already)) = revoke_row(&mut tx, tenant, id).await? else {
        return Ok(None);
    };
    audit::write(
        &mut *tx,
        &AuditEntry {
            actor: by,
            tenant,
            action: "key.revoke",
            target: &id.to_string(),
            request_id,
            detail: serde_json::json!({
                "already_revoked": already,
                "revoked_at": record.revoked_at,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        request_id = request_id.unwrap_or("-"),
        key_id = %id,
        tenant = %tenant,
        already_revoked = already,
        principal = by.principal(),
        "API key revoked"
    );
    Ok(Some((record, already)))
}

async fn revoke_row(
    conn: &mut PgConnection,
    tenant: &Tenant,
    id: Uuid,
) -> Result<Option<(KeyRecord, bool)>, sqlx::Error> {
    let sql = format!(
        "update api_keys set revoked_at = now() where id = $1 and tenant = $2 and revoked_at is null returning {COLUMNS}"
    );
    if let Some(k) = sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(id)
        .bind(tenant)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(Some((k, false)));
    }
    Ok(get(&mut *conn, tenant, id).await?.map(|k| (k, true)))
}

/// A key row found by its lookup id, with the digest of its secret (for
/// [`check`] only; it never leaves this module otherwise).
#[derive(Clone)]
pub struct StoredKey {
    pub record: KeyRecord,
    digest: Vec<u8>,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// The row of a presented key's lookup id, if any.
pub async fn find_by_lookup(
    db: impl PgExecutor<'_>,
    lookup_id: &LookupId,
) -> Result<Option<StoredKey>, sqlx::Error> {
    let sql = format!("select {COLUMNS}, secret_digest from api_keys where lookup_id = $1");
    let query = sqlx::query(&sql)
        .bind(lookup_id.as_str())
        .fetch_optional(db);
    let Some(row) = portcullis_db::traced("api_keys.find_by_lookup", query).await? else {
        return Ok(None);
    };
    Ok(Some(StoredKey {
        record: KeyRecord::from_row(&row)?,
        digest: row.try_get("secret_digest")?,
    }))
}

/// Why a well-formed key was refused. The caller sees one answer for all
/// of them; logs tell them apart.
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

/// Whether a parsed key is valid at `now` against its row (if any): the
/// digest matches (constant time), not revoked, not expired. An unknown
/// lookup id costs the same digest work as a known one.
pub fn check(
    parsed: &ParsedKey,
    found: Option<StoredKey>,
    now: DateTime<Utc>,
) -> Result<KeyRecord, KeyRejection> {
    let Some(found) = found else {
        let _ = apikey::verify(parsed, &[0u8; 32]);
        return Err(KeyRejection::Unknown);
    };
    if !apikey::verify(parsed, &found.digest) {
        return Err(KeyRejection::WrongSecret);
    }
    match found.record.status(now) {
        KeyStatus::Revoked => Err(KeyRejection::Revoked),
        KeyStatus::Expired => Err(KeyRejection::Expired),
        KeyStatus::Active => Ok(found.record),
    }
}

/// Set `last_used_at = now()` unless it was set less than `interval_secs`
/// ago (the where-clause makes concurrent Lambda instances no-op). Returns
/// the rows written (0 or 1).
pub async fn touch(
    db: impl PgExecutor<'_>,
    id: Uuid,
    interval_secs: f64,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query(
        "update api_keys set last_used_at = now() \
         where id = $1 and (last_used_at is null or last_used_at < now() - make_interval(secs => $2))",
    )
    .bind(id)
    .bind(interval_secs)
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_trimmed_and_bounded() {
        assert_eq!(KeyName::parse("  ci  ").unwrap().as_str(), "ci");
        assert_eq!(KeyName::parse(" \t").unwrap_err(), KeyNameError::Empty);
        assert_eq!(
            KeyName::parse(&"x".repeat(101)).unwrap_err(),
            KeyNameError::TooLong
        );
        assert!(KeyName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            KeyName::parse("a\u{7}b").unwrap_err(),
            KeyNameError::Control
        );
    }

    #[test]
    fn revoked_wins_over_expired_and_the_boundary_counts() {
        let now = Utc::now();
        let mut r = KeyRecord {
            id: Uuid::nil(),
            lookup_id: "AbCdEf123456".parse().unwrap(),
            name: "n".into(),
            tenant: "acme".parse().unwrap(),
            scopes: Scopes::default(),
            plan: "standard".into(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            created_by: "t".into(),
        };
        assert_eq!(r.status(now), KeyStatus::Active);
        assert_eq!(r.prefix(), "pcs_AbCdEf123456");
        r.expires_at = Some(now);
        assert_eq!(r.status(now), KeyStatus::Expired);
        r.revoked_at = Some(now);
        assert_eq!(r.status(now), KeyStatus::Revoked);
        r.revoked_at = Some(now + chrono::Duration::seconds(5));
        r.expires_at = None;
        assert_eq!(r.status(now), KeyStatus::Active);
    }
}
