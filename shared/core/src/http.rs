//! Helpers shared by the HTTP-facing functions (`lambda_http` handlers behind
//! API Gateway REST proxy integrations).

use crate::error::ApiError;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The caller as the authorizer described it in `requestContext.authorizer`.
///
/// API Gateway passes authorizer context values as strings; `scopes` is a
/// space-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub principal_id: String,
    pub principal_type: String,
    pub tenant: String,
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The API Gateway request id (falls back to the Lambda request id).
pub fn request_id(req: &Request) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() {
        if let Some(id) = &ctx.request_id {
            return Some(id.clone());
        }
    }
    req.lambda_context_ref().map(|c| c.request_id.clone())
}

/// The caller, from the authorizer context. A request without one never got
/// past the gateway's authorizer, so it is refused with 401.
pub fn caller(req: &Request) -> Result<Caller, ApiError> {
    let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else {
        return Err(ApiError::Unauthorized);
    };
    let fields = &ctx.authorizer.fields;
    let get = |k: &str| -> Option<String> {
        fields.get(k).and_then(|v| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    };
    let principal_id = get("principal_id")
        .or_else(|| get("principalId"))
        .ok_or(ApiError::Unauthorized)?;
    let tenant = get("tenant").ok_or(ApiError::Unauthorized)?;
    Ok(Caller {
        principal_id,
        principal_type: get("principal_type").unwrap_or_else(|| "unknown".to_owned()),
        tenant,
        scopes: get("scopes")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        key_id: get("key_id"),
    })
}

/// Parse a JSON body into `T`, refusing bodies over `limit` bytes (413) and
/// malformed JSON (400, saying where it broke). Unknown-field and type errors
/// are 422 naming the field when serde tells which.
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge {
            detail: format!(
                "the request body is {} bytes; the limit is {limit}",
                bytes.len()
            ),
        });
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request("a JSON request body is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error_free(&mut de) {
        Ok(v) => Ok(v),
        Err(e) => match e.classify() {
            serde_json::error::Category::Data => Err(ApiError::unprocessable(
                field_from_serde_message(&e.to_string()).unwrap_or_else(|| "body".to_owned()),
                e.to_string(),
            )),
            _ => Err(ApiError::bad_request(format!(
                "the body is not valid JSON: {e}"
            ))),
        },
    }
}

fn serde_path_to_error_free<T: DeserializeOwned>(
    de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, serde_json::Error> {
    let v = T::deserialize(&mut *de)?;
    de.end()?;
    Ok(v)
}

/// serde messages name fields as "missing field `x`" / "unknown field `x`".
fn field_from_serde_message(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_owned())
}

/// A JSON response with the given status.
pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Response<Body>, ApiError> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .map_err(ApiError::internal)
}

/// Run a handler body and turn its error into problem+json with the request id.
pub fn respond(req_id: Option<&str>, result: Result<Response<Body>, ApiError>) -> Response<Body> {
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(req_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_field_names_are_extracted() {
        assert_eq!(
            field_from_serde_message("missing field `name` at line 1").as_deref(),
            Some("name")
        );
        assert_eq!(field_from_serde_message("no backticks"), None);
    }
}
