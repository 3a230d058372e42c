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

/// The path the internal ALB's rule for the sample web application
/// forwards, as its task's `BASE_PATH`: the stage in front of its
/// `path_prefix`, since API Gateway puts the stage in a private
/// integration's path (AWS "Private integrations for REST APIs",
/// Considerations).
pub fn web_base_path(deployment: &Deployed) -> String {
    format!("/{}/web", deployment.stage)
}

/// The sample web application (integration `vpc_link`) under
/// [`web_base_path`], standing for the internal ALB's rule; its URL (without
/// the base path).
pub async fn start_web(deployment: &Deployed) -> String {
    let key = e2e::identity_key(deployment, "web").await;
    let (listener, url) = loopback().await;
    let app = sample_web::router(ServiceConfig::new(vec![key], &web_base_path(deployment)));
    tokio::spawn(serve(listener, app, std::future::pending()));
    url
}
