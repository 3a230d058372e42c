//! The `authorizer` Lambda: the runtime kit's event loop on its state.

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = authorizer::State::from_env;
    runtime::run_event("authorizer", state(&Env::Process), authorizer::handle).await
}
