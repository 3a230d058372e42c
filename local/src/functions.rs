//! The functions the local gateway serves, each built from its own Lambda
//! environment (see [`crate::deployed`]): one line per function.

use std::sync::Arc;

use aws_config::SdkConfig;
use portcullis_core::Env;

use crate::deployed::{Deployed, DeployedError, LocalOverrides};
use crate::gateway::Gateway;

/// The HTTP functions and the authorizer the REST API integrates.
pub const SERVED: [&str; 4] = ["authorizer", "keys", "jobs", "proxy"];

/// Why a function did not start.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Deployed(#[from] DeployedError),
    #[error("function {function} cannot start: {reason}")]
    Start { function: String, reason: String },
}

fn start_error(function: &str) -> impl FnOnce(String) -> WireError + '_ {
    move |reason| WireError::Start {
        function: function.to_owned(),
        reason,
    }
}

/// The environment `name` runs with: its Lambda configuration, its role's
/// credentials (assumed with `admin`), the local overrides.
pub async fn env_of(
    deployed: &Deployed,
    name: &str,
    admin: &SdkConfig,
    overrides: &LocalOverrides,
) -> Result<Env, WireError> {
    let credentials = deployed.assume_role(name, admin).await?;
    Ok(deployed.env_for(name, &credentials, overrides)?)
}

/// Build function `name` from `env` and register it on `gateway`.
pub async fn wire_one(gateway: &mut Gateway, name: &str, env: &Env) -> Result<(), WireError> {
    let fail = start_error(name);
    match name {
        "authorizer" => {
            let state = authorizer::State::from_env(env)
                .await
                .map_err(|e| fail(e.to_string()))?;
            gateway.authorizer(Arc::new(state), authorizer::handle);
        }
        "keys" => {
            let state = keys::State::from_env(env)
                .await
                .map_err(|e| fail(e.to_string()))?;
            gateway.http("keys", Arc::new(state), keys::handle);
        }
        "jobs" => {
            let state = jobs::State::from_env(env)
                .await
                .map_err(|e| fail(e.to_string()))?;
            gateway.http("jobs", Arc::new(state), jobs::handle);
        }
        "proxy" => {
            let state = proxy::State::from_env(env)
                .await
                .map_err(|e| fail(e.to_string()))?;
            gateway.http("proxy", Arc::new(state), proxy::handle);
        }
        other => {
            return Err(fail(format!(
                "the local gateway does not serve {other:?} (it serves {SERVED:?})"
            )));
        }
    }
    Ok(())
}

/// Every function the applied REST API integrates, each on its own role.
/// Returns the functions that could not start, with why (their routes then
/// answer 500, secured routes 401 without the authorizer, as in AWS when a
/// function fails at init).
pub async fn wire_deployed(
    gateway: &mut Gateway,
    deployed: &Deployed,
    admin: &SdkConfig,
    overrides: &LocalOverrides,
) -> Vec<WireError> {
    let mut failures = Vec::new();
    for name in gateway.referenced_functions() {
        let result = async {
            let env = env_of(deployed, &name, admin, overrides).await?;
            // The functions' metrics carry their deployment's Environment
            // (every function has the same DEPLOYMENT_ENVIRONMENT); the
            // first function's settings are the process's.
            match portcullis_core::metrics::Settings::from_env(&env) {
                Ok(settings) => portcullis_core::metrics::use_settings(settings),
                Err(e) => tracing::warn!(function = %name, error = %e, "metrics settings"),
            }
            wire_one(gateway, &name, &env).await
        }
        .await;
        if let Err(e) = result {
            failures.push(e);
        }
    }
    failures
}
