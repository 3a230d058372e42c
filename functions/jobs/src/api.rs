//! The HTTP handler: routing, validation, responses.

use crate::State;
use lambda_http::{Body, Request, Response};
use portcullis_auth::AuthContext as Caller;
use portcullis_auth::Scope;
use portcullis_core::error::ApiError;
use portcullis_core::http::{
    Cursor, json, json_body, method_not_allowed, no_route, page_limit, path_id, query_param,
    request_id, resource_path, respond,
};
use portcullis_core::metrics::{self, Dimension, Metric, Record};
use portcullis_jobs::launch::{self, LaunchOutcome, MAX_OVERRIDES_BYTES};
use portcullis_jobs::lifecycle::{self, CancelError};
use portcullis_jobs::model::{EventSource, Job, JobStatus, JobView, Params};
use portcullis_jobs::reason::Code;
use portcullis_jobs::store::{self, Filter, NewJob};
use portcullis_platform::jobs::{JobType, MAX_ARG_LEN};
use serde::Deserialize;
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

/// `GET /v1/jobs` answer: the API's one page type.
pub use portcullis_core::http::Page;

/// The Lambda entry point: every error becomes problem+json here, and every
/// answer goes through the CORS policy (`State::cors`). `OPTIONS` on a served
/// route is answered by the policy (a preflight, or `Allow`) without
/// authentication: the gateway runs no authorizer on `OPTIONS`.
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, lambda_http::Error> {
    if req.method() == http::Method::OPTIONS {
        if let Some(allow) = methods(&resource_path(&req)) {
            return Ok(state.cors.options(&req, allow, &[]));
        }
    }
    let rid = request_id(&req);
    let result = route(state, &req, rid.as_deref()).await;
    Ok(state.cors.finish(&req, respond(rid.as_deref(), result)))
}

/// The methods of each route this function serves: the `Allow` of its 405
/// and what its preflight allows.
fn methods(resource: &str) -> Option<&'static [&'static str]> {
    match resource {
        "/v1/jobs" => Some(&["GET", "POST"]),
        "/v1/jobs/{id}" | "/v1/jobs/{id}/events" => Some(&["GET"]),
        "/v1/jobs/{id}/cancel" => Some(&["POST"]),
        _ => None,
    }
}

/// Route on the API Gateway resource path (api/openapi.yaml), never the raw path.
async fn route(
    state: &State,
    req: &Request,
    rid: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let method = req.method().as_str();
    let resource = resource_path(req);
    let Some(allow) = methods(&resource) else {
        return Err(no_route(req));
    };
    match (resource.as_str(), method) {
        ("/v1/jobs", "POST") => submit(state, req, rid).await,
        ("/v1/jobs", "GET") => list(state, req).await,
        ("/v1/jobs/{id}", "GET") => get(state, req).await,
        ("/v1/jobs/{id}/events", "GET") => events(state, req).await,
        ("/v1/jobs/{id}/cancel", "POST") => cancel(state, req, rid).await,
        _ => Err(method_not_allowed(req, allow)),
    }
}

/// The scope a job type needs, as the registry names it. The registry
/// does not restrict it to the scopes a credential can carry (a type may
/// name `jobs:admin`); one that is no [`Scope`] is held by no caller, so it
/// is the same 403 as a scope the caller lacks.
fn type_scope(scope: &str) -> Result<Scope, ApiError> {
    scope.parse().map_err(|_| {
        ApiError::forbidden(format!(
            "this needs the {scope} scope, which this credential does not carry"
        ))
    })
}

