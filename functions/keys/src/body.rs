//! The `POST /v1/keys` body, parsed field by field so every rejection names
//! the field at fault (serde's own messages do not, for type errors).

use chrono::{DateTime, Utc};
use portcullis_auth::store::KeyName;
use portcullis_auth::{Scope, Scopes, Tenant};
use portcullis_core::ApiError;
use serde_json::{Map, Value};

/// Bodies larger than this are refused with 413 before parsing.
pub const BODY_LIMIT: usize = 16 * 1024;
/// Most scopes one key may carry.
pub const SCOPES_MAX: usize = 50;

const FIELDS: [&str; 5] = ["name", "scopes", "plan", "expires_at", "tenant"];

/// A create request that passed every check that needs no database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKey {
    pub name: KeyName,
    pub scopes: Scopes,
    pub plan: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub tenant: Option<Tenant>,
}

impl CreateKey {
    /// Parse an already size-checked JSON document. `plans` is the set of
    /// usage plans from `platform.yaml`; `now` decides whether an expiry is in
    /// the past.
    pub fn from_json(
        value: Value,
        plans: &[String],
        now: DateTime<Utc>,
    ) -> Result<CreateKey, ApiError> {
        let Value::Object(mut obj) = value else {
            return Err(ApiError::unprocessable(
                "body",
                "the body must be a JSON object",
            ));
        };
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(ApiError::unprocessable(
                unknown.clone(),
                format!(
                    "unknown field {unknown:?}; the accepted fields are {}",
                    FIELDS.join(", ")
                ),
            ));
        }
        let name = parse_name(&mut obj)?;
        let scopes = parse_scopes(&mut obj)?;
        let plan = match optional_string(&mut obj, "plan")? {
            None => None,
            Some(p) if plans.contains(&p) => Some(p),
            Some(p) => {
                return Err(ApiError::unprocessable(
                    "plan",
                    format!(
                        "unknown usage plan {p:?}; the plans are: {}",
                        plans.join(", ")
                    ),
                ));
            }
        };
        let expires_at = match optional_string(&mut obj, "expires_at")? {
            None => None,
            Some(raw) => {
                let at = DateTime::parse_from_rfc3339(&raw)
                    .map_err(|_| {
                        ApiError::unprocessable(
                            "expires_at",
                            "expires_at must be an RFC 3339 timestamp with a time zone, e.g. 2030-01-31T12:00:00Z",
                        )
                    })?
                    .with_timezone(&Utc);
                if at <= now {
                    return Err(ApiError::unprocessable(
                        "expires_at",
                        "expires_at is in the past; give a future time or omit it for a key that does not expire",
                    ));
                }
                Some(at)
            }
        };
        let tenant = optional_string(&mut obj, "tenant")?
            .map(|t| t.parse::<Tenant>())
            .transpose()
            .map_err(|e| ApiError::unprocessable("tenant", e.to_string()))?;
        Ok(CreateKey {
            name,
            scopes,
            plan,
            expires_at,
            tenant,
        })
    }
}

const TENANT_FIELDS: [&str; 3] = ["services", "plans", "user_plan"];

/// A `PUT /v1/tenants/{tenant}` body: every name checked against the
/// registry (`platform.yaml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutTenant {
    pub services: Vec<String>,
    pub plans: Vec<String>,
    pub user_plan: String,
}

impl PutTenant {
    /// Parse an already size-checked JSON document against the registry's
    /// `services` and `plans`.
    pub fn from_json(
        value: Value,
        services: &[String],
        plans: &[String],
    ) -> Result<PutTenant, ApiError> {
        let Value::Object(mut obj) = value else {
            return Err(ApiError::unprocessable(
                "body",
                "the body must be a JSON object: {\"services\": [...], \"plans\": [...], \"user_plan\": \"...\"}",
            ));
        };
        if let Some(unknown) = obj.keys().find(|k| !TENANT_FIELDS.contains(&k.as_str())) {
            return Err(ApiError::unprocessable(
                unknown.clone(),
                format!(
                    "unknown field {unknown:?}; the accepted fields are {}",
                    TENANT_FIELDS.join(", ")
                ),
            ));
        }
        let services = names(&mut obj, "services", services, "private service", true)?;
        let plans = names(&mut obj, "plans", plans, "usage plan", false)?;
        let user_plan = match obj.remove("user_plan") {
            Some(Value::String(p)) if plans.contains(&p) => p,
            Some(Value::String(p)) => {
                return Err(ApiError::unprocessable(
                    "user_plan",
                    format!(
                        "user_plan {p:?} must be one of the tenant's plans ({})",
                        plans.join(", ")
                    ),
                ));
            }
            None | Some(Value::Null) => {
                return Err(ApiError::unprocessable(
                    "user_plan",
                    "user_plan is required: the usage plan of the tenant's Cognito users, one of its plans",
                ));
            }
            Some(_) => {
                return Err(ApiError::unprocessable(
                    "user_plan",
                    "user_plan must be a string",
                ));
            }
        };
        Ok(PutTenant {
            services,
            plans,
            user_plan,
        })
    }
}

