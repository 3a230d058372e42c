//! Tracing set-up: JSON lines in Lambda (the runtime's per-invocation span
//! carries `requestId` and `xrayTraceId`, so every line has them), readable
//! lines locally. `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`) sets the filter,
//! except for the dependencies in [`CAPPED_TARGETS`]: their TRACE lines carry
//! raw events and requests with credentials, so they never log below the
//! level given there, whatever the filter says.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

/// The most verbose level each of these targets (and its sub-modules) may log
/// at, whatever `RUST_LOG` says:
/// - `lambda_runtime` logs every invocation's raw JSON event at TRACE ("raw
///   JSON event received from Lambda": API keys, bearer tokens, request
///   bodies); `lambda_runtime_api_client` and `lambda_http` sit on the same
///   path: INFO.
/// - The AWS SDK's orchestrator and SigV4 signer log whole requests and
///   responses at TRACE (`x-amz-security-token`, Secrets Manager answers), and
///   hyper / h2 the bytes on the wire: DEBUG.
pub const CAPPED_TARGETS: &[(&str, LevelFilter)] = &[
    ("lambda_runtime", LevelFilter::INFO),
    ("lambda_runtime_api_client", LevelFilter::INFO),
    ("lambda_http", LevelFilter::INFO),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_sigv4", LevelFilter::DEBUG),
    ("hyper", LevelFilter::DEBUG),
    ("hyper_util", LevelFilter::DEBUG),
    ("h2", LevelFilter::DEBUG),
];

/// True when running inside the Lambda execution environment.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// The filter `RUST_LOG` (else `AWS_LAMBDA_LOG_LEVEL`, else `info`) asks for.
fn filter_from_env() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .map_err(|e| e.to_string())
                .and_then(|l| EnvFilter::try_new(l.to_lowercase()).map_err(|e| e.to_string()))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The subscriber [`init`] installs, writing to `writer`: `filter`, then the
/// caps of [`CAPPED_TARGETS`]; JSON lines when `lambda`, compact lines otherwise.
pub fn subscriber<W>(
    filter: EnvFilter,
    lambda: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let caps = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED_TARGETS.iter().copied());
    if lambda {
        Box::new(
            fmt()
                .json()
                .with_env_filter(filter)
                .with_current_span(true)
                .with_span_list(false)
                .flatten_event(true)
                .with_target(false)
                .without_time() // CloudWatch stamps each line
                .with_writer(writer)
                .finish()
                .with(caps),
        )
    } else {
        Box::new(
            fmt()
                .compact()
                .with_env_filter(filter)
                .with_target(false)
                .with_writer(writer)
                .finish()
                .with(caps),
        )
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, without a time (CloudWatch stamps each
    /// line): Lambda, and a service's task in ECS (awslogs).
    Json,
    /// Compact readable lines: a terminal.
    Text,
}

impl Format {
    /// JSON in Lambda, readable lines anywhere else.
    pub fn detect() -> Format {
        if in_lambda() {
            Format::Json
        } else {
            Format::Text
        }
    }
}

/// Install the global subscriber once, in the format [`Format::detect`]
/// picks: the log initialisation of every function and of the local gateway
/// (through `runtime`). Calling it again is harmless.
pub fn init() {
    init_as(Format::detect());
}

/// [`init`] in the given format (a private service logs JSON in ECS).
/// Metrics and tracing exporters will be installed here, next to the logs.
pub fn init_as(format: Format) {
    let result = subscriber(filter_from_env(), format == Format::Json, std::io::stdout).try_init();
    // Err only means a subscriber is already installed (tests, local gateway).
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Lines written by a subscriber, for the assertions.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    /// What lands in the log for `rust_log`: the runtime's raw event line (its
    /// real target and message), an SDK request line, and lines of our own.
    fn logged(rust_log: &str, lambda: bool) -> String {
        let buf = Buffer::default();
        let sub = subscriber(EnvFilter::new(rust_log), lambda, buf.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = "{\"headers\":{\"x-api-key\":\"pcs_SECRET_EVENT\"}}",
                "raw JSON event received from Lambda"
            );
            tracing::trace!(
                target: "aws_smithy_runtime::client::orchestrator",
                request = "x-amz-security-token: SECRET_TOKEN",
                "transmitting request"
            );
            tracing::info!(target: "lambda_runtime::runtime", "runtime info line");
            tracing::debug!(target: "aws_smithy_runtime::client::retries", "sdk debug line");
            tracing::trace!(target: "authorizer::jwt", "our own trace line");
        });
        let out = buf.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn trace_never_logs_the_runtimes_raw_events_or_sdk_requests() {
        for rust_log in [
            "trace",
            "info,lambda_runtime=trace,aws_smithy_runtime=trace",
            "info,lambda_runtime::layers::api_response=trace,aws_smithy_runtime::client=trace",
            "info,lambda_runtime::layers=trace",
        ] {
            for lambda in [true, false] {
                let out = logged(rust_log, lambda);
                assert!(
                    !out.contains("SECRET"),
                    "{rust_log} (lambda: {lambda}):\n{out}"
                );
                assert!(out.contains("runtime info line"), "{rust_log}:\n{out}");
            }
        }
        // The rest still follows RUST_LOG.
        let out = logged("trace", true);
        assert!(out.contains("our own trace line"), "{out}");
        assert!(out.contains("sdk debug line"), "{out}");
        let out = logged("info", true);
        assert!(!out.contains("our own trace line"), "{out}");
        assert!(!out.contains("sdk debug line"), "{out}");
    }
}
