//! Test helpers: API Gateway REST proxy events, states, response bodies.
#![allow(dead_code)]

use aws_sdk_apigateway::config::{BehaviorVersion, Credentials, Region};
use keys::{Config, State};
use lambda_http::{Body, Request, Response};
use portcullis_auth::{AuthContext, PrincipalType};
use portcullis_db::Database;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;

/// The emulator endpoint; tests that need it fail (never pass) without it.
pub fn moto_endpoint() -> String {
    portcullis_testkit::emulator_endpoint()
}

/// A local port with nothing listening on it.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let port = l.local_addr().expect("local addr").port();
    drop(l);
    port
}

/// An API Gateway client for the emulator, signed with the key `make test`
/// exports (the emulator's administrator: it enforces IAM).
pub fn apigw_client(endpoint: &str) -> aws_sdk_apigateway::Client {
    let key = |var: &str| std::env::var(var).unwrap_or_else(|_| "test".to_owned());
    let conf = aws_sdk_apigateway::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            key("AWS_ACCESS_KEY_ID"),
            key("AWS_SECRET_ACCESS_KEY"),
            None,
            None,
            "keys-tests",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_apigateway::Client::from_conf(conf)
}

pub fn config(aws_endpoint: &str) -> Config {
    Config {
        flush_target: None,
        platform_tenant: "platform".parse().unwrap(),
        plans: vec!["gold".to_owned(), "standard".to_owned()],
        services: vec!["billing".to_owned(), "hr".to_owned()],
        usage_key_prefix: "pc-test-".to_owned(),
        usage_plan_ids: None,
        default_plan: "standard".to_owned(),
        health_timeout: Duration::from_secs(5),
        aws_endpoint: aws_endpoint.to_owned(),
        cors: portcullis_core::CorsPolicy::disabled(),
    }
}

/// Where AWS is down: a closed port on this machine.
pub fn aws_down() -> String {
    format!("http://127.0.0.1:{}", closed_port())
}

/// A state with `cfg` over `db`, its API Gateway client pointed at
/// `cfg.aws_endpoint`.
pub fn state_with(cfg: Config, db: Database) -> State {
    let apigw = apigw_client(&cfg.aws_endpoint);
    State::new(cfg, db, apigw)
}

/// A state over the test database; AWS at a closed port (routes that do not
/// touch AWS), flush skipped.
pub fn state(pool: PgPool) -> State {
    state_with(config(&aws_down()), Database::from_pool(pool))
}

/// Who the authorizer said the caller is.
#[derive(Clone, Debug)]
pub struct Who {
    pub principal: String,
    pub tenant: String,
    pub scopes: String,
}

pub fn admin(tenant: &str) -> Who {
    Who {
        principal: format!("key:admin-of-{tenant}"),
        tenant: tenant.to_owned(),
        scopes: "keys:admin jobs:read".to_owned(),
    }
}

pub fn reader(tenant: &str) -> Who {
    Who {
        principal: format!("key:reader-of-{tenant}"),
        tenant: tenant.to_owned(),
        scopes: "jobs:read".to_owned(),
    }
}

/// A request as API Gateway's REST proxy integration delivers it.
pub struct Ev {
    pub method: &'static str,
    pub resource: &'static str,
    pub path: String,
    pub path_params: Vec<(&'static str, String)>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<String>,
    pub who: Option<Who>,
    pub request_id: String,
    /// Send the body base64-encoded (`isBase64Encoded: true`), as API Gateway
    /// does when binary media types match (`*/*` in api/openapi.yaml).
    pub base64: bool,
}

impl Ev {
    pub fn new(method: &'static str, resource: &'static str, path: impl Into<String>) -> Ev {
        Ev {
            method,
            resource,
            path: path.into(),
            path_params: vec![],
            query: vec![],
            body: None,
            who: None,
            request_id: format!("req-{}", uuid::Uuid::new_v4()),
            base64: false,
        }
    }
    /// A route without path parameters: `/v1/keys`, `/v1/me`, ...
    pub fn at(method: &'static str, path: &'static str) -> Ev {
        Ev::new(method, path, path)
    }
    pub fn key(method: &'static str, id: &str) -> Ev {
        let mut e = Ev::new(method, "/v1/keys/{id}", format!("/v1/keys/{id}"));
        e.path_params.push(("id", id.to_owned()));
        e
    }
    pub fn tenant(method: &'static str, tenant: &str) -> Ev {
        let mut e = Ev::new(
            method,
            "/v1/tenants/{tenant}",
            format!("/v1/tenants/{tenant}"),
        );
        e.path_params.push(("tenant", tenant.to_owned()));
        e
    }
    /// `POST /v1/keys` by `who` with this body.
    pub fn create_key(who: &Who, body: impl Into<String>) -> Ev {
        Ev::at("POST", "/v1/keys").by(who).body(body)
    }
    pub fn by(mut self, who: &Who) -> Ev {
        self.who = Some(who.clone());
        self
    }
    pub fn body(mut self, body: impl Into<String>) -> Ev {
        self.body = Some(body.into());
        self
    }
    pub fn base64(mut self) -> Ev {
        self.base64 = true;
        self
    }
    pub fn query(mut self, k: &'static str, v: impl Into<String>) -> Ev {
        self.query.push((k, v.into()));
        self
    }

