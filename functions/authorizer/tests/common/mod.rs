//! Test support: RSA keys and token signing, a local JWKS server that
//! counts its fetches, events, and states.
#![allow(dead_code)]

use authorizer::config::Config;
use authorizer::{Request, Response, State};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis_core::Env;
use portcullis_core::metrics::{Capture, Metric};
use portcullis_db::Database;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";
pub const CLIENT: &str = "client-allowed";
/// A machine client (client credentials) in the allowlist.
pub const MACHINE: &str = "machine-client";
/// The tenant group of the users of [`access_claims`] and [`id_claims`].
pub const TENANT_GROUP: &str = "tenant:acme";
pub const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api123/prod/GET/v1/me";
pub const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api123/prod";

pub fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An RSA-2048 signing key with a kid.
pub struct TestKey {
    pub pair: RsaKeyPair,
    pub kid: String,
}

impl TestKey {
    pub fn generate(kid: &str) -> TestKey {
        TestKey {
            pair: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            kid: kid.to_owned(),
        }
    }

    pub fn jwk(&self) -> Value {
        let pk = self.pair.public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": b64(pk.modulus().big_endian_without_leading_zero()),
            "e": b64(pk.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The public key bytes (PKCS#1 DER), e.g. to abuse as an HMAC secret.
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    pub fn sign_raw(&self, header: &str, claims: &str) -> String {
        let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                msg.as_bytes(),
                &mut sig,
            )
            .unwrap();
        format!("{msg}.{}", b64(&sig))
    }

    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        self.sign_raw(&header.to_string(), &claims.to_string())
    }
}

/// One key per test binary (key generation is the slow part).
pub fn key() -> &'static TestKey {
    static K: OnceLock<TestKey> = OnceLock::new();
    K.get_or_init(|| TestKey::generate("test-kid-1"))
}

pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// Claims of a valid access token for CLIENT, with scopes, of a user in
/// the groups `tenant:acme` and `admins`.
pub fn access_claims(scope: &str) -> Value {
    let n = now();
    json!({
        "sub": "user-123", "iss": ISSUER, "client_id": CLIENT, "token_use": "access",
        "scope": scope, "exp": n + 600, "iat": n - 5, "auth_time": n - 5, "username": "alice",
        "jti": "j1", "origin_jti": "o1", "event_id": "e1", "version": 2,
        "cognito:groups": [TENANT_GROUP, "admins"],
    })
}

/// Claims of a valid access token for CLIENT, of a user in exactly these groups.
pub fn user_claims(scope: &str, groups: &[&str]) -> Value {
    let mut c = access_claims(scope);
    c["cognito:groups"] = json!(groups);
    c
}

/// Claims of a client-credentials access token of MACHINE: no user, the
/// client id as `sub`, no groups.
pub fn machine_claims(scope: &str) -> Value {
    let n = now();
    json!({
        "sub": MACHINE, "iss": ISSUER, "client_id": MACHINE, "token_use": "access",
        "scope": scope, "exp": n + 600, "iat": n - 5, "auth_time": n - 5,
        "jti": "j2", "version": 2,
    })
}

/// An id token of a user in `tenant:acme` whose writable attribute claims
/// another tenant (which is ignored).
pub fn id_claims() -> Value {
    let n = now();
    json!({
        "sub": "user-123", "iss": ISSUER, "aud": CLIENT, "token_use": "id",
        "exp": n + 600, "iat": n - 5, "cognito:username": "alice", "custom:tenant": "tenant-from-claim",
        "cognito:groups": [TENANT_GROUP],
    })
}

/// A pool that points at a closed port: any query fails.
pub fn dead_db() -> Database {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nothing")
        .unwrap();
    Database::from_pool(pool)
}

