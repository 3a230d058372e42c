//! API Gateway's own answers and the REST API's gateway responses, which
//! rewrite them (AWS, "Gateway responses for REST APIs in API Gateway" and
//! "Gateway response types for API Gateway"). Each answer carries its
//! gateway response type; a gateway response of that type, else
//! `DEFAULT_4XX`/`DEFAULT_5XX`, sets its status, headers and body.

use std::collections::BTreeMap;

use axum::body::Body;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use crate::context_vars::{self, ContextVars};

/// A gateway response of the REST API (`x-amazon-apigateway-gateway-responses`
/// in the body, as `GetGatewayResponses` reports them): status, headers
/// mapped from the request or literal, body templates by content type.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayResponse {
    #[serde(default)]
    pub status_code: Option<String>,
    #[serde(default)]
    pub response_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub response_templates: BTreeMap<String, String>,
}

/// The gateway response type of one of API Gateway's own answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseType(pub &'static str);

/// Its message (`$context.error.message`).
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

fn json_response(
    status: StatusCode,
    body: &Value,
    error_type: &str,
    kind: &'static str,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(t) = HeaderValue::from_str(error_type) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-amzn-errortype"), t);
    }
    let text = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    resp.extensions_mut().insert(ErrorMessage(text.to_owned()));
    resp.extensions_mut().insert(ResponseType(kind));
    resp
}

fn message(status: StatusCode, text: &str, error_type: &str, kind: &'static str) -> Response<Body> {
    json_response(status, &json!({ "message": text }), error_type, kind)
}

/// No resource or method matches (AWS: "including the cases when the client
/// attempts to invoke an unsupported API method or resource").
pub fn missing_token() -> Response<Body> {
    let text = "Missing Authentication Token";
    let error_type = "MissingAuthenticationTokenException";
    message(
        StatusCode::FORBIDDEN,
        text,
        error_type,
        "MISSING_AUTHENTICATION_TOKEN",
    )
}

/// The request body is over API Gateway's 10 MB, or the Lambda proxy event
/// over Lambda's 6 MB invocation payload (see `gateway::LAMBDA_PAYLOAD_BYTES`).
pub fn too_long(error_type: &str) -> Response<Body> {
    let status = StatusCode::PAYLOAD_TOO_LARGE;
    message(status, "Request Too Long", error_type, "REQUEST_TOO_LARGE")
}

pub fn unauthorized() -> Response<Body> {
    let error_type = "UnauthorizedException";
    message(
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
        error_type,
        "UNAUTHORIZED",
    )
}

/// The authorizer's policy denies the request.
pub fn access_denied(explicit: bool) -> Response<Body> {
    let text = if explicit {
        "User is not authorized to access this resource with an explicit deny"
    } else {
        "User is not authorized to access this resource"
    };
    let body = json!({ "Message": text });
    let error_type = "AccessDeniedException";
    json_response(StatusCode::FORBIDDEN, &body, error_type, "ACCESS_DENIED")
}

/// The authorizer function failed (an error other than `Unauthorized`) or
/// timed out.
pub fn authorizer_failure() -> Response<Body> {
    let body = json!({ "message": null });
    let error_type = "AuthorizerConfigurationException";
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    json_response(status, &body, error_type, "AUTHORIZER_FAILURE")
}

/// The authorizer answered something API Gateway cannot use (no principal,
/// no or an unparsable policy, a context value that is not a string, number
/// or boolean): "Execution failed due to configuration error".
pub fn authorizer_configuration_error() -> Response<Body> {
    let body = json!({ "message": null });
    let error_type = "AuthorizerConfigurationException";
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    json_response(status, &body, error_type, "AUTHORIZER_CONFIGURATION_ERROR")
}

/// A usage key that is missing, unknown, disabled or in no plan of the stage.
pub fn invalid_api_key() -> Response<Body> {
    message(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "ForbiddenException",
        "INVALID_API_KEY",
    )
}

pub fn throttled() -> Response<Body> {
    let status = StatusCode::TOO_MANY_REQUESTS;
    message(
        status,
        "Too Many Requests",
        "ThrottledException",
        "THROTTLED",
    )
}

pub fn quota_exceeded() -> Response<Body> {
    let status = StatusCode::TOO_MANY_REQUESTS;
    message(
        status,
        "Limit Exceeded",
        "LimitExceededException",
        "QUOTA_EXCEEDED",
    )
}

/// A Lambda integration that failed or answered a malformed proxy response:
/// 502 (AWS access logs show `INTEGRATION_FAILURE` with 502 for it).
pub fn integration_failure() -> Response<Body> {
    let error_type = "InternalServerErrorException";
    let status = StatusCode::BAD_GATEWAY;
    message(
        status,
        "Internal server error",
        error_type,
        "INTEGRATION_FAILURE",
    )
}

/// An HTTP integration whose connection failed.
pub fn integration_unreachable() -> Response<Body> {
    let error_type = "InternalServerErrorException";
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    message(
        status,
        "Internal server error",
        error_type,
        "INTEGRATION_FAILURE",
    )
}

