//! The mock Lambda Runtime API: the part of
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html> a
//! `lambda_runtime` function uses, on 127.0.0.1, for one invocation.
//!
//! - `GET /2018-06-01/runtime/invocation/next`: the first call gets the event
//!   with `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//!   later calls are held (as Lambda holds them while no event is queued)
//!   until [`MockApi::shutdown`].
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `/error`: the
//!   outcome of the invocation (202).
//! - `POST /2018-06-01/runtime/init/error`: a start-up failure (202).
//!
//! Two helper routes stand in for the network a function would reach on
//! its first invocation: `GET /jwks.json` (the authorizer's Cognito JWKS)
//! and `/upstream/...` (the proxy's private service, any method, 200).
//!
//! Every request is reported on a channel with the instant it arrived
//! (before its body is read), so the harness measures what the function
//! does, not what the mock does.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// A trace header in the format Lambda sends (X-Ray root, parent, sampled).
const TRACE_ID: &str = "Root=1-6740e6a1-5f3d2c1b0a9e8d7c6b5a4f3e;Parent=0123456789abcdef;Sampled=0";
/// The body limit of a `/response` or `/error` (Lambda's own is 6 MB).
const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// The one invocation the mock hands out.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub function_arn: String,
    pub event: Bytes,
    /// Added to the wall clock when the event is handed out.
    pub timeout: Duration,
    /// Served at `GET /jwks.json` when set.
    pub jwks: Option<String>,
    /// How long `GET /jwks.json` waits before answering (injected latency:
    /// Cognito's JWKS endpoint is a TLS round trip away in AWS).
    pub jwks_delay: Duration,
}

/// What the function did, in arrival order.
#[derive(Debug)]
pub enum Seen {
    /// A `GET .../invocation/next` arrived.
    Next(Instant),
    /// The event was handed out (just before the response is written).
    Handed(Instant),
    /// `POST .../invocation/{id}/response`.
    Response {
        at: Instant,
        request_id: String,
        body: Bytes,
    },
    /// `POST .../invocation/{id}/error`.
    Error {
        at: Instant,
        request_id: String,
        body: Bytes,
    },
    /// `POST .../init/error`.
    InitError { at: Instant, body: Bytes },
    /// Anything else (a runtime this mock does not understand).
    Unexpected { method: String, path: String },
}

struct Shared {
    invocation: Invocation,
    handed: AtomicBool,
    seen: mpsc::UnboundedSender<Seen>,
    closing: watch::Receiver<bool>,
}

/// A running mock, bound to a fresh port on 127.0.0.1.
pub struct MockApi {
    addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    closing: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
}

impl MockApi {
    pub async fn start(invocation: Invocation) -> std::io::Result<MockApi> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, seen) = mpsc::unbounded_channel();
        let (closing, closing_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            invocation,
            handed: AtomicBool::new(false),
            seen: tx,
            closing: closing_rx.clone(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .route("/jwks.json", get(jwks))
            .route("/upstream/{*rest}", any(upstream))
            .fallback(unexpected)
            .with_state(shared);
        let mut stop = closing_rx;
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|closing| *closing).await;
                })
                .await
        });
        Ok(MockApi {
            addr,
            seen,
            closing,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next thing the function did; `None` once the mock has stopped.
    pub async fn seen(&mut self) -> Option<Seen> {
        self.seen.recv().await
    }

    /// Release held `/next` calls and stop serving (bounded: a connection
    /// that does not close within a second is dropped).
    pub async fn shutdown(self) {
        let _ = self.closing.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(1), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let _ = s.seen.send(Seen::Next(Instant::now()));
    if s.handed.swap(true, Ordering::SeqCst) {
        // One invocation per process: hold the long poll until the end.
        let mut closing = s.closing.clone();
        let _ = closing.wait_for(|closing| *closing).await;
        return (StatusCode::GONE, "the benchmark is over").into_response();
    }
    let inv = &s.invocation;
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(inv.timeout)
        .as_millis();
    let mut resp = Response::new(Body::from(inv.event.clone()));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in [
        ("lambda-runtime-aws-request-id", inv.request_id.clone()),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            inv.function_arn.clone(),
        ),
        ("lambda-runtime-trace-id", TRACE_ID.to_owned()),
    ] {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                headers.insert(name, v);
            }
            Err(_) => {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the harness built an invalid {name} header: {value:?}"),
                )
                    .into_response();
            }
        }
    }
    let _ = s.seen.send(Seen::Handed(Instant::now()));
    resp
}

async fn read_body(req: Request) -> Bytes {
    axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .unwrap_or_else(|e| Bytes::from(format!("(body unreadable: {e})")))
}

async fn response(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    req: Request,
) -> StatusCode {
    let at = Instant::now();
    let body = read_body(req).await;
    let _ = s.seen.send(Seen::Response {
        at,
        request_id: id,
        body,
    });
    StatusCode::ACCEPTED
}

async fn error(State(s): State<Arc<Shared>>, Path(id): Path<String>, req: Request) -> StatusCode {
    let at = Instant::now();
    let body = read_body(req).await;
    let _ = s.seen.send(Seen::Error {
        at,
        request_id: id,
        body,
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(s): State<Arc<Shared>>, req: Request) -> StatusCode {
    let at = Instant::now();
    let body = read_body(req).await;
    let _ = s.seen.send(Seen::InitError { at, body });
    StatusCode::ACCEPTED
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    tokio::time::sleep(s.invocation.jwks_delay).await;
    match &s.invocation.jwks {
        Some(doc) => ([(header::CONTENT_TYPE, "application/json")], doc.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn upstream(req: Request) -> Response {
    let path = req.uri().path().to_owned();
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "upstream": "coldstart mock", "path": path }).to_string(),
    )
        .into_response()
}

async fn unexpected(State(s): State<Arc<Shared>>, req: Request) -> StatusCode {
    let _ = s.seen.send(Seen::Unexpected {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
    });
    StatusCode::NOT_FOUND
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn call(addr: SocketAddr, request: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8(out).unwrap()
    }

    #[tokio::test]
    async fn next_hands_out_the_event_with_the_runtime_headers_and_response_is_reported() {
        let mut api = MockApi::start(Invocation {
            request_id: "req-1".into(),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            event: Bytes::from_static(br#"{"hi":1}"#),
            timeout: Duration::from_secs(10),
            jwks: None,
            jwks_delay: Duration::ZERO,
        })
        .await
        .unwrap();
        let addr = api.addr();
        let next = call(
            addr,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .to_ascii_lowercase();
        assert!(next.starts_with("http/1.1 200"), "{next}");
        for h in [
            "lambda-runtime-aws-request-id: req-1",
            "lambda-runtime-deadline-ms: ",
            "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:f",
            "lambda-runtime-trace-id: root=",
        ] {
            assert!(next.contains(h), "missing {h}: {next}");
        }
        assert!(next.ends_with(r#"{"hi":1}"#), "{next}");
        let resp = call(
            addr,
            "POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 202"), "{resp}");
        assert!(matches!(api.seen().await, Some(Seen::Next(_))));
        assert!(matches!(api.seen().await, Some(Seen::Handed(_))));
        match api.seen().await {
            Some(Seen::Response {
                request_id, body, ..
            }) => {
                assert_eq!(request_id, "req-1");
                assert_eq!(&body[..], b"{}");
            }
            other => panic!("expected the response, got {other:?}"),
        }
        api.shutdown().await;
    }
}
