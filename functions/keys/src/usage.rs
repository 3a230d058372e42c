//! The API Gateway side of per-consumer quotas: each Portcullis key gets an
//! API Gateway API key in its usage plan, disabled when the key is revoked;
//! each tenant gets one for its Cognito users in its `user_plan`. The value
//! (and name) of each is `portcullis_auth::usage::usage_key`, which the
//! authorizer returns as `usageIdentifierKey`. Values are not secrets: the
//! REST API takes them from the authorizer only (`api_key_source = AUTHORIZER`).
//!
//! IAM (terraform/functions.tf): `apigateway:POST` and `GET` on `/apikeys`
//! (`GET` also counts the account's keys: [`UsageKeys::count_api_keys`]),
//! `GET`/`PATCH`/`DELETE` on `/apikeys/*`, `GET` on `/usageplans`, `POST` on
//! `/usageplans/<id>/keys` and `DELETE` on `/usageplans/<id>/keys/*` of the
//! deployment's plans.

use aws_sdk_apigateway::Client;
use aws_sdk_apigateway::error::DisplayErrorContext;
use aws_sdk_apigateway::types::{Op, PatchOperation};
use portcullis_auth::Tenant;
use portcullis_auth::store::KeyRecord;
use portcullis_auth::usage::{Consumer, usage_key};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The usage-key operations of a deployment (`State::usage_keys`).
#[derive(Clone, Copy)]
pub struct UsageKeys<'a> {
    pub apigw: &'a Client,
    pub prefix: &'a str,
    pub plan_ids: &'a BTreeMap<String, String>,
}

/// A failed API Gateway step: what was being done and the SDK's error
/// (logged; the caller gets a 503 that says what to do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {cause}")]
pub struct UsageError {
    pub step: String,
    pub cause: String,
}

fn failed<E>(step: impl Into<String>, e: &aws_sdk_apigateway::error::SdkError<E>) -> UsageError
where
    E: std::error::Error + 'static,
{
    UsageError {
        step: step.into(),
        cause: DisplayErrorContext(e).to_string(),
    }
}

/// The most keys one GetApiKeys page holds ("The default value is 25 and
/// the maximum value is 500": GetApiKeys, `limit`).
pub const API_KEYS_PAGE: i32 = 500;
/// The most pages [`UsageKeys::count_api_keys`] reads: 25,000 keys, past
/// the account's quota of 10,000 API keys per Region, which cannot be raised
/// ("Quotas for configuring and running a REST API in API Gateway").
pub const MAX_API_KEY_PAGES: usize = 50;

/// What happened to a revoked key's usage key (the `usage_key` of the
/// DELETE answer, like `authorizer_cache`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UsageKeyOutcome {
    /// `disabled`, `absent` (the key has none: created before per-consumer
    /// quotas), `skipped` (no usage plans configured) or `failed`.
    pub status: &'static str,
    pub detail: String,
}

