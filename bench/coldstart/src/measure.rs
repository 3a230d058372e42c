//! One cold start: spawn the binary against a fresh mock Runtime API, wait
//! for its first `/next`, hand it one event, wait for the answer, read its
//! peak RSS, kill it.

use crate::runtime_api::{Invocation, MockApi, Seen};
use anyhow::Context as _;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// How much of a child's output is kept to explain a failure.
const TAIL_BYTES: usize = 2048;

/// What one spawn measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Spawn to the first `GET .../invocation/next`.
    pub init: Option<Duration>,
    /// Event handed out to its `/response` or `/error` arriving.
    pub invoke: Option<Duration>,
    /// `VmHWM` of the process just before it was killed, in kB.
    pub peak_rss_kb: Option<u64>,
    pub outcome: Outcome,
    /// The start of the `/response` or `/error` body (for `--verbose`).
    pub answer: Option<String>,
    /// The last lines the process wrote (for `--verbose`).
    pub output: String,
}

/// How the first invocation ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// `/response`, summarised (`HTTP 200`, `policy Allow`, `ok`).
    Answered(String),
    /// `/error`: `errorType: errorMessage`.
    Errored(String),
    /// The process exited before answering (start-up failure).
    Exited(String),
    /// Nothing happened within the timeout in this phase.
    TimedOut(&'static str),
}

impl Outcome {
    pub fn label(&self) -> String {
        match self {
            Outcome::Answered(s) => s.clone(),
            Outcome::Errored(s) => format!("error {s}"),
            Outcome::Exited(s) => format!("init failed: {}", shorten(s, 300)),
            Outcome::TimedOut(phase) => format!("timed out in {phase}"),
        }
    }
}

/// Spawn `bin` once. `env(addr)` gives its whole environment for the mock
/// listening at `addr` (the parent's environment is not inherited).
pub async fn cold_start(
    bin: &Path,
    invocation: Invocation,
    env: impl FnOnce(SocketAddr) -> Vec<(String, String)>,
    timeout: Duration,
) -> anyhow::Result<Sample> {
    let expected_id = invocation.request_id.clone();
    let mut api = MockApi::start(invocation)
        .await
        .context("cannot bind the mock Runtime API on 127.0.0.1")?;
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .envs(env(api.addr()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);

    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id();
    let mut stdout = child.stdout.take().map(tail);
    let mut stderr = child.stderr.take().map(tail);

    let mut init = None;
    let mut handed = None;
    let mut invoke = None;
    let mut init_error = None;
    let mut answer = None;
    let mut deadline = started + timeout;
    let outcome = loop {
        tokio::select! {
            seen = api.seen() => match seen {
                Some(Seen::Next(at)) => {
                    if init.is_none() {
                        init = Some(at - started);
                        deadline = at + timeout;
                    }
                }
                Some(Seen::Handed(at)) => handed = Some(at),
                Some(Seen::Response { at, request_id, body }) => {
                    invoke = handed.map(|h| at - h);
                    answer = Some(shorten(&String::from_utf8_lossy(&body), 600));
                    break answered(&request_id, &expected_id, &body);
                }
                Some(Seen::Error { at, request_id, body }) => {
                    invoke = handed.map(|h| at - h);
                    answer = Some(shorten(&String::from_utf8_lossy(&body), 600));
                    let mut text = error_text(&body);
                    if request_id != expected_id {
                        text = format!("{text} (for request id {request_id:?}, not ours)");
                    }
                    break Outcome::Errored(text);
                }
                Some(Seen::InitError { body, .. }) => init_error = Some(error_text(&body)),
                Some(Seen::Unexpected { method, path }) => {
                    eprintln!("coldstart: {} called {method} {path}, which the mock does not serve", bin.display());
                }
                None => break Outcome::TimedOut("the mock Runtime API (it stopped)"),
            },
            status = child.wait() => {
                let status = status.map_or_else(|e| format!("wait failed: {e}"), |s| s.to_string());
                let mut why = match init_error.take() {
                    Some(e) => format!("{status}, /init/error {e}"),
                    None => status,
                };
                let out = join_tail(stderr.take(), stdout.take()).await;
                if !out.is_empty() {
                    why = format!("{why}; last output: {out}");
                }
                break Outcome::Exited(why);
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                break Outcome::TimedOut(if init.is_none() { "init" } else { "the first invocation" });
            }
        }
    };

    // Still running (it answered, or hung): read its high-water mark, then kill it.
    let peak_rss_kb = match (&outcome, pid) {
        (Outcome::Exited(_), _) | (_, None) => None,
        (_, Some(pid)) => peak_rss_kb(pid),
    };
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    let output = join_tail(stderr, stdout).await;
    api.shutdown().await;
    Ok(Sample {
        init,
        invoke,
        peak_rss_kb,
        outcome,
        answer,
        output,
    })
}

/// `VmHWM` (peak resident set) from `/proc/<pid>/status`, in kB.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm(&status)
}

