//! Routing on `requestContext.resourcePath` and the route handlers, in the
//! HTTP convention of `portcullis_core::http`. Every answer goes through the
//! CORS policy (`Config::cors`); `OPTIONS` on a served route is answered by
//! it (a preflight, or `Allow`), without authentication: the gateway runs no
//! authorizer on `OPTIONS`.

use crate::body::{BODY_LIMIT, CreateKey, PutTenant, UniqueObject};
use crate::usage::UsageKeyOutcome;
use crate::{State, health};
use chrono::{DateTime, Utc};
use http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use portcullis_auth::audit::Actor;
use portcullis_auth::entitlements::{self, Entitlements, NewEntitlements};
use portcullis_auth::store::{self, KeyRecord, KeyStatus, NewKey};
use portcullis_auth::{AuthContext, Scope, Tenant};
use portcullis_core::ApiError;
use portcullis_core::http::{
    Cursor, Page, json, json_body, method_not_allowed, no_route, page_limit, path_id, path_param,
    query_param, resource_path,
};
use portcullis_core::metrics::{self, Metric};
use serde::Serialize;
use uuid::Uuid;

/// Default and largest page size of `GET /v1/keys`.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// The Lambda entry point: every failure is answered as problem+json; `Err`
/// is never returned for a request-level problem.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let cors = &state.config.cors;
    if req.method() == Method::OPTIONS {
        if let Some(allow) = methods(&resource_path(&req)) {
            return Ok(cors.options(&req, allow, &[]));
        }
    }
    let request_id = portcullis_core::http::request_id(&req);
    let result = route(state, &req, request_id.as_deref()).await;
    Ok(cors.finish(
        &req,
        portcullis_core::http::respond(request_id.as_deref(), result),
    ))
}

/// The methods of each route this function serves: the `Allow` of its 405
/// and what its preflight allows.
fn methods(resource: &str) -> Option<&'static [&'static str]> {
    match resource {
        "/v1/health" | "/v1/me" => Some(&["GET"]),
        "/v1/keys" => Some(&["GET", "POST"]),
        "/v1/keys/{id}" => Some(&["GET", "DELETE"]),
        "/v1/tenants" => Some(&["GET"]),
        "/v1/tenants/{tenant}" => Some(&["GET", "PUT"]),
        _ => None,
    }
}

async fn route(
    state: &State,
    req: &Request,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let method = req.method();
    let resource = resource_path(req);
    let Some(allow) = methods(&resource) else {
        return Err(no_route(req));
    };
    match (resource.as_str(), method.clone()) {
        ("/v1/health", Method::GET) => health::health(state, request_id).await,
        ("/v1/me", Method::GET) => me(req),
        ("/v1/keys", Method::GET) => list_keys(state, req).await,
        ("/v1/keys", Method::POST) => create_key(state, req, request_id).await,
        ("/v1/keys/{id}", Method::GET) => get_key(state, req).await,
        ("/v1/keys/{id}", Method::DELETE) => revoke_key(state, req, request_id).await,
        ("/v1/tenants", Method::GET) => list_tenants(state, req).await,
        ("/v1/tenants/{tenant}", Method::GET) => get_tenant(state, req).await,
        ("/v1/tenants/{tenant}", Method::PUT) => put_tenant(state, req, request_id).await,
        _ => Err(method_not_allowed(req, allow)),
    }
}

/// `GET /v1/me`: the authorizer context as the function read it.
#[derive(Serialize)]
struct Me<'a> {
    principal_id: &'a str,
    principal_type: &'a str,
    tenant: &'a str,
    scopes: Vec<&'a str>,
    key_id: Option<Uuid>,
}

fn me(req: &Request) -> Result<Response<Body>, ApiError> {
    let c = AuthContext::from_request(req)?;
    json(
        200,
        &Me {
            principal_id: &c.principal_id,
            principal_type: c.principal_type.as_str(),
            tenant: c.tenant.as_str(),
            scopes: c.scopes.iter().map(Scope::as_str).collect(),
            key_id: c.key_id,
        },
    )
}

/// The caller, who must hold `keys:admin` (the gateway's policy already
/// requires it; this is the second check).
fn admin(req: &Request) -> Result<AuthContext, ApiError> {
    let caller = AuthContext::from_request(req)?;
    caller.require(&Scope::keys_admin())?;
    Ok(caller)
}

/// The tenant a request acts on: the caller's own, unless a `keys:admin`
/// holder of the platform tenant names another one.
fn effective_tenant(
    state: &State,
    caller: &AuthContext,
    requested: Option<Tenant>,
) -> Result<Tenant, ApiError> {
    match requested {
        None => Ok(caller.tenant.clone()),
        Some(t) if t == caller.tenant => Ok(t),
        Some(t) if caller.tenant == state.config.platform_tenant => Ok(t),
        Some(_) => Err(ApiError::forbidden(format!(
            "only keys:admin holders of the {:?} tenant may manage keys of another tenant",
            state.config.platform_tenant.as_str()
        ))),
    }
}

