//! The API Gateway contract, typed and written once: what the REST API is
//! (the operations of `api/openapi.yaml`, each with its path, method, scope
//! or none, and integration kind), how API Gateway names a request to an
//! authorizer (method ARNs) and matches the policy it gets back (IAM's
//! resource wildcards), which deployment environments something exists in,
//! and which headers a gateway never forwards.
//!
//! Readers: the authorizer's build script (the operations it embeds), the
//! authorizer at run time (its route table, `OPENAPI_FILE`, the policy
//! match), the proxy (the header list), the local gateway (the whole
//! document, the policy evaluation, the header list) and `shared/platform`
//! (the registry's service routes as operations of the REST API, the
//! environment filter, the header list). It has no AWS dependency: the
//! authorizer's lean build links it as it is.

pub mod arn;
pub mod environment;
pub mod headers;
pub mod openapi;
pub mod wildcard;

pub use arn::{MethodArn, MethodArnError};
pub use environment::deployed_in;
pub use headers::{HOP_BY_HOP, STRIPPED_BY_PROXY, is_hop_by_hop};
pub use openapi::{
    ANY_METHODS, Authorizer, Contract, ContractError, DEFAULT_TIMEOUT, Endpoint, HttpIntegration,
    Integration, IntegrationKind, MAX_STREAM_TIMEOUT_MS, Method, Operation, PathItem, ScopeField,
    Security, TransferMode, rust_slice,
};
pub use wildcard::wildcard_match;
