//! The `reconciler` Lambda binary, invoked every minute by EventBridge Scheduler.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = reconciler::State::from_env().await.map_err(|e| {
        tracing::error!(error = %e, "reconciler cannot start");
        e
    })?;
    let state = &state;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            reconciler::handle(state, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
