//! HTTP proxy integrations (`type: http_proxy`), over a VPC link
//! (`connectionType: VPC_LINK`, the internal ALB) or the internet.
//!
//! API Gateway builds the upstream request from the integration's `uri`
//! (its `{name}` placeholders filled from `integration.request.path.<name>`),
//! the client's query string and headers (passed through), and the
//! `requestParameters` mappings (which overwrite client values of the same
//! name); the upstream's status, headers and body come back as they are.
//! Locally the ALB does not exist: the upstream URL's path is looked up in
//! the gateway's upstream table (longest path prefix, `PORTCULLIS_HTTP_UPSTREAMS`)
//! and sent to that local base URL instead.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;

use crate::streaming::StreamLimits;

/// The API Gateway REST integration of type `http_proxy`: the contract's
/// ([`portcullis_contract::HttpIntegration`]); what the local gateway does
/// with it is [`LocalHttpIntegration`].
pub use portcullis_contract::HttpIntegration;

/// Local base URLs by upstream path prefix (`/sample` →
/// `http://127.0.0.1:8081`): what stands for the ALB's listener rules.
#[derive(Debug, Clone, Default)]
pub struct Upstreams(Vec<(String, String)>);

impl Upstreams {
    pub fn insert(&mut self, prefix: &str, base_url: &str) {
        let prefix = format!("/{}", prefix.trim_matches('/'));
        self.0.retain(|(p, _)| *p != prefix);
        self.0
            .push((prefix, base_url.trim_end_matches('/').to_owned()));
    }

    /// `PORTCULLIS_HTTP_UPSTREAMS`: `<path prefix>=<base url>` pairs
    /// separated by commas.
    pub fn parse(text: &str) -> Result<Upstreams, String> {
        let mut out = Upstreams::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (prefix, base) = pair.split_once('=').ok_or_else(|| {
                format!(
                    "{pair:?} is not <path prefix>=<base url> (e.g. /sample=http://127.0.0.1:8081)"
                )
            })?;
            if !base.starts_with("http://") {
                return Err(format!(
                    "{base:?} (for {prefix}) is not an http:// base url; the local gateway speaks plain HTTP to local services"
                ));
            }
            let normal = format!("/{}", prefix.trim_matches('/'));
            if out.0.iter().any(|(p, _)| *p == normal) {
                return Err(format!(
                    "path prefix {normal} is named twice; give each prefix one base url"
                ));
            }
            out.insert(prefix, base);
        }
        Ok(out)
    }

    /// The local base URL standing for the upstream of `path`: the longest
    /// prefix that matches whole segments.
    fn base_for(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .filter(|(p, _)| {
                p == "/"
                    || path == p
                    || path
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|(p, _)| p.len())
            .map(|(_, b)| b.as_str())
    }
}

/// Why the upstream request could not be made or answered.
#[derive(Debug)]
pub enum Failure {
    /// No answer within the integration's timeout (504).
    TimedOut,
    /// Misconfiguration or a connection failure (500, as API Gateway's
    /// "Execution failed due to configuration error").
    Failed(String),
    /// The answer is over [`MAX_RESPONSE_BYTES`] (502).
    TooLarge,
}

/// Characters escaped in a path parameter value put into the uri (`/` is
/// kept, so a greedy `{proxy+}` value stays a path).
const PATH_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%');
const QUERY_VALUE: &AsciiSet = &PATH_VALUE.add(b'&').add(b'=').add(b'+').add(b'/');

// The headers API Gateway never forwards (hop-by-hop ones and `Host`):
// the contract's one list.
use portcullis_contract::HOP_BY_HOP;

/// A mapping source's value: `method.request.path|querystring|header.<name>`,
/// `context.<path>` (`context.authorizer.<key>`, `context.requestId`, ...),
/// `stageVariables.<name>`, `'literal'`. `None` when absent.
fn source_value(source: &str, event: &Value) -> Option<String> {
    let source = source.trim();
    if let Some(lit) = source.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Some(lit.to_owned());
    }
    let string = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    if let Some(name) = source.strip_prefix("method.request.path.") {
        return event.get("pathParameters")?.get(name).and_then(string);
    }
    if let Some(name) = source.strip_prefix("method.request.querystring.") {
        return event
            .get("queryStringParameters")?
            .get(name)
            .and_then(string);
    }
    if let Some(name) = source.strip_prefix("method.request.header.") {
        let headers = event.get("headers")?.as_object()?;
        return headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| string(v));
    }
    if let Some(name) = source.strip_prefix("stageVariables.") {
        return event.get("stageVariables")?.get(name).and_then(string);
    }
    if let Some(path) = source.strip_prefix("context.") {
        let mut v = event.get("requestContext")?;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        return string(v);
    }
    None
}