/// The `{id}` of the route: a job id (anything else is the same 404 as an
/// unknown job).
fn job_id(req: &Request) -> Result<Uuid, ApiError> {
    path_id(req, "id", "job")
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
    check_args(jt, &body.args)?;
    check_env(jt, &body.env)?;
    check_resources(jt, body.cpu, body.memory)?;
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

/// `args`: allowed by the type, within its count, each bounded and NUL-free.
fn check_args(jt: &JobType, args: &[String]) -> Result<(), ApiError> {
    let o = &jt.overrides;
    if !args.is_empty() {
        if o.max_args == 0 {
            return Err(ApiError::unprocessable(
                "args",
                format!("job type {} takes no args", jt.name),
            ));
        }
        if args.len() > o.max_args {
            return Err(ApiError::unprocessable(
                "args",
                format!(
                    "{} args given; job type {} takes at most {}",
                    args.len(),
                    jt.name,
                    o.max_args
                ),
            ));
        }
    }
    for (i, a) in args.iter().enumerate() {
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
    Ok(())
}

/// `env`: only the variables the type lets callers set, bounded and NUL-free.
fn check_env(jt: &JobType, env: &BTreeMap<String, String>) -> Result<(), ApiError> {
    let o = &jt.overrides;
    for (k, v) in env {
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
    Ok(())
}

/// `cpu` and `memory`: only where the type allows them, within its bounds.
fn check_resources(jt: &JobType, cpu: Option<u32>, memory: Option<u32>) -> Result<(), ApiError> {
    let o = &jt.overrides;
    for (field, value, bounds) in [("cpu", cpu, o.cpu), ("memory", memory, o.memory)] {
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
    Ok(())
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
    let who = Caller::from_request(req)?;
    let key = idempotency_key(req)?;
    let body: SubmitRequest = json_body(req, BODY_LIMIT)?;
    let jt = registered_type(state, &body.job_type)?;
    who.require(&type_scope(&jt.scope)?)?;
    let job_type = body.job_type.clone();
    let params = validate(jt, body)?;
    let hash = request_hash(&job_type, &params);
    // A client's trace header is kept only in the documented syntax, bounded.
    let trace_id = crate::trace::of_submit(
        req.headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok()),
        rid.unwrap_or("-"),
    );
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
    let Some(job) = store::insert(&state.db, &new).await? else {
        let existing = store::by_key(&state.db, &who.tenant, &key)
            .await?
            .ok_or_else(|| ApiError::internal("idempotency key conflicted but no job holds it"))?;
        if existing.request_hash.as_deref() == Some(hash.as_str()) {
            tracing::info!(job_id = %existing.id, "idempotent replay of a submit");
            metrics::count(
                Metric::JobDeduplicated,
                &[(Dimension::JobType, &existing.job_type)],
            );
            return job_response(200, &existing);
        }
        return Err(ApiError::conflict(format!(
            "Idempotency-Key {key:?} was already used for a different request (job {}); use a new key",
            existing.id
        )));
    };
    tracing::info!(job_id = %job.id, job_type = %job.job_type, tenant = %job.tenant, "job queued");
    Record::new()
        .dimension(Dimension::JobType, &job.job_type)
        .tenant(job.tenant.as_str())
        .count(Metric::JobSubmitted)
        .emit();
    let outcome = launch::run_task(state.ecs.get().await, &state.placement, jt, &job).await;
    log_outcome(&job, rid, &outcome);
    match lifecycle::record_launch(state, &job, &outcome, EventSource::Api).await {
        Ok(Some(updated)) => job_response(202, &updated),
        // An ECS event, the reconciler or a cancel moved the job first: show what is stored.
        Ok(None) => match store::get(&state.db, &who.tenant, job.id).await? {
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

/// The `Idempotency-Key` header: required, 1 to 255 visible ASCII characters.
fn idempotency_key(req: &Request) -> Result<String, ApiError> {
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
    Ok(key)
}

/// The registered job type a submit names (422 listing the registered ones).
fn registered_type<'a>(state: &'a State, name: &str) -> Result<&'a JobType, ApiError> {
    let Some(jt) = state.types.get(name) else {
        let known: Vec<&str> = state.types.names().collect();
        return Err(ApiError::unprocessable(
            "type",
            format!(
                "unknown job type {:?}; registered types: {}",
                name,
                known.join(", ")
            ),
        ));
    };
    Ok(jt)
}

/// ECS's own text (account, roles, ARNs) goes to the log with the job and
/// request ids; the caller sees the reason code (`LaunchOutcome::public`).
fn log_outcome(job: &Job, rid: Option<&str>, outcome: &LaunchOutcome) {
    let request_id = rid.unwrap_or("-");
    let public = outcome.public().unwrap_or_default();
    match outcome {
        LaunchOutcome::Started { task_arn } => {
            tracing::info!(job_id = %job.id, request_id, task_arn, "task started")
        }
        LaunchOutcome::Retry { reason, .. } => {
            tracing::warn!(job_id = %job.id, request_id, reason, public, "RunTask to be retried")
        }
        LaunchOutcome::Failed { reason, .. } => {
            tracing::warn!(job_id = %job.id, request_id, reason, public, "RunTask refused; job failed")
        }
        LaunchOutcome::Unknown { reason } => {
            tracing::warn!(job_id = %job.id, request_id, reason, public, "RunTask outcome unknown; left to the reconciler")
        }
    }
}

async fn get(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Caller::from_request(req)?;
    who.require(&Scope::jobs_read())?;
    let id = job_id(req)?;
    let job = store::get(&state.db, &who.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    job_response(200, &job)
}

async fn events(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Caller::from_request(req)?;
    who.require(&Scope::jobs_read())?;
    let id = job_id(req)?;
    store::get(&state.db, &who.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let items = store::events(&state.db, id).await?;
    json(200, &Page::whole(items))
}

/// `?status=` and `?type=`; a status that is not one of ours is 400
/// `invalid-parameter`, like a bad `limit` or `cursor`.
fn filter(req: &Request) -> Result<Filter, ApiError> {
    let status = query_param(req, "status")?
        .map(|s| {
            s.parse::<JobStatus>()
                .map_err(|e| ApiError::invalid_parameter("status", e.to_string()))
        })
        .transpose()?;
    let job_type = query_param(req, "type")?;
    if let Some(t) = &job_type {
        if t.is_empty() || t.len() > 128 {
            return Err(ApiError::invalid_parameter(
                "type",
                "type must be a job type name of 1 to 128 characters",
            ));
        }
    }
    Ok(Filter { status, job_type })
}

async fn list(state: &State, req: &Request) -> Result<Response<Body>, ApiError> {
    let who = Caller::from_request(req)?;
    who.require(&Scope::jobs_read())?;
    let filter = filter(req)?;
    let limit = page_limit(req, DEFAULT_PAGE, MAX_PAGE)?;
    let after = Cursor::from_query(req)?.map(|c| (c.created_at, c.id));
    let jobs = store::list(&state.db, &who.tenant, &filter, after, limit + 1).await?;
    let page = Page::of_rows(
        jobs,
        limit,
        |j| Cursor {
            created_at: j.created_at,
            id: j.id,
        },
        |j| JobView::from(j),
    );
    json(200, &page)
}

/// `POST /v1/jobs/{id}/cancel`: see `portcullis_jobs::lifecycle::cancel`
/// (no lock is held while ECS is called).
/// The 503 detail of a cancel ECS refused or did not answer: a reason code,
/// never ECS's text (it names the task ARN, the account and the role).
pub fn cancel_unavailable_detail() -> String {
    format!(
        "{}: the container service could not stop the job's task; nothing was changed, retry the cancel",
        Code::DependencyUnavailable
    )
}

async fn cancel(
    state: &State,
    req: &Request,
    rid: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let who = Caller::from_request(req)?;
    who.require(&Scope::jobs_write())?;
    let id = job_id(req)?;
    match lifecycle::cancel(state, &who.tenant, id, &who.principal_id).await {
        Ok(job) => job_response(202, &job),
        Err(e @ CancelError::NotFound(_)) => Err(ApiError::not_found(e.to_string())),
        Err(e @ CancelError::Finished { .. }) => Err(ApiError::conflict(e.to_string())),
        Err(e @ CancelError::Ecs(_)) => {
            tracing::warn!(job_id = %id, request_id = rid.unwrap_or("-"), error = %e, "cancel: ECS refused or did not answer");
            Err(ApiError::Unavailable {
                detail: cancel_unavailable_detail(),
            })
        }
        Err(e @ CancelError::Busy(_)) => Err(ApiError::Unavailable {
            detail: e.to_string(),
        }),
        Err(CancelError::Db(e)) => Err(e.into()),
    }
}
