//! `migrate`: in Lambda, serve invocations; elsewhere (`make migrate`),
//! migrate once and print the report as JSON.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    portcullis_core::telemetry::init();
    let state = match migrate::State::from_env().await {
        Ok(state) => state,
        Err(e) => fail(&e),
    };
    if !portcullis_core::telemetry::in_lambda() {
        match migrate::run_with(state.db(), state.app_user()).await {
            Ok(report) => println!("{}", serde_json::to_string(&report)?),
            Err(e) => fail(&e),
        }
        return Ok(());
    }
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        migrate::handle(state, event.payload).await
    }))
    .await
}

fn fail(e: &migrate::Error) -> ! {
    eprintln!("migrate: {e}");
    std::process::exit(1)
}
