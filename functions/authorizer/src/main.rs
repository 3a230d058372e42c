//! The `authorizer` Lambda: build the state once, then serve invocations.

use authorizer::{State, handle};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portcullis_core::telemetry::init();
    let state = State::from_env().await.inspect_err(|e| {
        tracing::error!(error = %e, "authorizer start-up failed");
    })?;
    let state = &state;
    run(service_fn(move |event: LambdaEvent<authorizer::Request>| async move {
        handle(state, event.payload).await
    }))
    .await
}
