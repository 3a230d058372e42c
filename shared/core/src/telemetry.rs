//! Tracing set-up: JSON lines in Lambda (the runtime's per-invocation span
//! carries `requestId` and `xrayTraceId`, so every line has them), readable
//! lines locally. `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL`) sets the filter.

use tracing_subscriber::{EnvFilter, fmt};

/// True when running inside the Lambda execution environment.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Install the global subscriber once. Calling it again is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .map_err(|e| e.to_string())
                .and_then(|l| EnvFilter::try_new(l.to_lowercase()).map_err(|e| e.to_string()))
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let result = if in_lambda() {
        fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_target(false)
            .without_time() // CloudWatch stamps each line
            .try_init()
    } else {
        fmt()
            .compact()
            .with_env_filter(filter)
            .with_target(false)
            .try_init()
    };
    // Err only means a subscriber is already installed (tests, local gateway).
    let _ = result;
}
