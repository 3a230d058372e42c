//! The local gateway over real HTTP: routing, the proxy event, API Gateway's
//! own answers, binary bodies, CORS and the Lambda authorizer.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayProxyRequest,
};
use e2e::{RunningGateway, client, fixture, project_gateway, start_gateway};
use lambda_http::{Body, Request, Response};
use local::{Api, Gateway, RawFunction};
use serde_json::{Value, json};

const ORIGIN: &str = "https://app.example";

const SPEC: &str = r#"
openapi: 3.0.1
info: { title: test, version: "1" }
x-amazon-apigateway-binary-media-types: ["application/octet-stream", "image/*"]
x-portcullis-cors:
  allowOrigins: ["https://app.example"]
  allowHeaders: ["authorization", "content-type"]
  allowMethods: ["GET", "POST", "OPTIONS"]
  exposeHeaders: ["x-request-id"]
  maxAgeSeconds: 600
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
    api_key: { type: apiKey, name: x-api-key, in: header }
paths:
  /v1/things:
    get: &echo
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${echo_function_arn}/invocations"
    post: *echo
  /v1/things/mine:
    get: *echo
  /v1/things/{id}:
    get:
      security: [ { gate: [] } ]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${echo_function_arn}/invocations"
  /v1/metered/{id}:
    get:
      security: [ { gate: [], api_key: [] } ]
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${echo_function_arn}/invocations"
  /v1/open/{name}:
    get: *echo
  /v1/files/{proxy+}:
    x-amazon-apigateway-any-method: *echo
  /v1/binary:
    post:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${binary_function_arn}/invocations"
  /v1/slow:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${slow_function_arn}/invocations"
        timeoutInMillis: 100
  /v1/broken:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${broken_function_arn}/invocations"
  /v1/panics:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${panics_function_arn}/invocations"
  /v1/malformed:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${malformed_function_arn}/invocations"
"#;

/// Echoes the event it received as the JSON response body.
fn echo() -> Arc<
    RawFunction<
        impl Fn(Value, lambda_runtime::Context) -> std::future::Ready<local::InvokeResult> + Send + Sync,
    >,
> {
    Arc::new(RawFunction(|event: Value, _ctx| {
        std::future::ready(Ok(json!({
            "statusCode": 200,
            "headers": { "content-type": "application/json" },
            "multiValueHeaders": { "x-seen": ["a", "b"] },
            "body": event.to_string(),
            "isBase64Encoded": false,
        })))
    }))
}

struct BinaryState {
    prefix: Vec<u8>,
}

/// A `lambda_http` handler: answers the state's prefix followed by the request body, as binary.
async fn binary_echo(
    state: &BinaryState,
    req: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let mut out = state.prefix.clone();
    out.extend_from_slice(req.body().as_ref());
    Ok(Response::builder()
        .status(201)
        .header("content-type", "application/octet-stream")
        .body(Body::Binary(out))?)
}

struct GateState;

