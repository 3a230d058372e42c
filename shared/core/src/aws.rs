//! AWS SDK configuration, loaded once per process.
//!
//! `aws-config` honours `AWS_ENDPOINT_URL` and the per-service variants
//! (`AWS_ENDPOINT_URL_ECS`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`, ...), so the
//! same binary talks to the local emulator when they are set.

use aws_config::{BehaviorVersion, SdkConfig};

/// Load the shared SDK configuration (region, credentials, endpoint overrides).
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
