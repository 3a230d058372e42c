//! `portcullis-local`: the local API Gateway on 127.0.0.1:${PORTCULLIS_LOCAL_PORT:-3000}.

use std::process::ExitCode;
use std::sync::Arc;

use local::{Api, Deployment, Gateway, Throttle};

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Build a function's state; on failure log why (its routes then answer 500,
/// secured routes 401 without the authorizer) and carry on.
macro_rules! wire {
    ($name:literal, $state:expr, |$s:ident| $register:expr) => {
        match $state.await {
            Ok($s) => {
                $register;
            }
            Err(e) => tracing::error!(function = $name, error = %e, "function not started"),
        }
    };
}

/// One line per function.
async fn wire(gateway: &mut Gateway) {
    wire!("authorizer", authorizer::State::from_env(), |s| gateway
        .authorizer(Arc::new(s), authorizer::handle));
    wire!("keys", keys::State::from_env(), |s| gateway.http(
        "keys",
        Arc::new(s),
        keys::handle
    ));
    wire!("jobs", jobs::State::from_env(), |s| gateway.http(
        "jobs",
        Arc::new(s),
        jobs::handle
    ));
    wire!("proxy", proxy::State::from_env(), |s| gateway.http(
        "proxy",
        Arc::new(s),
        proxy::handle
    ));
}

/// Local throttles: `USAGE_PLAN_KEYS` (`plan=<key value>,...`) names the
/// `usageIdentifierKey` of each plan of the registry (`PLATFORM_FILE`, else
/// the platform.yaml compiled in, as in every function).
fn throttles(gateway: &mut Gateway) -> Result<(), String> {
    let Ok(pairs) = std::env::var("USAGE_PLAN_KEYS") else {
        return Ok(());
    };
    let plans = portcullis_platform::Platform::from_env(&portcullis_core::Env::Process)
        .map_err(|e| format!("cannot load the usage plans: {e}"))?
        .usage_plans;
    for item in pairs.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (plan, key) = item.split_once('=').ok_or_else(|| {
            "USAGE_PLAN_KEYS must look like plan=<key value>,plan2=<key value>".to_owned()
        })?;
        let plan_def = plans.get(plan.trim()).ok_or_else(|| {
            format!("USAGE_PLAN_KEYS names plan {plan:?}, which the platform registry (PLATFORM_FILE) does not define")
        })?;
        if let Some(t) = &plan_def.throttle {
            gateway.throttle(
                key.trim(),
                Throttle {
                    rate_per_second: t.rate_limit,
                    burst: t.burst_limit,
                },
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    portcullis_core::telemetry::init();
    let openapi = std::env::var("OPENAPI_FILE").unwrap_or_else(|_| "api/openapi.yaml".to_owned());
    let port: u16 = match std::env::var("PORTCULLIS_LOCAL_PORT") {
        Err(_) => 3000,
        Ok(p) => match p.parse() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("PORTCULLIS_LOCAL_PORT must be a TCP port number (1-65535), got {p:?}");
                return ExitCode::FAILURE;
            }
        },
    };
    let api = match Api::from_file(&openapi) {
        Ok(api) => api,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut deployment = Deployment::default();
    if let Ok(region) = std::env::var("AWS_REGION") {
        deployment.region = region;
    }
    let mut gateway = Gateway::new(api).with_deployment(deployment);
    wire(&mut gateway).await;
    if let Err(e) = throttles(&mut gateway) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    for name in gateway.referenced_functions() {
        if !gateway.registered(&name) {
            tracing::warn!(function = %name, "function not wired into the local gateway: its routes answer 500 (401 for the authorizer)");
        }
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "cannot listen on 127.0.0.1:{port}: {e}; set PORTCULLIS_LOCAL_PORT to a free port"
            );
            return ExitCode::FAILURE;
        }
    };
    println!("Portcullis local gateway: http://127.0.0.1:{port} (contract {openapi})");
    if let Err(e) = gateway.serve(listener, shutdown_signal()).await {
        eprintln!("the local gateway stopped: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
