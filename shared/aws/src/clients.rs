//! SDK clients built from one SDK configuration ([`crate::sdk`]), so
//! `AWS_ENDPOINT_URL` points them at the local emulator.

use std::time::Duration;

/// An ECS client from the shared SDK configuration, with an operation
/// timeout (the job functions keep a slow ECS call well under API Gateway's
/// 29 s) and a 3 s connect timeout.
pub fn ecs(sdk: &aws_types::SdkConfig, operation_timeout: Duration) -> aws_sdk_ecs::Client {
    let conf = aws_sdk_ecs::config::Builder::from(sdk)
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .operation_timeout(operation_timeout)
                .connect_timeout(Duration::from_secs(3))
                .build(),
        )
        .build();
    aws_sdk_ecs::Client::from_conf(conf)
}