/// A REQUEST authorizer driven by the Authorization header.
async fn gatekeeper(
    _state: &GateState,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<Value, lambda_runtime::Error> {
    let method_arn = event.method_arn.clone().unwrap_or_default();
    let credential = event
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let allow_things = json!({"Effect": "Allow", "Action": "execute-api:Invoke",
        "Resource": ["arn:aws:execute-api:*:*:*/*/GET/v1/things/*",
                     "arn:aws:execute-api:*:*:*/*/GET/v1/metered/*"]});
    let statements = match credential {
        "allow" => json!([allow_things]),
        "deny" => json!([allow_things, {"Effect": "Deny", "Action": ["execute-api:*"],
            "Resource": ["arn:aws:execute-api:*:*:*/*/GET/v1/things/secret"]}]),
        "post-only" => json!([{"Effect": "Allow", "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:*:*:*/*/POST/*"}]),
        "metered" => json!([allow_things]),
        c if c.starts_with("key:") => json!([allow_things]),
        "broken" => return Err("database unreachable".into()),
        _ => return Err("Unauthorized".into()),
    };
    let usage_key = if credential == "metered" {
        Value::from("plan-key")
    } else if let Some(value) = credential.strip_prefix("key:") {
        Value::from(value)
    } else {
        Value::Null
    };
    Ok(json!({
        "principalId": "user-1",
        "usageIdentifierKey": usage_key,
        "policyDocument": { "Version": "2012-10-17", "Statement": statements },
        "context": { "tenant": "acme", "count": 3, "admin": true, "method_arn": method_arn,
                     "event_type": event.type_ },
    }))
}

async fn test_gateway() -> RunningGateway {
    let mut gateway = Gateway::new(Api::from_yaml_str(SPEC).expect("test spec loads"));
    gateway.register("echo", echo());
    gateway.http(
        "binary",
        Arc::new(BinaryState {
            prefix: vec![0xff, 0x00],
        }),
        binary_echo,
    );
    gateway.authorizer(Arc::new(GateState), gatekeeper);
    gateway.throttle(
        "plan-key",
        local::Throttle {
            rate_per_second: 0.0001,
            burst: 2,
        },
    );
    gateway.register(
        "slow",
        Arc::new(RawFunction(|_event: Value, _ctx| async {
            tokio::time::sleep(Duration::from_secs(20)).await;
            Ok(json!({ "statusCode": 200 }))
        })),
    );
    gateway.register(
        "broken",
        Arc::new(RawFunction(|_event: Value, _ctx| async {
            Err("handler panicked".into())
        })),
    );
    gateway.register(
        "panics",
        Arc::new(RawFunction(|_event: Value, _ctx| async {
            panic!("a handler bug");
        })),
    );
    gateway.register(
        "malformed",
        Arc::new(RawFunction(|_event: Value, _ctx| async {
            Ok(json!({ "body": "no status" }))
        })),
    );
    start_gateway(gateway).await
}

async fn get(gw: &RunningGateway, path: &str) -> reqwest::Response {
    client()
        .get(gw.at(path))
        .header("user-agent", "e2e-test")
        .send()
        .await
        .expect("request reaches the gateway")
}

async fn json_of(resp: reqwest::Response) -> Value {
    let text = resp.text().await.expect("response body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

fn has_request_id(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get("x-amzn-requestid")
        .is_some_and(|v| !v.is_empty())
}

/// Same keys at every object level; same JSON type wherever both are non-null.
/// Maps whose keys are request data are compared by value types only.
fn assert_same_shape(path: &str, ours: &Value, theirs: &Value) {
    const DATA_MAPS: [&str; 7] = [
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "authorizer",
    ];
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let last = path.rsplit('.').next().unwrap_or_default();
            if DATA_MAPS.contains(&last) {
                return;
            }
            let mut ka: Vec<_> = a.keys().collect();
            let mut kb: Vec<_> = b.keys().collect();
            ka.sort();
            kb.sort();
            assert_eq!(ka, kb, "keys differ at {path}");
            for k in a.keys() {
                assert_same_shape(&format!("{path}.{k}"), &a[k], &b[k]);
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (a, b) => assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "JSON types differ at {path}: ours {a}, AWS {b}"
        ),
    }
}

#[tokio::test]
async fn literal_route_beats_parameter_route() {
    let gw = test_gateway().await;
    let event = json_of(get(&gw, "/v1/things/mine").await).await;
    assert_eq!(event["resource"], "/v1/things/mine");
    assert_eq!(event["pathParameters"], Value::Null);
}

#[tokio::test]
async fn greedy_proxy_route_takes_the_rest_of_the_path_decoded() {
    let gw = test_gateway().await;
    let resp = client()
        .delete(gw.at("/v1/files/a/b%2Fc/d%20e.txt"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let event = json_of(resp).await;
    assert_eq!(event["resource"], "/v1/files/{proxy+}");
    assert_eq!(event["httpMethod"], "DELETE");
    assert_eq!(event["pathParameters"]["proxy"], "a/b/c/d e.txt");
    assert_eq!(event["path"], "/v1/files/a/b%2Fc/d%20e.txt");
}

#[tokio::test]
async fn url_encoded_segments_are_decoded_in_path_parameters() {
    let gw = test_gateway().await;
    let event = json_of(get(&gw, "/v1/open/hello%20w%C3%B6rld").await).await;
    assert_eq!(event["pathParameters"]["name"], "hello wörld");
    assert_eq!(event["requestContext"]["resourcePath"], "/v1/open/{name}");
}

#[tokio::test]
async fn proxy_event_has_the_shape_of_a_recorded_api_gateway_event() {
    let gw = test_gateway().await;
    let resp = client()
        .get(gw.at("/v1/things/42?parameter1=value1&parameter1=value2&parameter2=value"))
        .header("user-agent", "e2e-test")
        .header("authorization", "allow")
        .header("header2", "value1")
        .header("header2", "value2")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let event = json_of(resp).await;
    assert_same_shape("event", &event, &fixture("apigw-rest-proxy-event.json"));
    assert_eq!(
        event["multiValueHeaders"]["header2"],
        json!(["value1", "value2"])
    );
    assert_eq!(event["headers"]["header2"], "value2");
    assert_eq!(
        event["queryStringParameters"],
        json!({"parameter1": "value2", "parameter2": "value"})
    );
    assert_eq!(
        event["multiValueQueryStringParameters"]["parameter1"],
        json!(["value1", "value2"])
    );
    assert_eq!(event["requestContext"]["path"], "/local/v1/things/42");
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(event["requestContext"]["domainName"], "127.0.0.1");
    assert!(
        uuid::Uuid::parse_str(
            event["requestContext"]["requestId"]
                .as_str()
                .unwrap_or_default()
        )
        .is_ok()
    );
    // The event is what lambda_http's own types accept.
    let parsed: ApiGatewayProxyRequest =
        serde_json::from_value(event).expect("deserializes as ApiGatewayProxyRequest");
    assert_eq!(
        parsed.path_parameters.get("id").map(String::as_str),
        Some("42")
    );
}

#[tokio::test]
async fn an_event_without_query_or_body_carries_nulls_as_aws_sends() {
    let gw = test_gateway().await;
    let event = json_of(get(&gw, "/v1/things").await).await;
    assert_eq!(event["queryStringParameters"], Value::Null);
    assert_eq!(event["multiValueQueryStringParameters"], Value::Null);
    assert_eq!(event["pathParameters"], Value::Null);
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["isBase64Encoded"], false);
    assert!(
        event["requestContext"].get("authorizer").is_none(),
        "an open route has no authorizer context"
    );
}

#[tokio::test]
async fn a_text_body_is_passed_as_text_and_multi_value_response_headers_are_kept() {
    let gw = test_gateway().await;
    let resp = client()
        .post(gw.at("/v1/things"))
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .expect("request");
    let seen: Vec<_> = resp
        .headers()
        .get_all("x-seen")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(seen, ["a", "b"]);
    let event = json_of(resp).await;
    assert_eq!(event["body"], r#"{"a":1}"#);
    assert_eq!(event["isBase64Encoded"], false);
}

#[tokio::test]
async fn unknown_route_is_403_missing_authentication_token() {
    let gw = test_gateway().await;
    let resp = get(&gw, "/v2/nothing/here").await;
    assert_eq!(resp.status(), 403);
    assert!(has_request_id(&resp));
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Missing Authentication Token"})
    );
}

#[tokio::test]
async fn undeclared_method_on_a_known_path_is_403_missing_authentication_token() {
    let gw = test_gateway().await;
    let resp = client()
        .put(gw.at("/v1/things"))
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Missing Authentication Token"})
    );
}

#[tokio::test]
async fn body_over_ten_megabytes_is_413() {
    let gw = test_gateway().await;
    let body = vec![b'x'; local::MAX_BODY_BYTES + 1];
    let resp = client()
        .post(gw.at("/v1/things"))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 413);
    assert_eq!(json_of(resp).await, json!({"message": "Request Too Long"}));
}

#[tokio::test]
async fn a_ten_megabyte_body_passes_api_gateway_but_not_lambdas_6_mb_payload() {
    let gw = test_gateway().await;
    // API Gateway takes exactly 10 MB, but its Lambda proxy event (the body
    // base64-encoded: every type is binary in this contract) is over
    // Lambda's 6 MB synchronous payload: refused before the function runs.
    let body = vec![b'x'; local::MAX_BODY_BYTES];
    let resp = client()
        .post(gw.at("/v1/things"))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 413);
    assert_eq!(json_of(resp).await, json!({"message": "Request Too Long"}));
    // 4 MiB, the registry's largest max_request_bytes, fits the event.
    let body = vec![b'x'; 4 * 1024 * 1024];
    let resp = client()
        .post(gw.at("/v1/things"))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn integration_slower_than_its_timeout_is_504() {
    let gw = test_gateway().await;
    let resp = get(&gw, "/v1/slow").await;
    assert_eq!(resp.status(), 504);
    assert!(has_request_id(&resp));
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Endpoint request timed out"})
    );
}

