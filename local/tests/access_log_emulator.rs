//! The stage's access log reaches the emulator's CloudWatch Logs: a request
//! through the gateway, its line (with the authorizer's context) read back
//! from the log group with FilterLogEvents. Needs the emulator: run through
//! `bash scripts/test.sh -p local` (it exports AWS_ENDPOINT_URL and the
//! administrator's key).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local::{AccessLog, Api, CloudWatchLogs, Deployment, Gateway, RawFunction};
use portcullis_testkit::env::unique;
use serde_json::{Value, json};

const SPEC: &str = r#"
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
        authorizerUri: "arn:aws:apigateway:${region}:lambda:path/2015-03-31/functions/${gatekeeper_function_arn}/invocations"
paths:
  /v1/services/web/{proxy+}:
    delete:
      security: [ { gate: [] } ]
      x-amazon-apigateway-integration: { type: aws_proxy, httpMethod: POST, uri: "${echo_function_arn}" }
"#;

const FORMAT: &str = r#"{"requestId":"$context.requestId","principal":"$context.authorizer.principal_id","principalType":"$context.authorizer.principal_type","tenant":"$context.authorizer.tenant","httpMethod":"$context.httpMethod","path":"$context.path","status":"$context.status"}"#;

async fn served(gateway: Gateway) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the gateway");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    format!("http://{addr}")
}

fn gateway(access_log: AccessLog) -> Gateway {
    let api = Api::from_yaml_str(SPEC).expect("spec loads");
    let deployment = Deployment {
        stage: "v1".into(),
        ..Deployment::default()
    };
    let mut gateway = Gateway::new(api)
        .with_deployment(deployment)
        .with_access_log(access_log);
    gateway.register(
        "gatekeeper",
        Arc::new(RawFunction(|_event: Value, _ctx| async move {
            Ok(json!({
                "principalId": "acme/ann",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]},
                "context": {"principal_id": "acme/ann", "principal_type": "user", "tenant": "acme"},
            }))
        })),
    );
    gateway.register(
        "echo",
        Arc::new(RawFunction(|_event: Value, _ctx| async move {
            Ok(json!({"statusCode": 204}))
        })),
    );
    gateway
}

/// The lines of `group` (every stream), read until one holds `needle`.
async fn line_with(logs: &aws_sdk_cloudwatchlogs::Client, group: &str, needle: &str) -> Value {
    // The gateway sends lines in batches in the background: read again
    // until it is there (about half a second), at most ~30 s.
    for _ in 0..150 {
        let events = logs
            .filter_log_events()
            .log_group_name(group)
            .send()
            .await
            .expect("FilterLogEvents on the access-log group");
        let found = events
            .events()
            .iter()
            .filter_map(|e| e.message())
            .find(|m| m.contains(needle));
        if let Some(line) = found {
            return serde_json::from_str(line).expect("a JSON line");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no line with {needle} in the log group {group}");
}

#[tokio::test]
async fn a_requests_access_log_line_with_the_authorizers_context_lands_in_the_log_group() {
    let config = portcullis_testkit::aws::sdk_config().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let group = format!("/aws/apigateway/{}", unique("portcullis-local-access"));
    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .expect("CreateLogGroup in the emulator");
    let sink = CloudWatchLogs::start(&config, &group, "portcullis-local/test");
    let url = served(gateway(AccessLog {
        format: FORMAT.to_owned(),
        sink: Arc::new(sink),
    }))
    .await;

    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::delete(format!("{url}/v1/services/web/notes/7"))
        .body(Body::empty())
        .expect("request");
    let resp = client.request(req).await.expect("the gateway answers");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let request_id = resp.headers()["x-amzn-requestid"]
        .to_str()
        .expect("request id")
        .to_owned();

    let line = line_with(&logs, &group, &request_id).await;
    assert_eq!(
        line,
        json!({
            "requestId": request_id,
            "principal": "acme/ann", "principalType": "user", "tenant": "acme",
            "httpMethod": "DELETE", "path": "/v1/v1/services/web/notes/7", "status": "204",
        })
    );
}
