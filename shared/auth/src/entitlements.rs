//! The one store of `tenants` (feature `store`): what each tenant is
//! entitled to (private services, usage plans) and the usage plan of its
//! Cognito users. Platform administrators write it (`PUT /v1/tenants/{t}`);
//! key creation reads it ([`Entitlements::refusal`]). The platform tenant is
//! entitled to everything and needs no row. See docs/keys.md#entitlements.

use crate::audit::{self, Actor, AuditEntry};
use crate::scope::Scopes;
use crate::tenant::Tenant;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};

const COLUMNS: &str = "tenant, services, plans, user_plan, updated_at, updated_by";

/// One tenant's entitlements, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, serde::Serialize)]
pub struct Entitlements {
    pub tenant: Tenant,
    /// Private services (platform.yaml `services`) its keys may reach:
    /// `services:<name>` scopes.
    pub services: Vec<String>,
    /// Usage plans its keys may be created in.
    pub plans: Vec<String>,
    /// The usage plan metering its Cognito users (one of `plans`).
    pub user_plan: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// What a platform administrator sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntitlements {
    pub services: Vec<String>,
    pub plans: Vec<String>,
    pub user_plan: String,
}

impl Entitlements {
    /// Why a key with `scopes` in `plan` may not be created for this
    /// tenant, or `None` when it may. The message names what is missing.
    pub fn refusal(&self, scopes: &Scopes, plan: &str) -> Option<String> {
        let mut missing: Vec<String> = Vec::new();
        if !self.plans.iter().any(|p| p == plan) {
            missing.push(format!(
                "usage plan {plan:?} (entitled: {})",
                list(&self.plans)
            ));
        }
        for s in scopes.iter() {
            if let Some(service) = s.service_owner() {
                if !self.services.iter().any(|x| x == service) {
                    missing.push(format!("scope {:?}", s.as_str()));
                }
            }
        }
        if missing.is_empty() {
            return None;
        }
        Some(format!(
            "tenant {:?} is not entitled to {} (its services: {}); a platform administrator grants entitlements with PUT /v1/tenants/{}",
            self.tenant.as_str(),
            missing.join(", "),
            list(&self.services),
            self.tenant.as_str()
        ))
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// The entitlements of `tenant`, if a row exists.
pub async fn get(
    db: impl PgExecutor<'_>,
    tenant: &Tenant,
) -> Result<Option<Entitlements>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from tenants where tenant = $1");
    sqlx::query_as::<_, Entitlements>(&sql)
        .bind(tenant)
        .fetch_optional(db)
        .await
}

/// Every tenant row, by tenant id.
pub async fn list_all(db: impl PgExecutor<'_>) -> Result<Vec<Entitlements>, sqlx::Error> {
    let sql = format!("select {COLUMNS} from tenants order by tenant");
    sqlx::query_as::<_, Entitlements>(&sql).fetch_all(db).await
}

/// Create or replace the row of `tenant` and write the `tenant.put` audit
/// entry (with the previous values) on `conn`: run it in a transaction the
/// caller commits once the tenant's usage key is in place. Returns the row
/// and whether it was created.
pub async fn put(
    conn: &mut PgConnection,
    tenant: &Tenant,
    new: &NewEntitlements,
    by: Actor<'_>,
    request_id: Option<&str>,
) -> Result<(Entitlements, bool), sqlx::Error> {
    let before = {
        let sql = format!("select {COLUMNS} from tenants where tenant = $1 for update");
        sqlx::query_as::<_, Entitlements>(&sql)
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?
    };
    let sql = format!(
        "insert into tenants (tenant, services, plans, user_plan, updated_by) values ($1, $2, $3, $4, $5) \
         on conflict (tenant) do update set services = excluded.services, plans = excluded.plans, \
         user_plan = excluded.user_plan, updated_by = excluded.updated_by, updated_at = now() \
         returning {COLUMNS}"
    );
    let row = sqlx::query_as::<_, Entitlements>(&sql)
        .bind(tenant)
        .bind(&new.services)
        .bind(&new.plans)
        .bind(&new.user_plan)
        .bind(by.principal())
        .fetch_one(&mut *conn)
        .await?;
    audit::write(
        &mut *conn,
        &AuditEntry {
            actor: by,
            tenant,
            action: "tenant.put",
            target: tenant.as_str(),
            request_id,
            detail: serde_json::json!({
                "services": row.services,
                "plans": row.plans,
                "user_plan": row.user_plan,
                "before": before.as_ref().map(|b| serde_json::json!({
                    "services": b.services,
                    "plans": b.plans,
                    "user_plan": b.user_plan,
                })),
            }),
        },
    )
    .await?;
    Ok((row, before.is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_every_missing_entitlement_and_who_grants_it() {
        let e = Entitlements {
            tenant: "acme".parse().unwrap(),
            services: vec!["billing".into()],
            plans: vec!["standard".into()],
            user_plan: "standard".into(),
            updated_at: Utc::now(),
            updated_by: "t".into(),
        };
        let ok: Scopes = "jobs:read services:billing".parse().unwrap();
        assert_eq!(e.refusal(&ok, "standard"), None);
        let bad: Scopes = "services:billing services:hr".parse().unwrap();
        let m = e.refusal(&bad, "gold").unwrap();
        assert!(
            m.contains("\"gold\"")
                && m.contains("services:hr")
                && !m.contains("\"services:billing\"")
                && m.contains("PUT /v1/tenants/acme"),
            "{m}"
        );
        // A service's route scopes come with the service, not without it.
        let route: Scopes = "services:billing.write".parse().unwrap();
        assert_eq!(e.refusal(&route, "standard"), None);
        let other: Scopes = "services:hr.write".parse().unwrap();
        assert!(e.refusal(&other, "standard").is_some());
    }
}
