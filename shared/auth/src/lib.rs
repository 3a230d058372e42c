//! Credentials: the API key format and digests ([`apikey`]) and Portcullis
//! scopes ([`scope`]) (issue 3). The authorizer (`functions/authorizer`)
//! and key management (`functions/keys`) both build on these.

pub mod apikey;
pub mod scope;

pub use apikey::{ApiKey, KeyFormatError, LookupId, ParsedKey, PlainKey};
pub use scope::{Scope, ScopeError};