/// `?tenant=`: absent, or a tenant id (400 `invalid-parameter` otherwise).
fn tenant_param(req: &Request) -> Result<Option<Tenant>, ApiError> {
    query_param(req, "tenant")?
        .map(|t| t.parse::<Tenant>())
        .transpose()
        .map_err(|e| ApiError::invalid_parameter("tenant", e.to_string()))
}

/// A key id from the path; a malformed one is the same 404 as an unknown one.
fn key_id(req: &Request) -> Result<Uuid, ApiError> {
    path_id(req, "id", "API key")
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
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: String,
}

impl KeyView {
    pub fn of(k: &KeyRecord, now: DateTime<Utc>) -> KeyView {
        KeyView {
            id: k.id,
            prefix: k.prefix(),
            name: k.name.clone(),
            tenant: k.tenant.to_string(),
            scopes: k.scopes.iter().map(ToString::to_string).collect(),
            plan: k.plan.clone(),
            status: k.status(now),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            created_by: k.created_by.clone(),
        }
    }
}

async fn list_keys(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let tenant = effective_tenant(state, &caller, tenant_param(req)?)?;
    let limit = page_limit(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = Cursor::from_query(req)?.map(|c| (c.created_at, c.id));
    let tenant = &tenant;
    let rows = state
        .db
        .with_retry(|pool| async move { store::list(&pool, tenant, after, limit + 1).await })
        .await?;
    let now = Utc::now();
    let page = Page::of_rows(
        rows,
        limit,
        |k| Cursor {
            created_at: k.created_at,
            id: k.id,
        },
        |k| KeyView::of(k, now),
    );
    json(200, &page)
}

fn no_such_key(id: Uuid, tenant: &Tenant) -> ApiError {
    ApiError::not_found(format!("no API key {id} in tenant {:?}", tenant.as_str()))
}

/// Where `GET`/`DELETE /v1/keys/{id}` look: a named tenant (`?tenant=`,
/// checked by [`effective_tenant`]) or the caller's, except that a platform
/// administrator who names none finds a key of any tenant by its id (ids
/// are global). Returns the key's tenant, or the 404 to answer.
async fn key_tenant(
    state: &State,
    req: &Request,
    caller: &AuthContext,
    id: Uuid,
) -> Result<Result<Tenant, ApiError>, ApiError> {
    let requested = tenant_param(req)?;
    if requested.is_none() && caller.tenant == state.config.platform_tenant {
        let found = state
            .db
            .with_retry(|pool| async move { store::get_any(&pool, id).await })
            .await?;
        return Ok(match found {
            Some(k) => Ok(k.tenant),
            None => Err(ApiError::not_found(format!("no API key {id}"))),
        });
    }
    Ok(Ok(effective_tenant(state, caller, requested)?))
}

async fn get_key(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let id = key_id(req)?;
    let tenant = key_tenant(state, req, &caller, id).await??;
    let t = &tenant;
    match state
        .db
        .with_retry(|pool| async move { store::get(&pool, t, id).await })
        .await?
    {
        Some(k) => json(200, &KeyView::of(&k, Utc::now())),
        None => Err(no_such_key(id, &tenant)),
    }
}

#[derive(Serialize)]
struct Created {
    /// The full key. Shown here once; only its digest is stored.
    key: String,
    #[serde(flatten)]
    meta: KeyView,
}

async fn create_key(
    state: &State,
    req: &Request,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let UniqueObject(value) = json_body(req, BODY_LIMIT)?;
    let now = Utc::now();
    let body = CreateKey::from_json(value, &state.config.plans, now)?;
    let tenant = effective_tenant(state, &caller, body.tenant)?;
    let new = NewKey {
        name: body.name,
        tenant,
        scopes: body.scopes,
        plan: body
            .plan
            .unwrap_or_else(|| state.config.default_plan.clone()),
        expires_at: body.expires_at,
    };
    check_entitlements(state, &new).await?;

    // The key commits only once its usage key is in its plan: a key API
    // Gateway would refuse (no usage key) is never handed out.
    let mut tx = state.db.begin().await?;
    let created = store::create_in(&mut tx, &new, Actor::Caller(&caller), request_id).await?;
    if let Some(usage) = state.usage_keys().await {
        if let Err(e) = usage.create_for_key(&created.record).await {
            tracing::error!(
                request_id = request_id.unwrap_or("-"),
                key_id = %created.record.id,
                error = %e,
                "usage key not created: the API key is not created"
            );
            drop(tx); // rolled back
            return Err(ApiError::Unavailable {
                detail: "the key was not created: its API Gateway usage key (per-key throttle and quota) could not be set up. Nothing was stored; retry later, and if it persists an operator should check the keys function's log and its API Gateway permissions".to_owned(),
            });
        }
    }
    tx.commit().await.map_err(portcullis_db::DbError::from)?;
    crate::key_changed(state.usage_keys().await, Metric::KeyCreated).await;

    let mut resp = json(
        201,
        &Created {
            key: created.key.expose_secret().to_owned(),
            meta: KeyView::of(&created.record, now),
        },
    )?;
    let headers = resp.headers_mut();
    // The body holds a secret: no cache may keep it.
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/keys/{}", created.record.id)) {
        headers.insert(http::header::LOCATION, loc);
    }
    Ok(resp)
}

