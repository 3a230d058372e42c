//! Latency the proxy handler adds over calling the same upstream directly.
//!
//! Both paths hit the sample service's `GET /echo` on a loopback port with a
//! signed identity (the direct call signs its own headers, so the service does
//! the same work). Criterion measures both; afterwards a fixed loop of
//! `PERCENTILE_SAMPLES` calls each prints p50/p99 and the difference.
//!
//! Run: `cargo bench -p proxy --bench proxy`

use criterion::{BatchSize, Criterion};
use lambda_http::Request;
use portcullis_identity::{self as identity, Identity, SigningKey};
use portcullis_platform::services::Services;
use proxy::{State, Upstream};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PERCENTILE_SAMPLES: usize = 5000;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[5; 32]).expect("32 bytes is a valid key")
}

async fn setup() -> (State, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("bound address");
    let config = sample_service::Config::new(vec![key()], "");
    tokio::spawn(sample_service::serve(
        listener,
        config,
        std::future::pending(),
    ));
    let services = Services::from_text(
        "sample:\n  workload: sample-service\n  methods: [GET]\n  allow_headers: [accept]\n",
    )
    .expect("bench registry");
    let upstreams = services
        .iter()
        .map(|s| Upstream {
            service: s.clone(),
            base: format!("http://{addr}").parse().expect("loopback URL"),
        })
        .collect();
    let state = State::new(
        upstreams,
        std::collections::HashMap::from([("sample".to_owned(), key())]),
        None,
        Duration::from_millis(500),
    )
    .expect("proxy state");
    (state, addr)
}

const EVENT: &str = r#"{
  "resource": "/v1/services/{service}/{proxy+}", "path": "/v1/services/sample/echo", "httpMethod": "GET",
  "headers": {}, "multiValueHeaders": {"accept": ["application/json"]},
  "queryStringParameters": {}, "multiValueQueryStringParameters": {"q": ["1"]},
  "pathParameters": {"service": "sample", "proxy": "echo"}, "stageVariables": null,
  "requestContext": {"accountId": "1", "resourceId": "r", "stage": "v1", "requestId": "bench",
    "identity": {"sourceIp": "127.0.0.1"}, "resourcePath": "/v1/services/{service}/{proxy+}",
    "httpMethod": "GET", "apiId": "a",
    "authorizer": {"principal_id": "key_1", "principal_type": "api_key", "tenant": "acme", "scopes": "services:sample"}},
  "body": null, "isBase64Encoded": false
}"#;

fn event() -> Request {
    lambda_http::request::from_str(EVENT).expect("bench event parses")
}

async fn via_proxy(state: &State, req: Request) {
    let resp = proxy::handle(state, req).await.expect("handler answers");
    assert_eq!(resp.status(), 200);
}

async fn direct(client: &reqwest::Client, addr: SocketAddr) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let who = Identity {
        principal: "key_1".into(),
        principal_type: "api_key".into(),
        tenant: "acme".into(),
        scopes: vec!["services:sample".into()],
    };
    let headers =
        identity::sign(&who, &http::Method::GET, "/echo?q=1", b"", now, &key()).expect("sign");
    let resp = client
        .get(format!("http://{addr}/echo?q=1"))
        .header("accept", "application/json")
        .headers(headers)
        .send()
        .await
        .expect("direct call");
    assert_eq!(resp.status(), 200);
    resp.bytes().await.expect("direct body");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn main() {
    // Each request renders and writes its metrics record as in Lambda, to a
    // sink here, so criterion's report stays readable.
    portcullis_core::metrics::set_writer(Box::new(std::io::sink()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (state, addr) = rt.block_on(setup());
    let client = proxy::http_client().expect("client");

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("proxy_overhead");
    g.bench_function("direct_loopback", |b| {
        b.to_async(&rt).iter(|| direct(&client, addr))
    });
    g.bench_function("through_proxy_handler", |b| {
        b.to_async(&rt)
            .iter_batched(event, |req| via_proxy(&state, req), BatchSize::SmallInput)
    });
    g.finish();
    c.final_summary();

    // Percentiles: the same two calls, interleaved, PERCENTILE_SAMPLES each.
    let (mut d, mut p) = (
        Vec::with_capacity(PERCENTILE_SAMPLES),
        Vec::with_capacity(PERCENTILE_SAMPLES),
    );
    rt.block_on(async {
        for _ in 0..200 {
            direct(&client, addr).await;
            via_proxy(&state, event()).await;
        }
        for _ in 0..PERCENTILE_SAMPLES {
            let t = Instant::now();
            direct(&client, addr).await;
            d.push(t.elapsed());
            let req = event();
            let t = Instant::now();
            via_proxy(&state, req).await;
            p.push(t.elapsed());
        }
    });
    d.sort();
    p.sort();
    for (name, q) in [("p50", 0.50), ("p99", 0.99)] {
        let (dd, pp) = (percentile(&d, q), percentile(&p, q));
        println!(
            "{name}: direct {:.1} µs, through proxy {:.1} µs, added {:.1} µs",
            dd.as_secs_f64() * 1e6,
            pp.as_secs_f64() * 1e6,
            (pp.as_secs_f64() - dd.as_secs_f64()) * 1e6
        );
    }
}