pub fn integration_timeout() -> Response<Body> {
    let status = StatusCode::GATEWAY_TIMEOUT;
    let text = "Endpoint request timed out";
    message(status, text, "IntegrationTimeout", "INTEGRATION_TIMEOUT")
}

/// What API Gateway logs as "Execution failed due to configuration error":
/// an integration it cannot build or address (a bad mapping, no function,
/// no local upstream for a VPC link), usage plans it cannot read.
pub fn api_configuration_error() -> Response<Body> {
    let error_type = "InternalServerErrorException";
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    message(
        status,
        "Internal server error",
        error_type,
        "API_CONFIGURATION_ERROR",
    )
}

/// The gateway response type of an answer (`None`: the integration's own).
pub fn response_type(resp: &Response<Body>) -> Option<&'static str> {
    resp.extensions().get::<ResponseType>().map(|t| t.0)
}

/// The answer's message (`$context.error.message`).
pub fn error_message(resp: &Response<Body>) -> Option<&str> {
    resp.extensions()
        .get::<ErrorMessage>()
        .map(|m| m.0.as_str())
}

/// Rewrite one of API Gateway's own answers by the REST API's gateway
/// response of its type, else `DEFAULT_4XX` / `DEFAULT_5XX`: status,
/// headers (`method.request.header.<name>` from the request, omitted when
/// absent; `'literal'`) and the body template chosen by the request's
/// `Accept` ([`select_template`]), its `$context` variables filled from
/// `vars` (empty when unset). The answer's `Content-Type` is the template's.
pub fn apply(
    responses: &BTreeMap<String, GatewayResponse>,
    resp: &mut Response<Body>,
    request_headers: &HeaderMap,
    vars: &ContextVars,
) {
    let Some(kind) = response_type(resp) else {
        return;
    };
    let default = if resp.status().is_server_error() {
        "DEFAULT_5XX"
    } else {
        "DEFAULT_4XX"
    };
    let Some(gr) = responses.get(kind).or_else(|| responses.get(default)) else {
        return;
    };
    if let Some(status) = gr
        .status_code
        .as_deref()
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
    {
        *resp.status_mut() = status;
    }
    let accept = request_headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    if let Some((content_type, template)) = select_template(&gr.response_templates, accept) {
        *resp.body_mut() = Body::from(vars.render(template, "", context_vars::verbatim));
        if let Ok(value) = HeaderValue::from_str(content_type) {
            resp.headers_mut().insert(http::header::CONTENT_TYPE, value);
        }
    }
    set_headers(gr, resp, request_headers);
}

fn set_headers(gr: &GatewayResponse, resp: &mut Response<Body>, request_headers: &HeaderMap) {
    for (target, source) in &gr.response_parameters {
        let Some(name) = target.strip_prefix("gatewayresponse.header.") else {
            continue;
        };
        let value = if let Some(header) = source.strip_prefix("method.request.header.") {
            request_headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        } else {
            source
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_owned)
        };
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.map(|v| HeaderValue::from_str(&v)),
        ) {
            resp.headers_mut().insert(name, value);
        }
    }
}

/// The template for the request: the one whose content type the request's
/// `Accept` prefers (media ranges by `q`, then in order; `type/*` and `*/*`
/// match), else `application/json` (what API Gateway defaults to, and the
/// content type its console sets up), else the first. AWS keys the templates
/// by content type; "Gateway responses for REST APIs in API Gateway" does not
/// spell out the choice, so the local gateway follows API Gateway's content
/// negotiation for response mapping templates.
pub fn select_template<'t>(
    templates: &'t BTreeMap<String, String>,
    accept: Option<&str>,
) -> Option<(&'t str, &'t str)> {
    let json = || templates.get_key_value("application/json");
    let first = || templates.iter().next();
    let pick = |range: &str| -> Option<(&'t String, &'t String)> {
        if range == "*/*" {
            return json().or_else(first);
        }
        templates.iter().find(|(ct, _)| media_matches(range, ct))
    };
    media_ranges(accept.unwrap_or_default())
        .iter()
        .find_map(|range| pick(range))
        .or_else(json)
        .or_else(first)
        .map(|(ct, t)| (ct.as_str(), t.as_str()))
}

fn media_matches(range: &str, content_type: &str) -> bool {
    let content_type = content_type.to_ascii_lowercase();
    match range.strip_suffix("/*") {
        Some(kind) => content_type.split_once('/').is_some_and(|(k, _)| k == kind),
        None => content_type == range,
    }
}

