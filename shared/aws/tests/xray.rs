//! Every call of a client from `portcullis_aws::clients` is an X-Ray
//! subsegment of a traced invocation: a daemon (a UDP socket here) receives
//! one document per call, with the SDK's service and operation names, the
//! invocation's trace and parent, and `fault` on a failed call. Its own test
//! binary: `AWS_XRAY_DAEMON_ADDRESS` is read once per process.

use std::net::UdpSocket;
use std::time::Duration;

use aws_smithy_http_client::test_util::infallible_client_fn;
use portcullis_core::trace;

const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn sdk(status: u16) -> aws_types::SdkConfig {
    let http = infallible_client_fn(move |_req| {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(if status == 200 {
                r#"{"taskArns": []}"#
            } else {
                r#"{"__type": "ClientException", "message": "no such cluster"}"#
            })
            .expect("a response")
    });
    aws_types::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("AKIDTEST", "secret", None, None, "test"),
            ),
        )
        .http_client(http)
        .build()
}

fn next(daemon: &UdpSocket) -> serde_json::Value {
    let mut buf = [0u8; 8192];
    let n = daemon.recv(&mut buf).expect("a subsegment arrives");
    let text = std::str::from_utf8(&buf[..n]).expect("utf-8");
    let (head, body) = text
        .split_once('\n')
        .expect("header line, then the document");
    assert_eq!(head, r#"{"format": "json", "version": 1}"#);
    serde_json::from_str(body).expect("a JSON document")
}

#[tokio::test]
async fn each_sdk_call_of_a_traced_invocation_is_a_subsegment() {
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    daemon
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    // SAFETY: the only test of this binary, before any reader of the variable.
    unsafe {
        std::env::set_var(
            trace::DAEMON_ADDRESS,
            daemon.local_addr().expect("an address").to_string(),
        )
    };

    // Outside any invocation: nothing is sent.
    let ok = portcullis_aws::clients::ecs(&sdk(200), Duration::from_secs(5));
    ok.list_tasks().cluster("c").send().await.expect("list");

    let failing = portcullis_aws::clients::ecs(&sdk(400), Duration::from_secs(5));
    trace::scope(Some(TRACE), async {
        ok.list_tasks().cluster("c").send().await.expect("list");
        failing
            .list_tasks()
            .cluster("c")
            .send()
            .await
            .expect_err("refused");
    })
    .await;

    let first = next(&daemon);
    assert_eq!(first["type"], "subsegment");
    assert_eq!(first["namespace"], "aws");
    assert_eq!(first["name"], "ECS", "{first}");
    assert_eq!(first["aws"]["operation"], "ListTasks");
    assert_eq!(first["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(first["parent_id"], "53995c3f42cd8ad8");
    assert!(first.get("fault").is_none(), "a successful call: {first}");
    let second = next(&daemon);
    assert_eq!(second["aws"]["operation"], "ListTasks");
    assert_eq!(second["fault"], true, "a failed call: {second}");
    // The call made outside the invocation sent nothing before these two.
}
