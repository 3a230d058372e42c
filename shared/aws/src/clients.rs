//! SDK clients built from one SDK configuration ([`crate::sdk`]), so
//! `AWS_ENDPOINT_URL` points them at the local emulator, each with the X-Ray
//! interceptor ([`crate::xray`]): every call is a subsegment of a traced
//! invocation.

/// An ECS client from the shared SDK configuration, with an operation
/// timeout (the job functions keep a slow ECS call well under API Gateway's
/// 29 s) and a 3 s connect timeout.
#[cfg(feature = "ecs")]
pub fn ecs(
    sdk: &aws_types::SdkConfig,
    operation_timeout: std::time::Duration,
) -> aws_sdk_ecs::Client {
    let conf = aws_sdk_ecs::config::Builder::from(sdk)
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .operation_timeout(operation_timeout)
                .connect_timeout(std::time::Duration::from_secs(3))
                .build(),
        )
        .interceptor(crate::xray::XrayInterceptor)
        .build();
    aws_sdk_ecs::Client::from_conf(conf)
}

/// An API Gateway client from the shared SDK configuration.
#[cfg(feature = "apigateway")]
pub fn api_gateway(sdk: &aws_types::SdkConfig) -> aws_sdk_apigateway::Client {
    let conf = aws_sdk_apigateway::config::Builder::from(sdk)
        .interceptor(crate::xray::XrayInterceptor)
        .build();
    aws_sdk_apigateway::Client::from_conf(conf)
}

/// A Secrets Manager client from the shared SDK configuration.
#[cfg(feature = "secrets-manager")]
pub fn secrets_manager(sdk: &aws_types::SdkConfig) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::config::Builder::from(sdk)
        .interceptor(crate::xray::XrayInterceptor)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}
