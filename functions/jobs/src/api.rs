//! The HTTP handler: routing, validation, responses.

use crate::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};
use portcullis_core::error::ApiError;
use portcullis_core::http::{Caller, caller, json, json_body, request_id, respond};
use portcullis_jobs::launch::{self, LaunchOutcome, MAX_OVERRIDES_BYTES};
use portcullis_jobs::model::{Job, JobStatus, JobView, Params, STOP_CANCEL};
use portcullis_jobs::store::{self, NewJob};
use portcullis_platform::jobs::{JobType, MAX_ARG_LEN};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Longest Idempotency-Key.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Page size bounds for `GET /v1/jobs`.
pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// `POST /v1/jobs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    #[serde(rename = "type")]
    pub job_type: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub cpu: Option<u32>,
    #[serde(default)]
    pub memory: Option<u32>,
}

/// `GET /v1/jobs` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The Lambda entry point: every error becomes problem+json here.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    let rid = request_id(&req);
    let result = route(state, &req, rid.as_deref()).await;
    Ok(respond(rid.as_deref(), result))
}

async fn route(
    state: &State,
    req: &Request,
    rid: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let path = req.raw_http_path().to_owned();
    let path = if path.is_empty() {
        req.uri().path().to_owned()
    } else {
        path
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().as_str();
    let not_allowed = |allow: &[&str]| ApiError::MethodNotAllowed {
        detail: format!("{method} is not allowed on {path}"),
        allow: allow.iter().map(|s| s.to_string()).collect(),
    };
    match segments.as_slice() {
        ["v1", "jobs"] => match method {
            "POST" => submit(state, req, rid).await,
            "GET" => list(state, req).await,
            _ => Err(not_allowed(&["GET", "POST"])),
        },
        ["v1", "jobs", id] => match method {
            "GET" => get(state, req, id).await,
            _ => Err(not_allowed(&["GET"])),
        },
        ["v1", "jobs", id, "events"] => match method {
            "GET" => events(state, req, id).await,
            _ => Err(not_allowed(&["GET"])),
        },
        ["v1", "jobs", id, "cancel"] => match method {
            "POST" => cancel(state, req, id).await,
            _ => Err(not_allowed(&["POST"])),
        },
        _ => Err(ApiError::not_found(format!("no route for {path}"))),
    }
}

fn require_scope(caller: &Caller, scope: &str) -> Result<(), ApiError> {
    if caller.has_scope(scope) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("this needs the {scope} scope")))
    }
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found(format!("no job {id}")))
}

fn header<'a>(req: &'a Request, name: &str) -> Result<Option<&'a str>, ApiError> {
    match req.headers().get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("the {name} header is not visible ASCII"))),
    }
}

