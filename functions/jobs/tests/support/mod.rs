//! The jobs handler's test support: requests to its routes through the
//! testkit's API Gateway events. Everything shared with other crates (stub
//! ECS, registry, state, emulator set-up) lives in `portcullis-testkit`.
#![allow(dead_code)]

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

/// Submit a job through the handler.
pub async fn submit(
    state: &portcullis_jobs::State,
    tenant: &str,
    key: &str,
    body: &str,
) -> lambda_http::Response<lambda_http::Body> {
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
    jobs::handle(state, req)
        .await
        .expect("the handler never fails")
}

pub async fn get_job(
    state: &portcullis_jobs::State,
    tenant: &str,
    id: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let req = request(
        "GET",
        &format!("/v1/jobs/{id}"),
        tenant,
        "jobs:read",
        &[],
        None,
    );
    jobs::handle(state, req)
        .await
        .expect("the handler never fails")
}

/// Cancel a job through the handler.
pub async fn cancel(
    state: &portcullis_jobs::State,
    tenant: &str,
    id: &str,
) -> lambda_http::Response<lambda_http::Body> {
    let req = request(
        "POST",
        &format!("/v1/jobs/{id}/cancel"),
        tenant,
        "jobs:write",
        &[],
        None,
    );
    jobs::handle(state, req)
        .await
        .expect("the handler never fails")
}
