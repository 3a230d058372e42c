//! The `jobs` Lambda: the runtime kit's HTTP loop on its state.

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = jobs::State::from_env;
    runtime::run_http("jobs", state(&Env::Process), jobs::handle).await
}
