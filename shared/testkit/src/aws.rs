//! SDK configuration for the emulator.

use crate::env::emulator_endpoint;

/// SDK configuration pointed at the emulator (`AWS_ENDPOINT_URL`), region
/// `AWS_REGION` (default `us-east-1`), test credentials unless the
/// environment provides some.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let endpoint = emulator_endpoint();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_types::region::Region::new(region));
    if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "testkit",
        ));
    }
    loader.load().await
}
