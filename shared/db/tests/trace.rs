//! A database operation of a traced invocation is an X-Ray subsegment
//! `PostgreSQL` (namespace `remote`) named after the operation, sent to the
//! daemon (a UDP socket here); an untraced one sends nothing. Its own test
//! binary: `AWS_XRAY_DAEMON_ADDRESS` is read once per process.

use std::net::UdpSocket;
use std::time::Duration;

use portcullis_core::trace;

const TRACE: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[tokio::test]
async fn a_traced_statement_is_a_postgresql_subsegment() {
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
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let pool = sqlx::PgPool::connect(&url)
        .await
        .expect("PostgreSQL on DATABASE_URL (make test starts it)");

    // Untraced: nothing is sent.
    let one: (i32,) = portcullis_db::traced(
        "select.untraced",
        sqlx::query_as("select 1").fetch_one(&pool),
    )
    .await
    .expect("select 1");
    assert_eq!(one.0, 1);
    // Traced: one subsegment, and a failed statement is a fault.
    let failed: Result<(i32,), sqlx::Error> = trace::scope(Some(TRACE), async {
        portcullis_db::traced(
            "select.broken",
            sqlx::query_as("select nope").fetch_one(&pool),
        )
        .await
    })
    .await;
    assert!(failed.is_err());

    let mut buf = [0u8; 8192];
    let n = daemon
        .recv(&mut buf)
        .expect("the traced statement's subsegment arrives");
    let text = std::str::from_utf8(&buf[..n]).expect("utf-8");
    let doc: serde_json::Value =
        serde_json::from_str(text.split_once('\n').expect("header, document").1).expect("JSON");
    assert_eq!(doc["name"], "PostgreSQL");
    assert_eq!(doc["namespace"], "remote");
    assert_eq!(
        doc["aws"]["operation"], "select.broken",
        "the untraced one sent nothing: {doc}"
    );
    assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
    assert_eq!(doc["fault"], true);
}
