//! The local gateway's own answers and records through a served gateway: the
//! gateway response of INVALID_API_KEY filled with the authorizer's context,
//! Lambda's 6 MB invocation payload limit, and the stage's access-log line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local::gateway::Throttle;
use local::{AccessLog, Api, Deployment, Gateway, GatewayResponse, MemoryLog, RawFunction};
use serde_json::{Value, json};

const SPEC: &str = r#"
openapi: 3.0.1
info: { title: test, version: "1" }
x-amazon-apigateway-binary-media-types: ["*/*"]
components:
  securitySchemes:
    gate:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: request
        authorizerUri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${gatekeeper_function_arn}/invocations"
    api_key: { type: apiKey, name: x-api-key, in: header }
paths:
  /v1/me:
    get:
      security: [ { gate: [], api_key: [] } ]
      x-amazon-apigateway-integration: { type: aws_proxy, httpMethod: POST, uri: "${echo_function_arn}" }
  /v1/upload:
    post:
      x-amazon-apigateway-integration: { type: aws_proxy, httpMethod: POST, uri: "${echo_function_arn}" }
"#;

/// The key the usage plan knows; the authorizer hands out `key` as
/// `usageIdentifierKey` and a tenant in its context.
const KNOWN_KEY: &str = "known-key";

/// A gateway whose authorizer answers `key` for tenant `acme`, and whose echo
/// function counts its invocations.
fn gateway(key: &'static str, invocations: Arc<AtomicUsize>) -> Gateway {
    let mut gateway =
        Gateway::new(Api::from_yaml_str(SPEC).expect("spec loads")).with_deployment(Deployment {
            stage: "v1".into(),
            ..Deployment::default()
        });
    gateway.register(
        "gatekeeper",
        Arc::new(RawFunction(move |_event: Value, _ctx| async move {
            Ok(json!({
                "principalId": "acme/ann",
                "usageIdentifierKey": key,
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
                "context": {"principal_id": "acme/ann", "principal_type": "user", "tenant": "acme"},
            }))
        })),
    );
    gateway.register(
        "echo",
        Arc::new(RawFunction(move |_event: Value, _ctx| {
            let invocations = invocations.clone();
            async move {
                invocations.fetch_add(1, Ordering::SeqCst);
                Ok(json!({"statusCode": 200, "body": "{}"}))
            }
        })),
    );
    gateway.throttle(
        KNOWN_KEY,
        Throttle {
            rate_per_second: 1000.0,
            burst: 1000,
        },
    );
    gateway
}

async fn serve(gateway: Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the gateway");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    format!("http://{addr}")
}

