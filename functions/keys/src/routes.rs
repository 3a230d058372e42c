//! Routing on method + `requestContext.resourcePath`, and the route handlers.

use crate::body::{BODY_LIMIT, CreateKey, UniqueObject};
use crate::cursor::Cursor;
use crate::store::{self, AuditEntry, KeyView, NewKey};
use crate::{State, health};
use chrono::Utc;
use http::{HeaderValue, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use portcullis_auth::apikey;
use portcullis_core::ApiError;
use portcullis_core::http::Caller;
use serde::Serialize;
use uuid::Uuid;

/// Default and largest page size of `GET /v1/keys`.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

const KEYS_ADMIN: &str = "keys:admin";

/// The Lambda entry point: every failure is answered as problem+json; `Err`
/// is never returned for a request-level problem.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let request_id = portcullis_core::http::request_id(&req);
    let result = route(state, &req, request_id.as_deref()).await;
    Ok(portcullis_core::http::respond(
        request_id.as_deref(),
        result,
    ))
}

fn resource_path(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.resource_path.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

async fn route(
    state: &State,
    req: &Request,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let resource = resource_path(req);
    let method = req.method().clone();
    let not_allowed = |allow: &[&str]| ApiError::MethodNotAllowed {
        detail: format!("{method} is not allowed on {resource}"),
        allow: allow.iter().map(|s| (*s).to_owned()).collect(),
    };
    match resource.as_str() {
        "/v1/health" => match method {
            Method::GET => health::health(state, request_id).await,
            _ => Err(not_allowed(&["GET"])),
        },
        "/v1/me" => match method {
            Method::GET => me(req),
            _ => Err(not_allowed(&["GET"])),
        },
        "/v1/keys" => match method {
            Method::GET => list_keys(state, req).await,
            Method::POST => create_key(state, req, request_id).await,
            _ => Err(not_allowed(&["GET", "POST"])),
        },
        "/v1/keys/{id}" => match method {
            Method::GET => get_key(state, req).await,
            Method::DELETE => revoke_key(state, req, request_id).await,
            _ => Err(not_allowed(&["GET", "DELETE"])),
        },
        _ => Err(ApiError::not_found(format!(
            "the keys function does not serve {resource:?}; check the integration in api/openapi.yaml"
        ))),
    }
}

#[derive(Serialize)]
struct Me<'a> {
    principal_id: &'a str,
    principal_type: &'a str,
    tenant: &'a str,
    scopes: &'a [String],
    key_id: Option<&'a str>,
}

fn me(req: &Request) -> Result<Response<Body>, ApiError> {
    let c = portcullis_core::http::caller(req)?;
    portcullis_core::http::json(
        200,
        &Me {
            principal_id: &c.principal_id,
            principal_type: &c.principal_type,
            tenant: &c.tenant,
            scopes: &c.scopes,
            key_id: c.key_id.as_deref(),
        },
    )
}

/// The caller, who must hold `keys:admin` (the gateway's policy already
/// requires it; this is the second check).
fn admin(req: &Request) -> Result<Caller, ApiError> {
    let caller = portcullis_core::http::caller(req)?;
    if !caller.has_scope(KEYS_ADMIN) {
        return Err(ApiError::forbidden(
            "managing API keys needs the keys:admin scope, which this credential does not carry",
        ));
    }
    Ok(caller)
}

/// The tenant a request acts on: the caller's own, unless a `keys:admin`
/// holder of the platform tenant names another one.
fn effective_tenant(
    state: &State,
    caller: &Caller,
    requested: Option<&str>,
) -> Result<String, ApiError> {
    match requested {
        None => Ok(caller.tenant.clone()),
        Some(t) if t == caller.tenant => Ok(caller.tenant.clone()),
        Some(t) if caller.tenant == state.config.platform_tenant => {
            if crate::body::valid_tenant(t) {
                Ok(t.to_owned())
            } else {
                Err(ApiError::bad_request(
                    "tenant must be 1 to 64 characters of lowercase letters, digits, '-' or '_'",
                ))
            }
        }
        Some(_) => Err(ApiError::forbidden(format!(
            "only keys:admin holders of the {:?} tenant may manage keys of another tenant",
            state.config.platform_tenant
        ))),
    }
}

fn query_param(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let q = req.query_string_parameters_ref();
    let Some(q) = q else { return Ok(None) };
    let all = q.all(name).unwrap_or_default();
    match all.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some((*one).to_owned())),
        _ => Err(ApiError::bad_request(format!(
            "query parameter {name} is given more than once"
        ))),
    }
}

fn key_id(req: &Request) -> Result<Uuid, ApiError> {
    let raw = req
        .path_parameters_ref()
        .and_then(|p| p.first("id").map(str::to_owned))
        .ok_or_else(|| ApiError::bad_request("the key id is missing from the path"))?;
    Uuid::parse_str(&raw).map_err(|_| {
        ApiError::bad_request(
            "the key id in the path is not a UUID; use the id returned when the key was created",
        )
    })
}

#[derive(Serialize)]
struct Page {
    items: Vec<KeyView>,
    next_cursor: Option<String>,
}