/// A required list of distinct names, each one of `known`.
fn names(
    obj: &mut Map<String, Value>,
    field: &str,
    known: &[String],
    what: &str,
    may_be_empty: bool,
) -> Result<Vec<String>, ApiError> {
    let items = match obj.remove(field) {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(ApiError::unprocessable(
                field,
                format!("{field} is required (a list of {what} names)"),
            ));
        }
        Some(_) => {
            return Err(ApiError::unprocessable(
                field,
                format!("{field} must be a list of {what} names"),
            ));
        }
    };
    if items.is_empty() && !may_be_empty {
        return Err(ApiError::unprocessable(
            field,
            format!("{field} must name at least one {what}"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = format!("{field}[{i}]");
        let Value::String(name) = item else {
            return Err(ApiError::unprocessable(
                at,
                format!("each {what} must be a string"),
            ));
        };
        if !known.contains(&name) {
            return Err(ApiError::unprocessable(
                at,
                format!(
                    "unknown {what} {name:?}; platform.yaml defines: {}",
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        if out.contains(&name) {
            return Err(ApiError::unprocessable(
                at,
                format!("{name:?} is listed twice"),
            ));
        }
        out.push(name);
    }
    Ok(out)
}

fn parse_name(obj: &mut Map<String, Value>) -> Result<KeyName, ApiError> {
    match obj.remove("name") {
        None | Some(Value::Null) => Err(ApiError::unprocessable("name", "name is required")),
        Some(Value::String(s)) => {
            KeyName::parse(&s).map_err(|e| ApiError::unprocessable("name", e.to_string()))
        }
        Some(_) => Err(ApiError::unprocessable("name", "name must be a string")),
    }
}

fn parse_scopes(obj: &mut Map<String, Value>) -> Result<Scopes, ApiError> {
    let items = match obj.remove("scopes") {
        None | Some(Value::Null) => {
            return Err(ApiError::unprocessable(
                "scopes",
                "scopes is required (a list of scopes)",
            ));
        }
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "scopes",
                "scopes must be a list of strings",
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::unprocessable(
            "scopes",
            "scopes must name at least one scope, e.g. [\"jobs:read\"]",
        ));
    }
    if items.len() > SCOPES_MAX {
        return Err(ApiError::unprocessable(
            "scopes",
            format!("a key may carry at most {SCOPES_MAX} scopes"),
        ));
    }
    let mut scopes: Vec<Scope> = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let field = format!("scopes[{i}]");
        let Value::String(raw) = item else {
            return Err(ApiError::unprocessable(
                field,
                "each scope must be a string",
            ));
        };
        let scope: Scope = raw.parse().map_err(|e: portcullis_auth::ScopeError| {
            ApiError::unprocessable(field.clone(), e.to_string())
        })?;
        if scopes.contains(&scope) {
            return Err(ApiError::unprocessable(
                field,
                format!("scope {raw:?} is listed twice"),
            ));
        }
        scopes.push(scope);
    }
    Ok(Scopes::new(scopes))
}

fn optional_string(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::unprocessable(
            field,
            format!("{field} must be a string"),
        )),
    }
}

/// A top-level JSON object whose keys must be unique: `{"name": "a", "name": "b"}`
/// is refused (serde_json would silently keep the last one). The error reads
/// "duplicate field `name`", which `portcullis_core::http::json_body` turns into a 422
/// naming the field. Anything but an object becomes `Value` as is.
#[derive(Debug)]
pub struct UniqueObject(pub Value);

impl<'de> serde::Deserialize<'de> for UniqueObject {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = UniqueObject;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut obj = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if obj.contains_key(&key) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate field `{key}`"
                        )));
                    }
                    let value: Value = map.next_value()?;
                    obj.insert(key, value);
                }
                Ok(UniqueObject(Value::Object(obj)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<UniqueObject, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = seq.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(UniqueObject(Value::Array(items)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<UniqueObject, E> {
                Ok(UniqueObject(Value::String(v.to_owned())))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<UniqueObject, E> {
                Ok(UniqueObject(Value::Bool(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<UniqueObject, E> {
                Ok(UniqueObject(Value::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<UniqueObject, E> {
                Ok(UniqueObject(Value::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<UniqueObject, E> {
                Ok(UniqueObject(Value::from(v)))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<UniqueObject, E> {
                Ok(UniqueObject(Value::Null))
            }
        }
        de.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plans() -> Vec<String> {
        vec!["standard".to_owned(), "gold".to_owned()]
    }

    fn parse(v: Value) -> Result<CreateKey, ApiError> {
        CreateKey::from_json(v, &plans(), Utc::now())
    }

    fn field_of(r: Result<CreateKey, ApiError>) -> String {
        let err = r.unwrap_err();
        assert_eq!(err.status(), 422, "{err}");
        err.problem(None).field.unwrap()
    }

    #[test]
    fn a_full_body_parses() {
        let k = parse(json!({
            "name": "  ci  ", "scopes": ["jobs:read", "services:billing"], "plan": "gold",
            "expires_at": "2999-01-01T00:00:00+02:00", "tenant": "acme"
        }))
        .unwrap();
        assert_eq!(k.name.as_str(), "ci");
        assert_eq!(k.scopes.len(), 2);
        assert_eq!(k.plan.as_deref(), Some("gold"));
        assert_eq!(
            k.expires_at.unwrap().to_rfc3339(),
            "2998-12-31T22:00:00+00:00"
        );
        assert_eq!(k.tenant.as_deref(), Some("acme"));
        let k =
            parse(json!({"name": "n", "scopes": ["jobs:read"], "tenant": "Acme.Corp"})).unwrap();
        assert_eq!(k.tenant.as_deref(), Some("Acme.Corp"));
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(field_of(parse(json!([]))), "body");
        assert_eq!(field_of(parse(json!({"scopes": ["jobs:read"]}))), "name");
        assert_eq!(
            field_of(parse(json!({"name": " ", "scopes": ["jobs:read"]}))),
            "name"
        );
        assert_eq!(
            field_of(parse(json!({"name": 5, "scopes": ["jobs:read"]}))),
            "name"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "x".repeat(101), "scopes": ["jobs:read"]})
            )),
            "name"
        );
        assert_eq!(
            field_of(parse(json!({"name": "a\u{7}b", "scopes": ["jobs:read"]}))),
            "name"
        );
        assert_eq!(field_of(parse(json!({"name": "n"}))), "scopes");
        assert_eq!(
            field_of(parse(json!({"name": "n", "scopes": []}))),
            "scopes"
        );
        assert_eq!(
            field_of(parse(json!({"name": "n", "scopes": "jobs:read"}))),
            "scopes"
        );
        assert_eq!(
            field_of(parse(json!({"name": "n", "scopes": ["jobs:read", "root"]}))),
            "scopes[1]"
        );
        assert_eq!(
            field_of(parse(json!({"name": "n", "scopes": [7]}))),
            "scopes[0]"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "n", "scopes": ["jobs:read", "jobs:read"]})
            )),
            "scopes[1]"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "n", "scopes": ["jobs:read"], "plan": "platinum"})
            )),
            "plan"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "n", "scopes": ["jobs:read"], "expires_at": "2001-01-01T00:00:00Z"})
            )),
            "expires_at"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "n", "scopes": ["jobs:read"], "expires_at": "tomorrow"})
            )),
            "expires_at"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "n", "scopes": ["jobs:read"], "tenant": "Acme!"})
            )),
            "tenant"
        );
        assert_eq!(
            field_of(parse(
                json!({"name": "n", "scopes": ["jobs:read"], "admin": true})
            )),
            "admin"
        );
    }

    #[test]
    fn a_duplicated_field_is_refused_by_name() {
        let err =
            serde_json::from_str::<UniqueObject>(r#"{"name": "a", "scopes": [], "name": "b"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("duplicate field `name`"), "{err}");
        assert!(err.is_data());
        let ok =
            serde_json::from_str::<UniqueObject>(r#"{"name": "a", "nested": {"x": 1}}"#).unwrap();
        assert_eq!(ok.0["nested"]["x"], 1);
        assert_eq!(
            serde_json::from_str::<UniqueObject>("[1, 2]").unwrap().0,
            serde_json::json!([1, 2])
        );
    }

    #[test]
    fn tenant_bodies_are_checked_against_the_registry() {
        let services = vec!["billing".to_owned()];
        let put = |v: Value| PutTenant::from_json(v, &services, &plans());
        let ok = put(json!({"services": ["billing"], "plans": ["gold", "standard"], "user_plan": "standard"}))
            .unwrap();
        assert_eq!(ok.plans, ["gold", "standard"]);
        assert_eq!(
            put(json!({"services": [], "plans": ["standard"], "user_plan": "standard"}))
                .unwrap()
                .services,
            Vec::<String>::new()
        );
        let field = |r: Result<PutTenant, ApiError>| r.unwrap_err().problem(None).field.unwrap();
        for (body, f) in [
            (
                json!({"services": ["hr"], "plans": ["standard"], "user_plan": "standard"}),
                "services[0]",
            ),
            (
                json!({"services": [], "plans": ["platinum"], "user_plan": "platinum"}),
                "plans[0]",
            ),
            (
                json!({"services": [], "plans": [], "user_plan": "standard"}),
                "plans",
            ),
            (
                json!({"services": [], "plans": ["standard", "standard"], "user_plan": "standard"}),
                "plans[1]",
            ),
            (
                json!({"services": [], "plans": ["standard"], "user_plan": "gold"}),
                "user_plan",
            ),
            (json!({"services": [], "plans": ["standard"]}), "user_plan"),
            (
                json!({"plans": ["standard"], "user_plan": "standard"}),
                "services",
            ),
            (
                json!({"services": [], "plans": ["standard"], "user_plan": "standard", "x": 1}),
                "x",
            ),
        ] {
            assert_eq!(field(put(body.clone())), f, "{body}");
        }
    }

    #[test]
    fn a_name_of_exactly_one_hundred_characters_is_accepted() {
        let k = parse(json!({"name": "é".repeat(100), "scopes": ["jobs:read"]})).unwrap();
        assert_eq!(k.name.as_str().chars().count(), 100);
    }
}