/// Check a submit against its job type; returns the params to store.
pub fn validate(jt: &JobType, body: SubmitRequest) -> Result<Params, ApiError> {
    let o = &jt.overrides;
    if !body.args.is_empty() {
        if o.max_args == 0 {
            return Err(ApiError::unprocessable(
                "args",
                format!("job type {} takes no args", jt.name),
            ));
        }
        if body.args.len() > o.max_args {
            return Err(ApiError::unprocessable(
                "args",
                format!(
                    "{} args given; job type {} takes at most {}",
                    body.args.len(),
                    jt.name,
                    o.max_args
                ),
            ));
        }
    }
    for (i, a) in body.args.iter().enumerate() {
        if a.len() > MAX_ARG_LEN {
            return Err(ApiError::PayloadTooLarge {
                detail: format!("args[{i}] is {} bytes; the limit is {MAX_ARG_LEN}", a.len()),
            });
        }
        if a.contains('\0') {
            return Err(ApiError::unprocessable(
                format!("args[{i}]"),
                "an argument may not contain NUL",
            ));
        }
    }
    for (k, v) in &body.env {
        if !o.env.iter().any(|allowed| allowed == k) {
            let allowed = if o.env.is_empty() {
                "none".to_owned()
            } else {
                o.env.join(", ")
            };
            return Err(ApiError::unprocessable(
                format!("env.{k}"),
                format!(
                    "job type {} does not let callers set {k}; allowed: {allowed}",
                    jt.name
                ),
            ));
        }
        if v.len() > MAX_ARG_LEN {
            return Err(ApiError::PayloadTooLarge {
                detail: format!("env.{k} is {} bytes; the limit is {MAX_ARG_LEN}", v.len()),
            });
        }
        if v.contains('\0') {
            return Err(ApiError::unprocessable(
                format!("env.{k}"),
                "a value may not contain NUL",
            ));
        }
    }
    for (field, value, bounds) in [("cpu", body.cpu, o.cpu), ("memory", body.memory, o.memory)] {
        if let Some(v) = value {
            match bounds {
                None => {
                    return Err(ApiError::unprocessable(
                        field,
                        format!("job type {} does not let callers set {field}", jt.name),
                    ));
                }
                Some(b) if !b.contains(v) => {
                    return Err(ApiError::unprocessable(
                        field,
                        format!("{field} must be between {} and {}", b.min, b.max),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let params = Params {
        args: body.args,
        env: body.env,
        cpu: body.cpu,
        memory: body.memory,
    };
    let size = serde_json::to_vec(&params)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_OVERRIDES_BYTES - 1024 {
        return Err(ApiError::PayloadTooLarge {
            detail: format!(
                "args and env take {size} bytes; ECS accepts about {} bytes of overrides",
                MAX_OVERRIDES_BYTES - 1024
            ),
        });
    }
    Ok(params)
}

/// Hex SHA-256 of the canonical request (type + params; env keys sorted).
pub fn request_hash(job_type: &str, params: &Params) -> String {
    let canonical = json!({ "type": job_type, "params": params });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn job_response(status: u16, job: &Job) -> Result<Response<Body>, ApiError> {
    let mut resp = json(status, &JobView::from(job))?;
    if let Ok(v) = http::HeaderValue::from_str(&format!("/v1/jobs/{}", job.id)) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(resp)
}

async fn submit(
    state: &State,
    req: &Request,
    rid: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let who = caller(req)?;
    let key = header(req, "idempotency-key")?
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "the Idempotency-Key header is required (1-255 visible ASCII characters, e.g. a UUID); \
                 resend the same key to retry safely",
            )
        })?
        .to_owned();
    if key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ApiError::bad_request(format!(
            "the Idempotency-Key header is {} characters; the limit is {MAX_IDEMPOTENCY_KEY}",
            key.len()
        )));
    }
    let body: SubmitRequest = json_body(req, BODY_LIMIT)?;
    let Some(jt) = state.types.get(&body.job_type) else {
        let known: Vec<&str> = state.types.names().collect();
        return Err(ApiError::unprocessable(
            "type",
            format!(
                "unknown job type {:?}; registered types: {}",
                body.job_type,
                known.join(", ")
            ),
        ));
    };
    require_scope(&who, &jt.scope)?;
    let job_type = body.job_type.clone();
    let params = validate(jt, body)?;
    let hash = request_hash(&job_type, &params);
    let trace_id = header(req, "x-amzn-trace-id")
        .ok()
        .flatten()
        .map(str::to_owned)
        .or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok());
    let new = NewJob {
        id: Uuid::new_v4(),
        tenant: who.tenant.clone(),
        principal: who.principal_id.clone(),
        job_type,
        params,
        idempotency_key: key.clone(),
        request_hash: hash.clone(),
        max_attempts: jt.max_attempts as i32,
        timeout_seconds: jt.timeout_seconds.min(i32::MAX as u64) as i32,
        request_id: rid.map(str::to_owned),
        trace_id,
        launch_grace: state.settings.launch_grace,
    };
    let pool = state.db.pool();
    let Some(job) = store::insert(pool, &new)
        .await
        .map_err(portcullis_db::DbError::from)?
    else {
        let existing = store::by_key(pool, &who.tenant, &key)
            .await
            .map_err(portcullis_db::DbError::from)?
            .ok_or_else(|| ApiError::internal("idempotency key conflicted but no job holds it"))?;
        if existing.request_hash.as_deref() == Some(hash.as_str()) {
            tracing::info!(job_id = %existing.id, "idempotent replay of a submit");
            return job_response(200, &existing);
        }
        return Err(ApiError::conflict(format!(
            "Idempotency-Key {key:?} was already used for a different request (job {}); use a new key",
            existing.id
        )));
    };
    tracing::info!(job_id = %job.id, job_type = %job.job_type, tenant = %job.tenant, "job queued");
    let outcome = launch::run_task(&state.ecs, &state.placement, jt, &job).await;
    log_outcome(&job, &outcome);
    let retry_in = launch::backoff(job.attempts + 1);
    match store::record_launch(pool, job.id, &outcome, "api", retry_in).await {
        Ok(Some(updated)) => job_response(202, &updated),
        // An ECS event or the reconciler moved the job first: show what is stored.
        Ok(None) => match store::get(pool, &who.tenant, job.id)
            .await
            .map_err(portcullis_db::DbError::from)?
        {
            Some(j) => job_response(202, &j),
            None => job_response(202, &job),
        },
        Err(e) => {
            // The job is committed; the reconciler finds its task by startedBy.
            tracing::error!(job_id = %job.id, error = %e, "could not record the RunTask outcome; the reconciler will");
            job_response(202, &job)
        }
    }
}

fn log_outcome(job: &Job, outcome: &LaunchOutcome) {
    match outcome {
        LaunchOutcome::Started { task_arn } => {
            tracing::info!(job_id = %job.id, task_arn, "task started")
        }
        LaunchOutcome::Retry { reason } => {
            tracing::warn!(job_id = %job.id, reason, "RunTask to be retried")
        }
        LaunchOutcome::Failed { reason } => {
            tracing::warn!(job_id = %job.id, reason, "RunTask refused; job failed")
        }
        LaunchOutcome::Unknown { reason } => {
            tracing::warn!(job_id = %job.id, reason, "RunTask outcome unknown; left to the reconciler")
        }
    }
}

async fn get(state: &State, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let who = caller(req)?;
    require_scope(&who, "jobs:read")?;
    let id = parse_id(id)?;
    let job = store::get(state.db.pool(), &who.tenant, id)
        .await
        .map_err(portcullis_db::DbError::from)?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    job_response(200, &job)
}

async fn events(state: &State, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let who = caller(req)?;
    require_scope(&who, "jobs:read")?;
    let id = parse_id(id)?;
    let pool = state.db.pool();
    store::get(pool, &who.tenant, id)
        .await
        .map_err(portcullis_db::DbError::from)?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let items = store::events(pool, id)
        .await
        .map_err(portcullis_db::DbError::from)?;
    json(
        200,
        &Page {
            items,
            next_cursor: None,
        },
    )
}

fn encode_cursor(job: &Job) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{}", job.created_at.timestamp_micros(), job.id))
}

