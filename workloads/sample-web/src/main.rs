//! The sample web application: `PORT` (default 8080), `IDENTITY_SECRET`
//! (base64 HMAC key), optional `IDENTITY_SECRET_PREVIOUS`, `BASE_PATH` and
//! `BIND_ADDR` (default 0.0.0.0), `PORTCULLIS_COOKIES` and
//! `PORTCULLIS_PUBLIC_PATH`, read once by `portcullis_identity::service`,
//! whose `run` also refuses paths the proxy's rule refuses (400).
//! Among Portcullis crates it depends on `portcullis-identity` alone, as any
//! private service would.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    portcullis_identity::service::run("sample-web", sample_web::router).await
}
