//! The authorizer context: who the caller is, as the authorizer writes it
//! into its answer and as the HTTP functions read it back from
//! `requestContext.authorizer`. One type, one (de)serialisation, both ways.
//!
//! API Gateway passes authorizer context values as strings only, so the
//! wire form is a flat map of strings:
//!
//! | key | value |
//! |---|---|
//! | `principal_id` | the key's lookup id, or the Cognito `sub` |
//! | `principal_type` | `api_key`, `user` or `client` |
//! | `tenant` | a [`Tenant`] |
//! | `scopes` | space-separated, sorted ([`Scopes`]) |
//! | `key_id` | API keys only: the `api_keys.id` UUID |
//! | `identity_timestamp` | requests for an `integration: vpc_link` service only: Unix seconds when the authorizer signed the identity |
//! | `identity_signature` | the same requests only: `v2=<hex>`, `portcullis_identity::sign_unsigned_payload` over the four values above and the method and path the service receives |
//!
//! API Gateway maps the last two, with the first four, onto the request it
//! sends a `vpc_link` service (the `x-portcullis-*` identity headers,
//! docs/proxy.md); the functions ignore them.
//!
//! API Gateway adds keys of its own (`principalId`, `integrationLatency`);
//! they are ignored when reading.

use crate::scope::Scopes;
use crate::tenant::Tenant;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// What kind of credential the caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    /// A Portcullis API key.
    ApiKey,
    /// A Cognito user (id or access token of a signed-in user).
    User,
    /// A Cognito machine client (client-credentials access token).
    Client,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::ApiKey => "api_key",
            PrincipalType::User => "user",
            PrincipalType::Client => "client",
        }
    }
}

impl fmt::Display for PrincipalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PrincipalType {
    type Err = ContextError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api_key" => Ok(PrincipalType::ApiKey),
            "user" => Ok(PrincipalType::User),
            "client" => Ok(PrincipalType::Client),
            other => Err(ContextError(format!(
                "principal_type {:?} is not api_key, user or client",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }
}

impl PartialEq<&str> for PrincipalType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The verified caller. Serialises to, and deserialises from, the string
/// map described in the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Wire", into = "Wire")]
pub struct AuthContext {
    pub principal_id: String,
    pub principal_type: PrincipalType,
    pub tenant: Tenant,
    pub scopes: Scopes,
    /// API keys: the row id in `api_keys`.
    pub key_id: Option<Uuid>,
    /// `vpc_link` service requests only: when the authorizer signed the
    /// identity (Unix seconds, as text).
    pub identity_timestamp: Option<String>,
    /// `vpc_link` service requests only: the identity signature (`v2=<hex>`).
    pub identity_signature: Option<String>,
}

/// Why a context map is not an [`AuthContext`]: the authorizer and the
/// function disagree, never a client mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed authorizer context: {0}")]
pub struct ContextError(String);

/// The wire form: strings only.
#[derive(Serialize, Deserialize)]
struct Wire {
    principal_id: String,
    principal_type: String,
    tenant: String,
    #[serde(default)]
    scopes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity_signature: Option<String>,
}

impl From<AuthContext> for Wire {
    fn from(c: AuthContext) -> Wire {
        Wire {
            principal_id: c.principal_id,
            principal_type: c.principal_type.as_str().to_owned(),
            tenant: c.tenant.into(),
            scopes: c.scopes.to_string(),
            key_id: c.key_id.map(|k| k.to_string()),
            identity_timestamp: c.identity_timestamp,
            identity_signature: c.identity_signature,
        }
    }
}

impl TryFrom<Wire> for AuthContext {
    type Error = ContextError;
    fn try_from(w: Wire) -> Result<Self, Self::Error> {
        if w.principal_id.is_empty() {
            return Err(ContextError("principal_id is empty".to_owned()));
        }
        Ok(AuthContext {
            principal_id: w.principal_id,
            principal_type: w.principal_type.parse()?,
            tenant: w
                .tenant
                .parse()
                .map_err(|e| ContextError(format!("tenant: {e}")))?,
            scopes: w
                .scopes
                .parse()
                .map_err(|e| ContextError(format!("scopes: {e}")))?,
            key_id: w
                .key_id
                .map(|k| Uuid::parse_str(&k))
                .transpose()
                .map_err(|_| ContextError("key_id is not a UUID".to_owned()))?,
            identity_timestamp: w.identity_timestamp,
            identity_signature: w.identity_signature,
        })
    }
}

impl AuthContext {
    /// Whether the caller holds `scope` (`"keys:admin"`).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.has(scope)
    }

    /// The handlers' scope check: `Ok` if the caller holds `scope`, else
    /// the 403 problem naming the scope it lacks. The gateway's policy
    /// already requires the scope; this is the second check.
    #[cfg(feature = "http")]
    pub fn require(&self, scope: &crate::scope::Scope) -> Result<(), portcullis_core::ApiError> {
        if self.scopes.has(scope.as_str()) {
            Ok(())
        } else {
            Err(portcullis_core::ApiError::forbidden(format!(
                "this needs the {scope} scope, which this credential does not carry"
            )))
        }
    }

    /// The context map, as the authorizer puts it in its answer.
    pub fn to_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let wire = Wire::from(self.clone());
        let mut m = serde_json::Map::new();
        m.insert("principal_id".into(), wire.principal_id.into());
        m.insert("principal_type".into(), wire.principal_type.into());
        m.insert("tenant".into(), wire.tenant.into());
        m.insert("scopes".into(), wire.scopes.into());
        if let Some(k) = wire.key_id {
            m.insert("key_id".into(), k.into());
        }
        if let Some(t) = wire.identity_timestamp {
            m.insert("identity_timestamp".into(), t.into());
        }
        if let Some(s) = wire.identity_signature {
            m.insert("identity_signature".into(), s.into());
        }
        m
    }

