//! AWS X-Ray: the one rule for the `X-Amzn-Trace-Id` header, the trace of
//! the current invocation, and subsegments for the calls a function makes.
//!
//! - [`accept`]: a header value is kept only in the documented syntax (AWS
//!   X-Ray Developer Guide, "Tracing header"): `;`-separated `Key=value`
//!   fields, one of them `Root=1-<8 hex>-<24 hex>`, ASCII, at most
//!   [`MAX_LEN`] characters. A client sends this header, so anything else is
//!   dropped, never an error: it is a hint, not part of the request.
//! - [`scope`] / [`current`]: the runtime kit runs each invocation inside
//!   the scope of its trace header (the Lambda context's `xray_trace_id`,
//!   which Lambda takes from the `Lambda-Runtime-Trace-Id` header of the
//!   Runtime API), so the code below reads it without threading it through
//!   every call. A task-local, not `_X_AMZN_TRACE_ID`: the local gateway runs
//!   several functions' invocations in one process at once.
//! - [`subsegment`]: times a call (an AWS API, the database) and sends an
//!   X-Ray subsegment document for it to the X-Ray daemon
//!   (`AWS_XRAY_DAEMON_ADDRESS`, which Lambda sets when active tracing is on)
//!   over UDP, as the daemon expects ("Sending segment documents to the X-Ray
//!   daemon": a `{"format": "json", "version": 1}` header line, then the
//!   document). Nothing is sent when the invocation is not sampled
//!   (`Sampled=1`), has no `Parent` (Lambda's function segment) or there is
//!   no daemon address; a send that fails is logged at debug and ignored: a
//!   trace never fails a request.

use std::future::Future;
use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The trace header's name, as HTTP carries it.
pub const HEADER: &str = "x-amzn-trace-id";

/// Longest trace header kept. An X-Ray header with Root, Parent, Sampled,
/// Self and Lineage fits in well under 256; a job's task gets it as an
/// environment variable inside ECS's 8192-character overrides.
pub const MAX_LEN: usize = 256;

/// The daemon address variable Lambda sets with active tracing
/// (`host:port`, e.g. `169.254.79.129:2000`).
pub const DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";

/// `value` (trimmed) if it is a well-formed trace header, else `None`.
pub fn accept(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_LEN || !value.is_ascii() {
        return None;
    }
    let mut root = false;
    for field in value.split(';') {
        let (key, val) = field.trim().split_once('=')?;
        let key_ok = !key.is_empty()
            && key.len() <= 32
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let val_ok = !val.is_empty()
            && val.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'|')
            });
        if !key_ok || !val_ok {
            return None;
        }
        if key == "Root" {
            if root || !is_root(val) {
                return None;
            }
            root = true;
        }
    }
    root.then_some(value)
}

/// `1-5759e988-bd862e3fe1be46a994272793`: version 1, 8 hex digits of epoch
/// seconds, 24 hex digits.
fn is_root(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts[..], ["1", t, id] if hex(t, 8) && hex(id, 24))
}

/// A well-formed trace header, and the fields a subsegment needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    value: String,
}

impl TraceHeader {
    /// `value` if [`accept`] keeps it.
    pub fn parse(value: &str) -> Option<TraceHeader> {
        accept(value).map(|v| TraceHeader {
            value: v.to_owned(),
        })
    }

    /// A new root trace, as API Gateway adds it to a request that arrives
    /// without one when tracing is on (`X-Amzn-Trace-Id:
    /// Root=1-5759e988-bd862e3fe1be46a994272793`, AWS X-Ray Developer Guide,
    /// "Amazon API Gateway active tracing support for AWS X-Ray"):
    /// `Root=1-<epoch seconds, 8 hex>-<24 hex>`.
    pub fn new_root() -> TraceHeader {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let id = format!("{:016x}{:08x}", random_u64(), random_u64() as u32);
        TraceHeader {
            value: format!("Root=1-{:08x}-{id}", secs as u32),
        }
    }

    /// The trace a sampled segment `parent` of this trace hands on:
    /// `Root=<root>;Parent=<parent>;Sampled=1` (what Lambda gives a function
    /// whose invocation it traces).
    pub fn sampled_under(&self, parent: &str) -> TraceHeader {
        TraceHeader {
            value: format!("Root={};Parent={parent};Sampled=1", self.root()),
        }
    }

    /// The whole header value.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    fn field(&self, key: &str) -> Option<&str> {
        self.value
            .split(';')
            .filter_map(|f| f.trim().split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// The trace id (`1-...-...`).
    pub fn root(&self) -> &str {
        self.field("Root").unwrap_or_default()
    }

    /// The parent segment's id, when there is one.
    pub fn parent(&self) -> Option<&str> {
        self.field("Parent")
    }

    /// `Sampled=1`.
    pub fn sampled(&self) -> bool {
        self.field("Sampled") == Some("1")
    }

    /// The header to send on a downstream call made inside segment `id`:
    /// the same root and sampling decision, `Parent=<id>`, other fields
    /// (`Lineage`, `Self`) dropped as X-Ray expects of a new hop.
    pub fn with_parent(&self, id: &str) -> TraceHeader {
        let mut value = format!("Root={};Parent={id}", self.root());
        if let Some(s) = self.field("Sampled") {
            value.push_str(";Sampled=");
            value.push_str(s);
        }
        TraceHeader { value }
    }
}

impl std::fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.value)
    }
}

