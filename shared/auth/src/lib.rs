//! Portcullis identity rules, one definition each:
//!
//! - [`apikey`]: the API key format, generation, parsing and digests;
//! - [`scope`]: Portcullis scopes and scope sets;
//! - [`tenant`]: the tenant id ([`Tenant`]);
//! - [`context`]: the authorizer context ([`AuthContext`]) the authorizer
//!   writes and the HTTP functions read (feature `http`:
//!   [`AuthContext::from_request`]);
//! - [`store`] (feature `store`): the `api_keys` record and queries, the
//!   key check and the key-creation service;
//! - [`audit`] (feature `store`): the one `audit_log` writer;
//! - [`entitlements`] (feature `store`): the `tenants` store (services and
//!   plans per tenant);
//! - [`usage`]: the API Gateway usage identifier of each consumer.
//!
//! Without features the crate links no database or HTTP code, for crates
//! that only need the key format and the types.

pub mod apikey;
#[cfg(feature = "store")]
pub mod audit;
pub mod context;
#[cfg(feature = "store")]
pub mod entitlements;
pub mod scope;
#[cfg(feature = "store")]
pub mod store;
pub mod tenant;
pub mod usage;

pub use apikey::{KeyFormatError, LookupId, ParsedKey, PlainKey};
pub use context::{AuthContext, ContextError, PrincipalType};
pub use scope::{Scope, ScopeError, Scopes};
pub use tenant::{Tenant, TenantError};
