//! Lambda on API Gateway's side: invoking a function with its event, what a
//! REQUEST authorizer's answer means, and mapping a Lambda proxy response
//! to HTTP.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::FutureExt;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use lambda_runtime::Context;
use portcullis_core::trace;
use serde_json::{Map, Value, json};

use crate::integration::Integration;
use crate::policy::{self, Decision};
use crate::spec::Api;

/// Lambda's synchronous invocation payload limit: 6 MB (6,291,456 bytes)
/// for the request (AWS, "Lambda quotas": "Invocation payload (request and
/// response): 6 MB each for request and response (synchronous)"). The Lambda
/// proxy event is the request: headers, context and the body (base64 when
/// binary, 4/3 of its size).
pub const LAMBDA_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// The size of `event` as the invocation payload (its JSON text).
pub fn payload_size(event: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, event) {
        Ok(()) => count.0,
        // Writing a Value to a counter cannot fail; if it did, the event
        // could not be sent either.
        Err(_) => usize::MAX,
    }
}

/// The `X-Amzn-Trace-Id` header of a proxy or REQUEST authorizer event.
fn event_trace_header(event: &Value) -> Option<&str> {
    event
        .get("headers")?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(trace::HEADER))
        .and_then(|(_, v)| v.as_str())
}

pub enum Invoked {
    Ok(Value),
    Err(String),
    TimedOut,
}

/// Invoke `f` with `event` within `timeout`, with a Lambda context (fresh
/// request id, deadline, the request's trace under a new function segment).
pub async fn invoke(
    f: &dyn Integration,
    event: Value,
    request_id: &str,
    timeout: Duration,
) -> Invoked {
    let mut context = Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    context.deadline = now_ms + timeout.as_millis() as u64;
    // The request's trace (the gateway adds a root to a request without
    // one), sampled under a new function segment, as Lambda hands it to a
    // traced function (active tracing is on for every function).
    let header = event_trace_header(&event)
        .and_then(trace::TraceHeader::parse)
        .unwrap_or_else(trace::TraceHeader::new_root)
        .sampled_under(&trace::new_id());
    tracing::debug!(request_id, trace = %header, "invoking");
    context.xray_trace_id = Some(header.to_string());
    // A panicking handler fails the invocation (as the Lambda runtime reports
    // it) instead of tearing down the connection. The invocation runs in the
    // scope of its trace, as the runtime kit runs it in Lambda.
    let call = trace::scope(Some(header.as_str()), f.invoke(event, context));
    let call = std::panic::AssertUnwindSafe(call).catch_unwind();
    match tokio::time::timeout(timeout, call).await {
        Err(_) => Invoked::TimedOut,
        Ok(Ok(Ok(v))) => Invoked::Ok(v),
        Ok(Ok(Err(e))) => Invoked::Err(e.to_string()),
        Ok(Err(_)) => Invoked::Err("the function panicked".to_owned()),
    }
}

#[derive(Debug)]
pub enum AuthzFailure {
    /// The policy denies (`true`: by an explicit Deny).
    Denied(bool),
    /// The answer is not what API Gateway can use.
    Invalid(String),
}

/// `requestContext.authorizer` from the authorizer's answer: its `context`
/// values as strings (numbers and booleans stringified; objects and arrays
/// refused), `principalId` and `integrationLatency`.
pub fn authorizer_context(answer: &Value, latency_ms: u64) -> Result<Map<String, Value>, String> {
    let principal = answer
        .get("principalId")
        .and_then(Value::as_str)
        .ok_or("principalId is missing")?;
    let mut out = Map::new();
    if let Some(ctx) = answer.get("context").filter(|c| !c.is_null()) {
        let ctx = ctx.as_object().ok_or("context is not an object")?;
        for (k, v) in ctx {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => continue,
                _ => {
                    return Err(format!(
                        "context value {k} is not a string, number or boolean"
                    ));
                }
            };
            out.insert(k.clone(), Value::String(s));
        }
    }
    out.insert("principalId".into(), Value::String(principal.to_owned()));
    out.insert("integrationLatency".into(), json!(latency_ms));
    Ok(out)
}

/// Whether the answer's `policyDocument` allows `method_arn`.
pub fn policy_decision(answer: &Value, method_arn: &str) -> Result<(), AuthzFailure> {
    let policy = answer
        .get("policyDocument")
        .ok_or_else(|| AuthzFailure::Invalid("policyDocument is missing".into()))?;
    match policy::evaluate(policy, method_arn) {
        Ok(Decision::Allow) => Ok(()),
        Ok(Decision::ImplicitDeny) => Err(AuthzFailure::Denied(false)),
        Ok(Decision::ExplicitDeny) => Err(AuthzFailure::Denied(true)),
        Err(e) => Err(AuthzFailure::Invalid(e.to_string())),
    }
}

