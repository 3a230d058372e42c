//! The sample private service: `PORT` (default 8080), `IDENTITY_SECRET`
//! (base64 HMAC key), optional `IDENTITY_SECRET_PREVIOUS`, `BASE_PATH` and
//! `BIND_ADDR` (default 0.0.0.0), read by `portcullis_identity::service`.
//! Among Portcullis crates it depends on `portcullis-identity` alone, as any
//! private service would.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    portcullis_identity::service::run("sample-service", sample_service::router).await
}