pub fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Summarise a `/response` body: `HTTP <status>` (API Gateway proxy
/// response), `policy <Effect>` (authorizer), or `ok`.
pub fn answered(request_id: &str, expected: &str, body: &[u8]) -> Outcome {
    if request_id != expected {
        return Outcome::Errored(format!(
            "answered request id {request_id:?}, but the event carried {expected:?}"
        ));
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return Outcome::Answered("ok (not JSON)".to_owned()),
    };
    if let Some(code) = v.get("statusCode").and_then(Value::as_u64) {
        return Outcome::Answered(format!("HTTP {code}"));
    }
    if let Some(effect) = v
        .pointer("/policyDocument/Statement/0/Effect")
        .and_then(Value::as_str)
    {
        return Outcome::Answered(format!("policy {effect}"));
    }
    Outcome::Answered("ok".to_owned())
}

/// `errorType: errorMessage` of a Runtime API error body (shortened).
pub fn error_text(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            format!("{}: {}", field("errorType"), field("errorMessage"))
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    shorten(&text, 160)
}

fn shorten(s: &str, max: usize) -> String {
    let s = s.trim().replace(['\n', '\r', '|'], " ");
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// Keep the last [`TAIL_BYTES`] of a pipe, draining it so the child never blocks.
fn tail(mut pipe: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > TAIL_BYTES {
                kept.drain(..kept.len() - TAIL_BYTES);
            }
        }
        kept
    })
}

async fn join_tail(a: Option<JoinHandle<Vec<u8>>>, b: Option<JoinHandle<Vec<u8>>>) -> String {
    let mut out = String::new();
    for h in [a, b].into_iter().flatten() {
        if let Ok(Ok(bytes)) = tokio::time::timeout(Duration::from_secs(1), h).await {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            for line in &lines[lines.len().saturating_sub(2)..] {
                if !out.is_empty() {
                    out.push_str(" / ");
                }
                out.push_str(line);
            }
        }
    }
    shorten(&out, 600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kilobytes() {
        let status = "Name:\thello\nVmPeak:\t  10000 kB\nVmHWM:\t    4321 kB\nVmRSS:\t 4000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(4321));
        assert_eq!(parse_vm_hwm("Name:\tzombie\n"), None);
    }

    #[test]
    fn responses_are_summarised_by_kind() {
        let http = br#"{"statusCode":404,"headers":{},"body":"x"}"#;
        assert_eq!(
            answered("a", "a", http),
            Outcome::Answered("HTTP 404".into())
        );
        let policy = br#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}}"#;
        assert_eq!(
            answered("a", "a", policy),
            Outcome::Answered("policy Allow".into())
        );
        assert_eq!(answered("a", "a", b"{}"), Outcome::Answered("ok".into()));
        assert!(matches!(answered("b", "a", b"{}"), Outcome::Errored(_)));
    }

    #[test]
    fn errors_keep_type_and_message() {
        let body = br#"{"errorType":"&str","errorMessage":"Unauthorized"}"#;
        assert_eq!(error_text(body), "&str: Unauthorized");
        let long = "x".repeat(500);
        assert!(error_text(long.as_bytes()).chars().count() <= 161);
    }
}