/// The stage in front of the path of a private integration's request: AWS,
/// "Private integrations for REST APIs in API Gateway", Considerations: "API
/// Gateway includes the stage portion of the API endpoint in the request to
/// your backend. For example, if you invoke the test stage of an API, API
/// Gateway includes test/path in the request to your private integration."
/// So uri `http://<alb>/web/{proxy}` on stage `v1` reaches the ALB as
/// `/v1/web/<proxy>`. (Only `$context.requestOverride.path` in a mapping
/// template changes that, and HTTP_PROXY runs no mapping template.)
fn with_stage_in_path(url: &mut url::Url, event: &Value) -> Result<(), String> {
    let stage = event
        .pointer("/requestContext/stage")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("the request has no stage (requestContext.stage) to put in the path of a private integration")?;
    let path = match url.path() {
        "/" => format!("/{stage}"),
        path => format!("/{stage}{path}"),
    };
    url.set_path(&path);
    Ok(())
}

/// The client's query string, then the mapped parameters (which replace a
/// client parameter of the same name).
fn query(raw_query: Option<&str>, mapped: &[(String, Option<String>)]) -> Option<String> {
    let mut query: Vec<String> = raw_query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split('=').next().unwrap_or_default();
            !mapped.iter().any(|(n, _)| n == key)
        })
        .map(str::to_owned)
        .collect();
    for (name, value) in mapped {
        if let Some(value) = value {
            query.push(format!(
                "{}={}",
                utf8_percent_encode(name, QUERY_VALUE),
                utf8_percent_encode(value, QUERY_VALUE)
            ));
        }
    }
    (!query.is_empty()).then(|| query.join("&"))
}

/// The client's headers without hop-by-hop ones, then the mapped headers:
/// a mapped header always replaces the client's (removed when its source
/// has no value), so an identity or credential header the client sent
/// never reaches the service.
fn headers(
    client_headers: &HeaderMap,
    mapped: Vec<(String, Option<String>)>,
) -> Result<HeaderMap, String> {
    let mut headers = client_headers.clone();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    for (name, value) in mapped {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{name:?} is not a valid header name"))?;
        headers.remove(&name);
        if let Some(value) = value {
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("the value mapped to {name} is not a valid header value"))?;
            headers.insert(name, value);
        }
    }
    Ok(headers)
}

/// The upstream request API Gateway would send: method, URL (before the
/// local upstream lookup) and headers.
#[derive(Debug)]
pub struct Outgoing {
    pub method: String,
    pub url: url::Url,
    pub headers: HeaderMap,
}

/// The values of an integration's `requestParameters` for one request, by
/// target (`None`: the source has no value).
#[derive(Default)]
struct Mapped {
    path: BTreeMap<String, Option<String>>,
    query: Vec<(String, Option<String>)>,
    header: Vec<(String, Option<String>)>,
}

/// What the local gateway does with the contract's `http_proxy`
/// integration: build the upstream request as API Gateway does, and find
/// where it goes locally.
pub trait LocalHttpIntegration {
    /// Build the upstream request from the proxy event of the request (with
    /// `requestContext.authorizer` on secured routes) and its headers.
    fn outgoing(
        &self,
        method: &str,
        raw_query: Option<&str>,
        client_headers: &HeaderMap,
        event: &Value,
    ) -> Result<Outgoing, String>;

    /// A private integration (`connectionType: VPC_LINK`).
    fn is_vpc_link(&self) -> bool;

    /// Where the request goes locally: the upstream table's base URL for
    /// the path, else (internet integrations only) the uri itself.
    fn local_url(&self, url: &url::Url, upstreams: &Upstreams) -> Result<String, String>;
}

impl LocalHttpIntegration for HttpIntegration {
    fn outgoing(
        &self,
        method: &str,
        raw_query: Option<&str>,
        client_headers: &HeaderMap,
        event: &Value,
    ) -> Result<Outgoing, String> {
        let mapped = mapped(self, event)?;
        let uri = filled_uri(self, &mapped, event)?;
        let mut url = url::Url::parse(&uri)
            .map_err(|e| format!("the integration uri {uri:?} is not a URL: {e}"))?;
        url.set_query(query(raw_query, &mapped.query).as_deref());
        if self.is_vpc_link() {
            with_stage_in_path(&mut url, event)?;
        }
        let headers = headers(client_headers, mapped.header)?;
        let method = if self.http_method.eq_ignore_ascii_case("ANY") {
            method.to_owned()
        } else {
            self.http_method.to_ascii_uppercase()
        };
        Ok(Outgoing {
            method,
            url,
            headers,
        })
    }

    fn is_vpc_link(&self) -> bool {
        self.connection_type.eq_ignore_ascii_case("VPC_LINK")
    }

