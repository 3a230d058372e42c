//! The `jobs` Lambda binary: build the state once, then serve API Gateway events.

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portcullis_core::telemetry::init();
    let state = jobs::State::from_env().await.map_err(|e| {
        tracing::error!(error = %e, "jobs cannot start");
        e
    })?;
    let state = &state;
    run(service_fn(move |req: Request| async move {
        jobs::handle(state, req).await
    }))
    .await
}