/// 403 unless `new.tenant` is entitled to the key's plan and every
/// `services:<x>` scope (the platform tenant is entitled to everything).
async fn check_entitlements(state: &State, new: &NewKey) -> Result<(), ApiError> {
    if new.tenant == state.config.platform_tenant {
        return Ok(());
    }
    let t = &new.tenant;
    let found = state
        .db
        .with_retry(|pool| async move { entitlements::get(&pool, t).await })
        .await?;
    let Some(e) = found else {
        return Err(ApiError::forbidden(format!(
            "tenant {:?} has no entitlements yet, so no key can be created for it; a platform administrator (keys:admin of tenant {:?}) provisions it with PUT /v1/tenants/{}",
            t.as_str(),
            state.config.platform_tenant.as_str(),
            t.as_str()
        )));
    };
    match e.refusal(&new.scopes, &new.plan) {
        None => Ok(()),
        Some(why) => Err(ApiError::forbidden(why)),
    }
}

/// What happened to the gateway's authorizer cache after a revocation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CacheFlush {
    /// `flushed`, `skipped` (no API configured) or `failed`.
    pub status: &'static str,
    pub detail: String,
}

#[derive(Serialize)]
struct Revoked {
    #[serde(flatten)]
    meta: KeyView,
    already_revoked: bool,
    authorizer_cache: CacheFlush,
    usage_key: UsageKeyOutcome,
}

async fn revoke_key(
    state: &State,
    req: &Request,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let id = key_id(req)?;
    let tenant = key_tenant(state, req, &caller, id).await??;
    let Some((record, already)) =
        store::revoke(&state.db, &tenant, id, Actor::Caller(&caller), request_id).await?
    else {
        return Err(no_such_key(id, &tenant));
    };

    // After the commit: the revocation stands whatever the flush does. It is
    // attempted on repeated calls too, so a failed flush can be retried.
    let flush = flush_authorizer_cache(state, request_id).await;
    let usage_key = match state.usage_keys().await {
        Some(u) => u.disable_key(id).await,
        None => UsageKeyOutcome {
            status: "skipped",
            detail:
                "no API Gateway usage plans are configured (USAGE_PLAN_IDS); nothing to disable"
                    .to_owned(),
        },
    };
    // Counted once: a repeated DELETE of a revoked key revokes nothing.
    if !already {
        crate::key_changed(state.usage_keys().await, Metric::KeyRevoked).await;
    }
    json(
        200,
        &Revoked {
            meta: KeyView::of(&record, Utc::now()),
            already_revoked: already,
            authorizer_cache: flush,
            usage_key,
        },
    )
}

/// FlushStageAuthorizersCache on the configured stage (IAM `apigateway:DELETE`
/// on `arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>/cache/authorizers`).
pub async fn flush_authorizer_cache(state: &State, request_id: Option<&str>) -> CacheFlush {
    let Some((api, stage)) = &state.config.flush_target else {
        tracing::info!(
            request_id = request_id.unwrap_or("-"),
            "APIGW_REST_API_ID/APIGW_STAGE unset: authorizer cache flush skipped"
        );
        return CacheFlush {
            status: "skipped",
            detail: "no API Gateway stage is configured (APIGW_REST_API_ID, APIGW_STAGE); nothing to flush".to_owned(),
        };
    };
    match state
        .apigw
        .get()
        .await
        .flush_stage_authorizers_cache()
        .rest_api_id(api)
        .stage_name(stage)
        .send()
        .await
    {
        Ok(_) => CacheFlush {
            status: "flushed",
            detail: format!("the authorizer cache of stage {stage} was flushed"),
        },
        Err(e) => {
            tracing::error!(
                request_id = request_id.unwrap_or("-"),
                rest_api_id = %api,
                stage = %stage,
                error = %aws_sdk_apigateway::error::DisplayErrorContext(&e),
                "authorizer cache flush failed; the revocation stands"
            );
            CacheFlush {
                status: "failed",
                detail: "the key is revoked, but flushing the gateway's authorizer cache failed; cached authorizations may last until the cache TTL ends. Repeat the DELETE to retry the flush".to_owned(),
            }
        }
    }
}

