//! The `proxy` Lambda: the runtime kit's HTTP loop on its state.

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = proxy::State::from_env;
    runtime::run_http("proxy", state(&Env::Process), proxy::handle).await
}
