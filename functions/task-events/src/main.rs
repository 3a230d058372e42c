//! The `task-events` Lambda: the runtime kit's event loop on its state
//! (EventBridge "ECS Task State Change" events).

use portcullis_core::{Env, runtime};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let state = task_events::State::from_env;
    runtime::run_event("task-events", state(&Env::Process), task_events::handle).await
}
