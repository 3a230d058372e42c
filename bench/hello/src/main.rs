//! `hello`: the smallest `lambda_runtime` function, the cold-start baseline
//! of `bench/coldstart`. It answers every event with a fixed JSON object.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({ "hello": "world", "request_id": event.context.request_id }))
    }))
    .await
}
