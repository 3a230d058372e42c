//! The `reconciler` Lambda, invoked every minute by EventBridge Scheduler:
//! the runtime kit's event loop on its state. Outside Lambda (`make local`'s
//! loop) it sweeps once, prints the report as JSON and exits (non-zero when
//! the sweep failed).

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = reconciler::State::from_env;
    let (handle, once) = (reconciler::handle, reconciler::reconcile);
    runtime::run_with_cli("reconciler", state(&Env::Process), handle, once).await
}
