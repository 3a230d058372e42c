//! `portcullis-local`: the local API Gateway on 127.0.0.1:${PORTCULLIS_LOCAL_PORT:-3000},
//! serving the REST API Terraform applied to the emulator
//! (`PORTCULLIS_DEPLOYMENT`, default `.local/deployment.json`), each function
//! on its own role. `make local` starts it.

use local::functions::wire_deployed;
use local::{
    AccessLog, CloudWatchLogs, Deployed, EmulatorUsage, Gateway, LocalOverrides, Upstreams,
};
use portcullis_core::Env;
use std::process::ExitCode;
use std::sync::Arc;

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

/// What this machine supplies instead of deployed endpoints that do not
/// exist locally: the database (`DATABASE_URL`), the unpacked zip
/// (`PORTCULLIS_TASK_ROOT`, default the working directory: the repository)
/// and each private service's address (`PROXY_UPSTREAM_<NAME>`, for the proxy).
fn overrides() -> LocalOverrides {
    let mut o = LocalOverrides {
        database_url: std::env::var("DATABASE_URL").ok(),
        task_root: Some(std::env::var("PORTCULLIS_TASK_ROOT").unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| ".".to_owned())
        })),
        ..LocalOverrides::default()
    };
    for (k, v) in std::env::vars() {
        if k.starts_with("PROXY_UPSTREAM_") {
            o.set("proxy", &k, v);
        }
    }
    if let Ok(level) = std::env::var("RUST_LOG") {
        o.set("*", "RUST_LOG", level);
    }
    o
}

/// `portcullis-local env <function>`: the environment that function runs
/// with locally (its Lambda configuration, its role's credentials, the local
/// overrides), as shell-quoted `KEY=VALUE` lines, for functions run as their
/// own process (the reconciler under scripts/lambda-schedule.py).
async fn print_env(deployed: &Deployed, name: &str) -> ExitCode {
    let admin = portcullis_core::aws::sdk_config().await;
    let env = match local::functions::env_of(deployed, name, &admin, &overrides()).await {
        Ok(Env::Map(map)) => map,
        Ok(Env::Process) => Default::default(),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut vars: Vec<_> = env.into_iter().collect();
    vars.sort();
    for (k, v) in vars {
        println!("{k}={}", local::deployed::shell_quote(&v));
    }
    ExitCode::SUCCESS
}

#[tokio::main]
async fn main() -> ExitCode {
    let path = std::env::var("PORTCULLIS_DEPLOYMENT")
        .unwrap_or_else(|_| ".local/deployment.json".to_owned());
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [cmd, name] = args.as_slice() {
        if cmd == "env" {
            return match Deployed::from_file(&path) {
                Ok(d) => print_env(&d, name).await,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            };
        }
    }
    if !args.is_empty() {
        eprintln!(
            "usage: portcullis-local            serve the deployment ($PORTCULLIS_DEPLOYMENT, default .local/deployment.json)\n       portcullis-local env <function>   print the environment a function runs with locally"
        );
        return ExitCode::FAILURE;
    }
    portcullis_core::telemetry::init();
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
    let deployed = match Deployed::from_file(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let api = match deployed.api() {
        Ok(api) => api,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    // The administrator's key (.local/admin-credentials) signs only the
    // sts:AssumeRole of each function's role; the functions use their own.
    let admin = portcullis_core::aws::sdk_config().await;
    let overrides = overrides();
    // HTTP (VPC link) integrations: the internal ALB is not reachable
    // locally; each service's path prefix maps to its local address.
    let upstreams = match std::env::var("PORTCULLIS_HTTP_UPSTREAMS") {
        Err(_) => Upstreams::default(),
        Ok(text) => match Upstreams::parse(&text) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("PORTCULLIS_HTTP_UPSTREAMS: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    // Usage plans and API keys: read from the emulator's API Gateway, as
    // API Gateway reads its own (local/src/metering.rs).
    let mut gateway = Gateway::new(api)
        .with_deployment(deployed.identity())
        .with_gateway_responses(deployed.gateway_responses.clone())
        .with_http_upstreams(upstreams)
        .with_usage(Arc::new(EmulatorUsage::new(
            &admin,
            &deployed.rest_api_id,
            &deployed.stage,
        )));
    // The stage's access log, in its format, to its group in the emulator's
    // CloudWatch Logs (local/src/access_log.rs).
    if let Some((format, group)) = deployed.access_log() {
        let stream = format!("portcullis-local/{}", uuid::Uuid::new_v4());
        let sink = CloudWatchLogs::start(&admin, group, &stream);
        gateway = gateway.with_access_log(AccessLog {
            format: format.to_owned(),
            sink: Arc::new(sink),
        });
        println!("Access log: CloudWatch Logs group {group}, stream {stream}");
    }
    for e in wire_deployed(&mut gateway, &deployed, &admin, &overrides).await {
        tracing::error!(error = %e, "function not started: its routes answer 500 (401 for the authorizer)");
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
    println!(
        "Portcullis local gateway: http://127.0.0.1:{port} (REST API {} stage {}, from {path})",
        deployed.rest_api_id, deployed.stage
    );
    if let Err(e) = gateway.serve(listener, shutdown_signal()).await {
        eprintln!("the local gateway stopped: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
