//! Per-consumer quotas end to end (issue 11 item 2): the REST API Terraform
//! applied to the emulator, the real authorizer and keys functions, and the
//! local gateway metering with the emulator's usage plans and API keys as
//! API Gateway does. Two Portcullis keys of plan `trial` (platform.yaml: 50
//! requests a day): the first spends its quota and is refused with
//! QUOTA_EXCEEDED, the second is unaffected.

use std::time::Duration;

use aws_sdk_apigateway::Client;
use e2e::{
    api_key_in_plan, client, deployed, deployed_gateway, overrides_for, sdk_config, start_gateway,
};
use portcullis_auth::usage::{Consumer, USAGE_KEY_PREFIX, usage_key};
use serde_json::Value;
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

/// The API Gateway key of Portcullis key `id` in `usage_plan_id`, as the keys
/// function creates it (value = name = the consumer's usage identifier).
async fn usage_key_in_plan(apigw: &Client, value: &str, usage_plan_id: &str) -> String {
    let existing = apigw
        .get_api_keys()
        .name_query(value)
        .include_values(true)
        .send()
        .await
        .expect("the administrator reads the API keys");
    if let Some(k) = existing.items().iter().find(|k| k.value() == Some(value)) {
        return k.id().expect("an API key has an id").to_owned();
    }
    let key = apigw
        .create_api_key()
        .name(value)
        .value(value)
        .enabled(true)
        .send()
        .await
        .expect("the administrator creates an API key");
    let id = key.id().expect("an API key has an id").to_owned();
    apigw
        .create_usage_plan_key()
        .usage_plan_id(usage_plan_id)
        .key_id(&id)
        .key_type("API_KEY")
        .send()
        .await
        .expect("the administrator adds the key to the usage plan");
    id
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
    let admin = sdk_config().await;
    let apigw = Client::new(&admin);
    let (plan_id, limit) =
        usage_plan(&apigw, &deployment.rest_api_id, &deployment.stage, PLAN).await;
    let prefix = deployment
        .function("authorizer")
        .expect("the authorizer is deployed")
        .environment
        .get(USAGE_KEY_PREFIX)
        .cloned()
        .unwrap_or_default();

    let (first, first_id) = api_key_in_plan(&pool, "quota spender", "acme", &[], PLAN).await;
    let (second, second_id) = api_key_in_plan(&pool, "quota bystander", "acme", &[], PLAN).await;
    let mut created = Vec::new();
    for id in [first_id, second_id] {
        let value = usage_key(&prefix, Consumer::Key(id));
        created.push(usage_key_in_plan(&apigw, &value, &plan_id).await);
    }

    let gw = start_gateway(deployed_gateway(&deployment, &overrides_for(&pool)).await).await;

    // The first consumer spends its quota: throttled answers (the plan's
    // bucket is smaller than its quota) are waited out, not counted.
    let mut passed = 0;
    let refusal = loop {
        let (status, detail) = me(&gw, &first).await;
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
    assert_eq!(me(&gw, &first).await, (429, "Limit Exceeded".to_owned()));

    // The second consumer of the same plan is unaffected.
    let (status, detail) = me(&gw, &second).await;
    assert_eq!(status, 200, "{detail}");

    for id in created {
        let _ = apigw.delete_api_key().api_key(id).send().await;
    }
}
