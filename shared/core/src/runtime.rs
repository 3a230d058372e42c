//! How every Portcullis binary starts and stops: the function runtime kit.
//!
//! Every function's `main` is one call, of the same shape:
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     portcullis_core::runtime::run_http("jobs", jobs::State::from_env(&Env::Process), jobs::handle).await
//! }
//! ```
//!
//! - [`StartError`]: the one start-up failure type. Every function's
//!   `State::from_env(&Env)` returns it; any error converts into it with
//!   `?`, and it names the variable at fault when a [`ConfigError`] caused it.
//! - [`run_event`] (feature `lambda`): a function answering Lambda events
//!   (the authorizer, task-events); [`run_http`] (feature `http`): one behind
//!   an API Gateway proxy integration (jobs, keys, proxy); [`run_with_cli`]
//!   (feature `lambda`): one that, outside Lambda, runs once from the command
//!   line and prints its report as JSON (the reconciler, migrate).
//! - [`shutdown_signal`] (feature `runtime`): SIGTERM or Ctrl-C, for the
//!   long-running servers (a private service, the local gateway).
//!
//! Each `run_*` does the same steps in the same order: log initialisation
//! ([`crate::telemetry::init`]), then the state (logged and exit status 1 on
//! failure, which Lambda reports as an init error), then the handler loop.
//! Metrics ([`crate::metrics::init`]: the environment, the tenant opt-in
//! and the `Function` property) are set up in [`start`], next to the log
//! initialisation, so every function gains them at once.

use crate::config::ConfigError;
use std::error::Error as StdError;
use std::fmt;

/// Why a function (or a service, or the local gateway) cannot start. Any
/// error converts into it (`?`); its message is the cause's, which says what
/// went wrong and what to do.
pub struct StartError(Box<dyn StdError + Send + Sync + 'static>);

impl<E: StdError + Send + Sync + 'static> From<E> for StartError {
    fn from(e: E) -> Self {
        StartError(Box::new(e))
    }
}

/// A failure described in words only.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

impl StartError {
    /// A failure described by `message` (what went wrong, what to do).
    pub fn msg(message: impl Into<String>) -> Self {
        StartError(Box::new(Message(message.into())))
    }

    /// From an already boxed error (`lambda_runtime::Error`).
    pub fn from_boxed(e: Box<dyn StdError + Send + Sync + 'static>) -> Self {
        StartError(e)
    }

    /// The variable at fault, when a [`ConfigError`] is the error or in its
    /// chain of sources.
    pub fn var(&self) -> Option<&str> {
        self.downcast_ref::<ConfigError>().map(ConfigError::var)
    }

    /// The first error of type `T` in the chain (the error, then its sources).
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        let mut next: Option<&(dyn StdError + 'static)> = Some(self.0.as_ref());
        while let Some(e) = next {
            if let Some(t) = e.downcast_ref::<T>() {
                return Some(t);
            }
            next = e.source();
        }
        None
    }

    /// The cause, boxed (what `main` and `lambda_runtime` return).
    pub fn into_boxed(self) -> Box<dyn StdError + Send + Sync + 'static> {
        self.0
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for StartError {
    // The message, not the cause's structure: `main` prints it on failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The first steps of every binary: log initialisation, the metrics'
/// settings (a malformed `METRICS_TENANT_DIMENSION` stops the start like a
/// state error), then its state from `start`. `Err` when the state
/// cannot be built, already logged (and, outside Lambda, printed to stderr).
/// The state lives as long as the process: it is leaked, so every handler
/// borrows it for `'static`.
pub async fn start<S: 'static>(
    name: &str,
    start: impl Future<Output = Result<S, StartError>>,
) -> Result<&'static S, StartError> {
    crate::telemetry::init();
    let state = match crate::metrics::init(name) {
        Ok(()) => start.await,
        Err(e) => Err(StartError::from(e)),
    };
    match state {
        Ok(state) => Ok(Box::leak(Box::new(state))),
        Err(e) => {
            tracing::error!(function = name, error = %e, "{name} cannot start");
            if !crate::telemetry::in_lambda() {
                eprintln!("{name} cannot start: {e}");
            }
            Err(e)
        }
    }
}

#[cfg(feature = "lambda")]
pub use lambda::{run_event, run_with_cli};

#[cfg(feature = "lambda")]
mod lambda {
    use super::{StartError, start};
    use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use std::fmt::{Debug, Display};
    use std::process::ExitCode;

