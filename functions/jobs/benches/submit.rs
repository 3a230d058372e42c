//! Submit throughput and latency through the `jobs` handler: real PostgreSQL
//! (DATABASE_URL; a scratch database `portcullis_bench_jobs` is re-created),
//! ECS answered in-process by a stub client (RunTask → a task), so the figures
//! are the handler + database cost of one insert + one update per submit.
//!
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p jobs --bench submit`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portcullis_testkit::apigw::ApiRequest;
use portcullis_testkit::jobs::{placement, state};
use portcullis_testkit::stub_ecs::healthy_ecs;
use sqlx::postgres::PgPoolOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"type":"sample","args":["--exit-code","0"],"env":{"GREETING":"hi"}}"#;

async fn bench_state(connections: u32) -> portcullis_jobs::State {
    let url = portcullis_testkit::database_url();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("connect");
    sqlx::query("drop database if exists portcullis_bench_jobs with (force)")
        .execute(&admin)
        .await
        .expect("drop the scratch database");
    sqlx::query("create database portcullis_bench_jobs")
        .execute(&admin)
        .await
        .expect("create the scratch database");
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect(&format!("{base}/portcullis_bench_jobs"))
        .await
        .expect("connect to the scratch database");
    sqlx::migrate!("../../migrations")
        .run(&pool)
        .await
        .expect("migrations");
    let (ecs, _calls) = healthy_ecs();
    state(
        pool,
        ecs,
        placement("bench", vec!["subnet-a".into()], vec!["sg-a".into()]),
    )
}

static KEY: AtomicU64 = AtomicU64::new(0);

async fn one_submit(st: &portcullis_jobs::State) -> Duration {
    let key = format!("bench-{}", KEY.fetch_add(1, Ordering::Relaxed));
    let t = Instant::now();
    let req = ApiRequest::new("POST", "/v1/jobs")
        .caller("bench", "jobs:write")
        .header("content-type", "application/json")
        .header("idempotency-key", &key)
        .body(BODY)
        .build();
    let resp = jobs::handle(st, req)
        .await
        .expect("the handler never fails");
    let elapsed = t.elapsed();
    assert_eq!(resp.status(), 202);
    elapsed
}

fn submit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let st = rt.block_on(bench_state(8));

    let mut group = c.benchmark_group("jobs");
    group.throughput(Throughput::Elements(1));
    group.bench_function("submit (sequential)", |b| {
        b.to_async(&rt).iter(|| one_submit(&st))
    });
    group.finish();

    // Latency percentiles and concurrent throughput, printed for docs/benchmarks.md.
    rt.block_on(async {
        let mut lat: Vec<Duration> = Vec::with_capacity(2000);
        for _ in 0..2000 {
            lat.push(one_submit(&st).await);
        }
        lat.sort();
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "sequential submits: n=2000 p50={:?} p99={:?} max={:?}",
            pct(0.50),
            pct(0.99),
            lat[lat.len() - 1]
        );
        for concurrency in [8usize] {
            let total = 4000usize;
            let t = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..concurrency {
                let st = st.clone();
                tasks.push(tokio::spawn(async move {
                    let mut v = Vec::new();
                    for _ in 0..total / concurrency {
                        v.push(one_submit(&st).await);
                    }
                    v
                }));
            }
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.expect("bench task"));
            }
            let secs = t.elapsed().as_secs_f64();
            all.sort();
            println!(
                "concurrent submits: concurrency={concurrency} n={total} throughput={:.0}/s p50={:?} p99={:?}",
                total as f64 / secs,
                all[all.len() / 2],
                all[(all.len() * 99) / 100]
            );
        }
    });
}

criterion_group!(benches, submit);
criterion_main!(benches);
