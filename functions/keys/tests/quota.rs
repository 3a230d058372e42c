//! Tenant entitlements (who may create which
//! keys), per-consumer usage keys in API Gateway (real PostgreSQL, the
//! emulator), and platform administrators reaching any key by its id.

mod support;

use keys::State;
use portcullis_auth::usage::{Consumer, usage_key};
use portcullis_core::metrics::{self, Metric};
use portcullis_db::Database;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::collections::BTreeMap;
use support::{
    Ev, Who, admin, apigw_client, aws_down, call, ci_key, config, count, create, moto_endpoint,
    reader, state, state_with, try_create,
};

async fn put_tenant(s: &State, who: &Who, tenant: &str, body: Value) -> (u16, Value) {
    let (status, b, _) = call(s, Ev::tenant("PUT", tenant).by(who).body(body.to_string())).await;
    (status, b)
}

/// A platform administrator's `PUT /v1/tenants/{tenant}`: these services
/// and plans, and the plan of the tenant's users.
async fn entitle(
    s: &State,
    tenant: &str,
    services: &[&str],
    plans: &[&str],
    user_plan: &str,
) -> (u16, Value) {
    let body = json!({"services": services, "plans": plans, "user_plan": user_plan});
    put_tenant(s, &admin("platform"), tenant, body).await
}

/// A state whose usage plans name plans in an API Gateway that is down.
fn usage_state_aws_down(pool: PgPool) -> State {
    let mut cfg = config(&aws_down());
    cfg.usage_plan_ids = Some(BTreeMap::from([
        ("gold".to_owned(), "g1".to_owned()),
        ("standard".to_owned(), "s1".to_owned()),
    ]));
    state_with(cfg, Database::from_pool(pool))
}

// ---------------------------------------------------------------- entitlements

