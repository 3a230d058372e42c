//! `GET /v1/health`: no authentication; 200 when the database and the AWS
//! API answer, 503 naming the dependency that does not. Reasons are fixed
//! sentences; causes go to the log only.

use crate::State;
use lambda_http::{Body, Response};
use portcullis_core::ApiError;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Serialize)]
struct Check {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Check {
    fn ok() -> Check {
        Check {
            status: "ok",
            endpoint: None,
            reason: None,
        }
    }
    fn error(reason: String) -> Check {
        Check {
            status: "error",
            endpoint: None,
            reason: Some(reason),
        }
    }
}

#[derive(Debug, Serialize)]
struct Health {
    status: &'static str,
    database: Check,
    aws: Check,
}

pub async fn health(state: &State, request_id: Option<&str>) -> Result<Response<Body>, ApiError> {
    let timeout = state.config.health_timeout;
    let (database, mut aws) = tokio::join!(
        check_database(state, timeout, request_id),
        check_aws(state, timeout, request_id)
    );
    aws.endpoint = Some(state.config.aws_endpoint.clone());
    let healthy = database.status == "ok" && aws.status == "ok";
    let body = Health {
        status: if healthy { "ok" } else { "error" },
        database,
        aws,
    };
    let mut resp = portcullis_core::http::json(if healthy { 200 } else { 503 }, &body)?;
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn check_database(state: &State, timeout: Duration, request_id: Option<&str>) -> Check {
    match tokio::time::timeout(timeout, state.db.ping()).await {
        Ok(Ok(())) => Check::ok(),
        Ok(Err(e)) => {
            tracing::warn!(request_id = request_id.unwrap_or("-"), error = %e, "health: database check failed");
            Check::error("the database is unreachable or refused the check query".to_owned())
        }
        Err(_) => {
            tracing::warn!(
                request_id = request_id.unwrap_or("-"),
                timeout_ms = timeout.as_millis() as u64,
                "health: database check timed out"
            );
            Check::error(format!(
                "the database did not answer within {} ms",
                timeout.as_millis()
            ))
        }
    }
}

/// One cheap, read-only call: API Gateway GetAccount (IAM `apigateway:GET`
/// on `arn:aws:apigateway:<region>::/account`). The same client flushes the
/// authorizer cache, so this proves the endpoint, credentials and network path
/// that a revocation needs.
async fn check_aws(state: &State, timeout: Duration, request_id: Option<&str>) -> Check {
    match tokio::time::timeout(timeout, state.apigw.get().await.get_account().send()).await {
        Ok(Ok(_)) => Check::ok(),
        Ok(Err(e)) => {
            tracing::warn!(request_id = request_id.unwrap_or("-"), error = %aws_sdk_apigateway::error::DisplayErrorContext(&e), "health: AWS check failed");
            Check::error("the AWS API is unreachable or refused the check call".to_owned())
        }
        Err(_) => {
            tracing::warn!(
                request_id = request_id.unwrap_or("-"),
                timeout_ms = timeout.as_millis() as u64,
                "health: AWS check timed out"
            );
            Check::error(format!(
                "the AWS API did not answer within {} ms",
                timeout.as_millis()
            ))
        }
    }
}