tokio::task_local! {
    static CURRENT: Option<TraceHeader>;
}

/// Run `fut` as an invocation traced by `header` (the Lambda context's
/// `xray_trace_id`); a malformed or missing header runs it untraced.
pub async fn scope<F: Future>(header: Option<&str>, fut: F) -> F::Output {
    CURRENT
        .scope(header.and_then(TraceHeader::parse), fut)
        .await
}

/// The trace header of the invocation being served, if any.
pub fn current() -> Option<TraceHeader> {
    CURRENT.try_with(|t| t.clone()).ok().flatten()
}

/// What a subsegment stands for, X-Ray's `namespace`: `aws` for an AWS SDK
/// call, `remote` for another downstream call (the database, a service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    Aws,
    Remote,
}

impl Namespace {
    fn as_str(self) -> &'static str {
        match self {
            Namespace::Aws => "aws",
            Namespace::Remote => "remote",
        }
    }
}

/// Time `fut` (a call to `name`, e.g. `ECS` with operation `RunTask`, or
/// `PostgreSQL` with operation `submit`) and send its subsegment to the
/// daemon (see the module documentation); an `Err` marks it `fault`.
pub async fn subsegment<T, E, F>(
    name: &str,
    namespace: Namespace,
    operation: &str,
    fut: F,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    if sink().is_none() {
        return fut.await;
    }
    let start = epoch_secs();
    let clock = Instant::now();
    let out = fut.await;
    record(
        name,
        namespace,
        operation,
        start,
        clock.elapsed(),
        out.is_err(),
    );
    out
}

/// Send the subsegment of a call that started at `start` (seconds since the
/// epoch, [`epoch_secs`]) and took `took`, when the invocation is traced
/// (see the module documentation); for callers that time the call
/// themselves (the AWS SDK interceptor of `portcullis_aws::clients`).
pub fn record(
    name: &str,
    namespace: Namespace,
    operation: &str,
    start: f64,
    took: std::time::Duration,
    fault: bool,
) {
    let Some((trace, daemon)) = sink() else {
        return;
    };
    let doc = document(
        &trace,
        Subsegment {
            name,
            namespace,
            operation,
            start,
            end: start + took.as_secs_f64(),
            fault,
        },
    );
    send(daemon, &doc);
}

/// Where a subsegment goes now, or `None` when nothing is to be sent.
fn sink() -> Option<(TraceHeader, SocketAddr)> {
    let trace = current()?;
    if !trace.sampled() || trace.parent().is_none() {
        return None;
    }
    Some((trace, daemon_address()?))
}

/// The daemon's address, read once: `AWS_XRAY_DAEMON_ADDRESS` as
/// `host:port` (an IP address; Lambda sets one), or `udp:host:port tcp:...`
/// of which the UDP part is taken.
fn daemon_address() -> Option<SocketAddr> {
    static ADDRESS: OnceLock<Option<SocketAddr>> = OnceLock::new();
    *ADDRESS.get_or_init(|| {
        std::env::var(DAEMON_ADDRESS)
            .ok()
            .and_then(|v| parse_daemon_address(&v))
    })
}

fn parse_daemon_address(v: &str) -> Option<SocketAddr> {
    let udp = v
        .split_whitespace()
        .find_map(|p| p.strip_prefix("udp:"))
        .unwrap_or(v.trim());
    udp.parse().ok()
}

struct Subsegment<'a> {
    name: &'a str,
    namespace: Namespace,
    operation: &'a str,
    start: f64,
    end: f64,
    fault: bool,
}

/// The daemon datagram: header line, then the subsegment document
/// ("AWS X-Ray segment documents": `type`, `parent_id`, `trace_id` make an
/// independently sent subsegment).
fn document(trace: &TraceHeader, s: Subsegment<'_>) -> String {
    let mut doc = serde_json::json!({
        "name": s.name,
        "id": new_id(),
        "trace_id": trace.root(),
        "parent_id": trace.parent(),
        "type": "subsegment",
        "namespace": s.namespace.as_str(),
        "start_time": s.start,
        "end_time": s.end,
        "aws": {"operation": s.operation},
    });
    if s.fault {
        doc["fault"] = serde_json::Value::Bool(true);
    }
    format!("{{\"format\": \"json\", \"version\": 1}}\n{doc}")
}

fn send(daemon: SocketAddr, datagram: &str) {
    let bind: SocketAddr = if daemon.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sent = UdpSocket::bind(bind).and_then(|s| s.send_to(datagram.as_bytes(), daemon));
    if let Err(e) = sent {
        tracing::debug!(error = %e, "the X-Ray subsegment could not be sent to the daemon");
    }
}

/// Now, in seconds since the epoch (X-Ray's time format).
pub fn epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A new segment id: 16 hex digits.
pub fn new_id() -> String {
    format!("{:016x}", random_u64())
}

