//! The local gateway: `api/openapi.yaml` served the way API Gateway REST
//! serves it, with the functions invoked in-process through the same event
//! and response conversions the Lambda runtime performs.
//!
//! ```no_run
//! # async fn demo(state: std::sync::Arc<()>) -> Result<(), Box<dyn std::error::Error>> {
//! use local::{Api, Gateway};
//! let mut gateway = Gateway::new(Api::from_file("api/openapi.yaml")?);
//! // gateway.http("keys", state, keys::handle);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! gateway.serve(listener, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod access_log;
pub mod context_vars;
pub mod deployed;
pub mod event;
pub mod functions;
pub mod gateway;
pub mod gateway_response;
pub mod http_integration;
pub mod integration;
pub mod lambda_proxy;
pub mod metering;
pub mod policy;
pub mod routing;
pub mod spec;
pub mod streaming;

pub use access_log::{AccessLog, AccessLogSink, CloudWatchLogs, MemoryLog};
pub use deployed::{Deployed, DeployedError, LocalOverrides};
pub use event::Deployment;
pub use gateway::{Gateway, GatewayResponse, MAX_BODY_BYTES};
pub use http_integration::{HttpIntegration, LocalHttpIntegration, Upstreams};
pub use integration::{EventFunction, HttpFunction, Integration, InvokeResult, RawFunction};
pub use metering::{EmulatorUsage, Meter, Throttle, Usage, UsageSource};
pub use spec::{Api, SpecError, TransferMode};
pub use streaming::StreamLimits;