#[tokio::test]
async fn integration_error_is_502() {
    let gw = test_gateway().await;
    let resp = get(&gw, "/v1/broken").await;
    assert_eq!(resp.status(), 502);
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn panicking_integration_is_502_and_the_gateway_keeps_serving() {
    let gw = test_gateway().await;
    let resp = get(&gw, "/v1/panics").await;
    assert_eq!(resp.status(), 502);
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Internal server error"})
    );
    assert_eq!(get(&gw, "/v1/things").await.status(), 200);
}

#[tokio::test]
async fn malformed_integration_response_is_502() {
    let gw = test_gateway().await;
    let resp = get(&gw, "/v1/malformed").await;
    assert_eq!(resp.status(), 502);
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Internal server error"})
    );
}

#[tokio::test]
async fn binary_bodies_round_trip_byte_exact_through_a_lambda_http_handler() {
    let gw = test_gateway().await;
    let payload: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let resp = client()
        .post(gw.at("/v1/binary"))
        .header("content-type", "application/octet-stream")
        .header("accept", "application/octet-stream")
        .body(payload.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let body = resp.bytes().await.expect("body");
    let mut expected = vec![0xff, 0x00];
    expected.extend_from_slice(&payload);
    assert_eq!(body.len(), expected.len());
    assert!(
        body.as_ref() == expected.as_slice(),
        "binary body changed on the way"
    );
}

#[tokio::test]
async fn the_gateway_answers_no_preflight_of_its_own() {
    // API Gateway answers OPTIONS only when the body declares it; here the
    // path has no OPTIONS operation, so it is API Gateway's 403, with no CORS
    // header (the body's x-portcullis-cors block is not API Gateway's).
    let gw = test_gateway().await;
    let resp = client()
        .request(reqwest::Method::OPTIONS, gw.at("/v1/things/42"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert!(resp.headers().get("access-control-allow-methods").is_none());
}

#[tokio::test]
async fn the_gateway_adds_no_cors_header_to_integration_or_error_answers() {
    // With Lambda proxy integrations API Gateway passes the function's
    // headers through and adds none: CORS is the functions' job.
    let gw = test_gateway().await;
    for path in ["/v1/things", "/v1/unknown"] {
        let resp = client()
            .get(gw.at(path))
            .header("origin", ORIGIN)
            .send()
            .await
            .expect("request");
        assert!(
            resp.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
        assert!(resp.headers().get("vary").is_none(), "{path}");
    }
}

#[tokio::test]
async fn secured_route_without_an_authorizer_is_401() {
    let gw = start_gateway(project_gateway()).await;
    let resp = client()
        .get(gw.at("/v1/me"))
        .header("authorization", "Bearer whatever")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    assert!(has_request_id(&resp));
    assert_eq!(json_of(resp).await, json!({"message": "Unauthorized"}));
}

#[tokio::test]
async fn project_contract_answers_403_for_unknown_routes() {
    let gw = start_gateway(project_gateway()).await;
    let resp = client()
        .get(gw.at("/v1/nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    assert_eq!(
        json_of(resp).await,
        json!({"message": "Missing Authentication Token"})
    );
}

#[tokio::test]
async fn wildcard_allow_lets_the_request_through_with_the_context_injected() {
    let gw = test_gateway().await;
    let resp = client()
        .get(gw.at("/v1/things/42"))
        .header("authorization", "allow")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let event = json_of(resp).await;
    let auth = &event["requestContext"]["authorizer"];
    assert_eq!(auth["principalId"], "user-1");
    assert_eq!(auth["tenant"], "acme");
    assert_eq!(auth["count"], "3", "context values arrive as strings");
    assert_eq!(auth["admin"], "true");
    assert!(auth["integrationLatency"].is_u64());
    assert_eq!(auth["event_type"], "REQUEST");
    assert_eq!(
        auth["method_arn"],
        "arn:aws:execute-api:us-east-1:123456789012:portcullis/local/GET/v1/things/42"
    );
}

#[tokio::test]
async fn explicit_deny_wins_over_a_matching_allow() {
    let gw = test_gateway().await;
    let resp = client()
        .get(gw.at("/v1/things/secret"))
        .header("authorization", "deny")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    assert_eq!(
        json_of(resp).await,
        json!({"Message": "User is not authorized to access this resource with an explicit deny"})
    );
    let other = client()
        .get(gw.at("/v1/things/7"))
        .header("authorization", "deny")
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 200, "the deny names only /v1/things/secret");
}

#[tokio::test]
async fn policy_without_a_matching_allow_is_403() {
    let gw = test_gateway().await;
    let resp = client()
        .get(gw.at("/v1/things/42"))
        .header("authorization", "post-only")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    assert_eq!(
        json_of(resp).await,
        json!({"Message": "User is not authorized to access this resource"})
    );
}

#[tokio::test]
async fn authorizer_failing_with_unauthorized_is_401() {
    let gw = test_gateway().await;
    let resp = client()
        .get(gw.at("/v1/things/42"))
        .header("authorization", "nobody")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    assert_eq!(json_of(resp).await, json!({"message": "Unauthorized"}));
}

#[tokio::test]
async fn authorizer_failing_otherwise_is_500_with_a_null_message() {
    let gw = test_gateway().await;
    let resp = client()
        .get(gw.at("/v1/things/42"))
        .header("authorization", "broken")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 500);
    assert_eq!(json_of(resp).await, json!({"message": null}));
}

#[test]
fn authorizer_event_has_the_keys_of_the_recorded_request_authorizer_event() {
    let recorded = fixture("apigw-request-authorizer-event.json");
    let headers = http::HeaderMap::new();
    let params = std::collections::BTreeMap::from([("id".to_owned(), "42".to_owned())]);
    let incoming = local::event::Incoming {
        method: "GET",
        raw_path: "/v1/things/42",
        raw_query: Some("a=1"),
        headers: &headers,
        body: b"",
        body_is_binary: false,
        source_ip: "127.0.0.1".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
        extended_request_id: local::event::extended_request_id(),
        received_at: chrono::Utc::now(),
        resource_path: "/v1/things/{id}",
        path_parameters: &params,
    };
    let ours = local::event::authorizer_event(&local::Deployment::default(), &incoming);
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        k.sort();
        k
    };
    assert_eq!(keys(&ours), keys(&recorded));
    for k in keys(&recorded["requestContext"]) {
        assert!(
            ours["requestContext"].get(&k).is_some(),
            "requestContext.{k} is missing"
        );
    }
    for k in keys(&recorded["requestContext"]["identity"]) {
        assert!(
            ours["requestContext"]["identity"].get(&k).is_some(),
            "identity.{k} is missing"
        );
    }
    let parsed: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_value(ours).expect("deserializes as the REQUEST authorizer event");
    assert_eq!(parsed.type_.as_deref(), Some("REQUEST"));
    assert_eq!(
        parsed.path_parameters.get("id").map(String::as_str),
        Some("42")
    );
}

#[tokio::test]
async fn usage_plan_key_over_its_burst_is_429() {
    let gw = test_gateway().await;
    let call = || {
        client()
            .get(gw.at("/v1/metered/1"))
            .header("authorization", "metered")
            .send()
    };
    let first = call().await.expect("request");
    assert_eq!(first.status(), 200);
    assert_eq!(
        json_of(first).await["requestContext"]["identity"]["apiKey"],
        "plan-key"
    );
    assert_eq!(call().await.expect("request").status(), 200);
    let third = call().await.expect("request");
    assert_eq!(third.status(), 429);
    assert_eq!(
        json_of(third).await,
        json!({"message": "Too Many Requests"})
    );
    // Operations that require no API key are not metered.
    for _ in 0..3 {
        let resp = client()
            .get(gw.at("/v1/things/1"))
            .header("authorization", "metered")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
    }
    // A caller whose authorizer answer names no usage key gets 403 where a
    // key is required.
    let resp = client()
        .get(gw.at("/v1/metered/1"))
        .header("authorization", "allow")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-amzn-errortype"], "ForbiddenException");
    assert_eq!(json_of(resp).await, json!({"message": "Forbidden"}));
}

async fn metered_call(gw: &RunningGateway, credential: &str) -> reqwest::Response {
    client()
        .get(gw.at("/v1/metered/1"))
        .header("authorization", credential)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_usage_key_that_is_no_api_key_of_the_account_is_forbidden() {
    let gw = test_gateway().await;
    let resp = metered_call(&gw, "key:made-up-usage-key").await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["x-amzn-errortype"], "ForbiddenException");
    assert_eq!(json_of(resp).await, json!({"message": "Forbidden"}));
    // The key that is one still passes.
    assert_eq!(metered_call(&gw, "metered").await.status(), 200);
}

/// Two consumers of one usage plan with a quota of 2 a day and a large
/// bucket, and a disabled key in the same plan.
async fn quota_gateway() -> RunningGateway {
    use local::metering::{ApiKey, Quota, QuotaPeriod, UsagePlan};
    let key = |id: &str, enabled: bool| ApiKey {
        id: id.to_owned(),
        value: format!("usage-key-of-{id}"),
        enabled,
    };
    let deployment = local::Deployment::default();
    let usage = local::Usage {
        keys: vec![key("a", true), key("b", true), key("off", false)],
        plans: vec![UsagePlan {
            id: "trial".to_owned(),
            name: "trial".to_owned(),
            throttle: Some(local::Throttle {
                rate_per_second: 100.0,
                burst: 100,
            }),
            quota: Some(Quota {
                limit: 2,
                offset: 0,
                period: QuotaPeriod::Day,
            }),
            stages: vec![(deployment.api_id.clone(), deployment.stage.clone())],
            keys: vec!["a".to_owned(), "b".to_owned(), "off".to_owned()],
        }],
        stage_throttle: None,
    };
    let mut gateway = Gateway::new(Api::from_yaml_str(SPEC).expect("test spec loads"))
        .with_deployment(deployment)
        .with_usage(Arc::new(usage));
    gateway.register("echo", echo());
    gateway.authorizer(Arc::new(GateState), gatekeeper);
    start_gateway(gateway).await
}

#[tokio::test]
async fn one_consumer_spending_its_quota_leaves_another_of_the_same_plan_unaffected() {
    let gw = quota_gateway().await;
    for _ in 0..2 {
        assert_eq!(metered_call(&gw, "key:usage-key-of-a").await.status(), 200);
    }
    let spent = metered_call(&gw, "key:usage-key-of-a").await;
    assert_eq!(spent.status(), 429);
    assert_eq!(
        spent.headers()["x-amzn-errortype"],
        "LimitExceededException"
    );
    assert_eq!(json_of(spent).await, json!({"message": "Limit Exceeded"}));
    for _ in 0..2 {
        assert_eq!(metered_call(&gw, "key:usage-key-of-b").await.status(), 200);
    }
    assert_eq!(metered_call(&gw, "key:usage-key-of-b").await.status(), 429);
    // Operations that require no key are not metered.
    assert_eq!(
        client()
            .get(gw.at("/v1/things/1"))
            .header("authorization", "key:usage-key-of-a")
            .send()
            .await
            .expect("request")
            .status(),
        200
    );
}

#[tokio::test]
async fn a_disabled_usage_key_is_forbidden() {
    let gw = quota_gateway().await;
    let resp = metered_call(&gw, "key:usage-key-of-off").await;
    assert_eq!(resp.status(), 403);
    assert_eq!(json_of(resp).await, json!({"message": "Forbidden"}));
}