fn decode_cursor(raw: &str) -> Result<store::Cursor, ApiError> {
    let bad = || {
        ApiError::unprocessable(
            "cursor",
            "the cursor is not one this API returned; start again without it",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (micros, id) = text.split_once('.').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

async fn list(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = caller(req)?;
    require_scope(&who, "jobs:read")?;
    let q = req.query_string_parameters();
    let status = match q.first("status") {
        None => None,
        Some(s) => Some(
            s.parse::<JobStatus>()
                .map_err(|e| ApiError::unprocessable("status", e))?,
        ),
    };
    let job_type = q.first("type");
    let limit = match q.first("limit") {
        None => DEFAULT_PAGE,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::unprocessable("limit", format!("limit must be between 1 and {MAX_PAGE}"))
            })?,
    };
    let after = q.first("cursor").map(decode_cursor).transpose()?;
    let mut jobs = store::list(
        state.db.pool(),
        &who.tenant,
        status,
        job_type,
        after,
        limit + 1,
    )
    .await
    .map_err(portcullis_db::DbError::from)?;
    let more = jobs.len() as i64 > limit;
    jobs.truncate(limit as usize);
    let next_cursor = if more {
        jobs.last().map(encode_cursor)
    } else {
        None
    };
    json(
        200,
        &Page {
            items: jobs.iter().map(JobView::from).collect(),
            next_cursor,
        },
    )
}

async fn cancel(state: &State, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let who = caller(req)?;
    require_scope(&who, "jobs:write")?;
    let id = parse_id(id)?;
    let mut tx = state.db.begin().await?;
    let job = store::lock(&mut tx, &who.tenant, id)
        .await
        .map_err(portcullis_db::DbError::from)?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let status = job.status();
    if status.is_terminal() {
        return Err(ApiError::conflict(format!(
            "job {id} is already {status}; nothing to cancel"
        )));
    }
    if job.stop_requested.as_deref() == Some(STOP_CANCEL) {
        return job_response(202, &job);
    }
    let reason = format!("cancelled by {} through Portcullis", who.principal_id);
    let cluster = &state.placement.cluster;
    let id_text = id.to_string();
    // The task to stop: the saved one, or any an earlier RunTask may have started.
    let tasks = match &job.task_arn {
        Some(arn) => vec![arn.clone()],
        None => launch::tasks_started_by(&state.ecs, cluster, &id_text)
            .await
            .map_err(|e| ApiError::Unavailable {
                detail: format!("could not reach ECS to cancel: {e}; retry"),
            })?,
    };
    for arn in &tasks {
        launch::stop_task(&state.ecs, cluster, arn, &reason)
            .await
            .map_err(|e| ApiError::Unavailable {
                detail: format!("could not stop the task: {e}; retry"),
            })?;
    }
    let updated = if status == JobStatus::Queued && job.task_arn.is_none() {
        // Nothing runs (or what ran is stopped): cancelled at once.
        let j = sqlx::query_as::<_, Job>(&format!(
            "update jobs set status = 'cancelled', stop_requested = 'cancel', next_attempt_at = null,
                    finished_at = now(), error = $2
             where id = $1 returning {}",
            store::JOB_COLUMNS
        ))
        .bind(id)
        .bind(&reason)
        .fetch_one(&mut *tx)
        .await.map_err(portcullis_db::DbError::from)?;
        store::append_event(
            &mut *tx,
            id,
            "api",
            Some(status),
            JobStatus::Cancelled,
            json!({ "reason": reason, "stopped_tasks": tasks }),
        )
        .await
        .map_err(portcullis_db::DbError::from)?;
        j
    } else {
        // cancelled once ECS confirms the stop (event or reconciler).
        let j = sqlx::query_as::<_, Job>(&format!(
            "update jobs set stop_requested = 'cancel' where id = $1 returning {}",
            store::JOB_COLUMNS
        ))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(portcullis_db::DbError::from)?;
        store::append_event(
            &mut *tx,
            id,
            "api",
            Some(status),
            status,
            json!({ "cancel_requested": true, "reason": reason, "stopped_tasks": tasks }),
        )
        .await
        .map_err(portcullis_db::DbError::from)?;
        j
    };
    tx.commit().await.map_err(portcullis_db::DbError::from)?;
    tracing::info!(job_id = %id, status = %updated.status, "cancel requested");
    job_response(202, &updated)
}
