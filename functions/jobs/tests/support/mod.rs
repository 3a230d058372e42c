//! The jobs handler's test support: requests to its routes through the
//! testkit's API Gateway events. Everything shared with other crates (stub
//! ECS, registry, state, emulator set-up) lives in `portcullis-testkit`.
#![allow(dead_code)]

use lambda_http::{Body, Response};
use serde_json::Value;
use sqlx::PgPool;

pub use portcullis_testkit::apigw::{ApiRequest, body_json};
pub use portcullis_testkit::jobs::*;
pub use portcullis_testkit::stub_ecs::*;

/// The API Gateway request for a concrete jobs path: the route
/// (`/v1/jobs/{id}/cancel`) and its `{id}` are worked out from it.
pub fn request(
    method: &str,
    path: &str,
    tenant: &str,
    scopes: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> lambda_http::Request {
    request_with_query(method, path, tenant, scopes, headers, body, &[])
}

pub fn request_with_query(
    method: &str,
    path: &str,
    tenant: &str,
    scopes: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    query: &[(&str, &str)],
) -> lambda_http::Request {
    let mut r = match path.trim_start_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["v1", "jobs", id] => ApiRequest::new(method, "/v1/jobs/{id}").path_param("id", id),
        ["v1", "jobs", id, tail] => {
            ApiRequest::new(method, &format!("/v1/jobs/{{id}}/{tail}")).path_param("id", id)
        }
        _ => ApiRequest::new(method, path),
    }
    .caller(tenant, scopes);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    for (k, v) in query {
        r = r.query(k, v);
    }
    if let Some(b) = body {
        r = r.body(b);
    }
    r.build()
}

/// The handler's answer to `req`.
pub async fn handle(state: &portcullis_jobs::State, req: lambda_http::Request) -> Response<Body> {
    jobs::handle(state, req)
        .await
        .expect("the handler never fails")
}

/// `method path` with no headers or body, as `tenant` holding `scopes`.
pub async fn send(
    state: &portcullis_jobs::State,
    method: &str,
    path: &str,
    tenant: &str,
    scopes: &str,
) -> Response<Body> {
    handle(state, request(method, path, tenant, scopes, &[], None)).await
}

/// `GET /v1/jobs` with this query, as `tenant` (jobs:read).
pub async fn list(
    state: &portcullis_jobs::State,
    tenant: &str,
    query: &[(&str, &str)],
) -> Response<Body> {
    let req = request_with_query("GET", "/v1/jobs", tenant, "jobs:read", &[], None, query);
    handle(state, req).await
}

/// Submit a job through the handler.
pub async fn submit(
    state: &portcullis_jobs::State,
    tenant: &str,
    key: &str,
    body: &str,
) -> Response<Body> {
    let req = request(
        "POST",
        "/v1/jobs",
        tenant,
        "jobs:read jobs:write",
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body),
    );
    handle(state, req).await
}

/// The id of the job a submit answered.
pub fn job_id(resp: &Response<Body>) -> String {
    let answer = body_json(resp);
    answer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the submit answers a job: {answer}"))
        .to_owned()
}

pub async fn get_job(state: &portcullis_jobs::State, tenant: &str, id: &str) -> Response<Body> {
    send(state, "GET", &format!("/v1/jobs/{id}"), tenant, "jobs:read").await
}

/// A job's events through the handler.
pub async fn events(state: &portcullis_jobs::State, tenant: &str, id: &str) -> Response<Body> {
    let path = format!("/v1/jobs/{id}/events");
    send(state, "GET", &path, tenant, "jobs:read").await
}

/// Cancel a job through the handler.
pub async fn cancel(state: &portcullis_jobs::State, tenant: &str, id: &str) -> Response<Body> {
    let path = format!("/v1/jobs/{id}/cancel");
    send(state, "POST", &path, tenant, "jobs:write").await
}

/// The job state over the test database with ECS answering `answer` (see
/// [`stub_ecs`]), at the [`stub_placement`].
pub fn stub_state<F>(pool: PgPool, answer: F) -> (portcullis_jobs::State, Calls)
where
    F: Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
{
    let (ecs, calls) = stub_ecs(answer);
    (state(pool, ecs, stub_placement()), calls)
}

/// The job state over the test database with a [`healthy_ecs`], at the
/// [`stub_placement`].
pub fn healthy_state(pool: PgPool) -> (portcullis_jobs::State, Calls) {
    let (ecs, calls) = healthy_ecs();
    (state(pool, ecs, stub_placement()), calls)
}

/// One column of the job `id`, as stored (`task_arn`, `trace_id`, ...).
pub async fn job_column(pool: &PgPool, column: &str, id: &str) -> Option<String> {
    sqlx::query_scalar(&format!("select {column} from jobs where id = $1::uuid"))
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("the job exists")
}

/// The one number a `select count(*) ...` answers.
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("a count query")
}
