//! `portcullis-aws`: the one home of what faces AWS.
//!
//! - [`endpoint`]: the region of an environment and the endpoint of a
//!   service (`AWS_ENDPOINT_URL(_<SERVICE>)`, else the regional one), for
//!   what calls AWS without an SDK configuration.
//! - [`credentials`]: [`IamCredentials`] (a region and an injectable
//!   credential source) and SigV4 signing: requests signed in headers, RDS
//!   IAM auth tokens presigned (no SDK client).
//! - [`secrets`]: the Secrets Manager reader, one trait
//!   ([`secrets::SecretSource`]) with the SDK client (feature
//!   `secrets-manager`) and the lean signed-HTTP reader (feature `lean`).
//! - [`http`] (feature `lean`): the small HTTP client of the lean build.
//! - [`sdk`] (feature `sdk`): the SDK configuration of an [`Env`] (the
//!   process's default chain, or a function's own Lambda environment as a
//!   map), honouring `AWS_ENDPOINT_URL(_<SERVICE>)`; [`LazyClient`], an SDK
//!   client built on first use so that init builds no SDK configuration.
//! - [`clients`] (feature `sdk`; `ecs`, `apigateway`, `secrets-manager` for
//!   each client): SDK clients built from that configuration, each with
//!   [`xray`]'s interceptor (every AWS call a subsegment of a traced invocation).
//!
//! The default build links no SDK client, no aws-config and no HTTP stack.
//!
//! [`Env`]: portcullis_core::Env

#[cfg(feature = "sdk")]
pub mod clients;
pub mod credentials;
pub mod endpoint;
#[cfg(feature = "lean")]
pub mod http;
#[cfg(feature = "sdk")]
pub mod sdk;
pub mod secrets;
#[cfg(feature = "sdk")]
pub mod xray;

pub use credentials::IamCredentials;
pub use endpoint::region;
#[cfg(feature = "sdk")]
pub use sdk::{LazyClient, SdkSource, sdk_config, sdk_config_in};