#[sqlx::test(migrations = "../../migrations")]
async fn a_tenant_without_entitlements_gets_no_key(pool: PgPool) {
    let s = state(pool.clone());
    for who in [admin("globex"), admin("platform")] {
        let (status, b) = try_create(
            &s,
            &who,
            json!({"name": "ci", "scopes": ["jobs:read"], "tenant": "globex"}),
        )
        .await;
        assert_eq!(status, 403, "{b}");
        let detail = b["detail"].as_str().unwrap();
        assert!(
            detail.contains("\"globex\"")
                && detail.contains("PUT /v1/tenants/globex")
                && detail.contains("\"platform\""),
            "{detail}"
        );
    }
    assert_eq!(count(&pool, "select count(*) from api_keys").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn keys_need_the_tenants_plan_and_services(pool: PgPool) {
    let s = state(pool.clone());
    let (status, b) = entitle(&s, "acme", &["billing"], &["standard"], "standard").await;
    assert_eq!(status, 200, "{b}");
    for (who, body, missing) in [
        (
            admin("acme"),
            json!({"name": "n", "scopes": ["jobs:read"], "plan": "gold"}),
            "usage plan \"gold\"",
        ),
        (
            admin("acme"),
            json!({"name": "n", "scopes": ["services:hr"]}),
            "scope \"services:hr\"",
        ),
        // A platform administrator acting for acme is bound by acme's entitlements.
        (
            admin("platform"),
            json!({"name": "n", "scopes": ["services:hr"], "tenant": "acme"}),
            "scope \"services:hr\"",
        ),
    ] {
        let (status, b) = try_create(&s, &who, body).await;
        assert_eq!(status, 403, "{b}");
        let detail = b["detail"].as_str().unwrap();
        assert!(
            detail.contains(missing) && detail.contains("PUT /v1/tenants/acme"),
            "{detail}"
        );
    }
    assert_eq!(count(&pool, "select count(*) from api_keys").await, 0);
    let b = create(
        &s,
        &admin("acme"),
        json!({"name": "n", "scopes": ["services:billing", "jobs:read"]}),
    )
    .await;
    assert_eq!(b["plan"], "standard");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_platform_tenant_is_entitled_to_everything(pool: PgPool) {
    let s = state(pool.clone());
    let b = create(
        &s,
        &admin("platform"),
        json!({"name": "ops", "scopes": ["services:hr", "keys:admin"], "plan": "gold"}),
    )
    .await;
    assert_eq!(b["tenant"], "platform");

    // Its users' usage key is Terraform's (platform_user_plan): the API
    // neither stores entitlements for it nor touches that key.
    let (status, b) = entitle(&s, "platform", &[], &["standard"], "standard").await;
    assert_eq!(status, 409, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .is_some_and(|d| d.contains("platform_user_plan")),
        "{b}"
    );
    assert_eq!(count(&pool, "select count(*) from tenants").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn only_platform_administrators_manage_tenants(pool: PgPool) {
    let s = state(pool.clone());
    let body =
        json!({"services": ["billing", "hr"], "plans": ["gold", "standard"], "user_plan": "gold"});
    for who in [admin("acme"), reader("platform")] {
        let (status, b) = put_tenant(&s, &who, "acme", body.clone()).await;
        assert_eq!(status, 403, "{b}");
        let (status, b, _) = call(&s, Ev::tenant("GET", "acme").by(&who)).await;
        assert_eq!(status, 403, "{b}");
        let (status, b, _) = call(&s, Ev::at("GET", "/v1/tenants").by(&who)).await;
        assert_eq!(status, 403, "{b}");
    }
    assert_eq!(count(&pool, "select count(*) from tenants").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn tenant_entitlements_are_checked_against_the_registry_and_audited(pool: PgPool) {
    let s = state(pool.clone());
    let (status, b) = entitle(&s, "acme", &["payroll"], &["standard"], "standard").await;
    assert_eq!(status, 422, "{b}");
    assert_eq!(b["field"], "services[0]");
    let (status, b) = entitle(&s, "acme", &["billing"], &["standard"], "standard").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["created"], true);
    assert_eq!(b["usage_key"]["status"], "skipped", "{b}");
    let (status, b) = entitle(&s, "acme", &[], &["gold", "standard"], "gold").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["created"], false);
    assert_eq!(b["user_plan"], "gold");
    let (status, b, _) = call(&s, Ev::tenant("GET", "acme").by(&admin("platform"))).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["plans"], json!(["gold", "standard"]));
    assert_eq!(b["services"], json!([]));
    let (status, b, _) = call(&s, Ev::tenant("GET", "globex").by(&admin("platform"))).await;
    assert_eq!(status, 404, "{b}");
    let (status, b, _) = call(&s, Ev::at("GET", "/v1/tenants").by(&admin("platform"))).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["items"].as_array().unwrap().len(), 1);

    let audit: Vec<(String, String, Value)> = sqlx::query_as(
        "select action, tenant, detail from audit_log where action = 'tenant.put' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(audit[0].1, "acme");
    assert_eq!(audit[0].2["before"], Value::Null);
    assert_eq!(audit[1].2["before"]["services"], json!(["billing"]));
    assert_eq!(audit[1].2["user_plan"], "gold");
    assert_eq!(audit[1].2["caller_tenant"], "platform");
}

// ------------------------------------------------ item 4: any key by its id

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_platform_administrator_reads_and_revokes_any_key_by_id_alone(pool: PgPool) {
    let s = state(pool.clone());
    let (id, _) = ci_key(&s, "acme").await;
    let id = id.as_str();
    // Other tenants' administrators still see nothing.
    for method in ["GET", "DELETE"] {
        let (status, body, _) = call(&s, Ev::key(method, id).by(&admin("evil"))).await;
        assert_eq!(status, 404, "{body}");
    }
    let (status, body, _) = call(&s, Ev::key("GET", id).by(&admin("platform"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenant"], "acme");
    let (status, body, _) = call(&s, Ev::key("DELETE", id).by(&admin("platform"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "revoked");
    let unknown = uuid::Uuid::now_v7().to_string();
    let (status, body, _) = call(&s, Ev::key("GET", &unknown).by(&admin("platform"))).await;
    assert_eq!(status, 404, "{body}");
    // Naming a tenant still scopes the look-up to it.
    let (status, body, _) = call(
        &s,
        Ev::key("GET", id)
            .by(&admin("platform"))
            .query("tenant", "evil"),
    )
    .await;
    assert_eq!(status, 404, "{body}");
}

// ----------------------------------------- per-consumer usage keys (emulator)

/// Two usage plans in the emulator, as Terraform makes them, and a state
/// whose USAGE_PLAN_IDS names them, with a prefix no other test uses.
async fn usage_state(
    pool: PgPool,
) -> (State, aws_sdk_apigateway::Client, BTreeMap<String, String>) {
    let endpoint = moto_endpoint();
    let apigw = apigw_client(&endpoint);
    let run = portcullis_testkit::unique("q").replace(['-', '_'], "");
    let mut ids = BTreeMap::new();
    for plan in ["gold", "standard"] {
        let p = apigw
            .create_usage_plan()
            .name(format!("{run}-{plan}"))
            .send()
            .await
            .expect("the emulator creates a usage plan");
        ids.insert(plan.to_owned(), p.id().unwrap().to_owned());
    }
    let mut cfg = config(&endpoint);
    cfg.usage_key_prefix = format!("{}-", &run[..run.len().min(40)]);
    cfg.usage_plan_ids = Some(ids.clone());
    (
        State::new(cfg, Database::from_pool(pool), apigw.clone()),
        apigw,
        ids,
    )
}

/// The API key named `name`: (id, enabled, value).
async fn api_key(apigw: &aws_sdk_apigateway::Client, name: &str) -> Option<(String, bool, String)> {
    let out = apigw
        .get_api_keys()
        .name_query(name)
        .include_values(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .find(|k| k.name() == Some(name))
        .map(|k| {
            (
                k.id().unwrap().to_owned(),
                k.enabled(),
                k.value().unwrap_or_default().to_owned(),
            )
        })
}

async fn plan_keys(apigw: &aws_sdk_apigateway::Client, plan_id: &str) -> Vec<String> {
    apigw
        .get_usage_plan_keys()
        .usage_plan_id(plan_id)
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter_map(|k| k.id().map(str::to_owned))
        .collect()
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_created_key_gets_its_own_usage_key_in_its_plan_disabled_on_revocation(pool: PgPool) {
    let (s, apigw, ids) = usage_state(pool).await;
    let cap = metrics::capture();
    let b = create(
        &s,
        &admin("acme"),
        json!({"name": "ci", "scopes": ["jobs:read"], "plan": "gold"}),
    )
    .await;
    let id: uuid::Uuid = b["id"].as_str().unwrap().parse().unwrap();
    let name = usage_key(&s.config.usage_key_prefix, Consumer::Key(id));
    let (key_id, enabled, value) = api_key(&apigw, &name)
        .await
        .expect("the key's usage key exists");
    assert!(enabled);
    assert_eq!(
        value, name,
        "value = name = the authorizer's usageIdentifierKey"
    );
    assert!(plan_keys(&apigw, &ids["gold"]).await.contains(&key_id));
    assert!(!plan_keys(&apigw, &ids["standard"]).await.contains(&key_id));
    // A second key of the same tenant and plan has a usage key of its own.
    let b2 = create(
        &s,
        &admin("acme"),
        json!({"name": "ci2", "scopes": ["jobs:read"], "plan": "gold"}),
    )
    .await;
    let name2 = usage_key(
        &s.config.usage_key_prefix,
        Consumer::Key(b2["id"].as_str().unwrap().parse().unwrap()),
    );
    let (key_id2, _, _) = api_key(&apigw, &name2).await.expect("a second usage key");
    assert_ne!(key_id, key_id2);

    let (status, body, _) = call(&s, Ev::key("DELETE", &id.to_string()).by(&admin("acme"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["usage_key"]["status"], "disabled", "{body}");
    let (_, enabled, _) = api_key(&apigw, &name).await.unwrap();
    assert!(!enabled, "the revoked key's usage key is disabled");
    let (_, enabled2, _) = api_key(&apigw, &name2).await.unwrap();
    assert!(enabled2, "other keys are untouched");

    // Each change counted once, with the account's API keys counted after
    // it (other tests share the emulator's account: at least ours).
    let (_, again, _) = call(&s, Ev::key("DELETE", &id.to_string()).by(&admin("acme"))).await;
    assert_eq!(again["already_revoked"], true);
    assert_eq!(cap.sum(Metric::KeyCreated, &[]), 2.0, "{:?}", cap.lines());
    assert_eq!(cap.sum(Metric::KeyRevoked, &[]), 1.0);
    let counts = cap.values(Metric::ApiKeyCount, &[]);
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(
        counts[0] >= 1.0 && counts[1] >= 2.0 && counts[2] >= 2.0,
        "{counts:?}"
    );
    let direct = s
        .usage_keys()
        .await
        .unwrap()
        .count_api_keys()
        .await
        .unwrap();
    assert!(direct as f64 >= counts[1], "{direct} vs {counts:?}");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn no_key_exists_when_api_gateway_refuses_its_usage_key(pool: PgPool) {
    let s = usage_state_aws_down(pool.clone());
    let (status, b) = try_create(
        &s,
        &admin("acme"),
        json!({"name": "ci", "scopes": ["jobs:read"]}),
    )
    .await;
    assert_eq!(status, 503, "{b}");
    let detail = b["detail"].as_str().unwrap();
    assert!(
        detail.contains("not created") && detail.contains("retry"),
        "{detail}"
    );
    assert!(b.get("key").is_none());
    assert_eq!(count(&pool, "select count(*) from api_keys").await, 0);
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'key.create'"
        )
        .await,
        0
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_plan_without_a_usage_plan_id_creates_neither_key(pool: PgPool) {
    let (mut s, apigw, _) = usage_state(pool.clone()).await;
    s.config.usage_plan_ids.as_mut().unwrap().remove("gold");
    let (status, b) = try_create(
        &s,
        &admin("acme"),
        json!({"name": "ci", "scopes": ["jobs:read"], "plan": "gold"}),
    )
    .await;
    assert_eq!(status, 503, "{b}");
    assert_eq!(count(&pool, "select count(*) from api_keys").await, 0);
    let left = apigw
        .get_api_keys()
        .name_query(&s.config.usage_key_prefix)
        .send()
        .await
        .unwrap();
    assert!(
        left.items().is_empty(),
        "no API key is left behind: {left:?}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn putting_a_tenant_creates_its_usage_key_in_its_user_plan_and_moves_it(pool: PgPool) {
    let (s, apigw, ids) = usage_state(pool.clone()).await;
    let cap = metrics::capture();
    let (status, b) = entitle(&s, "acme", &[], &["gold", "standard"], "standard").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["usage_key"]["status"], "ready", "{b}");
    let tenant: portcullis_auth::Tenant = "acme".parse().unwrap();
    let name = usage_key(&s.config.usage_key_prefix, Consumer::Tenant(&tenant));
    let (key_id, enabled, value) = api_key(&apigw, &name)
        .await
        .expect("the tenant's usage key exists");
    assert!(enabled);
    assert_eq!(value, name);
    assert!(plan_keys(&apigw, &ids["standard"]).await.contains(&key_id));
    assert!(!plan_keys(&apigw, &ids["gold"]).await.contains(&key_id));

    let (status, b) = entitle(&s, "acme", &[], &["gold"], "gold").await;
    assert_eq!(status, 200, "{b}");
    let (moved_id, _, _) = api_key(&apigw, &name).await.unwrap();
    assert_eq!(moved_id, key_id, "the same usage key, moved");
    assert!(plan_keys(&apigw, &ids["gold"]).await.contains(&key_id));
    assert!(!plan_keys(&apigw, &ids["standard"]).await.contains(&key_id));
    assert_eq!(
        cap.sum(Metric::TenantChanged, &[]),
        2.0,
        "{:?}",
        cap.lines()
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_tenant_is_not_stored_when_its_usage_key_cannot_be_made(pool: PgPool) {
    let s = usage_state_aws_down(pool.clone());
    let (status, b) = entitle(&s, "acme", &[], &["standard"], "standard").await;
    assert_eq!(status, 503, "{b}");
    assert_eq!(count(&pool, "select count(*) from tenants").await, 0);
    assert_eq!(count(&pool, "select count(*) from audit_log").await, 0);
}

#[test]
fn usage_plan_ids_must_name_every_plan_of_the_registry() {
    use portcullis_core::Env;
    let plans = keys::Config::from_env(&Env::from_pairs::<&str, &str>([]))
        .unwrap()
        .plans;
    let all: String = plans
        .iter()
        .map(|p| format!("{p}=abc123"))
        .collect::<Vec<_>>()
        .join(";");
    let cfg = keys::Config::from_env(&Env::from_pairs([
        ("USAGE_PLAN_IDS", all.as_str()),
        ("USAGE_KEY_PREFIX", "pc-dev-"),
    ]))
    .unwrap();
    assert_eq!(cfg.usage_plan_ids.unwrap().len(), plans.len());
    assert_eq!(cfg.usage_key_prefix, "pc-dev-");
    for bad in ["standard", "nosuchplan=abc", "standard=a b"] {
        let e = keys::Config::from_env(&Env::from_pairs([("USAGE_PLAN_IDS", bad)])).unwrap_err();
        assert!(e.to_string().contains("USAGE_PLAN_IDS"), "{bad}: {e}");
    }
    let e =
        keys::Config::from_env(&Env::from_pairs([("USAGE_KEY_PREFIX", "bad prefix")])).unwrap_err();
    assert!(e.to_string().contains("USAGE_KEY_PREFIX"), "{e}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_bootstrap_key_gets_its_usage_key_when_usage_plans_are_configured(pool: PgPool) {
    let (s, apigw, ids) = usage_state(pool).await;
    let created = keys::bootstrap_admin_key_with_usage(
        &s.db,
        s.usage_keys().await,
        "platform",
        "first admin",
        "standard",
    )
    .await
    .unwrap();
    let name = usage_key(&s.config.usage_key_prefix, Consumer::Key(created.record.id));
    let (key_id, enabled, _) = api_key(&apigw, &name)
        .await
        .expect("the bootstrap key's usage key");
    assert!(enabled);
    assert!(plan_keys(&apigw, &ids["standard"]).await.contains(&key_id));
}
