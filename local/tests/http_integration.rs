//! HTTP (VPC link) integrations of the local gateway against a tiny upstream
//! served in the test: the stage in a private integration's path, path
//! substitution, request-parameter mappings over client headers (credentials
//! never reach the service), query pass-through, timeout, connection
//! failure, and a response larger than Lambda's 6 MB passed through
//! unchanged (through a Lambda integration the proxy function refuses it:
//! functions/proxy).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local::{Api, Deployment, Gateway, RawFunction, Upstreams};
use serde_json::{Value, json};

const BIG: usize = 7 * 1024 * 1024;

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
        identitySource: ""
        authorizerResultTtlInSeconds: 0
        authorizerUri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${gatekeeper_function_arn}/invocations"
paths:
  /v1/services/sample/{proxy+}:
    x-amazon-apigateway-any-method:
      security: [ { gate: [] } ]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        connectionType: VPC_LINK
        connectionId: vl-123
        integrationTarget: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/internal/1"
        uri: "http://internal-alb.local/sample/{proxy}"
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
          integration.request.header.x-portcullis-principal: context.authorizer.principal_id
          integration.request.header.x-request-id: context.requestId
          integration.request.header.x-source: "'gateway'"
        timeoutInMillis: 500
  /v1/unmapped/{proxy+}:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        connectionType: VPC_LINK
        connectionId: vl-123
        uri: "http://internal-alb.local/unmapped/{proxy}"
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
"#;

/// The stage the test gateways serve: a private integration's request
/// reaches the service with it in front of the path.
const STAGE: &str = "v1";

