//! One HTTP-facing error type rendered as RFC 9457 problem+json.
//!
//! The caller sees a status, a stable `type` URI, a short title and a detail
//! written for them; the internal cause (SQL errors, SDK errors) is logged with
//! the request id and never sent.

use http::StatusCode;
#[cfg(feature = "http")]
use lambda_http::{Body, Response};
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://portcullis.dev/problems/";

/// An error that ends an HTTP request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be parsed (malformed JSON, bad header).
    #[error("bad request: {detail}")]
    BadRequest { detail: String },
    /// 400: a query-string parameter is malformed or out of range
    /// (`limit`, `cursor`, a filter). `name` is the parameter.
    #[error("invalid query parameter {name}: {detail}")]
    InvalidParameter { name: String, detail: String },
    /// 422: parsed, but a field is not acceptable. `field` is a JSON pointer or name.
    #[error("invalid field {field}: {detail}")]
    Unprocessable { field: String, detail: String },
    /// 401
    #[error("unauthorized")]
    Unauthorized,
    /// 403
    #[error("forbidden: {detail}")]
    Forbidden { detail: String },
    /// 404 (also used for resources of another tenant).
    #[error("not found: {detail}")]
    NotFound { detail: String },
    /// 405
    #[error("method not allowed: {detail}")]
    MethodNotAllowed { detail: String, allow: Vec<String> },
    /// 409
    #[error("conflict: {detail}")]
    Conflict { detail: String },
    /// 413
    #[error("payload too large: {detail}")]
    PayloadTooLarge { detail: String },
    /// 429
    #[error("too many requests: {detail}")]
    TooManyRequests { detail: String },
    /// 502: an upstream answered badly or not at all.
    #[error("bad gateway: {detail}")]
    BadGateway { detail: String },
    /// 503: a dependency is unavailable; retrying later may work.
    #[error("service unavailable: {detail}")]
    Unavailable { detail: String },
    /// 504
    #[error("gateway timeout: {detail}")]
    GatewayTimeout { detail: String },
    /// 500: the cause is logged, never shown.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For 422 (a body field) and 400 `invalid-parameter` (a query
    /// parameter): the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            detail: detail.into(),
        }
    }
    pub fn invalid_parameter(name: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            name: name.into(),
            detail: detail.into(),
        }
    }
    pub fn unprocessable(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            field: field.into(),
            detail: detail.into(),
        }
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::NotFound {
            detail: detail.into(),
        }
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::Forbidden {
            detail: detail.into(),
        }
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            detail: detail.into(),
        }
    }
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(cause.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } | ApiError::InvalidParameter { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::GatewayTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::InvalidParameter { .. } => "invalid-parameter",
            ApiError::Unprocessable { .. } => "invalid-field",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound { .. } => "not-found",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::BadGateway { .. } => "bad-gateway",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::GatewayTimeout { .. } => "gateway-timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The problem document the caller sees. Internal causes are replaced by
    /// a fixed sentence that points at the request id.
    pub fn problem(&self, request_id: Option<&str>) -> Problem {
        let status = self.status();
        let (detail, field) = match self {
            ApiError::BadRequest { detail }
            | ApiError::Forbidden { detail }
            | ApiError::NotFound { detail }
            | ApiError::MethodNotAllowed { detail, .. }
            | ApiError::Conflict { detail }
            | ApiError::PayloadTooLarge { detail }
            | ApiError::TooManyRequests { detail }
            | ApiError::BadGateway { detail }
            | ApiError::Unavailable { detail }
            | ApiError::GatewayTimeout { detail } => (Some(detail.clone()), None),
            ApiError::Unprocessable { field, detail }
            | ApiError::InvalidParameter {
                name: field,
                detail,
            } => (Some(detail.clone()), Some(field.clone())),
            ApiError::Unauthorized => (None, None),
            ApiError::Internal(_) => (
                Some(match request_id {
                    Some(id) => format!(
                        "an internal error occurred; nothing about it is shown here. Quote request id {id} to the operators."
                    ),
                    None => {
                        "an internal error occurred; nothing about it is shown here.".to_owned()
                    }
                }),
                None,
            ),
        };
        Problem {
            kind: format!("{TYPE_BASE}{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            instance: request_id.map(|id| format!("urn:request:{id}")),
            field,
        }
    }

    /// Log the error (with its cause for 5xx) and render it as problem+json.
    #[cfg(feature = "http")]
    pub fn into_response(self, request_id: Option<&str>) -> Response<Body> {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(request_id = request_id.unwrap_or("-"), status = status.as_u16(), error = %self, cause = ?std::error::Error::source(&self), "request failed");
        } else {
            tracing::info!(request_id = request_id.unwrap_or("-"), status = status.as_u16(), error = %self, "request rejected");
        }
        let problem = self.problem(request_id);
        let body = serde_json::to_string(&problem)
            .unwrap_or_else(|_| String::from(r#"{"title":"Internal Server Error","status":500}"#));
        let mut builder = Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, PROBLEM_JSON);
        if let ApiError::MethodNotAllowed { allow, .. } = &self {
            builder = builder.header(http::header::ALLOW, allow.join(", "));
        }
        builder.body(Body::Text(body)).unwrap_or_else(|_| {
            // Only reachable if a header value were invalid; every value above is ASCII.
            let mut r = Response::new(Body::Text(String::from(r#"{"status":500}"#)));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "http")]
    #[test]
    fn internal_error_never_leaks_its_cause() {
        let err = ApiError::internal(std::io::Error::other(
            "password authentication failed for user admin",
        ));
        let resp = err.into_response(Some("req-1"));
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()[http::header::CONTENT_TYPE], PROBLEM_JSON);
        let Body::Text(body) = resp.body() else {
            panic!("text body expected")
        };
        assert!(!body.contains("password"), "{body}");
        assert!(body.contains("req-1"));
    }

    #[test]
    fn unprocessable_names_the_field() {
        let p = ApiError::unprocessable("scopes[0]", "unknown scope").problem(None);
        assert_eq!(p.status, 422);
        assert_eq!(p.field.as_deref(), Some("scopes[0]"));
        assert!(p.kind.ends_with("invalid-field"));
    }

    #[cfg(feature = "http")]
    #[test]
    fn method_not_allowed_sets_allow_header() {
        let resp = ApiError::MethodNotAllowed {
            detail: "DELETE is not allowed".into(),
            allow: vec!["GET".into(), "POST".into()],
        }
        .into_response(None);
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()[http::header::ALLOW], "GET, POST");
    }
}
