//! The `reconciler` Lambda binary, invoked every minute by EventBridge Scheduler.
//! Outside Lambda (`make local`'s loop), it sweeps once, prints the report as
//! JSON and exits (non-zero when the sweep failed).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    portcullis_core::telemetry::init();
    let state = match reconciler::State::from_env().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reconciler cannot start");
            eprintln!("reconciler: {e}");
            std::process::exit(1);
        }
    };
    if !portcullis_core::telemetry::in_lambda() {
        match reconciler::reconcile(&state).await {
            Ok(report) => println!("{}", serde_json::to_string(&report)?),
            Err(e) => {
                eprintln!("reconciler: {e}");
                std::process::exit(1);
            }
        }
        return Ok(());
    }
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
