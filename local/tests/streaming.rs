//! Streamed integration responses (`responseTransferMode: STREAM`) against
//! an upstream served in the test: past API Gateway's 10 MB buffered limit,
//! the integration timeout bounding the wait for the headers, and a stream
//! cut when it stalls or goes on too long. The same answer buffered (the
//! default) is refused over 10 MB. AWS: "Stream the integration response
//! for your proxy integrations in API Gateway".

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::any;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local::{Api, Deployment, Gateway, StreamLimits, Upstreams};

const MB: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;

const SPEC: &str = r#"
openapi: 3.0.1
info: { title: test, version: "1" }
paths:
  /v1/services/web/stream/{proxy+}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        connectionType: VPC_LINK
        connectionId: vl-1
        uri: "http://alb.internal/web/stream/{proxy}"
        requestParameters: { integration.request.path.proxy: method.request.path.proxy }
        responseTransferMode: STREAM
        timeoutInMillis: 500
  /v1/services/web/buffered/{proxy+}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        connectionType: VPC_LINK
        connectionId: vl-1
        uri: "http://alb.internal/web/stream/{proxy}"
        requestParameters: { integration.request.path.proxy: method.request.path.proxy }
"#;

fn chunks(n: usize) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::iter((0..n).map(|i| Ok(Bytes::from(vec![(i % 251) as u8; CHUNK]))))
}

/// The service: `big` streams 50 MB, `slow-headers` answers after 2 s,
/// `stall` sends one chunk and then nothing, `trickle` a chunk every 20 ms
/// forever.
async fn upstream() -> SocketAddr {
    async fn serve(req: Request<Body>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        let body = match path.trim_start_matches("/v1/web/stream/") {
            "big" => Body::from_stream(chunks(50 * MB / CHUNK)),
            "slow-headers" => {
                tokio::time::sleep(Duration::from_secs(2)).await;
                Body::from("late")
            }
            "stall" => Body::from_stream(futures::StreamExt::chain(
                chunks(1),
                futures::stream::pending(),
            )),
            "trickle" => Body::from_stream(futures::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Some((
                    Ok::<_, std::io::Error>(Bytes::from_static(b"data: tick\n\n")),
                    (),
                ))
            })),
            other => panic!("the test upstream has no {other}"),
        };
        Response::builder()
            .header("content-type", "application/octet-stream")
            .body(body)
            .expect("response")
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the upstream");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, Router::new().fallback(any(serve))).await });
    addr
}

async fn gateway(limits: StreamLimits) -> String {
    let up = upstream().await;
    let upstreams = Upstreams::parse(&format!("/v1/web=http://{up}")).expect("upstreams");
    let gateway = Gateway::new(Api::from_yaml_str(SPEC).expect("spec loads"))
        .with_deployment(Deployment {
            stage: "v1".into(),
            ..Deployment::default()
        })
        .with_http_upstreams(upstreams)
        .with_stream_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the gateway");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    format!("http://{addr}")
}

/// `GET url`: the status, and the body or why it broke off.
async fn get(url: String) -> (StatusCode, Result<Bytes, String>) {
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::get(url).body(Body::empty()).expect("request");
    let resp = client.request(req).await.expect("the gateway answers");
    let status = resp.status();
    let body = resp.into_body().collect().await;
    (
        status,
        body.map(|b| b.to_bytes()).map_err(|e| e.to_string()),
    )
}

/// API Gateway's regional limits, but without the 2 MB/s past 10 MB (which
/// would make the 50 MB take 20 s; the pacing itself is unit-tested in
/// local/src/streaming.rs).
fn unpaced() -> StreamLimits {
    StreamLimits {
        bytes_per_second: u64::MAX,
        ..StreamLimits::default()
    }
}

#[tokio::test]
async fn a_streamed_50_mb_answer_passes_and_the_same_buffered_is_refused() {
    let url = gateway(unpaced()).await;
    let (status, body) = get(format!("{url}/v1/services/web/stream/big")).await;
    assert_eq!(status, StatusCode::OK);
    let body = body.expect("the whole stream");
    assert_eq!(body.len(), 50 * MB);
    assert!(
        body.chunks(CHUNK)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| *b == (i % 251) as u8))
    );

    // BUFFERED (the default): API Gateway's 10 MB response limit, 502.
    let (status, _) = get(format!("{url}/v1/services/web/buffered/big")).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn headers_later_than_the_integration_timeout_are_a_504() {
    let url = gateway(unpaced()).await;
    let (status, body) = get(format!("{url}/v1/services/web/stream/slow-headers")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        body.expect("a gateway answer"),
        r#"{"message":"Endpoint request timed out"}"#
    );
}

#[tokio::test]
async fn a_stream_that_stalls_past_the_idle_timeout_is_cut() {
    let limits = StreamLimits {
        idle_timeout: Duration::from_millis(200),
        ..unpaced()
    };
    let url = gateway(limits).await;
    // The status and headers arrive (the upstream sent them), then the body
    // breaks off instead of hanging.
    let (status, body) = get(format!("{url}/v1/services/web/stream/stall")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_err(), "a stalled stream must be cut: {body:?}");
}

#[tokio::test]
async fn a_stream_is_cut_at_its_maximum_duration() {
    let limits = StreamLimits {
        max_duration: Duration::from_millis(300),
        ..unpaced()
    };
    let url = gateway(limits).await;
    let (status, body) = get(format!("{url}/v1/services/web/stream/trickle")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_err(), "an endless stream must be cut: {body:?}");
}
