//! The events API Gateway REST sends to Lambda: the proxy integration event
//! (payload format 1.0) and the REQUEST authorizer event.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::{Map, Value, json};

/// Fixed identity of the local "deployment" (what AWS would fill in).
#[derive(Debug, Clone)]
pub struct Deployment {
    pub region: String,
    pub account_id: String,
    pub api_id: String,
    pub stage: String,
    pub stage_variables: BTreeMap<String, String>,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            api_id: "portcullis".into(),
            stage: "local".into(),
            stage_variables: BTreeMap::new(),
        }
    }
}

impl Deployment {
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`.
    pub fn method_arn(&self, method: &str, path: &str) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}/{}",
            self.region,
            self.account_id,
            self.api_id,
            self.stage,
            method,
            path.strip_prefix('/').unwrap_or(path)
        )
    }
}

/// Everything about one incoming request the events are built from.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The path as received (still percent-encoded), without the stage.
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub body_is_binary: bool,
    pub source_ip: String,
    pub request_id: String,
    pub extended_request_id: String,
    pub received_at: DateTime<Utc>,
    pub resource_path: &'a str,
    pub path_parameters: &'a BTreeMap<String, String>,
}

fn header_maps(headers: &HeaderMap) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        single.insert(name.as_str().to_owned(), Value::String(v.clone()));
        match multi.get_mut(name.as_str()) {
            Some(Value::Array(list)) => list.push(Value::String(v)),
            _ => {
                multi.insert(name.as_str().to_owned(), json!([v]));
            }
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

fn query_maps(raw_query: Option<&str>) -> (Value, Value) {
    let Some(q) = raw_query.filter(|q| !q.is_empty()) else {
        return (Value::Null, Value::Null);
    };
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        single.insert(k.to_string(), Value::String(v.to_string()));
        match multi.get_mut(k.as_ref()) {
            Some(Value::Array(list)) => list.push(Value::String(v.to_string())),
            _ => {
                multi.insert(k.to_string(), json!([v]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

fn string_map(map: &BTreeMap<String, String>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// A short, stable id for a resource, like API Gateway's resource ids.
pub fn resource_id(resource_path: &str) -> String {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in resource_path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn request_context(d: &Deployment, r: &Incoming<'_>) -> Map<String, Value> {
    // domainName is the bare host name (no port), as in AWS.
    let host = header(r.headers, "host").unwrap_or("localhost");
    let domain = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
    .to_owned();
    let domain_prefix = domain.split('.').next().unwrap_or_default().to_owned();
    let mut ctx = Map::new();
    ctx.insert("accountId".into(), json!(d.account_id));
    ctx.insert("apiId".into(), json!(d.api_id));
    ctx.insert("domainName".into(), json!(domain));
    ctx.insert("domainPrefix".into(), json!(domain_prefix));
    ctx.insert("extendedRequestId".into(), json!(r.extended_request_id));
    ctx.insert("httpMethod".into(), json!(r.method));
    ctx.insert(
        "identity".into(),
        json!({
            "accessKey": null,
            "accountId": null,
            "apiKey": null,
            "apiKeyId": null,
            "caller": null,
            "cognitoAuthenticationProvider": null,
            "cognitoAuthenticationType": null,
            "cognitoIdentityId": null,
            "cognitoIdentityPoolId": null,
            "principalOrgId": null,
            "sourceIp": r.source_ip,
            "user": null,
            "userAgent": header(r.headers, "user-agent"),
            "userArn": null,
        }),
    );
    ctx.insert("path".into(), json!(format!("/{}{}", d.stage, r.raw_path)));
    ctx.insert("protocol".into(), json!("HTTP/1.1"));
    ctx.insert("requestId".into(), json!(r.request_id));
    ctx.insert(
        "requestTime".into(),
        json!(r.received_at.format("%d/%b/%Y:%H:%M:%S %z").to_string()),
    );
    ctx.insert(
        "requestTimeEpoch".into(),
        json!(r.received_at.timestamp_millis()),
    );
    ctx.insert("resourceId".into(), json!(resource_id(r.resource_path)));
    ctx.insert("resourcePath".into(), json!(r.resource_path));
    ctx.insert("stage".into(), json!(d.stage));
    ctx
}

/// The Lambda proxy integration event (REST API, payload format 1.0).
pub fn proxy_event(d: &Deployment, r: &Incoming<'_>) -> Value {
    let (headers, multi_headers) = header_maps(r.headers);
    let (query, multi_query) = query_maps(r.raw_query);
    let (body, is_b64) = if r.body.is_empty() {
        (Value::Null, false)
    } else if r.body_is_binary {
        (Value::String(B64.encode(r.body)), true)
    } else {
        (
            Value::String(String::from_utf8_lossy(r.body).into_owned()),
            false,
        )
    };
    json!({
        "resource": r.resource_path,
        "path": r.raw_path,
        "httpMethod": r.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": string_map(r.path_parameters),
        "stageVariables": string_map(&d.stage_variables),
        "requestContext": Value::Object(request_context(d, r)),
        "body": body,
        "isBase64Encoded": is_b64,
    })
}

/// The REQUEST authorizer event.
pub fn authorizer_event(d: &Deployment, r: &Incoming<'_>) -> Value {
    let (headers, multi_headers) = header_maps(r.headers);
    let (query, multi_query) = query_maps(r.raw_query);
    let or_empty = |v: Value| if v.is_null() { json!({}) } else { v };
    json!({
        "type": "REQUEST",
        "methodArn": d.method_arn(r.method, r.raw_path),
        "resource": r.resource_path,
        "path": r.raw_path,
        "httpMethod": r.method,
        "headers": or_empty(headers),
        "multiValueHeaders": or_empty(multi_headers),
        "queryStringParameters": or_empty(query),
        "multiValueQueryStringParameters": or_empty(multi_query),
        "pathParameters": or_empty(string_map(r.path_parameters)),
        "stageVariables": or_empty(string_map(&d.stage_variables)),
        "requestContext": Value::Object(request_context(d, r)),
    })
}

/// A random id shaped like API Gateway's `extendedRequestId`.
pub fn extended_request_id() -> String {
    let bytes: [u8; 11] = rand::random();
    B64.encode(bytes)
}
