//! Lambda entry point: build the state once, then serve invocations.

use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portcullis_core::telemetry::init();
    let state = proxy::State::from_env()
        .await
        .inspect_err(|e| tracing::error!(error = %e, "proxy cannot start"))?;
    let state = &state;
    lambda_http::run(service_fn(move |req: Request| async move {
        proxy::handle(state, req).await
    }))
    .await
}