impl UsageKeys<'_> {
    fn plan_id(&self, plan: &str) -> Result<&str, UsageError> {
        self.plan_ids
            .get(plan)
            .map(String::as_str)
            .ok_or_else(|| UsageError {
                step: format!("finding the API Gateway usage plan of {plan:?}"),
                cause: "USAGE_PLAN_IDS names no usage plan id for it".to_owned(),
            })
    }

    /// The id of the API key named `name`, if one exists.
    async fn find(&self, name: &str) -> Result<Option<String>, UsageError> {
        let out = self
            .apigw
            .get_api_keys()
            .name_query(name)
            .include_values(false)
            .limit(500)
            .send()
            .await
            .map_err(|e| failed(format!("looking up API key {name}"), &e))?;
        Ok(out
            .items()
            .iter()
            .find(|k| k.name() == Some(name))
            .and_then(|k| k.id().map(str::to_owned)))
    }

    async fn create_api_key(&self, value: &str, description: String) -> Result<String, UsageError> {
        let out = self
            .apigw
            .create_api_key()
            .name(value)
            .value(value)
            .enabled(true)
            .description(description)
            .send()
            .await
            .map_err(|e| failed(format!("creating API key {value}"), &e))?;
        out.id().map(str::to_owned).ok_or_else(|| UsageError {
            step: format!("creating API key {value}"),
            cause: "API Gateway answered without an id".to_owned(),
        })
    }

    async fn add_to_plan(&self, key_id: &str, plan: &str) -> Result<(), UsageError> {
        let plan_id = self.plan_id(plan)?;
        self.apigw
            .create_usage_plan_key()
            .usage_plan_id(plan_id)
            .key_id(key_id)
            .key_type("API_KEY")
            .send()
            .await
            .map_err(|e| {
                failed(
                    format!("adding API key {key_id} to usage plan {plan} ({plan_id})"),
                    &e,
                )
            })?;
        Ok(())
    }

    /// Best effort: a key left behind is in no plan and named after a key id
    /// that does not exist, so it meters nothing.
    async fn delete_quietly(&self, key_id: &str) {
        if let Err(e) = self.apigw.delete_api_key().api_key(key_id).send().await {
            tracing::warn!(
                api_key_id = key_id,
                error = %DisplayErrorContext(&e),
                "an API key of a failed creation was not deleted; it is in no usage plan"
            );
        }
    }

    /// Create the usage key of a new Portcullis key in its plan.
    pub async fn create_for_key(&self, record: &KeyRecord) -> Result<String, UsageError> {
        let value = usage_key(self.prefix, Consumer::Key(record.id));
        // Checked first so no API key is created for a plan without an id.
        self.plan_id(&record.plan)?;
        let id = self
            .create_api_key(
                &value,
                format!(
                    "Usage key of Portcullis key {} ({}) of tenant {}, plan {}",
                    record.id,
                    record.prefix(),
                    record.tenant,
                    record.plan
                ),
            )
            .await?;
        if let Err(e) = self.add_to_plan(&id, &record.plan).await {
            self.delete_quietly(&id).await;
            return Err(e);
        }
        Ok(value)
    }

    /// How many API Gateway API keys the account has in this Region (every
    /// key, not only Portcullis's: the quota is the account's): GetApiKeys
    /// page by page (`position`), without the values. Bounded by
    /// [`MAX_API_KEY_PAGES`]; a page that repeats a position ends the count.
    pub async fn count_api_keys(&self) -> Result<u64, UsageError> {
        let mut count = 0u64;
        let mut position: Option<String> = None;
        for _ in 0..MAX_API_KEY_PAGES {
            let out = self
                .apigw
                .get_api_keys()
                .include_values(false)
                .limit(API_KEYS_PAGE)
                .set_position(position.clone())
                .send()
                .await
                .map_err(|e| failed("counting the account's API keys", &e))?;
            count += out.items().len() as u64;
            match out.position() {
                Some(next) if !next.is_empty() && position.as_deref() != Some(next) => {
                    position = Some(next.to_owned());
                }
                _ => return Ok(count),
            }
        }
        tracing::warn!(
            pages = MAX_API_KEY_PAGES,
            count,
            "API keys counted up to the page bound; the count may be short"
        );
        Ok(count)
    }

    /// Disable the usage key of a revoked Portcullis key.
    pub async fn disable_key(&self, key: Uuid) -> UsageKeyOutcome {
        let name = usage_key(self.prefix, Consumer::Key(key));
        let result = async {
            let Some(id) = self.find(&name).await? else {
                return Ok(false);
            };
            self.apigw
                .update_api_key()
                .api_key(&id)
                .patch_operations(
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/enabled")
                        .value("false")
                        .build(),
                )
                .send()
                .await
                .map_err(|e| failed(format!("disabling API key {name}"), &e))?;
            Ok::<bool, UsageError>(true)
        }
        .await;
        match result {
            Ok(true) => UsageKeyOutcome {
                status: "disabled",
                detail: format!("the API Gateway usage key {name} was disabled"),
            },
            Ok(false) => UsageKeyOutcome {
                status: "absent",
                detail: format!(
                    "the key has no API Gateway usage key ({name}); it was created before per-consumer quotas, nothing to disable"
                ),
            },
            Err(e) => {
                tracing::error!(key_id = %key, error = %e, "usage key not disabled; the revocation stands");
                UsageKeyOutcome {
                    status: "failed",
                    detail: "the key is revoked, but disabling its API Gateway usage key failed; the authorizer refuses the key anyway. Repeat the DELETE to retry".to_owned(),
                }
            }
        }
    }

    /// Make sure the usage key of `tenant`'s Cognito users exists, is
    /// enabled, and is in `plan` and no other of the deployment's plans.
    pub async fn put_tenant(&self, tenant: &Tenant, plan: &str) -> Result<String, UsageError> {
        let value = usage_key(self.prefix, Consumer::Tenant(tenant));
        let plan_id = self.plan_id(plan)?.to_owned();
        let id = match self.find(&value).await? {
            Some(id) => id,
            None => {
                self.create_api_key(
                    &value,
                    format!("Usage key of the Cognito users of tenant {tenant}"),
                )
                .await?
            }
        };
        let current = self
            .apigw
            .get_usage_plans()
            .key_id(&id)
            .limit(500)
            .send()
            .await
            .map_err(|e| failed(format!("listing the usage plans of API key {value}"), &e))?;
        let mut member = false;
        for p in current.items() {
            let Some(pid) = p.id() else { continue };
            if pid == plan_id {
                member = true;
            } else if self.plan_ids.values().any(|v| v == pid) {
                self.apigw
                    .delete_usage_plan_key()
                    .usage_plan_id(pid)
                    .key_id(&id)
                    .send()
                    .await
                    .map_err(|e| {
                        failed(
                            format!("removing API key {value} from usage plan {pid}"),
                            &e,
                        )
                    })?;
            }
        }
        if !member {
            self.add_to_plan(&id, plan).await?;
        }
        Ok(value)
    }
}
