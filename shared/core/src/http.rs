//! Helpers shared by the HTTP-facing functions (`lambda_http` handlers behind
//! API Gateway REST proxy integrations), and the one HTTP convention they
//! follow (docs/development.md#http-convention):
//!
//! - route on `requestContext.resourcePath` ([`resource_path`]) and read path
//!   parameters with [`path_param`], never by splitting the raw path;
//! - an unknown route is 404 `not-found`; a known route with another method
//!   is 405 `method-not-allowed` with `Allow`;
//! - an id in the path that is not well formed is 404 `not-found`, exactly as
//!   an id that does not exist ([`path_id`]);
//! - a malformed or out-of-range query parameter (`limit`, `cursor`, a
//!   filter) is 400 `invalid-parameter` naming it ([`page_limit`],
//!   [`Cursor`], [`query_param`]);
//! - a malformed JSON body is 400 `bad-request`, a bad body field 422
//!   `invalid-field` naming it ([`json_body`]); an oversized body is 413.
//!
//! The caller (the authorizer context) is read with
//! `portcullis_auth::AuthContext::from_request`: one type, written by the
//! authorizer and read by the functions with the same code.

use crate::error::ApiError;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The API Gateway request id (falls back to the Lambda request id).
pub fn request_id(req: &Request) -> Option<String> {
    if let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() {
        if let Some(id) = &ctx.request_id {
            return Some(id.clone());
        }
    }
    req.lambda_context_ref().map(|c| c.request_id.clone())
}

/// The API Gateway resource path of the route (`/v1/jobs/{id}`), the one
/// thing HTTP functions route on. Empty when the event has no REST context.
pub fn resource_path(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.resource_path.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A path parameter of the route (`{id}` of `/v1/jobs/{id}`). A route
/// that declares the parameter always has it; a missing one is a 404.
pub fn path_param(req: &Request, name: &str) -> Result<String, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::not_found(format!("the path has no {{{name}}}")))
}

/// A path parameter parsed as an id. An id that does not parse names no
/// resource, so it is the same 404 as an id that does not exist.
pub fn path_id<T: std::str::FromStr>(req: &Request, name: &str, what: &str) -> Result<T, ApiError> {
    let raw = path_param(req, name)?;
    raw.parse::<T>()
        .map_err(|_| ApiError::not_found(format!("no {what} {raw}")))
}

/// The method-not-allowed answer for a known route.
pub fn method_not_allowed(req: &Request, allow: &[&str]) -> ApiError {
    ApiError::MethodNotAllowed {
        detail: format!("{} is not allowed on {}", req.method(), resource_path(req)),
        allow: allow.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// The answer for a resource path this function does not serve.
pub fn no_route(req: &Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}; check the integration in api/openapi.yaml",
        req.method(),
        resource_path(req)
    ))
}

/// A query-string parameter: `None` when absent, 400 `invalid-parameter`
/// when it is given more than once or is longer than 512 bytes.
pub fn query_param(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let q = req.query_string_parameters_ref();
    let Some(values) = q.and_then(|q| q.all(name)) else {
        return Ok(None);
    };
    match values.as_slice() {
        [] => Ok(None),
        [one] if one.len() <= 512 => Ok(Some((*one).to_owned())),
        [_] => Err(ApiError::invalid_parameter(
            name,
            format!("{name} is longer than 512 bytes"),
        )),
        _ => Err(ApiError::invalid_parameter(
            name,
            format!("give {name} once"),
        )),
    }
}

/// `?limit=`: a whole number from 1 to `max`, `default` when absent.
pub fn page_limit(req: &Request, default: i64, max: i64) -> Result<i64, ApiError> {
    match query_param(req, "limit")? {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter(
                    "limit",
                    format!("limit must be a whole number from 1 to {max}"),
                )
            }),
    }
}

/// An opaque pagination cursor over `(created_at, id)`: the position of the
/// last item of the previous page (lists are newest first).
///
/// Encoded as `base64url("v1|<unix microseconds>|<id>")`; clients pass back
/// `next_cursor` unchanged. Anything that does not decode is 400
/// `invalid-parameter` (`cursor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub id: uuid::Uuid,
}

impl Cursor {
    const VERSION: &'static str = "v1";

    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}|{}|{}",
            Self::VERSION,
            self.created_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        use base64::Engine;
        let bad = || {
            ApiError::invalid_parameter(
                "cursor",
                "the cursor is not one this API returned; pass back next_cursor unchanged, or omit it to start from the first page",
            )
        };
        if text.len() > 200 {
            return Err(bad());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| bad())?;
        let raw = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = raw.split('|');
        let (Some(Self::VERSION), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let created_at =
            chrono::DateTime::<chrono::Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| bad())?;
        Ok(Cursor { created_at, id })
    }

    /// `?cursor=`, decoded; `None` when absent.
    pub fn from_query(req: &Request) -> Result<Option<Cursor>, ApiError> {
        query_param(req, "cursor")?
            .map(|c| Cursor::decode(&c))
            .transpose()
    }
}

/// One page of a cursor-paginated list, as every list endpoint answers it:
/// `{"items": [...], "next_cursor": "<cursor>" | null}`.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `rows`, fetched with a limit of `limit + 1` (newest
    /// first): the extra row only says that there is more, and then
    /// `next_cursor` is the position of the last row kept (`position`).
    /// Each kept row is shown as `view` makes it.
    pub fn of_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        position: impl Fn(&R) -> Cursor,
        view: impl FnMut(&R) -> T,
    ) -> Page<T> {
        let keep = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > keep;
        rows.truncate(keep);
        let next_cursor = if more {
            rows.last().map(|r| position(r).encode())
        } else {
            None
        };
        Page {
            items: rows.iter().map(view).collect(),
            next_cursor,
        }
    }

    /// A list answered whole: one page, no cursor.
    pub fn whole(items: Vec<T>) -> Page<T> {
        Page {
            items,
            next_cursor: None,
        }
    }
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
    fn a_page_keeps_limit_rows_and_a_cursor_only_when_there_is_more() {
        let at = |i: u128| Cursor {
            created_at: chrono::DateTime::<chrono::Utc>::from_timestamp_micros(i as i64).unwrap(),
            id: uuid::Uuid::from_u128(i),
        };
        let page = Page::of_rows(vec![3u128, 2, 1], 2, |r| at(*r), |r| *r * 10);
        assert_eq!(page.items, vec![30, 20]);
        let next = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next, at(2));
        let last = Page::of_rows(vec![2u128, 1], 2, |r| at(*r), |r| *r);
        assert_eq!((last.items, last.next_cursor), (vec![2, 1], None));
        assert_eq!(
            serde_json::to_value(Page::whole(vec![1])).unwrap(),
            serde_json::json!({"items": [1], "next_cursor": null})
        );
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_an_invalid_parameter() {
        let c = Cursor {
            created_at: chrono::DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap(),
            id: uuid::Uuid::from_u128(7),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "abc", "djF8MXwy", &"x".repeat(300)] {
            let err = Cursor::decode(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
            assert_eq!(err.problem(None).field.as_deref(), Some("cursor"));
            assert!(err.problem(None).kind.ends_with("invalid-parameter"));
        }
    }

    #[test]
    fn serde_field_names_are_extracted() {
        assert_eq!(
            field_from_serde_message("missing field `name` at line 1").as_deref(),
            Some("name")
        );
        assert_eq!(field_from_serde_message("no backticks"), None);
    }
}