async fn list_keys(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let tenant = effective_tenant(state, &caller, query_param(req, "tenant")?.as_deref())?;
    let limit = match query_param(req, "limit")? {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit must be a whole number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let after = query_param(req, "cursor")?
        .map(|c| Cursor::decode(&c))
        .transpose()?;
    let mut conn = state.db.acquire().await?;
    let mut rows = store::list_keys(&mut *conn, &tenant, after, limit + 1)
        .await
        .map_err(portcullis_db::DbError::from)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|k| {
            Cursor {
                created_at: k.created_at,
                id: k.id,
            }
            .encode()
        })
    } else {
        None
    };
    let now = Utc::now();
    portcullis_core::http::json(
        200,
        &Page {
            items: rows.iter().map(|k| k.view(now)).collect(),
            next_cursor,
        },
    )
}

async fn get_key(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let tenant = effective_tenant(state, &caller, query_param(req, "tenant")?.as_deref())?;
    let id = key_id(req)?;
    let mut conn = state.db.acquire().await?;
    match store::get_key(&mut *conn, &tenant, id)
        .await
        .map_err(portcullis_db::DbError::from)?
    {
        Some(k) => portcullis_core::http::json(200, &k.view(Utc::now())),
        None => Err(ApiError::not_found(format!(
            "no API key {id} in tenant {tenant:?}"
        ))),
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
    let UniqueObject(value) = portcullis_core::http::json_body(req, BODY_LIMIT)?;
    let now = Utc::now();
    let body = CreateKey::from_json(value, &state.config.plans, now)?;
    let tenant = effective_tenant(state, &caller, body.tenant.as_deref())?;
    let plan = body
        .plan
        .clone()
        .unwrap_or_else(|| state.config.default_plan.clone());
    let scopes: Vec<String> = body.scopes.iter().map(ToString::to_string).collect();

    let (key, lookup, digest) = apikey::generate();
    let mut tx = state.db.begin().await?;
    let record = store::insert_key(
        &mut tx,
        &NewKey {
            lookup_id: lookup.as_str(),
            digest: &digest,
            name: &body.name,
            tenant: &tenant,
            scopes: &scopes,
            plan: &plan,
            expires_at: body.expires_at,
            created_by: &caller.principal_id,
        },
    )
    .await
    .map_err(portcullis_db::DbError::from)?;
    store::audit(
        &mut tx,
        &AuditEntry {
            principal: &caller.principal_id,
            tenant: &tenant,
            action: "key.create",
            target: &record.id.to_string(),
            request_id,
            detail: serde_json::json!({
                "name": record.name,
                "scopes": record.scopes,
                "plan": record.plan,
                "expires_at": record.expires_at,
                "prefix": format!("{}{}", apikey::PREFIX, record.lookup_id),
                "principal_type": caller.principal_type,
                "caller_tenant": caller.tenant,
            }),
        },
    )
    .await
    .map_err(portcullis_db::DbError::from)?;
    tx.commit().await.map_err(portcullis_db::DbError::from)?;
    tracing::info!(request_id = request_id.unwrap_or("-"), key_id = %record.id, tenant = %tenant, principal = %caller.principal_id, "API key created");

    let mut resp = portcullis_core::http::json(
        201,
        &Created {
            key: key.expose_secret().to_owned(),
            meta: record.view(now),
        },
    )?;
    let headers = resp.headers_mut();
    // The body holds a secret: no cache may keep it.
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    if let Ok(loc) = HeaderValue::from_str(&format!("/v1/keys/{}", record.id)) {
        headers.insert(http::header::LOCATION, loc);
    }
    Ok(resp)
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
}

async fn revoke_key(
    state: &State,
    req: &Request,
    request_id: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let caller = admin(req)?;
    let tenant = effective_tenant(state, &caller, query_param(req, "tenant")?.as_deref())?;
    let id = key_id(req)?;
    let mut tx = state.db.begin().await?;
    let Some((record, already)) = store::revoke_key(&mut tx, &tenant, id)
        .await
        .map_err(portcullis_db::DbError::from)?
    else {
        return Err(ApiError::not_found(format!(
            "no API key {id} in tenant {tenant:?}"
        )));
    };
    store::audit(
        &mut tx,
        &AuditEntry {
            principal: &caller.principal_id,
            tenant: &tenant,
            action: "key.revoke",
            target: &id.to_string(),
            request_id,
            detail: serde_json::json!({
                "already_revoked": already,
                "revoked_at": record.revoked_at,
                "principal_type": caller.principal_type,
                "caller_tenant": caller.tenant,
            }),
        },
    )
    .await
    .map_err(portcullis_db::DbError::from)?;
    tx.commit().await.map_err(portcullis_db::DbError::from)?;
    tracing::info!(request_id = request_id.unwrap_or("-"), key_id = %id, tenant = %tenant, already_revoked = already, "API key revoked");

    // After the commit: the revocation stands whatever the flush does. It is
    // attempted on repeated calls too, so a failed flush can be retried.
    let flush = flush_authorizer_cache(state, request_id).await;
    portcullis_core::http::json(
        200,
        &Revoked {
            meta: record.view(Utc::now()),
            already_revoked: already,
            authorizer_cache: flush,
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