    /// A Lambda function answering events of type `A` with `handler`, on
    /// the state `start` builds: the whole `main` of an event function.
    pub async fn run_event<S, A, R, E, H, Fut>(
        name: &str,
        state: impl Future<Output = Result<S, StartError>>,
        handler: H,
    ) -> ExitCode
    where
        S: Send + Sync + 'static,
        A: DeserializeOwned,
        R: Serialize,
        E: Into<Diagnostic> + Debug,
        H: Fn(&'static S, A) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let Ok(state) = start(name, state).await else {
            return ExitCode::FAILURE;
        };
        serve_events(name, state, handler).await
    }

    /// The invocation loop of [`run_event`] and [`run_with_cli`].
    async fn serve_events<S, A, R, E, H, Fut>(name: &str, state: &'static S, handler: H) -> ExitCode
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Into<Diagnostic> + Debug,
        H: Fn(&'static S, A) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let served = lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| {
            // Each invocation in the scope of its own trace (crate::trace).
            let trace = event.context.xray_trace_id.clone();
            let answer = handler(state, event.payload);
            async move { crate::trace::scope(trace.as_deref(), answer).await }
        }))
        .await;
        exit(name, served)
    }

    /// Like [`run_event`] in Lambda; anywhere else (`make migrate`, the
    /// local platform's reconciler loop) `once` runs one time, its report is
    /// printed as one JSON line on stdout, and a failure is printed on
    /// stderr with exit status 1.
    pub async fn run_with_cli<S, A, R, E, H, Fut, O, OFut, OR, OE>(
        name: &str,
        state: impl Future<Output = Result<S, StartError>>,
        handler: H,
        once: O,
    ) -> ExitCode
    where
        S: Send + Sync + 'static,
        A: DeserializeOwned,
        R: Serialize,
        E: Into<Diagnostic> + Debug,
        H: Fn(&'static S, A) -> Fut,
        Fut: Future<Output = Result<R, E>>,
        O: FnOnce(&'static S) -> OFut,
        OFut: Future<Output = Result<OR, OE>>,
        OR: Serialize,
        OE: Display,
    {
        let Ok(state) = start(name, state).await else {
            return ExitCode::FAILURE;
        };
        if crate::telemetry::in_lambda() {
            return serve_events(name, state, handler).await;
        }
        let report = match once(state).await {
            Ok(report) => serde_json::to_string(&report).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match report {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        }
    }

    /// The exit status for the runtime loop's end (it only ends on a
    /// failure of the Runtime API itself).
    pub(super) fn exit(name: &str, served: Result<(), lambda_runtime::Error>) -> ExitCode {
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(function = name, error = %e, "{name}: the Lambda runtime stopped");
                ExitCode::FAILURE
            }
        }
    }
}

/// A function behind an API Gateway proxy integration, answering with
/// `handler` on the state `start` builds: the whole `main` of an HTTP
/// function.
#[cfg(feature = "http")]
pub async fn run_http<S, R, H, Fut>(
    name: &str,
    state: impl Future<Output = Result<S, StartError>>,
    handler: H,
) -> std::process::ExitCode
where
    S: Send + Sync + 'static,
    R: lambda_http::IntoResponse,
    H: Fn(&'static S, lambda_http::Request) -> Fut,
    Fut: Future<Output = Result<R, lambda_http::Error>> + Send,
{
    let Ok(state) = start(name, state).await else {
        return std::process::ExitCode::FAILURE;
    };
    let served = lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        use lambda_http::RequestExt;
        // Each invocation in the scope of its own trace (crate::trace).
        let trace = req
            .lambda_context_ref()
            .and_then(|c| c.xray_trace_id.clone());
        let answer = handler(state, req);
        async move { crate::trace::scope(trace.as_deref(), answer).await }
    }))
    .await;
    lambda::exit(name, served)
}

/// Resolves on SIGTERM (ECS stopping a task, `kill`) or Ctrl-C: the one
/// graceful-shutdown signal of the long-running servers. A signal that
/// cannot be listened for is logged and never fires.
#[cfg(feature = "runtime")]
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the keys cannot be loaded: {0}")]
    struct Wrapper(#[source] ConfigError);

    #[test]
    fn a_start_error_names_the_variable_of_a_configuration_error_in_its_chain() {
        let config = ConfigError::invalid("DB_USER", "a role name", "empty");
        let direct = StartError::from(config.clone());
        assert_eq!(direct.var(), Some("DB_USER"));
        assert_eq!(direct.to_string(), config.to_string());
        let wrapped = StartError::from(Wrapper(config));
        assert_eq!(wrapped.var(), Some("DB_USER"));
        assert!(wrapped.downcast_ref::<Wrapper>().is_some());
    }

    #[test]
    fn a_start_error_in_words_names_no_variable_and_prints_its_message() {
        let e = StartError::msg("the upstream is not a URL; set PROXY_ALB_URL to http(s)://...");
        assert_eq!(e.var(), None);
        assert_eq!(
            format!("{e:?}"),
            "the upstream is not a URL; set PROXY_ALB_URL to http(s)://..."
        );
    }

    #[test]
    fn a_failed_start_is_an_error_and_a_successful_one_leaks_the_state_for_the_handlers() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let failed = rt.block_on(start::<u8>("test", async {
            Err(StartError::msg("no database"))
        }));
        assert_eq!(
            failed.err().map(|e| e.to_string()).as_deref(),
            Some("no database")
        );
        let state: &'static u8 = rt
            .block_on(start("test", async { Ok(7u8) }))
            .expect("started");
        assert_eq!(*state, 7);
    }
}