pub fn base_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![
        ("COGNITO_ISSUER".into(), ISSUER.into()),
        (
            "COGNITO_CLIENT_IDS".into(),
            format!("{CLIENT},other-allowed,{MACHINE}"),
        ),
        // CLIENT is also a machine client of tenant acme; MACHINE is mapped
        // by the tests that need it.
        ("COGNITO_CLIENT_TENANTS".into(), format!("{CLIENT}=acme")),
        (
            "COGNITO_GROUP_SCOPES".into(),
            "admins=keys:admin jobs:read jobs:write".into(),
        ),
        ("COGNITO_JWKS_JSON".into(), jwks(&[key()])),
    ];
    for (k, val) in extra {
        v.retain(|(kk, _)| kk != k);
        if !val.is_empty() {
            v.push(((*k).into(), (*val).into()));
        }
    }
    v
}

pub fn config(extra: &[(&str, &str)]) -> Config {
    Config::from_env(&Env::from_pairs(base_env(extra))).unwrap()
}

/// A state with Cognito configured (pre-loaded JWKS) and a dead database.
pub fn jwt_state(extra: &[(&str, &str)]) -> State {
    State::new(config(extra), dead_db()).unwrap()
}

/// A REQUEST authorizer event with the given headers.
pub fn event(headers: &[(&str, &str)]) -> Request {
    let mut h = serde_json::Map::new();
    let mut mv = serde_json::Map::new();
    for (k, v) in headers {
        h.insert((*k).to_owned(), json!(v));
        mv.insert((*k).to_owned(), json!([v]));
    }
    let text = include_str!("../fixtures/request.json");
    let mut e: Value = serde_json::from_str(text).unwrap();
    e["headers"] = Value::Object(h);
    e["multiValueHeaders"] = Value::Object(mv);
    serde_json::from_value(e).unwrap()
}

pub fn bearer(token: &str) -> Request {
    event(&[("Authorization", &format!("Bearer {token}"))])
}

/// Run the handler; `Ok(response)` or `Err(message)`.
pub async fn run(state: &State, ev: Request) -> Result<Response, String> {
    authorizer::handle(state, ev)
        .await
        .map_err(|e| e.to_string())
}

/// The `AuthorizerDecision` records of `outcome` the capture holds.
pub fn decisions(cap: &Capture, outcome: &str) -> f64 {
    cap.sum(Metric::AuthorizerDecision, &[("Outcome", outcome)])
}

pub fn assert_unauthorized(r: Result<Response, String>) {
    match r {
        Err(m) => assert_eq!(m, "Unauthorized"),
        Ok(resp) => panic!("expected Unauthorized, got {resp:?}"),
    }
}

/// (effect, resources) of the single statement.
pub fn statement(r: &Response) -> (String, Vec<String>) {
    let v = serde_json::to_value(&r.policy_document).unwrap();
    let st = &v["Statement"];
    assert_eq!(st.as_array().unwrap().len(), 1, "{v}");
    let effect = st[0]["Effect"].as_str().unwrap().to_owned();
    let res = match &st[0]["Resource"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        other => panic!("resource {other}"),
    };
    (effect, res)
}

/// A local JWKS endpoint that counts requests; `delay` makes it slow.
pub struct JwksServer {
    pub url: String,
    pub hits: Arc<AtomicU64>,
    body: Arc<Mutex<String>>,
}

impl JwksServer {
    /// What the endpoint answers from now on.
    pub fn serve(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }
}

