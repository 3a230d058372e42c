//! What each function needs to start and what its first event is: the
//! minimum environment its `State::from_env` reads (see each function's
//! doc in `docs/*.md`) and an event built from `tests/fixtures/*.json`.
//!
//! A value may contain `{mock}`: it becomes the `host:port` of that spawn's
//! mock Runtime API (which also serves the JWKS and the proxy's upstream).

use anyhow::Context as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The seven functions, in the order the table lists them.
pub const FUNCTIONS: [&str; 7] = [
    "authorizer",
    "jobs",
    "proxy",
    "keys",
    "task-events",
    "reconciler",
    "migrate",
];

/// The secret the proxy reads at start (created by the harness in the emulator).
pub const IDENTITY_SECRET: &str = "portcullis-coldstart-identity";
/// Tenant of the benchmark's callers.
pub const TENANT: &str = "bench";

/// What every profile is built from.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The scratch database the functions use (already migrated).
    pub database_url: String,
    /// `AWS_ENDPOINT_URL` of the functions: the emulator, or a closed port.
    pub aws_endpoint: String,
    /// Whether `aws_endpoint` is an emulator holding [`IDENTITY_SECRET`].
    pub emulator: bool,
    /// The functions' AWS key (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`):
    /// the emulator enforces IAM, so the harness hands on its own (the
    /// emulator administrator's, which `make bench-coldstart` exports);
    /// `test`/`test` when unset (no emulator: every AWS call fails anyway).
    pub credentials: (String, String),
    pub platform_file: PathBuf,
    pub fixtures: PathBuf,
    /// A Cognito-shaped access token the mock's JWKS verifies.
    pub token: String,
    pub issuer: String,
    pub client_id: String,
}

/// One function's start-up environment and first event.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub env: Vec<(String, String)>,
    pub event: Value,
    /// What the function calls at init beyond building clients.
    pub init_calls: &'static str,
}

impl Profile {
    /// The environment with `{mock}` resolved.
    pub fn env_for(&self, mock: &str) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.replace("{mock}", mock)))
            .collect()
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// What Lambda itself sets (the runtime panics without the first four),
/// plus a region and the harness's credentials.
fn lambda_env(name: &str, memory_mb: u32, i: &Inputs) -> Vec<(String, String)> {
    let mut env = pairs(&[
        ("AWS_LAMBDA_RUNTIME_API", "{mock}"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        // Loopback only: never ask an instance metadata service.
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]);
    env.push(("AWS_LAMBDA_FUNCTION_NAME".into(), name.to_owned()));
    env.push((
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
        memory_mb.to_string(),
    ));
    env.push((
        "AWS_LAMBDA_LOG_GROUP_NAME".into(),
        format!("/aws/lambda/{name}"),
    ));
    env.push(("AWS_ACCESS_KEY_ID".into(), i.credentials.0.clone()));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), i.credentials.1.clone()));
    env.push(("AWS_ENDPOINT_URL".into(), i.aws_endpoint.clone()));
    env
}

