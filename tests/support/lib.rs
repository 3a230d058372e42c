//! Test support for the end-to-end suite: a local gateway on a loopback port,
//! the AWS emulator endpoint, SDK configuration and an HTTP client.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use local::{Api, Gateway};

/// The project's API contract, `api/openapi.yaml`.
pub fn openapi_path() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../api/openapi.yaml").to_owned()
}

/// A fixture from `tests/fixtures/`, parsed as JSON.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {path} is not JSON: {e}"))
}

/// A gateway serving on 127.0.0.1:<free port>; stops when dropped.
pub struct RunningGateway {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub url: String,
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningGateway {
    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A listener on a free loopback port, and its address: for the gateway
/// and for the services a test runs behind it.
pub async fn loopback_listener() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    (listener, addr)
}

/// Start `gateway` on a free loopback port.
pub async fn start_gateway(gateway: Gateway) -> RunningGateway {
    let (listener, addr) = loopback_listener().await;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(gateway.serve(listener, async move {
        let _ = rx.await;
    }));
    RunningGateway {
        url: format!("http://{addr}"),
        addr,
        shutdown: Some(tx),
        task: Some(task),
    }
}

/// A gateway for the project contract with nothing registered yet.
pub fn project_gateway() -> Gateway {
    Gateway::new(Api::from_file(openapi_path()).expect("api/openapi.yaml loads"))
}

// The environment and emulator helpers live in the one test kit.
pub use portcullis_testkit::aws::sdk_config;
pub use portcullis_testkit::{
    database_url as require_database, emulator_endpoint as require_emulator, unique,
};

/// A response's status and body: its JSON, or the text as a JSON string
/// when it is not JSON.
pub async fn status_and_body(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("a readable body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// An HTTP client for talking to the gateway (no proxy, short timeouts).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("a reqwest client with static settings builds")
}

// ------------------------------------------------------------ the deployment

pub use local::{Deployed, LocalOverrides};

/// The deployment `make test` applied to the emulator
/// (`PORTCULLIS_DEPLOYMENT`, written by `scripts/tf-local.sh deployment`).
pub fn deployed() -> Deployed {
    let path = portcullis_testkit::env::require(
        "PORTCULLIS_DEPLOYMENT",
        "the deployment Terraform applied to the emulator (make test applies it first)",
    );
    Deployed::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The URL of the database of a `#[sqlx::test]` pool: `DATABASE_URL` with
/// that pool's database name.
pub fn database_url_of(pool: &sqlx::PgPool) -> String {
    let base = require_database();
    let name = pool
        .connect_options()
        .get_database()
        .unwrap_or("postgres")
        .to_owned();
    let mut url = url::Url::parse(&base).unwrap_or_else(|e| panic!("DATABASE_URL {base:?}: {e}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Overrides for a test: the functions use the test's own database.
pub fn overrides_for(pool: &sqlx::PgPool) -> LocalOverrides {
    LocalOverrides {
        database_url: Some(database_url_of(pool)),
        task_root: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/..").to_owned()),
        ..LocalOverrides::default()
    }
}

/// The environment function `name` runs with (its Lambda configuration and
/// its own role's credentials, assumed with the administrator's key of the
/// process environment).
pub async fn function_env(
    deployed: &Deployed,
    name: &str,
    overrides: &LocalOverrides,
) -> portcullis_core::Env {
    let admin = sdk_config().await;
    local::functions::env_of(deployed, name, &admin, overrides)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The applied REST API with no function registered yet: the deployment's
/// identity and gateway responses, metering with the emulator's usage plans
/// and API keys (read with `admin`).
pub fn unwired_gateway(deployed: &Deployed, admin: &aws_types::SdkConfig) -> Gateway {
    Gateway::new(deployed.api().unwrap_or_else(|e| panic!("{e}")))
        .with_deployment(deployed.identity())
        .with_gateway_responses(deployed.gateway_responses.clone())
        .with_usage(std::sync::Arc::new(local::EmulatorUsage::new(
            admin,
            &deployed.rest_api_id,
            &deployed.stage,
        )))
}

/// A gateway serving the applied REST API, every function on its own role,
/// metering with the emulator's usage plans and API keys, exactly as
/// `make local` serves it.
pub async fn deployed_gateway(deployed: &Deployed, overrides: &LocalOverrides) -> Gateway {
    let admin = sdk_config().await;
    let mut gateway = unwired_gateway(deployed, &admin);
    let failures = local::functions::wire_deployed(&mut gateway, deployed, &admin, overrides).await;
    assert!(failures.is_empty(), "functions did not start: {failures:?}");
    gateway
}

/// An API key of `tenant` with `scopes` (plan `standard`), inserted straight
/// into the key store; returns the full key.
pub async fn api_key(pool: &sqlx::PgPool, name: &str, tenant: &str, scopes: &[&str]) -> String {
    api_key_in_plan(pool, name, tenant, scopes, "standard")
        .await
        .0
}

/// An API key of `tenant` with `scopes` in usage plan `plan`, made by the
/// key store as `POST /v1/keys` makes one (with its `key.create` audit
/// entry), and given its usage key; returns the full key and its id.
pub async fn api_key_in_plan(
    pool: &sqlx::PgPool,
    name: &str,
    tenant: &str,
    scopes: &[&str],
    plan: &str,
) -> (String, uuid::Uuid) {
    use portcullis_auth::audit::Actor;
    use portcullis_auth::store::{self, KeyName, NewKey};
    let new = NewKey {
        name: KeyName::parse(name).expect("a test key's name"),
        tenant: tenant.parse().expect("a test key's tenant"),
        scopes: portcullis_auth::Scopes::new(
            scopes
                .iter()
                .map(|s| s.parse().expect("a test key's scope")),
        ),
        plan: plan.to_owned(),
        expires_at: None,
    };
    let db = portcullis_db::Database::from_pool(pool.clone());
    let created = store::create(&db, &new, Actor::Bootstrap, None)
        .await
        .expect("create a test key");
    let id = created.record.id;
    usage_key_for(&deployed(), id, plan).await;
    (created.key.expose_secret().to_owned(), id)
}

/// Give Portcullis key `id` of usage plan `plan` its API Gateway usage key
/// in the deployment, as the keys function does on `POST /v1/keys`: an API
/// key named and valued `portcullis_auth::usage::usage_key` (with the keys
/// function's `USAGE_KEY_PREFIX`), enabled, in the plan's usage plan
/// (`USAGE_PLAN_IDS`). Without one, API Gateway (and the local gateway)
/// refuses the key with 403 on every secured route. Returns the value;
/// `None` when the deployment predates per-consumer usage keys (no
/// `USAGE_PLAN_IDS`).
pub async fn usage_key_for(deployed: &Deployed, id: uuid::Uuid, plan: &str) -> Option<String> {
    let env = &deployed
        .function("keys")
        .unwrap_or_else(|e| panic!("{e}"))
        .environment;
    let plan_ids = env.get("USAGE_PLAN_IDS")?;
    let plan_id = plan_ids
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(p, _)| p.trim() == plan)
        .map(|(_, id)| id.trim().to_owned())
        .unwrap_or_else(|| panic!("USAGE_PLAN_IDS of the keys function has no plan {plan:?}"));
    let prefix = env
        .get(portcullis_auth::usage::USAGE_KEY_PREFIX)
        .map(String::as_str)
        .unwrap_or_default();
    let value =
        portcullis_auth::usage::usage_key(prefix, portcullis_auth::usage::Consumer::Key(id));
    let apigw = aws_sdk_apigateway::Client::new(&sdk_config().await);
    let key = apigw
        .create_api_key()
        .name(&value)
        .value(&value)
        .enabled(true)
        .description(format!("e2e usage key of Portcullis key {id}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create the usage key {value}: {e:?}"));
    apigw
        .create_usage_plan_key()
        .usage_plan_id(&plan_id)
        .key_id(key.id().expect("an API key has an id"))
        .key_type("API_KEY")
        .send()
        .await
        .unwrap_or_else(|e| panic!("add the usage key {value} to usage plan {plan_id}: {e:?}"));
    Some(value)
}

/// The identity-signing key of service `service`, read as the administrator
/// from its own secret, as ECS injects it into the service's task. The
/// function that signs for it names the secret in `IDENTITY_SECRET_ARNS`:
/// the proxy for `lambda` services, the authorizer for `vpc_link` ones.
pub async fn identity_key(deployed: &Deployed, service: &str) -> portcullis_identity::SigningKey {
    let entry = format!("{service}=");
    let secret_arn = ["proxy", "authorizer"]
        .iter()
        .filter_map(|f| deployed.function(f).ok())
        .filter_map(|f| f.environment.get("IDENTITY_SECRET_ARNS"))
        .flat_map(|arns| arns.split(','))
        .find_map(|e| e.trim().strip_prefix(entry.as_str()))
        .unwrap_or_else(|| {
            panic!(
                "neither the proxy's nor the authorizer's IDENTITY_SECRET_ARNS names service {service}'s identity secret"
            )
        })
        .to_owned();
    let secret = aws_sdk_secretsmanager::Client::new(&sdk_config().await)
        .get_secret_value()
        .secret_id(&secret_arn)
        .send()
        .await
        .expect("the identity secret Terraform created");
    portcullis_identity::SigningKey::from_base64(secret.secret_string().expect("a string secret"))
        .expect("the secret is a base64 signing key")
}

/// The sample service's identity-signing key ([`identity_key`] of `sample`).
pub async fn sample_identity_key(deployed: &Deployed) -> portcullis_identity::SigningKey {
    identity_key(deployed, "sample").await
}