/// Map a Lambda proxy response to HTTP: `statusCode`, `headers` merged with
/// `multiValueHeaders`, `body` (base64-decoded when `isBase64Encoded` and
/// binary), `Content-Type: application/json` when the function sets none.
pub fn map_response(
    api: &Api,
    request_headers: &HeaderMap,
    v: &Value,
) -> Result<Response<Body>, String> {
    let obj = v.as_object().ok_or("the response is not a JSON object")?;
    let status = status_of(obj)?;
    let mut headers = headers_of(obj)?;
    let body = body_of(api, request_headers, obj, &headers)?;
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Ok(resp)
}

fn status_of(obj: &Map<String, Value>) -> Result<StatusCode, String> {
    let status = obj
        .get("statusCode")
        .and_then(|s| {
            s.as_u64()
                .or_else(|| s.as_str().and_then(|s| s.parse().ok()))
        })
        .ok_or("statusCode is missing or not an integer")?;
    u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| "statusCode is not a valid HTTP status".to_owned())
}

fn put_header(
    headers: &mut HeaderMap,
    name: &str,
    value: &str,
    append: bool,
) -> Result<(), String> {
    let n =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("bad header name {name:?}"))?;
    let v = HeaderValue::from_str(value).map_err(|_| format!("bad value for header {name}"))?;
    if append {
        headers.append(n, v);
    } else {
        headers.insert(n, v);
    }
    Ok(())
}

/// API Gateway merges `headers` and `multiValueHeaders`; a name in both
/// keeps every value.
fn headers_of(obj: &Map<String, Value>) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    let mut multi_names = Vec::new();
    if let Some(m) = obj.get("multiValueHeaders").filter(|m| !m.is_null()) {
        for (name, values) in m.as_object().ok_or("multiValueHeaders is not an object")? {
            let values = values
                .as_array()
                .ok_or("multiValueHeaders values must be lists")?;
            for value in values {
                let value = value.as_str().ok_or("header values must be strings")?;
                put_header(&mut headers, name, value, true)?;
            }
            multi_names.push(name.to_ascii_lowercase());
        }
    }
    if let Some(m) = obj.get("headers").filter(|m| !m.is_null()) {
        for (name, value) in m.as_object().ok_or("headers is not an object")? {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return Err(format!("header {name} is not a string")),
            };
            let append = multi_names.contains(&name.to_ascii_lowercase());
            put_header(&mut headers, name, &value, append)?;
        }
    }
    Ok(headers)
}

fn body_of(
    api: &Api,
    request_headers: &HeaderMap,
    obj: &Map<String, Value>,
    headers: &HeaderMap,
) -> Result<Vec<u8>, String> {
    let is_b64 = obj
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let s = match obj.get("body") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s,
        Some(_) => return Err("body is not a string".into()),
    };
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let accept = request_headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let binary = api.is_binary(content_type) || accept.is_some_and(|a| api.is_binary(Some(a)));
    if is_b64 && binary {
        B64.decode(s)
            .map_err(|e| format!("body is not valid base64: {e}"))
    } else {
        Ok(s.clone().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:portcullis/local/GET/v1/me";

    fn allow_all(context: Value) -> Value {
        json!({
            "principalId": "p",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
            "context": context,
        })
    }

    #[test]
    fn context_values_that_are_objects_are_an_authorizer_failure() {
        let answer = allow_all(json!({"nested": {"a": 1}}));
        assert!(authorizer_context(&answer, 0).is_err());
        let ok = authorizer_context(&allow_all(json!({"n": 1, "b": true})), 7).expect("valid");
        assert_eq!(ok["n"], "1");
        assert_eq!(ok["b"], "true");
        assert_eq!(ok["principalId"], "p");
    }

    #[test]
    fn an_answer_without_principal_or_policy_is_an_authorizer_failure() {
        let no_principal = json!({"policyDocument": {"Statement": []}});
        assert!(authorizer_context(&no_principal, 0).is_err());
        let no_policy = json!({"principalId": "p"});
        assert!(matches!(
            policy_decision(&no_policy, ARN),
            Err(AuthzFailure::Invalid(_))
        ));
        assert!(policy_decision(&allow_all(Value::Null), ARN).is_ok());
    }

    #[test]
    fn headers_and_multi_value_headers_are_merged() {
        let api = Api::from_yaml_str("paths: {}").expect("empty spec");
        let resp = map_response(
            &api,
            &HeaderMap::new(),
            &json!({"statusCode": 418, "headers": {"x-a": "1", "x-b": "2"},
                    "multiValueHeaders": {"x-a": ["0"]}, "body": "hi"}),
        )
        .expect("valid response");
        assert_eq!(resp.status(), 418);
        let xa: Vec<_> = resp.headers().get_all("x-a").iter().collect();
        assert_eq!(xa.len(), 2);
        assert_eq!(resp.headers()["x-b"], "2");
    }

    #[test]
    fn a_status_code_out_of_range_is_malformed() {
        let api = Api::from_yaml_str("paths: {}").expect("empty spec");
        assert!(map_response(&api, &HeaderMap::new(), &json!({"statusCode": 70000})).is_err());
        assert!(map_response(&api, &HeaderMap::new(), &json!("text")).is_err());
    }

    #[test]
    fn the_payload_size_is_the_events_json_text() {
        let event = json!({"body": "abc", "n": 1});
        assert_eq!(payload_size(&event), event.to_string().len());
    }
}
