//! The sample web application: `PORT` (default 8080), `IDENTITY_SECRET`
//! (base64 HMAC key), optional `IDENTITY_SECRET_PREVIOUS`, `BASE_PATH` and
//! `BIND_ADDR` (default 0.0.0.0). Among Portcullis crates it depends on
//! `portcullis-identity` alone, as any private service would.

use sample_web::{Config, Vars, serve};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // JSON lines for CloudWatch (awslogs); RUST_LOG sets the filter (default info).
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let env = Vars::process();
    let config = Config::from_env(&env)?;
    let port: u16 = env.parse_or("PORT", "a TCP port", 8080)?;
    let bind: std::net::IpAddr = env.parse_or("BIND_ADDR", "an IP address", [0, 0, 0, 0].into())?;
    let listener = tokio::net::TcpListener::bind((bind, port)).await?;
    tracing::info!(addr = %listener.local_addr()?, "sample-web listening");
    serve(listener, config, shutdown()).await?;
    Ok(())
}

/// SIGTERM (ECS stopping the task) or Ctrl-C.
async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