async fn call(req: Request<Body>) -> (StatusCode, http::HeaderMap, String) {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.expect("the gateway answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The INVALID_API_KEY response the rendered body carries: problem+json naming the fix, with the caller's tenant.
fn invalid_api_key_response() -> GatewayResponse {
    GatewayResponse {
        status_code: Some("403".into()),
        response_parameters: Default::default(),
        response_templates: [(
            "application/json".to_owned(),
            r#"{"title":"Tenant not provisioned","detail":"ask a platform administrator to PUT /v1/tenants/$context.authorizer.tenant","request_id":"$context.requestId"}"#.to_owned(),
        )]
        .into(),
    }
}

#[tokio::test]
async fn a_key_no_usage_plan_knows_gets_the_invalid_api_key_response_naming_the_tenant() {
    let responses = [
        ("INVALID_API_KEY".to_owned(), invalid_api_key_response()),
        (
            "DEFAULT_4XX".to_owned(),
            GatewayResponse {
                response_templates: [(
                    "application/json".to_owned(),
                    r#"{"title":"Bad request"}"#.to_owned(),
                )]
                .into(),
                ..Default::default()
            },
        ),
    ]
    .into();
    let gateway = gateway("no-plan-knows-me", Arc::default()).with_gateway_responses(responses);
    let url = serve(gateway).await;
    let (status, headers, body) = call(
        Request::get(format!("{url}/v1/me"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(headers["content-type"], "application/json");
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        body["detail"],
        "ask a platform administrator to PUT /v1/tenants/acme"
    );
    assert_eq!(
        body["request_id"].as_str(),
        headers["x-amzn-requestid"].to_str().ok()
    );
}

#[tokio::test]
async fn a_lambda_event_over_6_mb_is_refused_before_the_function_runs() {
    let invocations = Arc::new(AtomicUsize::new(0));
    let url = serve(gateway(KNOWN_KEY, invocations.clone())).await;
    let upload = |bytes: usize| {
        Request::post(format!("{url}/v1/upload"))
            .header("content-type", "application/octet-stream")
            .body(Body::from(vec![7u8; bytes]))
            .expect("request")
    };
    // 4 MiB of binary is 5.33 MiB base64-encoded: the event fits Lambda's 6 MB.
    let (status, _, body) = call(upload(4 * 1024 * 1024)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(invocations.load(Ordering::SeqCst), 1);
    // 4,800,000 bytes are 6,400,000 encoded, over Lambda's 6,291,456: Lambda
    // refuses the invoke and API Gateway answers 413 (well within its own
    // 10 MB request limit).
    let (status, headers, body) = call(upload(4_800_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body, r#"{"message":"Request Too Long"}"#);
    assert_eq!(headers["x-amzn-errortype"], "BadRequestException");
    assert_eq!(invocations.load(Ordering::SeqCst), 1);
}

/// The stage's access-log format as Terraform sets it (the audit trail of vpc_link requests).
pub const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","principal":"$context.authorizer.principal_id","principalType":"$context.authorizer.principal_type","tenant":"$context.authorizer.tenant","httpMethod":"$context.httpMethod","path":"$context.path","resourcePath":"$context.resourcePath","status":"$context.status","error":"$context.error.responseType"}"#;

#[tokio::test]
async fn each_request_writes_one_access_log_line_with_the_authorizers_context() {
    let log = Arc::new(MemoryLog::default());
    let gateway = gateway(KNOWN_KEY, Arc::default()).with_access_log(AccessLog {
        format: ACCESS_LOG_FORMAT.to_owned(),
        sink: log.clone(),
    });
    let url = serve(gateway).await;
    let (status, headers, _) = call(
        Request::get(format!("{url}/v1/me"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(
        Request::delete(format!("{url}/v1/nowhere"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let lines: Vec<Value> = log
        .0
        .lock()
        .expect("log")
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        lines[0],
        json!({
            "requestId": headers["x-amzn-requestid"].to_str().expect("id"),
            "principal": "acme/ann", "principalType": "user", "tenant": "acme",
            "httpMethod": "GET", "path": "/v1/v1/me", "resourcePath": "/v1/me",
            "status": "200", "error": "-",
        })
    );
    assert_eq!(lines[1]["principal"], "-");
    assert_eq!(lines[1]["path"], "/v1/v1/nowhere");
    assert_eq!(lines[1]["status"], "403");
    assert_eq!(lines[1]["error"], "MISSING_AUTHENTICATION_TOKEN");
}

/// A gateway whose `echo` answers with the trace it was given: the event's
/// `X-Amzn-Trace-Id`, the Lambda context's trace id and the scope's.
fn tracing_gateway() -> Gateway {
    let mut gateway = Gateway::new(Api::from_yaml_str(SPEC).expect("spec loads"));
    gateway.register(
        "echo",
        Arc::new(RawFunction(
            |event: Value, ctx: lambda_runtime::Context| async move {
                let header = event["headers"]
                    .as_object()
                    .and_then(|h| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-trace-id"))
                    })
                    .map(|(_, v)| v.clone());
                let scoped = portcullis_core::trace::current().map(|t| t.to_string());
                let body = json!({"header": header, "context": ctx.xray_trace_id, "scope": scoped});
                Ok(json!({"statusCode": 200, "body": body.to_string()}))
            },
        )),
    );
    gateway
}

#[tokio::test]
async fn the_gateway_adds_a_trace_root_and_each_invocation_is_traced_under_it() {
    let base = serve(tracing_gateway()).await;
    let req = Request::post(format!("{base}/v1/upload"))
        .body(Body::from("{}"))
        .expect("request");
    let (status, _, body) = call(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let got: Value = serde_json::from_str(&body).expect("JSON");
    let header = got["header"]
        .as_str()
        .expect("the gateway added X-Amzn-Trace-Id");
    let root = portcullis_core::trace::TraceHeader::parse(header).expect("the documented syntax");
    assert_eq!(
        header,
        format!("Root={}", root.root()),
        "API Gateway adds the root only"
    );
    let context = got["context"].as_str().expect("a context trace id");
    assert!(
        context.starts_with(&format!("{header};Parent=")) && context.ends_with(";Sampled=1"),
        "{context}"
    );
    assert_eq!(
        got["scope"].as_str(),
        Some(context),
        "the invocation runs in its trace's scope"
    );

    // A caller's own header passes through as sent; the function traces under its root.
    let own = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0";
    let req = Request::post(format!("{base}/v1/upload"))
        .header("x-amzn-trace-id", own)
        .body(Body::from("{}"))
        .expect("request");
    let (_, _, body) = call(req).await;
    let got: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(got["header"].as_str(), Some(own));
    assert!(
        got["context"]
            .as_str()
            .is_some_and(|c| c.starts_with("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=")),
        "{got}"
    );
}