fn fixture(dir: &Path, name: &str) -> anyhow::Result<Value> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the fixture {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// `apigw-rest-proxy-event.json` turned into `method resource` (no query,
/// no body) with the authorizer context an API key of [`TENANT`] gives.
fn http_event(
    dir: &Path,
    method: &str,
    resource: &str,
    path: &str,
    path_parameters: Value,
    scopes: &str,
) -> anyhow::Result<Value> {
    let mut e = fixture(dir, "apigw-rest-proxy-event.json")?;
    e["resource"] = json!(resource);
    e["path"] = json!(path);
    e["httpMethod"] = json!(method);
    e["pathParameters"] = path_parameters;
    e["queryStringParameters"] = Value::Null;
    e["multiValueQueryStringParameters"] = Value::Null;
    e["headers"] = json!({ "accept": "application/json" });
    e["multiValueHeaders"] = json!({ "accept": ["application/json"] });
    e["body"] = Value::Null;
    e["isBase64Encoded"] = json!(false);
    let ctx = &mut e["requestContext"];
    ctx["resourcePath"] = json!(resource);
    ctx["httpMethod"] = json!(method);
    ctx["path"] = json!(format!("/prod{path}"));
    ctx["authorizer"] = json!({
        "principalId": "coldstart",
        "principal_id": "coldstart",
        "principal_type": "api_key",
        "tenant": TENANT,
        "scopes": scopes,
        "key_id": "0190c0d5-7a2b-7c3d-8e4f-5a6b7c8d9e0f",
    });
    Ok(e)
}

/// `apigw-request-authorizer-event.json` for `GET /v1/jobs` with the token.
fn authorizer_event(dir: &Path, token: &str) -> anyhow::Result<Value> {
    let mut e = fixture(dir, "apigw-request-authorizer-event.json")?;
    let bearer = format!("Bearer {token}");
    e["methodArn"] = json!("arn:aws:execute-api:us-east-1:123456789012:coldstart/prod/GET/v1/jobs");
    e["resource"] = json!("/v1/jobs");
    e["path"] = json!("/v1/jobs");
    e["httpMethod"] = json!("GET");
    e["headers"] = json!({ "Authorization": bearer });
    e["multiValueHeaders"] = json!({ "Authorization": [bearer] });
    e["queryStringParameters"] = json!({});
    e["multiValueQueryStringParameters"] = json!({});
    e["stageVariables"] = json!({});
    let ctx = &mut e["requestContext"];
    ctx["resourcePath"] = json!("/v1/jobs");
    ctx["path"] = json!("/prod/v1/jobs");
    ctx["httpMethod"] = json!("GET");
    ctx["stage"] = json!("prod");
    ctx["apiId"] = json!("coldstart");
    Ok(e)
}

/// The profile of `name`; a name not among [`FUNCTIONS`] gets the Lambda
/// environment, the database and the event `{}` (enough for `hello`).
pub fn profile(name: &str, i: &Inputs) -> anyhow::Result<Profile> {
    let platform = i.platform_file.display().to_string();
    let db = ("DATABASE_URL".to_owned(), i.database_url.clone());
    let registry = ("PLATFORM_FILE".to_owned(), platform);
    let ecs = pairs(&[
        ("ECS_CLUSTER", "portcullis-coldstart"),
        ("JOB_SUBNETS", "subnet-1"),
        ("JOB_SECURITY_GROUPS", "sg-1"),
    ]);
    let memory = if name == "proxy" { 512 } else { 256 };
    let mut env = lambda_env(name, memory, i);
    let (event, init_calls) = match name {
        "authorizer" => {
            env.push(db);
            env.push(registry);
            env.extend(pairs(&[
                ("COGNITO_ISSUER", &i.issuer),
                ("COGNITO_CLIENT_IDS", &i.client_id),
                // The token's user is in tenant:<TENANT> and `coldstart`.
                ("COGNITO_GROUP_SCOPES", "coldstart=jobs:read"),
                // Fetched on the first JWT, as from Cognito in AWS.
                ("COGNITO_JWKS_URL", "http://{mock}/jwks.json"),
                // platform.yaml's vpc_link service `web`: the authorizer
                // signs its identity with its key, read by the first request
                // for web (the harness's secret stands in for it; the
                // benchmark's request is for /v1/jobs, so it is not read).
                ("IDENTITY_SECRET_ARNS", "web=portcullis-coldstart-identity"),
            ]));
            let calls = "none (web's identity key read by the first request for web; JWKS fetched on the first JWT)";
            (authorizer_event(&i.fixtures, &i.token)?, calls)
        }
        "jobs" => {
            env.push(db);
            env.push(registry);
            env.extend(ecs);
            (
                http_event(
                    &i.fixtures,
                    "GET",
                    "/v1/jobs",
                    "/v1/jobs",
                    Value::Null,
                    "jobs:read",
                )?,
                "none",
            )
        }
        "proxy" => {
            env.push(db);
            env.push(registry);
            env.extend(pairs(&[
                // platform.yaml registers one service, `sample`, whose own
                // key is the secret the harness creates ([`IDENTITY_SECRET`]).
                (
                    "IDENTITY_SECRET_ARNS",
                    "sample=portcullis-coldstart-identity",
                ),
                ("PROXY_ALB_URL", "http://{mock}/upstream"),
            ]));
            // The key is read by the first request that signs: this event's.
            let calls = if i.emulator {
                "none (sample's identity key read by the first request, this event: GetSecretValue on the emulator)"
            } else {
                "none (sample's identity key read by the first request: no emulator given, so it fails)"
            };
            (
                http_event(
                    &i.fixtures,
                    "GET",
                    "/v1/services/{service}/{proxy+}",
                    "/v1/services/sample/echo",
                    json!({ "service": "sample", "proxy": "echo" }),
                    "services:sample",
                )?,
                calls,
            )
        }
        "keys" => {
            env.push(db);
            env.push(registry);
            (
                http_event(
                    &i.fixtures,
                    "GET",
                    "/v1/health",
                    "/v1/health",
                    Value::Null,
                    "",
                )?,
                "none",
            )
        }
        "task-events" => {
            env.push(db);
            env.push(registry);
            env.extend(ecs);
            (fixture(&i.fixtures, "ecs-task-running.json")?, "none")
        }
        "reconciler" => {
            env.push(db);
            env.push(registry);
            env.extend(ecs);
            (json!({}), "none")
        }
        "migrate" => {
            env.push(db);
            env.push(registry);
            (
                json!({}),
                "none (DATABASE_URL; DB_SECRET_ARN would read Secrets Manager)",
            )
        }
        _ => (json!({}), "none"),
    };
    Ok(Profile {
        name: name.to_owned(),
        env,
        event,
        init_calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            database_url: "postgres://postgres@127.0.0.1:5432/x".into(),
            aws_endpoint: "http://127.0.0.1:9".into(),
            emulator: false,
            credentials: ("test".into(), "test".into()),
            platform_file: PathBuf::from("platform.yaml"),
            fixtures: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures"),
            token: "t".into(),
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_X".into(),
            client_id: "c".into(),
        }
    }

    #[test]
    fn every_function_has_the_runtime_variables_and_its_event() {
        for name in FUNCTIONS {
            let p = profile(name, &inputs()).unwrap();
            let env = p.env_for("127.0.0.1:4242");
            let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
            assert_eq!(
                get("AWS_LAMBDA_RUNTIME_API"),
                Some("127.0.0.1:4242"),
                "{name}"
            );
            assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some(name));
            assert!(get("DATABASE_URL").is_some(), "{name}");
            assert!(p.event.is_object(), "{name}");
        }
    }

    #[test]
    fn http_events_route_on_the_resource_path_with_a_caller() {
        let p = profile("proxy", &inputs()).unwrap();
        assert_eq!(
            p.event["requestContext"]["resourcePath"],
            "/v1/services/{service}/{proxy+}"
        );
        assert_eq!(p.event["pathParameters"]["service"], "sample");
        assert_eq!(p.event["requestContext"]["authorizer"]["tenant"], TENANT);
        let a = profile("authorizer", &inputs()).unwrap();
        assert_eq!(a.event["headers"]["Authorization"], "Bearer t");
        assert!(
            a.event["methodArn"]
                .as_str()
                .unwrap()
                .ends_with("/GET/v1/jobs")
        );
    }
}