    fn local_url(&self, url: &url::Url, upstreams: &Upstreams) -> Result<String, String> {
        let path_and_query = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        if let Some(base) = upstreams.base_for(url.path()) {
            return Ok(format!("{base}{path_and_query}"));
        }
        if self.is_vpc_link() {
            return Err(format!(
                "no local upstream for {} (VPC link {}): the ALB is not reachable locally; set PORTCULLIS_HTTP_UPSTREAMS=<path prefix>=<base url> (e.g. {}=http://127.0.0.1:8081)",
                url.path(),
                self.connection_id.as_deref().unwrap_or("?"),
                // The stage and the first segment of the service's path.
                url.path()
                    .split('/')
                    .skip(1)
                    .take(2)
                    .fold(String::new(), |prefix, s| format!("{prefix}/{s}")),
            ));
        }
        Ok(url.to_string())
    }
}

fn mapped(http: &HttpIntegration, event: &Value) -> Result<Mapped, String> {
    let mut mapped = Mapped::default();
    for (target, source) in &http.request_parameters {
        let value = source_value(source, event);
        if let Some(name) = target.strip_prefix("integration.request.path.") {
            mapped.path.insert(name.to_owned(), value);
        } else if let Some(name) = target.strip_prefix("integration.request.querystring.") {
            mapped.query.push((name.to_owned(), value));
        } else if let Some(name) = target.strip_prefix("integration.request.header.") {
            mapped.header.push((name.to_owned(), value));
        } else {
            return Err(format!(
                "request parameter {target:?} is not integration.request.path|querystring|header.<name>"
            ));
        }
    }
    Ok(mapped)
}

/// The uri with its `{name}` placeholders filled; an unmapped one takes
/// the method's path parameter of the same name.
fn filled_uri(http: &HttpIntegration, mapped: &Mapped, event: &Value) -> Result<String, String> {
    let mut uri = String::new();
    let mut rest = http.uri.as_str();
    while let Some(start) = rest.find('{') {
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .ok_or_else(|| format!("the uri {:?} has an unclosed {{", http.uri))?;
        let name = rest[start + 1..end].trim_end_matches('+');
        let value = match mapped.path.get(name) {
            Some(v) => v.clone(),
            None => source_value(&format!("method.request.path.{name}"), event),
        }
        .unwrap_or_default();
        uri.push_str(&rest[..start]);
        uri.push_str(&utf8_percent_encode(&value, PATH_VALUE).to_string());
        rest = &rest[end + 1..];
    }
    uri.push_str(rest);
    Ok(uri)
}

/// The client the gateway sends integration requests with.
pub type HttpClient = Client<HttpConnector, Body>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// API Gateway's response payload limit for an integration it buffers (the
/// default `responseTransferMode`, BUFFERED): 10 MB.
pub const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

fn request(
    method: &str,
    url: &str,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Result<Request<Body>, Failure> {
    let mut req = Request::builder()
        .method(method)
        .uri(url)
        .body(Body::from(body))
        .map_err(|e| Failure::Failed(format!("cannot build the request to {url}: {e}")))?;
    *req.headers_mut() = headers;
    Ok(req)
}

/// Send the request and pass the answer through: status, headers (without
/// hop-by-hop ones) and the body. As API Gateway does with a BUFFERED
/// integration (the default), the whole answer is read before any of it is
/// returned, within the integration's timeout, and one over
/// [`MAX_RESPONSE_BYTES`] is refused ([`Failure::TooLarge`]).
pub async fn send(
    client: &HttpClient,
    method: &str,
    url: &str,
    headers: HeaderMap,
    body: bytes::Bytes,
    timeout: Duration,
) -> Result<Response<Body>, Failure> {
    use http_body_util::BodyExt;

    let req = request(method, url, headers, body)?;
    let exchange = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| Failure::Failed(format!("{url}: {e}")))?;
        let (mut parts, body) = resp.into_parts();
        let collected = http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Failure::TooLarge
                } else {
                    Failure::Failed(format!("{url}: the answer broke off: {e}"))
                }
            })?;
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
        Ok(Response::from_parts(
            parts,
            Body::from(collected.to_bytes()),
        ))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Err(Failure::TimedOut),
        Ok(answer) => answer,
    }
}

