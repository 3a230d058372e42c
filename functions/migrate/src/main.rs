//! The `migrate` Lambda: the runtime kit's event loop on its state. Outside
//! Lambda (`make migrate`) it migrates once and prints the report as JSON.

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = migrate::State::from_env;
    let once = |state: &'static migrate::State| migrate::run_with(state.db(), state.app_user());
    runtime::run_with_cli("migrate", state(&Env::Process), migrate::handle, once).await
}