/// 64 random-enough bits for ids (not a secret): the process's random hash
/// keys over a counter and the clock.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static STATE: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = STATE.get_or_init(Default::default).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "Root=1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn documented_headers_are_kept() {
        for ok in [
            ROOT.to_owned(),
            format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1"),
            format!("Self=1-67891234-12456789abcdef012345678;{ROOT};Sampled=0"),
            format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"),
        ] {
            assert_eq!(accept(&ok), Some(ok.as_str()), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_dropped() {
        let long = format!("{ROOT};Parent={}", "a".repeat(300));
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98g-bd862e3fe1be46a994272793",
            &format!("{ROOT};{ROOT}"),
            &format!("{ROOT};Parent=a b"),
            &format!("{ROOT};Parent"),
            &format!("{ROOT};=x"),
            &format!("{ROOT};Note=caf\u{e9}"),
            &format!("{ROOT};X=$(id)"),
            &format!("{ROOT};X=a\nb"),
            &long,
        ] {
            assert_eq!(accept(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_new_root_is_accepted_and_unique_and_a_function_traces_under_it() {
        let a = TraceHeader::new_root();
        let b = TraceHeader::new_root();
        assert!(accept(a.as_str()).is_some(), "{a}");
        assert!(!a.sampled(), "API Gateway adds the root only");
        assert_eq!(a.parent(), None);
        assert_ne!(a.root(), b.root());
        let under = a.sampled_under(&new_id());
        assert!(
            under.sampled() && under.parent().map(str::len) == Some(16),
            "{under}"
        );
        assert_eq!(under.root(), a.root());
    }

    #[test]
    fn the_downstream_header_keeps_root_and_sampling_with_a_new_parent() {
        let t = TraceHeader::parse(&format!(
            "{ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1"
        ))
        .unwrap();
        let down = t.with_parent("0123456789abcdef");
        assert_eq!(
            down.as_str(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0123456789abcdef;Sampled=0"
        );
        assert!(accept(down.as_str()).is_some());
    }

    #[test]
    fn the_daemon_address_takes_the_udp_part() {
        assert_eq!(
            parse_daemon_address("169.254.79.129:2000"),
            Some("169.254.79.129:2000".parse().unwrap())
        );
        assert_eq!(
            parse_daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
            Some("127.0.0.2:2001".parse().unwrap())
        );
        assert_eq!(parse_daemon_address("xray.local:2000"), None);
    }

    #[tokio::test]
    async fn the_scope_gives_the_invocation_its_trace_and_nothing_leaks_outside() {
        assert_eq!(current(), None);
        let inside = scope(Some(&format!("{ROOT};Sampled=1")), async { current() }).await;
        assert_eq!(
            inside.map(|t| t.root().to_owned()).as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        let malformed = scope(Some("Root=nope"), async { current() }).await;
        assert_eq!(malformed, None);
        assert_eq!(current(), None);
    }

    #[test]
    fn a_subsegment_document_names_the_call_its_trace_and_parent() {
        let t = TraceHeader::parse(&format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1")).unwrap();
        let datagram = document(
            &t,
            Subsegment {
                name: "ECS",
                namespace: Namespace::Aws,
                operation: "RunTask",
                start: 1.5,
                end: 2.0,
                fault: true,
            },
        );
        let (head, body) = datagram.split_once('\n').unwrap();
        assert_eq!(head, r#"{"format": "json", "version": 1}"#);
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["namespace"], "aws");
        assert_eq!(doc["name"], "ECS");
        assert_eq!(doc["aws"]["operation"], "RunTask");
        assert_eq!(doc["fault"], true);
        assert_eq!(doc["id"].as_str().map(str::len), Some(16));
    }

    /// One test owns `AWS_XRAY_DAEMON_ADDRESS` (read once per process).
    #[tokio::test]
    async fn a_sampled_call_reaches_the_daemon_and_an_unsampled_one_does_not() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        // SAFETY: set before any reader of the variable in this test binary
        // (it is read once, by the first subsegment below).
        unsafe { std::env::set_var(DAEMON_ADDRESS, daemon.local_addr().unwrap().to_string()) };
        let unsampled = format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=0");
        let r: Result<u8, ()> = scope(Some(&unsampled), async {
            subsegment("ECS", Namespace::Aws, "StopTask", async { Ok(1) }).await
        })
        .await;
        assert_eq!(r, Ok(1));
        let sampled = format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let r: Result<u8, &str> = scope(Some(&sampled), async {
            subsegment("PostgreSQL", Namespace::Remote, "submit", async {
                Err("down")
            })
            .await
        })
        .await;
        assert_eq!(r, Err("down"));
        let mut buf = [0u8; 4096];
        let n = daemon
            .recv(&mut buf)
            .expect("the sampled subsegment arrives");
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(text.split_once('\n').unwrap().1).unwrap();
        assert_eq!(
            doc["name"], "PostgreSQL",
            "the unsampled call sent nothing: {text}"
        );
        assert_eq!(doc["fault"], true);
        assert!(doc["end_time"].as_f64() >= doc["start_time"].as_f64());
    }
}
