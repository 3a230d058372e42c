//! `portcullis-testkit`: the one home of the helpers tests share across
//! crates. A dev-dependency only; nothing here is linked into a function.
//!
//! | module | feature | what |
//! |---|---|---|
//! | [`env`] | (always) | variables `make test` exports, read or fail saying so; unique names |
//! | `aws` | `aws` | SDK configuration pointed at the emulator |
//! | `emulator` | `ecs` | the emulator's VPC (DNS hostnames), private subnet, security group, ECS cluster, task definition |
//! | `stub_ecs` | `ecs` | an in-process ECS client: answers, recorded calls, gated (blocked) operations |
//! | `apigw` | `http` | API Gateway REST proxy requests with an authorizer context |
//! | `sigv4` | `sigv4` | SigV4 signing of a raw request with the process's key (the emulator enforces IAM) |
//! | `jobs` | `jobs` | the job functions' registry, state, jobs in the store, ECS events |
//!
//! A test that needs the emulator or PostgreSQL and finds its variable unset
//! fails with a message saying to run it through `make test`: it never
//! silently passes.

pub mod env;

#[cfg(feature = "http")]
pub mod apigw;
#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "ecs")]
pub mod emulator;
#[cfg(feature = "jobs")]
pub mod jobs;
#[cfg(feature = "sigv4")]
pub mod sigv4;
#[cfg(feature = "ecs")]
pub mod stub_ecs;

pub use env::{database_url, emulator_endpoint, require, unique};
