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
    let admin = portcullis_aws::sdk_config().await;
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

/// HTTP (VPC link) integrations: the internal ALB is not reachable locally;
/// each service's path prefix (with the stage) maps to its local address.
fn upstreams() -> Result<Upstreams, String> {
    match std::env::var("PORTCULLIS_HTTP_UPSTREAMS") {
        Err(_) => Ok(Upstreams::default()),
        Ok(text) => Upstreams::parse(&text),
    }
}

/// The stage's access log, in its format, to its group in the emulator's
/// CloudWatch Logs (local/src/access_log.rs), when the deployment has one.
fn access_log(deployed: &Deployed, admin: &aws_config::SdkConfig) -> Option<AccessLog> {
    let (format, group) = deployed.access_log()?;
    let stream = format!("portcullis-local/{}", uuid::Uuid::new_v4());
    let sink = CloudWatchLogs::start(admin, group, &stream);
    println!("Access log: CloudWatch Logs group {group}, stream {stream}");
    Some(AccessLog {
        format: format.to_owned(),
        sink: Arc::new(sink),
    })
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
    match serve(&path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The gateway for the deployment at `path`, served until Ctrl-C/SIGTERM.
async fn serve(path: &str) -> Result<(), String> {
    let port: u16 = match std::env::var("PORTCULLIS_LOCAL_PORT") {
        Err(_) => 3000,
        Ok(p) => p.parse().map_err(|_| {
            format!("PORTCULLIS_LOCAL_PORT must be a TCP port number (1-65535), got {p:?}")
        })?,
    };
    let deployed = Deployed::from_file(path).map_err(|e| e.to_string())?;
    let gateway = gateway(&deployed).await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{port}: {e}; set PORTCULLIS_LOCAL_PORT to a free port"
            )
        })?;
    println!(
        "Portcullis local gateway: http://127.0.0.1:{port} (REST API {} stage {}, from {path})",
        deployed.rest_api_id, deployed.stage
    );
    gateway
        .serve(listener, portcullis_core::runtime::shutdown_signal())
        .await
        .map_err(|e| format!("the local gateway stopped: {e}"))
}

/// The gateway of the deployment, its functions wired on their own roles.
async fn gateway(deployed: &Deployed) -> Result<Gateway, String> {
    let api = deployed.api().map_err(|e| e.to_string())?;
    // The administrator's key (.local/admin-credentials) signs only the
    // sts:AssumeRole of each function's role; the functions use their own.
    let admin = portcullis_aws::sdk_config().await;
    let upstreams = upstreams().map_err(|e| format!("PORTCULLIS_HTTP_UPSTREAMS: {e}"))?;
    // Usage plans and API keys: read from the emulator's API Gateway, as
    // API Gateway reads its own (local/src/metering.rs).
    let usage = EmulatorUsage::new(&admin, &deployed.rest_api_id, &deployed.stage);
    let mut gateway = Gateway::new(api)
        .with_deployment(deployed.identity())
        .with_gateway_responses(deployed.gateway_responses.clone())
        .with_http_upstreams(upstreams)
        .with_usage(Arc::new(usage));
    if let Some(access_log) = access_log(deployed, &admin) {
        gateway = gateway.with_access_log(access_log);
    }
    for e in wire_deployed(&mut gateway, deployed, &admin, &overrides()).await {
        tracing::error!(error = %e, "function not started: its routes answer 500 (401 for the authorizer)");
    }
    Ok(gateway)
}
