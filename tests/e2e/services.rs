//! The private services the suite runs on loopback ports, as `make local`
//! runs them: each verifies with the key of the secret Terraform created for
//! it (read as the administrator, as ECS injects it into the task).

use e2e::Deployed;
use portcullis_identity::service::{ServiceConfig, serve};

/// A listener on a free loopback port and its URL, `http://127.0.0.1:<port>`.
async fn loopback() -> (tokio::net::TcpListener, String) {
    let (listener, addr) = e2e::loopback_listener().await;
    (listener, format!("http://{addr}"))
}

/// The sample service (integration `lambda`, mounted at the root as the
/// proxy's `PROXY_UPSTREAM_SAMPLE` reaches it); its URL.
pub async fn start_sample(deployment: &Deployed) -> String {
    let key = e2e::sample_identity_key(deployment).await;
    let (listener, url) = loopback().await;
    let config = ServiceConfig::new(vec![key], "");
    tokio::spawn(sample_service::serve(
        listener,
        config,
        std::future::pending(),
    ));
    url
}

/// The sample web application (integration `vpc_link`) under `/web`,
/// standing for the internal ALB's `/web` rule; its URL (without `/web`).
pub async fn start_web(deployment: &Deployed) -> String {
    let key = e2e::identity_key(deployment, "web").await;
    let (listener, url) = loopback().await;
    let app = sample_web::router(ServiceConfig::new(vec![key], "/web"));
    tokio::spawn(serve(listener, app, std::future::pending()));
    url
}