    pub fn event(&self) -> Value {
        let mut single = serde_json::Map::new();
        let mut multi = serde_json::Map::new();
        for (k, v) in &self.query {
            single.insert((*k).to_owned(), json!(v));
            let e = multi.entry((*k).to_owned()).or_insert_with(|| json!([]));
            if let Value::Array(a) = e {
                a.push(json!(v));
            }
        }
        let params: serde_json::Map<String, Value> = self
            .path_params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        // The context exactly as the authorizer writes it (the same type and
        // code), plus the keys API Gateway adds.
        let authorizer = self.who.as_ref().map(|w| {
            let mut fields = AuthContext {
                principal_id: w.principal.clone(),
                principal_type: PrincipalType::ApiKey,
                tenant: w.tenant.parse().expect("a test tenant"),
                scopes: w.scopes.parse().expect("test scopes"),
                key_id: Some(uuid::Uuid::from_u128(1)),
                identity_timestamp: None,
                identity_signature: None,
            }
            .to_fields();
            fields.insert("principalId".into(), json!(w.principal));
            fields.insert("integrationLatency".into(), json!(3));
            Value::Object(fields)
        });
        json!({
            "resource": self.resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": {"content-type": "application/json", "host": "api.example.com"},
            "multiValueHeaders": {"content-type": ["application/json"], "host": ["api.example.com"]},
            "queryStringParameters": if single.is_empty() { Value::Null } else { Value::Object(single) },
            "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { Value::Object(multi) },
            "pathParameters": if params.is_empty() { Value::Null } else { Value::Object(params) },
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "abc123",
                "stage": "test",
                "requestId": self.request_id,
                "identity": {"sourceIp": "203.0.113.7", "userAgent": "tests"},
                "resourcePath": self.resource,
                "httpMethod": self.method,
                "apiId": "testapi",
                "path": format!("/test{}", self.path),
                "requestTimeEpoch": 1700000000000i64,
                "authorizer": authorizer
            },
            "body": if self.base64 {
                self.body.as_ref().map(|b| {
                    use base64::Engine;
                    base64::engine::general_purpose::STANDARD.encode(b)
                })
            } else {
                self.body.clone()
            },
            "isBase64Encoded": self.base64
        })
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.event().to_string())
            .expect("a valid API Gateway REST event")
    }
}

pub async fn call(state: &State, ev: Ev) -> (u16, Value, Response<Body>) {
    let resp = keys::handle(state, ev.request())
        .await
        .expect("the handler answers");
    let status = resp.status().as_u16();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
        Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        Body::Empty => Value::Null,
        _ => Value::Null,
    };
    (status, body, resp)
}

/// Ask to create a key as `who`: (status, body).
pub async fn try_create(state: &State, who: &Who, body: Value) -> (u16, Value) {
    let (status, b, _) = call(state, Ev::create_key(who, body.to_string())).await;
    (status, b)
}

/// Create a key as `who` and return the 201 body.
pub async fn create(state: &State, who: &Who, body: Value) -> Value {
    let (status, b) = try_create(state, who, body).await;
    assert_eq!(status, 201, "{b}");
    b
}

/// A key named `ci` with scope `jobs:read`, created by the administrator of
/// `tenant`: (its id, the 201 body).
pub async fn ci_key(state: &State, tenant: &str) -> (String, Value) {
    let b = create(
        state,
        &admin(tenant),
        json!({"name": "ci", "scopes": ["jobs:read"]}),
    )
    .await;
    let id = b["id"]
        .as_str()
        .expect("a created key has an id")
        .to_owned();
    (id, b)
}

/// The one number a `select count(*) ...` answers.
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("a count query")
}

/// The stored `revoked_at` of key `id`.
pub async fn revoked_at(pool: &PgPool, id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("select revoked_at from api_keys where id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("the key exists")
}