/// The service behind the VPC link: echoes what it received; `/sample/big`
/// answers 7 MB of binary, `/sample/at-the-limit` 10 MB and
/// `/sample/over-the-limit` one byte more, `/sample/slow` answers after 2 s
/// (each also under `/v1`, the stage in front of a private integration's path).
async fn upstream() -> SocketAddr {
    async fn echo(req: Request<Body>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        let route = path.strip_prefix("/v1").unwrap_or(&path);
        let size = match route {
            "/sample/big" => Some(BIG),
            "/sample/at-the-limit" => Some(local::http_integration::MAX_RESPONSE_BYTES),
            "/sample/over-the-limit" => Some(local::http_integration::MAX_RESPONSE_BYTES + 1),
            _ => None,
        };
        if let Some(size) = size {
            let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            return Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/octet-stream")
                .body(Body::from(body))
                .expect("response");
        }
        if route == "/sample/slow" {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        let headers: serde_json::Map<String, Value> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    Value::String(v.to_str().unwrap_or_default().to_owned()),
                )
            })
            .collect();
        let (parts, body) = req.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        let answer = json!({
            "method": parts.method.as_str(),
            "path": path,
            "query": parts.uri.query(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        Response::builder()
            .status(StatusCode::CREATED)
            .header("content-type", "application/json")
            .header("set-cookie", "a=1")
            .header("x-upstream", "yes")
            .body(Body::from(answer.to_string()))
            .expect("response")
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the upstream");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(any(echo))).await });
    addr
}

/// A closed port: nothing listens there.
async fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// The stage's identity (stage `v1`).
fn deployment() -> Deployment {
    Deployment {
        stage: STAGE.into(),
        ..Deployment::default()
    }
}

async fn gateway(upstreams: Upstreams) -> String {
    let mut gateway = Gateway::new(Api::from_yaml_str(SPEC).expect("spec loads"))
        .with_deployment(deployment())
        .with_http_upstreams(upstreams);
    gateway.register(
        "gatekeeper",
        Arc::new(RawFunction(|_event: Value, _ctx| async move {
            Ok(json!({
                "principalId": "tenant-1/user-1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
                "context": {"principal_id": "tenant-1/user-1"},
            }))
        })),
    );
    serve(gateway).await
}

/// `gateway` served on a loopback port until the test ends: its URL.
async fn serve(gateway: Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the gateway");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    format!("http://{addr}")
}

async fn call(req: Request<Body>) -> (StatusCode, http::HeaderMap, bytes::Bytes) {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.expect("the gateway answers");
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, body)
}

fn upstreams(prefix: &str, addr: SocketAddr) -> Upstreams {
    Upstreams::parse(&format!("{prefix}=http://{addr}")).expect("valid upstreams")
}

/// `GET url` through the gateway.
async fn get(url: String) -> (StatusCode, http::HeaderMap, bytes::Bytes) {
    call(Request::get(url).body(Body::empty()).expect("request")).await
}

#[tokio::test]
async fn a_vpc_link_request_reaches_the_service_with_mapped_identity_overwriting_the_clients() {
    let up = upstream().await;
    // The upstream table stands for the ALB's listener rules, which match the
    // stage-prefixed path.
    let url = gateway(upstreams("/v1/sample", up)).await;
    let req = Request::builder()
        .method("PUT")
        .uri(format!("{url}/v1/services/sample/items/a%20b?x=1&x=2&y=z"))
        .header("x-portcullis-principal", "forged/admin")
        .header("x-client", "kept")
        .body(Body::from("payload"))
        .expect("request");
    let (status, headers, body) = call(req).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(headers["x-upstream"], "yes");
    assert_eq!(headers["set-cookie"], "a=1");
    assert!(headers.contains_key("x-amzn-requestid"));
    let seen: Value = serde_json::from_slice(&body).expect("json echo");
    assert_eq!(seen["method"], "PUT");
    // A private integration's request carries the stage: AWS, "Private
    // integrations for REST APIs in API Gateway", Considerations.
    assert_eq!(seen["path"], "/v1/sample/items/a%20b");
    assert_eq!(seen["query"], "x=1&x=2&y=z");
    assert_eq!(seen["body"], "payload");
    assert_eq!(seen["headers"]["x-portcullis-principal"], "tenant-1/user-1");
    assert_eq!(seen["headers"]["x-client"], "kept");
    assert_eq!(seen["headers"]["x-source"], "gateway");
    assert_eq!(
        seen["headers"]["x-request-id"].as_str(),
        headers["x-amzn-requestid"].to_str().ok()
    );
}

#[tokio::test]
async fn a_response_over_lambdas_6_mb_passes_through_unchanged_and_unencoded() {
    let up = upstream().await;
    let url = gateway(upstreams("/v1/sample", up)).await;
    let (status, headers, body) = get(format!("{url}/v1/services/sample/big")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(body.len(), BIG);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
}

#[tokio::test]
async fn an_answer_over_api_gateways_10_mb_is_refused_and_one_at_it_passes() {
    let up = upstream().await;
    let url = gateway(upstreams("/v1/sample", up)).await;
    let (status, _, body) = get(format!("{url}/v1/services/sample/at-the-limit")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.len(), local::http_integration::MAX_RESPONSE_BYTES);
    // API Gateway buffers the integration's answer (responseTransferMode
    // BUFFERED, the default) and refuses one over its 10 MB payload limit.
    let (status, _, body) = get(format!("{url}/v1/services/sample/over-the-limit")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("json"),
        json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn a_slow_service_times_out_and_an_unreachable_one_is_a_500() {
    let up = upstream().await;
    let url = gateway(upstreams("/v1/sample", up)).await;
    let (status, _, body) = get(format!("{url}/v1/services/sample/slow")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("json"),
        json!({"message": "Endpoint request timed out"})
    );

    let url = gateway(upstreams("/v1/sample", closed_port().await)).await;
    let (status, _, body) = get(format!("{url}/v1/services/sample/x")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).expect("json"),
        json!({"message": "Internal server error"})
    );

    // A VPC link path with no local upstream: 500, not a guess.
    let (status, _, _) = get(format!("{url}/v1/unmapped/x")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn an_internet_http_proxy_goes_to_its_uri_with_its_own_method_and_mapped_query() {
    let up = upstream().await;
    let spec = format!(
        r#"
openapi: 3.0.1
info: {{ title: test, version: "1" }}
paths:
  /v1/items/{{id}}:
    post:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "http://{up}/sample/items/{{id}}"
        requestParameters:
          integration.request.path.id: method.request.path.id
          integration.request.querystring.by: method.request.header.x-by
          integration.request.header.x-tag: method.request.querystring.tag
"#
    );
    let url = serve(Gateway::new(Api::from_yaml_str(&spec).expect("spec loads"))).await;
    let req = Request::post(format!("{url}/v1/items/7?tag=t1&by=client"))
        .header("x-by", "header")
        .header("x-tag", "forged")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = call(req).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let seen: Value = serde_json::from_slice(&body).expect("json echo");
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["path"], "/sample/items/7");
    assert_eq!(seen["query"], "tag=t1&by=header");
    assert_eq!(seen["headers"]["x-tag"], "t1");
}

/// Two operations of a vpc_link service as Terraform renders them: a public one and one the authorizer secures, each mapping the
/// three credential headers to a static value, which replaces the client's.
const CREDENTIALS_SPEC: &str = r#"
openapi: 3.0.1
info: { title: test, version: "1" }
components:
  securitySchemes:
    gate:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer:
        type: request
        identitySource: ""
        authorizerResultTtlInSeconds: 0
        authorizerUri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${gatekeeper_function_arn}/invocations"
paths:
  /v1/services/sample/public:
    get:
      x-amazon-apigateway-integration: &public
        type: http_proxy
        httpMethod: GET
        connectionType: VPC_LINK
        connectionId: vl-123
        uri: "http://internal-alb.local/sample/public"
        requestParameters:
          integration.request.header.authorization: "'portcullis-removed'"
          integration.request.header.x-api-key: "'portcullis-removed'"
          integration.request.header.cookie: "'portcullis-removed'"
  /v1/services/sample/{proxy+}:
    x-amazon-apigateway-any-method:
      security: [ { gate: [] } ]
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: ANY
        connectionType: VPC_LINK
        connectionId: vl-123
        uri: "http://internal-alb.local/sample/{proxy}"
        requestParameters:
          integration.request.path.proxy: method.request.path.proxy
          integration.request.header.x-portcullis-principal: context.authorizer.principal_id
          integration.request.header.authorization: "'portcullis-removed'"
          integration.request.header.x-api-key: "'portcullis-removed'"
          integration.request.header.cookie: "'portcullis-removed'"
"#;

#[tokio::test]
async fn a_callers_credentials_never_reach_a_vpc_link_service_on_public_or_secured_routes() {
    let up = upstream().await;
    let mut gateway = Gateway::new(Api::from_yaml_str(CREDENTIALS_SPEC).expect("spec loads"))
        .with_deployment(deployment())
        .with_http_upstreams(upstreams("/v1/sample", up));
    gateway.register(
        "gatekeeper",
        Arc::new(RawFunction(|_event: Value, _ctx| async move {
            Ok(json!({
                "principalId": "tenant-1/user-1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
                "context": {"principal_id": "tenant-1/user-1"},
            }))
        })),
    );
    let url = serve(gateway).await;
    let credentials = [
        ("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.secret.sig"),
        ("x-api-key", "pcs_live_secret"),
        ("cookie", "session=secret; csrf=also-secret"),
    ];
    for path in ["public", "notes/1"] {
        let mut req = Request::get(format!("{url}/v1/services/sample/{path}"));
        for (name, value) in credentials {
            req = req.header(name, value);
        }
        let (status, _, body) = call(req.body(Body::empty()).expect("request")).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        let seen: Value = serde_json::from_slice(&body).expect("json echo");
        for (name, _) in credentials {
            assert_eq!(
                seen["headers"][name], "portcullis-removed",
                "{path}: {name}"
            );
        }
        let received = seen["headers"].to_string();
        assert!(!received.contains("secret"), "{path}: {received}");
    }
}