/// Send the request and stream the answer (`responseTransferMode: STREAM`):
/// the status and headers once all the upstream's headers have arrived,
/// within `header_timeout` (the integration timeout), then the body as it
/// comes, with no size limit, within `limits` ([`crate::streaming`]).
pub async fn send_streamed(
    client: &HttpClient,
    method: &str,
    url: &str,
    headers: HeaderMap,
    body: bytes::Bytes,
    header_timeout: Duration,
    limits: StreamLimits,
) -> Result<Response<Body>, Failure> {
    let req = request(method, url, headers, body)?;
    let resp = match tokio::time::timeout(header_timeout, client.request(req)).await {
        Err(_) => return Err(Failure::TimedOut),
        Ok(Err(e)) => return Err(Failure::Failed(format!("{url}: {e}"))),
        Ok(Ok(resp)) => resp,
    };
    let (mut parts, body) = resp.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    Ok(crate::streaming::stream_response(
        Response::from_parts(parts, body),
        limits,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn integration(params: &[(&str, &str)]) -> HttpIntegration {
        HttpIntegration {
            connection_type: "VPC_LINK".into(),
            connection_id: Some("vl-1".into()),
            uri: "http://alb.internal/sample/{proxy}".into(),
            http_method: "ANY".into(),
            request_parameters: params
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn the_longest_prefix_of_whole_segments_wins() {
        let u = Upstreams::parse("/sample=http://127.0.0.1:1, /sample/admin=http://127.0.0.1:2/")
            .expect("valid");
        assert_eq!(u.base_for("/sample/x"), Some("http://127.0.0.1:1"));
        assert_eq!(u.base_for("/sample/admin/x"), Some("http://127.0.0.1:2"));
        assert_eq!(u.base_for("/samples"), None);
        assert!(Upstreams::parse("/sample").is_err());
        assert!(Upstreams::parse("/sample=https://x").is_err());
        let twice = Upstreams::parse("/sample=http://127.0.0.1:1,sample/=http://127.0.0.1:2")
            .expect_err("a prefix named twice is refused");
        assert!(twice.contains("/sample is named twice"), "{twice}");
    }

    #[test]
    fn path_query_and_header_mappings_follow_api_gateway() {
        let i = integration(&[
            (
                "integration.request.path.proxy",
                "method.request.path.proxy",
            ),
            ("integration.request.querystring.stage", "stageVariables.s"),
            ("integration.request.header.x-req", "context.requestId"),
            ("integration.request.header.x-static", "'fixed'"),
            (
                "integration.request.header.x-portcullis-principal",
                "context.authorizer.principal_id",
            ),
            (
                "integration.request.header.x-missing",
                "context.authorizer.nope",
            ),
        ]);
        let event = json!({
            "pathParameters": {"proxy": "a b/c"},
            "stageVariables": {"s": "v1"},
            "requestContext": {"requestId": "r-1", "stage": "v1", "authorizer": {"principal_id": "tenant/user"}},
        });
        let mut client = HeaderMap::new();
        client.insert("x-portcullis-principal", HeaderValue::from_static("forged"));
        client.insert("x-missing", HeaderValue::from_static("client"));
        client.insert("connection", HeaderValue::from_static("keep-alive"));
        client.insert("accept", HeaderValue::from_static("text/html"));
        let out = i
            .outgoing("PUT", Some("stage=client&q=1"), &client, &event)
            .expect("builds");
        assert_eq!(out.method, "PUT");
        // A private integration: the stage leads the path.
        assert_eq!(
            out.url.as_str(),
            "http://alb.internal/v1/sample/a%20b/c?q=1&stage=v1"
        );
        assert_eq!(out.headers["x-portcullis-principal"], "tenant/user");
        assert_eq!(out.headers["x-req"], "r-1");
        assert_eq!(out.headers["x-static"], "fixed");
        assert_eq!(out.headers["accept"], "text/html");
        assert!(out.headers.get("x-missing").is_none());
        assert!(out.headers.get("connection").is_none());

        let local = i
            .local_url(
                &out.url,
                &Upstreams::parse("/v1/sample=http://127.0.0.1:9").expect("ok"),
            )
            .expect("mapped");
        assert_eq!(local, "http://127.0.0.1:9/v1/sample/a%20b/c?q=1&stage=v1");
        let err = i
            .local_url(&out.url, &Upstreams::default())
            .expect_err("a VPC link needs a local upstream");
        assert!(
            err.contains("PORTCULLIS_HTTP_UPSTREAMS=<path prefix>=<base url> (e.g. /v1/sample="),
            "{err}"
        );
    }

    #[test]
    fn only_a_private_integration_gets_the_stage_in_its_path() {
        let event = json!({
            "pathParameters": {"proxy": "a"},
            "requestContext": {"requestId": "r-1", "stage": "test"},
        });
        let params = [(
            "integration.request.path.proxy",
            "method.request.path.proxy",
        )];
        let private = integration(&params);
        let out = private
            .outgoing("GET", None, &HeaderMap::new(), &event)
            .expect("builds");
        assert_eq!(out.url.path(), "/test/sample/a");

        let internet = HttpIntegration {
            connection_type: "INTERNET".into(),
            connection_id: None,
            ..integration(&params)
        };
        let out = internet
            .outgoing("GET", None, &HeaderMap::new(), &event)
            .expect("builds");
        assert_eq!(out.url.path(), "/sample/a");
    }
}
