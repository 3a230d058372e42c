//! Per-consumer quotas end to end: the REST API Terraform
//! applied to the emulator, the real authorizer and keys functions, and the
//! local gateway metering with the emulator's usage plans and API keys as
//! API Gateway does. A platform administrator creates two Portcullis keys of
//! plan `trial` (platform.yaml: 50 requests a day) through the keys API,
//! which gives each its own API Gateway usage key; the first spends its quota
//! and is refused with QUOTA_EXCEEDED, the second is unaffected.

use std::time::Duration;

use aws_sdk_apigateway::Client;
use e2e::{client, deployed, deployed_gateway, overrides_for, sdk_config, start_gateway, unique};
use portcullis_db::Database;
use serde_json::{Value, json};
use sqlx::PgPool;

const PLAN: &str = "trial";

/// The emulator's usage plan of platform.yaml plan `plan` on this stage,
/// and its daily quota.
async fn usage_plan(apigw: &Client, api_id: &str, stage: &str, plan: &str) -> (String, u64) {
    let plans = apigw
        .get_usage_plans()
        .send()
        .await
        .expect("the administrator reads the usage plans");
    let found = plans
        .items()
        .iter()
        .find(|p| {
            p.name().is_some_and(|n| n.ends_with(&format!("-{plan}")))
                && p.api_stages()
                    .iter()
                    .any(|s| s.api_id() == Some(api_id) && s.stage() == Some(stage))
        })
        .unwrap_or_else(|| {
            panic!("Terraform created no usage plan for platform.yaml plan {plan:?} on this stage")
        });
    let quota = found
        .quota()
        .unwrap_or_else(|| panic!("plan {plan:?} has no quota in platform.yaml"));
    (
        found.id().expect("a usage plan has an id").to_owned(),
        u64::try_from(quota.limit()).expect("a positive quota"),
    )
}

/// `GET /v1/me` with `key`: the status and, for the gateway's own answers,
/// the gateway response's `detail` (`$context.error.message`).
async fn me(gw: &e2e::RunningGateway, key: &str) -> (u16, String) {
    let resp = client()
        .get(gw.at("/v1/me"))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .expect("the request reaches the gateway");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("a readable body");
    let detail = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("detail")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or(text);
    (status, detail)
}

#[sqlx::test(migrations = "../migrations")]
async fn one_consumer_exhausting_its_quota_leaves_another_of_the_same_plan_unaffected(
    pool: PgPool,
) {
    let deployment = deployed();
    let apigw = Client::new(&sdk_config().await);
    let (_, limit) = usage_plan(&apigw, &deployment.rest_api_id, &deployment.stage, PLAN).await;
    let gw = start_gateway(deployed_gateway(&deployment, &overrides_for(&pool)).await).await;
    let http = client();

    // A platform administrator entitles a tenant to plan trial and creates
    // two of its keys in it; the keys function gives each its own usage key.
    let db = Database::from_pool(pool.clone());
    let admin = keys::bootstrap_admin_key(&db, "platform", "quota e2e admin", "standard")
        .await
        .expect("bootstrap key");
    e2e::usage_key_for(&deployment, admin.record.id, "standard").await;
    let admin = admin.key.expose_secret().to_owned();
    let tenant = unique("quota");
    let resp = http
        .put(gw.at(&format!("/v1/tenants/{tenant}")))
        .header("x-api-key", &admin)
        .json(&json!({"services": [], "plans": [PLAN], "user_plan": PLAN}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.status(),
        200,
        "{}",
        resp.text().await.unwrap_or_default()
    );
    let mut consumers = Vec::new();
    for name in ["quota spender", "quota bystander"] {
        let resp = http
            .post(gw.at("/v1/keys"))
            .header("x-api-key", &admin)
            .json(&json!({"name": name, "scopes": ["jobs:read"], "tenant": tenant, "plan": PLAN}))
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let created: Value = resp.json().await.expect("a JSON answer");
        assert_eq!(status, 201, "{created}");
        consumers.push(
            created["key"]
                .as_str()
                .expect("the key is returned once")
                .to_owned(),
        );
    }
    let (first, second) = (&consumers[0], &consumers[1]);

    // The first consumer spends its quota: throttled answers (the plan's
    // bucket is smaller than its quota) are waited out, not counted.
    let mut passed = 0;
    let refusal = loop {
        let (status, detail) = me(&gw, first).await;
        match (status, detail.as_str()) {
            (200, _) => passed += 1,
            (429, "Too Many Requests") => tokio::time::sleep(Duration::from_millis(150)).await,
            _ => break (status, detail),
        }
        assert!(
            passed <= limit,
            "{passed} requests passed, over the plan's quota of {limit}"
        );
    };
    assert_eq!(refusal, (429, "Limit Exceeded".to_owned()));
    assert_eq!(passed, limit, "every request of the quota passed");
    assert_eq!(me(&gw, first).await, (429, "Limit Exceeded".to_owned()));

    // The second consumer of the same plan is unaffected.
    let (status, detail) = me(&gw, second).await;
    assert_eq!(status, 200, "{detail}");
}

/// The platform tenant's Cognito users are metered on a usage key Terraform
/// made (terraform/usage.tf): its first administrator signs in before any
/// API key or tenant exists, and API Gateway refuses a principal whose usage
/// key is missing. The key Terraform named must be the one the authorizer
/// returns (`portcullis_auth::usage`), enabled, in `platform_user_plan`
/// (`standard`) on this stage.
#[tokio::test]
async fn the_platform_tenants_users_are_metered_on_the_key_terraform_made() {
    use portcullis_auth::tenant::Tenant;
    use portcullis_auth::usage::{Consumer, USAGE_KEY_PREFIX, usage_key};
    let deployment = deployed();
    let env_of = |f: &str| {
        deployment
            .function(f)
            .unwrap_or_else(|e| panic!("{e}"))
            .environment
            .clone()
    };
    let prefix = env_of("authorizer")
        .get(USAGE_KEY_PREFIX)
        .cloned()
        .expect("the authorizer has USAGE_KEY_PREFIX");
    let platform: Tenant = env_of("keys")
        .get("PLATFORM_TENANT")
        .cloned()
        .unwrap_or_else(|| "platform".to_owned())
        .parse()
        .expect("PLATFORM_TENANT is a tenant id");
    let value = usage_key(&prefix, Consumer::Tenant(&platform));

    let apigw = Client::new(&sdk_config().await);
    let keys = apigw
        .get_api_keys()
        .name_query(&value)
        .include_values(true)
        .send()
        .await
        .expect("the administrator lists API keys");
    let key = keys
        .items()
        .iter()
        .find(|k| k.name() == Some(value.as_str()))
        .unwrap_or_else(|| {
            panic!("Terraform made no API key {value:?} for the platform tenant's users")
        });
    assert_eq!(key.value(), Some(value.as_str()));
    assert!(key.enabled(), "the platform users' usage key is disabled");
    let (plan_id, _) = usage_plan(
        &apigw,
        &deployment.rest_api_id,
        &deployment.stage,
        "standard",
    )
    .await;
    let in_plans = apigw
        .get_usage_plans()
        .key_id(key.id().expect("an API key has an id"))
        .send()
        .await
        .expect("the administrator lists the key's usage plans");
    let ids: Vec<&str> = in_plans.items().iter().filter_map(|p| p.id()).collect();
    assert_eq!(
        ids,
        vec![plan_id.as_str()],
        "the key is in platform_user_plan only"
    );
}
