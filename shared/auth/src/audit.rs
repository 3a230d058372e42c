//! The one writer of `audit_log` (feature `store`): key creations and
//! revocations (keys function, bootstrap tool) and proxied mutations
//! (proxy function) go through [`write`].
//!
//! Who acted is an [`Actor`]: the principal column comes from it, and the
//! `detail` JSON always carries the same who-fields, whatever wrote it:
//! `principal_type`, `caller_tenant` and `key_id` (API keys) for a caller;
//! `via: "bootstrap"` for the bootstrap tool.

use crate::context::AuthContext;
use crate::tenant::Tenant;
use serde_json::Value;
use sqlx::PgExecutor;

/// Who did it.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// An authenticated caller, as the authorizer described it.
    Caller(&'a AuthContext),
    /// The bootstrap tool (`create-admin-key`, the local gateway's demo key).
    Bootstrap,
}

impl Actor<'_> {
    /// The `audit_log.principal` (and `api_keys.created_by`) of this actor.
    pub fn principal(&self) -> &str {
        match self {
            Actor::Caller(c) => &c.principal_id,
            Actor::Bootstrap => "bootstrap",
        }
    }

    fn describe(&self, detail: &mut serde_json::Map<String, Value>) {
        match self {
            Actor::Caller(c) => {
                detail.insert("principal_type".into(), c.principal_type.as_str().into());
                detail.insert("caller_tenant".into(), c.tenant.as_str().into());
                if let Some(k) = c.key_id {
                    detail.insert("key_id".into(), k.to_string().into());
                }
            }
            Actor::Bootstrap => {
                detail.insert("via".into(), "bootstrap".into());
            }
        }
    }
}

/// One audit entry: who did what to which target of which tenant, in which
/// request.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: Actor<'a>,
    /// The tenant acted on.
    pub tenant: &'a Tenant,
    /// `key.create`, `key.revoke`, `service.post`, ...
    pub action: &'a str,
    pub target: &'a str,
    pub request_id: Option<&'a str>,
    /// What happened; a JSON object (anything else is kept under `"value"`).
    /// The actor's fields are added to it.
    pub detail: Value,
}

/// Insert one entry. Run it in the transaction of the change it records,
/// so neither commits without the other.
pub async fn write(db: impl PgExecutor<'_>, entry: &AuditEntry<'_>) -> Result<(), sqlx::Error> {
    let mut detail = match &entry.detail {
        Value::Object(m) => m.clone(),
        Value::Null => serde_json::Map::new(),
        other => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other.clone());
            m
        }
    };
    entry.actor.describe(&mut detail);
    sqlx::query(
        "insert into audit_log (principal, tenant, action, target, request_id, detail) values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.actor.principal())
    .bind(entry.tenant)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.request_id)
    .bind(Value::Object(detail))
    .execute(db)
    .await?;
    Ok(())
}
