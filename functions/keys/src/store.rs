//! SQL for `api_keys` and `audit_log`. Every function takes an executor or a
//! transaction, so the handler decides what commits together.

use crate::cursor::Cursor;
use chrono::{DateTime, Utc};
use portcullis_auth::apikey::{LOOKUP_LEN, PREFIX};
use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The columns every read returns (never the digest).
const COLUMNS: &str = "id, lookup_id, name, tenant, scopes, plan, created_at, expires_at, revoked_at, last_used_at, created_by";

/// One API key as stored, without its digest.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct KeyRecord {
    pub id: Uuid,
    pub lookup_id: String,
    pub name: String,
    pub tenant: String,
    pub scopes: Vec<String>,
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: String,
}

/// What a client sees of a key: metadata, a recognisable prefix, a status;
/// never the secret or its digest.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub id: Uuid,
    /// `pcs_<lookup id>`: the public start of the key, to recognise it.
    pub prefix: String,
    pub name: String,
    pub tenant: String,
    pub scopes: Vec<String>,
    pub plan: String,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: String,
}

impl KeyRecord {
    pub fn view(&self, now: DateTime<Utc>) -> KeyView {
        let status = if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        };
        let mut prefix = String::with_capacity(PREFIX.len() + LOOKUP_LEN);
        prefix.push_str(PREFIX);
        prefix.push_str(&self.lookup_id);
        KeyView {
            id: self.id,
            prefix,
            name: self.name.clone(),
            tenant: self.tenant.clone(),
            scopes: self.scopes.clone(),
            plan: self.plan.clone(),
            status,
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            created_by: self.created_by.clone(),
        }
    }
}

/// A key to insert: everything but the server-set columns.
pub struct NewKey<'a> {
    pub lookup_id: &'a str,
    pub digest: &'a [u8],
    pub name: &'a str,
    pub tenant: &'a str,
    pub scopes: &'a [String],
    pub plan: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: &'a str,
}

pub async fn insert_key(
    conn: &mut PgConnection,
    key: &NewKey<'_>,
) -> Result<KeyRecord, sqlx::Error> {
    let sql = format!(
        "insert into api_keys (id, lookup_id, secret_digest, name, tenant, scopes, plan, expires_at, created_by) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning {COLUMNS}"
    );
    sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(Uuid::now_v7())
        .bind(key.lookup_id)
        .bind(key.digest)
        .bind(key.name)
        .bind(key.tenant)
        .bind(key.scopes)
        .bind(key.plan)
        .bind(key.expires_at)
        .bind(key.created_by)
        .fetch_one(conn)
        .await
}

/// Up to `limit` keys of `tenant`, newest first, strictly after `after`.
pub async fn list_keys(
    db: impl PgExecutor<'_>,
    tenant: &str,
    after: Option<Cursor>,
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
        Some(c) => {
            let sql = format!(
                "select {COLUMNS} from api_keys where tenant = $1 and (created_at, id) < ($2, $3) \
                 order by created_at desc, id desc limit $4"
            );
            sqlx::query_as::<_, KeyRecord>(&sql)
                .bind(tenant)
                .bind(c.created_at)
                .bind(c.id)
                .bind(limit)
                .fetch_all(db)
                .await
        }
    }
}

pub async fn get_key(
    db: impl PgExecutor<'_>,
    tenant: &str,
    id: Uuid,
) -> Result<Option<KeyRecord>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from api_keys where id = $1 and tenant = $2");
    sqlx::query_as::<_, KeyRecord>(&sql)
        .bind(id)
        .bind(tenant)
        .fetch_optional(db)
        .await
}

/// Revoke a key of `tenant`. Returns the key and whether it was already
/// revoked (then `revoked_at` is the first revocation's time), or `None`
/// when the tenant has no such key. Concurrent calls are safe: the update
/// locks the row, and the loser sees `revoked_at` already set.
pub async fn revoke_key(
    conn: &mut PgConnection,
    tenant: &str,
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
    Ok(get_key(&mut *conn, tenant, id).await?.map(|k| (k, true)))
}

/// One audit entry: who did what to which target, in which request.
pub struct AuditEntry<'a> {
    pub principal: &'a str,
    pub tenant: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub request_id: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn audit(conn: &mut PgConnection, entry: &AuditEntry<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into audit_log (principal, tenant, action, target, request_id, detail) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.principal)
    .bind(entry.tenant)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.request_id)
    .bind(&entry.detail)
    .execute(conn)
    .await?;
    Ok(())
}