/// The media ranges of an `Accept` value, lower-cased, most preferred first
/// (q=0 ones dropped).
fn media_ranges(accept: &str) -> Vec<String> {
    let mut ranges: Vec<(f32, String)> = accept
        .split(',')
        .filter_map(|part| {
            let mut fields = part.split(';').map(str::trim);
            let range = fields
                .next()
                .filter(|r| !r.is_empty())?
                .to_ascii_lowercase();
            let q = fields
                .find_map(|f| f.strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q > 0.0).then_some((q, range))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates(types: &[&str]) -> BTreeMap<String, String> {
        types
            .iter()
            .map(|t| (t.to_string(), format!("as {t}")))
            .collect()
    }

    #[test]
    fn the_template_follows_accept_and_defaults_to_json() {
        let t = templates(&["application/json", "text/html", "application/xml"]);
        let chosen = |accept| select_template(&t, accept).map(|(ct, _)| ct);
        assert_eq!(chosen(None), Some("application/json"));
        assert_eq!(chosen(Some("text/html")), Some("text/html"));
        assert_eq!(
            chosen(Some("text/html;q=0.5, application/xml")),
            Some("application/xml")
        );
        assert_eq!(chosen(Some("text/*")), Some("text/html"));
        assert_eq!(chosen(Some("*/*")), Some("application/json"));
        assert_eq!(chosen(Some("image/png")), Some("application/json"));
        let only_html = templates(&["text/html"]);
        assert_eq!(
            select_template(&only_html, Some("application/json")).map(|(ct, _)| ct),
            Some("text/html")
        );
        assert_eq!(select_template(&BTreeMap::new(), None), None);
    }

    fn responses() -> BTreeMap<String, GatewayResponse> {
        let gr = |status: Option<&str>, title: &str| GatewayResponse {
            status_code: status.map(str::to_owned),
            response_parameters: BTreeMap::from([
                (
                    "gatewayresponse.header.Access-Control-Allow-Origin".to_owned(),
                    "method.request.header.Origin".to_owned(),
                ),
                (
                    "gatewayresponse.header.Vary".to_owned(),
                    "'Origin'".to_owned(),
                ),
            ]),
            response_templates: BTreeMap::from([(
                "application/json".to_owned(),
                format!(
                    "{{\"title\":\"{title}\",\"detail\":\"$context.error.message\",\"request_id\":\"$context.requestId\"}}"
                ),
            )]),
        };
        BTreeMap::from([
            ("UNAUTHORIZED".to_owned(), gr(Some("401"), "Unauthorized")),
            ("DEFAULT_4XX".to_owned(), gr(None, "Bad request")),
        ])
    }

    fn vars_of(resp: &Response<Body>, request_id: &str) -> ContextVars {
        let mut v = ContextVars::default();
        v.set("requestId", request_id);
        if let Some(m) = error_message(resp) {
            v.set("error.message", m);
        }
        v
    }

    async fn body_of(resp: Response<Body>) -> String {
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        String::from_utf8_lossy(&body).into_owned()
    }

    #[tokio::test]
    async fn gateway_responses_rewrite_the_gateways_own_answers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ORIGIN,
            HeaderValue::from_static("https://a.example"),
        );
        let mut resp = unauthorized();
        let vars = vars_of(&resp, "req-1");
        apply(&responses(), &mut resp, &headers, &vars);
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://a.example"
        );
        assert_eq!(resp.headers()["vary"], "Origin");
        let body: Value = serde_json::from_str(&body_of(resp).await).expect("json");
        assert_eq!(
            body,
            json!({"title": "Unauthorized", "detail": "Unauthorized", "request_id": "req-1"})
        );

        // No type of its own: DEFAULT_4XX; no Origin in the request: no header.
        let mut resp = missing_token();
        let vars = vars_of(&resp, "req-2");
        apply(&responses(), &mut resp, &HeaderMap::new(), &vars);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.headers().get("access-control-allow-origin").is_none());
        assert!(body_of(resp).await.contains("Bad request"));

        // Without gateway responses (a test contract), the answer is unchanged.
        let mut resp = unauthorized();
        apply(
            &BTreeMap::new(),
            &mut resp,
            &headers,
            &ContextVars::default(),
        );
        assert!(resp.headers().get("access-control-allow-origin").is_none());
    }

    #[tokio::test]
    async fn the_template_for_the_accept_header_sets_the_content_type_and_fills_the_authorizer_context()
     {
        let gr = GatewayResponse {
            status_code: Some("403".into()),
            response_parameters: BTreeMap::new(),
            response_templates: BTreeMap::from([
                (
                    "application/json".to_owned(),
                    r#"{"detail":"ask an administrator to PUT /v1/tenants/$context.authorizer.tenant"}"#.to_owned(),
                ),
                (
                    "text/html".to_owned(),
                    "<p>tenant $context.authorizer.tenant ($context.authorizer.missing)</p>".to_owned(),
                ),
            ]),
        };
        let responses = BTreeMap::from([("INVALID_API_KEY".to_owned(), gr)]);
        let mut vars = ContextVars::default();
        vars.set("authorizer.tenant", "acme");

        let mut html = HeaderMap::new();
        html.insert(http::header::ACCEPT, HeaderValue::from_static("text/html"));
        let mut resp = invalid_api_key();
        apply(&responses, &mut resp, &html, &vars);
        assert_eq!(resp.headers()["content-type"], "text/html");
        assert_eq!(body_of(resp).await, "<p>tenant acme ()</p>");

        let mut resp = invalid_api_key();
        apply(&responses, &mut resp, &HeaderMap::new(), &vars);
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert_eq!(resp.headers()["content-type"], "application/json");
        assert_eq!(
            body_of(resp).await,
            r#"{"detail":"ask an administrator to PUT /v1/tenants/acme"}"#
        );
    }
}
