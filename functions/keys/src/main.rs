//! The `keys` Lambda: the runtime kit's HTTP loop on its state.

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = keys::State::from_env;
    runtime::run_http("keys", state(&Env::Process), keys::handle).await
}