/// The caller, who must hold `keys:admin` in the platform tenant.
fn platform_admin(state: &State, req: &Request) -> Result<AuthContext, ApiError> {
    let caller = admin(req)?;
    if caller.tenant != state.config.platform_tenant {
        return Err(ApiError::forbidden(format!(
            "tenant entitlements are managed by keys:admin holders of the {:?} tenant only",
            state.config.platform_tenant.as_str()
        )));
    }
    Ok(caller)
}

/// The `{tenant}` of the path; a malformed one is a 404 like an unknown one.
fn tenant_path(req: &Request) -> Result<Tenant, ApiError> {
    let raw = path_param(req, "tenant")?;
    raw.parse::<Tenant>()
        .map_err(|e| ApiError::not_found(format!("no tenant {raw:?}: {e}")))
}

#[derive(Serialize)]
struct TenantPage {
    items: Vec<Entitlements>,
}

async fn list_tenants(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    platform_admin(state, req)?;
    let items = state
        .db
        .with_retry(|pool| async move { entitlements::list_all(&pool).await })
        .await?;
    json(200, &TenantPage { items })
}

async fn get_tenant(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    platform_admin(state, req)?;
    let tenant = tenant_path(req)?;
    let t = &tenant;
    match state
        .db
        .with_retry(|pool| async move { entitlements::get(&pool, t).await })
        .await?
    {
        Some(e) => json(200, &e),
        None => Err(ApiError::not_found(format!(
            "tenant {:?} has no entitlements; PUT /v1/tenants/{} provisions it",
            tenant.as_str(),
            tenant.as_str()
        ))),
    }
}

/// What happened to the tenant's usage key (its Cognito users' quota).
#[derive(Serialize)]
struct UsageKeyState {
    /// `ready` (exists, in `user_plan`) or `skipped` (no usage plans configured).
    status: &'static str,
    detail: String,
}

#[derive(Serialize)]
struct PutTenantAnswer {
    #[serde(flatten)]
    entitlements: Entitlements,
    created: bool,
    usage_key: UsageKeyState,
}

async fn put_tenant(
    state: &State,
    req: &Request,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let caller = platform_admin(state, req)?;
    let tenant = tenant_path(req)?;
    if tenant == state.config.platform_tenant {
        return Err(ApiError::conflict(format!(
            "{:?} is the platform tenant: it is entitled to every service and plan, and its Cognito users' usage plan is set by Terraform (variable platform_user_plan), which owns its usage key; nothing to set here",
            tenant.as_str()
        )));
    }
    let UniqueObject(value) = json_body(req, BODY_LIMIT)?;
    let body = PutTenant::from_json(value, &state.config.services, &state.config.plans)?;
    let new = NewEntitlements {
        services: body.services,
        plans: body.plans,
        user_plan: body.user_plan,
    };
    // The row commits only once the tenant's usage key is in its user_plan.
    let mut tx = state.db.begin().await?;
    let (row, created) =
        entitlements::put(&mut tx, &tenant, &new, Actor::Caller(&caller), request_id)
            .await
            .map_err(portcullis_db::DbError::from)?;
    let usage_key = match state.usage_keys().await {
        Some(u) => match u.put_tenant(&tenant, &row.user_plan).await {
            Ok(name) => UsageKeyState {
                status: "ready",
                detail: format!(
                    "the tenant's Cognito users are metered by API Gateway usage key {name} in usage plan {}",
                    row.user_plan
                ),
            },
            Err(e) => {
                tracing::error!(
                    request_id = request_id.unwrap_or("-"),
                    tenant = %tenant,
                    error = %e,
                    "tenant usage key not set up: the entitlements are not stored"
                );
                drop(tx);
                return Err(ApiError::Unavailable {
                    detail: "the entitlements were not stored: the tenant's API Gateway usage key (its Cognito users' throttle and quota) could not be set up. Retry later; if it persists an operator should check the keys function's log and its API Gateway permissions".to_owned(),
                });
            }
        },
        None => UsageKeyState {
            status: "skipped",
            detail:
                "no API Gateway usage plans are configured (USAGE_PLAN_IDS); no usage key was made"
                    .to_owned(),
        },
    };
    tx.commit().await.map_err(portcullis_db::DbError::from)?;
    tracing::info!(
        request_id = request_id.unwrap_or("-"),
        tenant = %tenant,
        principal = caller.principal_id.as_str(),
        "tenant entitlements set"
    );
    metrics::count(Metric::TenantChanged, &[]);
    json(
        200,
        &PutTenantAnswer {
            entitlements: row,
            created,
            usage_key,
        },
    )
}
