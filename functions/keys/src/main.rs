//! The `keys` Lambda: build the state once, then serve API Gateway events.

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portcullis_core::telemetry::init();
    let state = match keys::State::from_env().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "keys: start-up failed");
            return Err(e.into());
        }
    };
    let state = &state;
    run(service_fn(move |req: Request| async move {
        keys::handle(state, req).await
    }))
    .await
}