    /// Read the context back from the map a function receives.
    pub fn from_fields<'a, I>(fields: I) -> Result<AuthContext, ContextError>
    where
        I: IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
    {
        let map: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map))
            .map_err(|e| ContextError(e.to_string()))
    }

    /// The caller of an API Gateway REST request. No context at all (the
    /// request never passed the gateway's authorizer) is 401; a context
    /// that does not read is a server fault (500, cause logged).
    #[cfg(feature = "http")]
    pub fn from_request(
        req: &lambda_http::Request,
    ) -> Result<AuthContext, portcullis_core::ApiError> {
        use lambda_http::RequestExt;
        use lambda_http::request::RequestContext;
        use portcullis_core::ApiError;
        let Some(RequestContext::ApiGatewayV1(ctx)) = req.request_context_ref() else {
            return Err(ApiError::Unauthorized);
        };
        let fields = &ctx.authorizer.fields;
        if !fields.contains_key("principal_id") {
            return Err(ApiError::Unauthorized);
        }
        AuthContext::from_fields(fields).map_err(|e| {
            tracing::error!(error = %e, "the authorizer context does not read");
            ApiError::internal(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::Scope;
    use serde_json::json;

    fn sample(key: bool) -> AuthContext {
        AuthContext {
            principal_id: "7GfQ2k9ZpLxA".into(),
            principal_type: if key {
                PrincipalType::ApiKey
            } else {
                PrincipalType::User
            },
            tenant: "Acme.Corp".parse().unwrap(),
            scopes: "services:echo jobs:read".parse().unwrap(),
            key_id: key.then(|| Uuid::from_u128(42)),
            identity_timestamp: None,
            identity_signature: None,
        }
    }

    #[test]
    fn the_context_round_trips_through_its_string_map() {
        for key in [true, false] {
            let c = sample(key);
            let fields = c.to_fields();
            assert!(fields.values().all(serde_json::Value::is_string));
            assert_eq!(AuthContext::from_fields(&fields).unwrap(), c);
            // serde gives the same map (the authorizer answer's `context`).
            assert_eq!(
                serde_json::to_value(&c).unwrap(),
                serde_json::Value::Object(fields)
            );
        }
        let fields = sample(true).to_fields();
        assert_eq!(fields["scopes"], "jobs:read services:echo");
        assert_eq!(fields["principal_type"], "api_key");
        assert_eq!(fields["key_id"], Uuid::from_u128(42).to_string());
        assert!(!sample(false).to_fields().contains_key("key_id"));
        assert!(!fields.contains_key("identity_timestamp"));
        assert!(!fields.contains_key("identity_signature"));
    }

    /// A `vpc_link` request's context carries the signed identity's
    /// timestamp and signature; they round-trip, and are not required.
    #[test]
    fn the_identity_signature_fields_are_written_only_when_set_and_read_back() {
        let mut c = sample(true);
        c.identity_timestamp = Some("1800000000".into());
        c.identity_signature = Some(format!("v2={}", "ab".repeat(32)));
        let fields = c.to_fields();
        assert_eq!(fields["identity_timestamp"], "1800000000");
        assert_eq!(
            fields["identity_signature"],
            format!("v2={}", "ab".repeat(32))
        );
        assert_eq!(AuthContext::from_fields(&fields).unwrap(), c);
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::Value::Object(fields)
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn require_passes_a_held_scope_and_refuses_a_missing_one_with_403() {
        let c = sample(true);
        assert!(c.require(&Scope::jobs_read()).is_ok());
        let err = c.require(&Scope::keys_admin()).unwrap_err();
        assert!(
            matches!(&err, portcullis_core::ApiError::Forbidden { detail } if detail.contains("keys:admin")),
            "{err:?}"
        );
    }

    #[test]
    fn keys_added_by_api_gateway_are_ignored() {
        let mut fields = sample(true).to_fields();
        fields.insert("principalId".into(), json!("7GfQ2k9ZpLxA"));
        fields.insert("integrationLatency".into(), json!(3));
        assert_eq!(AuthContext::from_fields(&fields).unwrap(), sample(true));
    }

    #[test]
    fn a_malformed_context_is_refused_naming_the_part() {
        for (k, v, says) in [
            ("tenant", "a b", "tenant"),
            ("scopes", "jobs:read root", "scopes"),
            ("principal_type", "admin", "principal_type"),
            ("key_id", "12", "key_id"),
            ("principal_id", "", "principal_id"),
        ] {
            let mut fields = sample(true).to_fields();
            fields.insert(k.into(), json!(v));
            let err = AuthContext::from_fields(&fields).unwrap_err().to_string();
            assert!(err.contains(says), "{k}: {err}");
        }
        let mut fields = sample(true).to_fields();
        fields.remove("tenant");
        assert!(AuthContext::from_fields(&fields).is_err());
    }
}
