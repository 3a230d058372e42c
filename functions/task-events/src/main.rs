//! The `task-events` Lambda binary: EventBridge "ECS Task State Change" events.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portcullis_core::telemetry::init();
    let state = task_events::State::from_env().await.map_err(|e| {
        tracing::error!(error = %e, "task-events cannot start");
        e
    })?;
    let state = &state;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            task_events::handle(state, event.payload)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