pub async fn jwks_server(body: String, delay: Duration) -> JwksServer {
    use axum::{Router, routing::get};
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let body = Arc::new(Mutex::new(body));
    let served = body.clone();
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            let h = h.clone();
            let body = served.lock().unwrap().clone();
            async move {
                h.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                ([("content-type", "application/json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    JwksServer {
        url: format!("http://{addr}/jwks.json"),
        hits,
        body,
    }
}

/// The emulator's account (moto's default).
pub const ACCOUNT: &str = "123456789012";

/// One IAM query API call to the emulator as its administrator (the
/// process's key, which `make test` exports).
async fn iam(params: &[(&str, &str)]) -> String {
    let endpoint = portcullis_testkit::emulator_endpoint();
    let url = format!("{}/", endpoint.trim_end_matches('/'));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().copied())
        .append_pair("Version", "2010-05-08")
        .finish();
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signed = portcullis_testkit::sigv4::sign_request(
        "iam",
        "POST",
        &url,
        &[("content-type", content_type)],
        body.as_bytes(),
    );
    let mut request = reqwest::Client::new()
        .post(&url)
        .header("content-type", content_type)
        .body(body);
    for (name, value) in signed {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the emulator's IAM answers");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "IAM {params:?}: {status} {text}");
    text
}

/// The Lambda environment of a new function role whose one inline policy
/// is `statements`: the role session's credentials (key, secret, session
/// token, as Lambda hands them), `AWS_REGION` and the emulator's
/// `AWS_ENDPOINT_URL`. Locally IAM is enforced per action: moto does not
/// determine the resource of a Secrets Manager request, so a resource-scoped
/// Allow is widened to `*` (scripts/moto-server.py).
pub async fn role_env(statements: Value) -> Vec<(String, String)> {
    let endpoint = portcullis_testkit::emulator_endpoint();
    let role = portcullis_testkit::unique("portcullis-authorizer-test");
    let sts = aws_sdk_sts::Client::new(&portcullis_aws::sdk_config().await);
    let admin = sts
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity on the emulator")
        .arn
        .expect("the administrator's ARN");
    // Trusted by the administrator, who assumes it here as Lambda would.
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "AWS": admin },
            "Action": "sts:AssumeRole",
        }],
    });
    iam(&[
        ("Action", "CreateRole"),
        ("RoleName", &role),
        ("AssumeRolePolicyDocument", &trust.to_string()),
    ])
    .await;
    let policy = json!({ "Version": "2012-10-17", "Statement": statements });
    iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", &role),
        ("PolicyName", "test"),
        ("PolicyDocument", &policy.to_string()),
    ])
    .await;
    let creds = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
        .role_session_name("authorizer")
        .send()
        .await
        .expect("AssumeRole on the emulator")
        .credentials
        .expect("AssumeRole returns credentials");
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    vec![
        ("AWS_REGION".to_owned(), region),
        ("AWS_ENDPOINT_URL".to_owned(), endpoint),
        ("AWS_ACCESS_KEY_ID".to_owned(), creds.access_key_id),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), creds.secret_access_key),
        ("AWS_SESSION_TOKEN".to_owned(), creds.session_token),
    ]
}

/// A new secret in the emulator's Secrets Manager (as its administrator):
/// its ARN.
pub async fn create_secret(prefix: &str, value: &str) -> String {
    portcullis_testkit::emulator_endpoint();
    let sdk = portcullis_aws::sdk_config().await;
    let created = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(portcullis_testkit::unique(prefix))
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret on the emulator");
    created
        .arn()
        .expect("CreateSecret returns the ARN")
        .to_owned()
}

/// A policy statement allowing `GetSecretValue` on `arn`.
pub fn may_read(arn: &str) -> Value {
    json!([{ "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn }])
}

/// The identity key of the `vpc_link` service `web`, stored in the
/// emulator's Secrets Manager (needs AWS_ENDPOINT_URL and the emulator's
/// administrator key: run through `make test`), and the variables that make
/// `State::from_env_with` read it: `IDENTITY_SECRET_ARNS` and the Lambda
/// environment of a role whose policy grants reading it ([`role_env`]),
/// which replace any AWS_* of the caller's map.
pub async fn web_identity_env() -> (portcullis_identity::SigningKey, Vec<(String, String)>) {
    let value = "d2ViLXNlcnZpY2UtaWRlbnRpdHkta2V5LTMyLWJ5dGU="; // 32 bytes
    let arn = create_secret("portcullis-authorizer-identity-web", value).await;
    let mut vars = vec![("IDENTITY_SECRET_ARNS".to_owned(), format!("web={arn}"))];
    vars.extend(role_env(may_read(&arn)).await);
    (
        portcullis_identity::SigningKey::from_base64(value).unwrap(),
        vars,
    )
}
