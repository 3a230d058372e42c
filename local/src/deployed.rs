//! The deployment Terraform applied to the AWS emulator, as the local gateway
//! runs it.
//!
//! `scripts/tf-local.sh deployment` writes `.local/deployment.json` after the
//! apply: the REST API body Terraform rendered (the emulator's import drops
//! the authorizer, so the body comes from Terraform's output) and, for each
//! Lambda function, its ARN, role and environment as the emulator's Lambda
//! API reports them (`GetFunctionConfiguration`). Nothing here is written by
//! hand: a variable a function needs and Terraform does not set is missing
//! locally too.
//!
//! Each function then runs with what Lambda gives it: its own environment,
//! `AWS_REGION`, and the credentials of its own role (`sts:AssumeRole` in the
//! emulator, which enforces IAM), so a call the role does not allow fails
//! locally as in AWS. The local differences are listed in [`local_env`].

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use portcullis_core::Env;
use serde::Deserialize;

use crate::event::Deployment;
use crate::spec::{Api, SpecError};

/// `.local/deployment.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Deployed {
    pub region: String,
    /// The emulator's endpoint (`AWS_ENDPOINT_URL` of every function).
    pub endpoint: String,
    pub account_id: String,
    pub rest_api_id: String,
    pub stage: String,
    /// The REST API body (JSON text), as Terraform rendered and applied it.
    pub rest_api_body: String,
    /// By crate name (`keys`, `jobs`, ...).
    pub functions: BTreeMap<String, DeployedFunction>,
    /// The REST API's gateway responses, by type, as the emulator's
    /// `GetGatewayResponses` reports them.
    #[serde(default)]
    pub gateway_responses: BTreeMap<String, crate::gateway::GatewayResponse>,
    /// The stage's access-log format (`access_log_settings.format`: a JSON
    /// template of `$context` variables), when the stage has an access log.
    #[serde(default)]
    pub access_log_format: Option<String>,
    /// The CloudWatch Logs group of the stage's access log.
    #[serde(default)]
    pub access_log_group: Option<String>,
}

impl Deployed {
    /// The stage's access-log format and group, when it has both.
    pub fn access_log(&self) -> Option<(&str, &str)> {
        match (&self.access_log_format, &self.access_log_group) {
            (Some(format), Some(group)) if !format.is_empty() && !group.is_empty() => {
                Some((format, group))
            }
            _ => None,
        }
    }
}

/// One Lambda function as the emulator holds it.
#[derive(Clone, Deserialize)]
pub struct DeployedFunction {
    pub arn: String,
    /// Its execution role.
    pub role: String,
    /// Its environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

impl std::fmt::Debug for DeployedFunction {
    // Environments may hold secrets (database URLs, client secrets): print names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployedFunction")
            .field("arn", &self.arn)
            .field("role", &self.role)
            .field("environment", &self.environment.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployedError {
    #[error(
        "cannot read the deployment file {path}: {source}; it is written by `scripts/tf-local.sh deployment` after the Terraform apply to the emulator (make local does both)"
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the deployment file {path} is not valid: {source}; run `scripts/tf-local.sh deployment` again"
    )]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("the REST API body in the deployment file is invalid: {0}")]
    Body(#[from] SpecError),
    #[error(
        "the deployment has no Lambda function {0:?}; is it created by terraform/ (module functions)?"
    )]
    NoFunction(String),
    #[error(
        "cannot assume the role {role} of function {function} in the emulator: {reason}; the gateway signs sts:AssumeRole with the emulator's administrator key (.local/admin-credentials)"
    )]
    AssumeRole {
        function: String,
        role: String,
        reason: String,
    },
}

/// Variables that point a function at the deployed database. Locally the
/// emulator's RDS instance is an API record, not a server, so they are
/// replaced by `DATABASE_URL` of the PostgreSQL server on this machine.
pub const DATABASE_VARS: [&str; 9] = [
    "DATABASE_URL",
    "DB_SECRET_ARN",
    "DB_IAM_AUTH",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_SSL_MODE",
    "DB_SSL_ROOT_CERT",
];

/// Where Lambda unpacks a function's zip (`LAMBDA_TASK_ROOT`).
pub const LAMBDA_TASK_ROOT: &str = "/var/task";

/// What this machine supplies in place of deployed endpoints that do not
/// exist locally.
#[derive(Debug, Clone, Default)]
pub struct LocalOverrides {
    /// The PostgreSQL database of this run (replaces [`DATABASE_VARS`]).
    pub database_url: Option<String>,
    /// What stands for the function's unpacked zip: the repository, whose
    /// build the functions run from (`make build` zips hold the binary and
    /// `platform.yaml`). Values under `/var/task/` are rebased onto it.
    pub task_root: Option<String>,
    /// Any further variable, by function (`*` for every function), e.g.
    /// `PROXY_UPSTREAM_<NAME>`: the private service on a local port instead
    /// of behind the internal ALB, which the emulator does not route.
    pub variables: BTreeMap<String, BTreeMap<String, String>>,
}

impl LocalOverrides {
    pub fn set(&mut self, function: &str, var: &str, value: impl Into<String>) -> &mut Self {
        self.variables
            .entry(function.to_owned())
            .or_default()
            .insert(var.to_owned(), value.into());
        self
    }
}

/// Credentials of a role session, as Lambda puts them in the environment.
#[derive(Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl Deployed {
    pub fn from_file(path: impl AsRef<Path>) -> Result<Deployed, DeployedError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| DeployedError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| DeployedError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Routes, integrations and the authorizer from the applied body.
    pub fn api(&self) -> Result<Api, DeployedError> {
        let by_arn: BTreeMap<String, String> = self
            .functions
            .iter()
            .map(|(name, f)| (f.arn.clone(), name.clone()))
            .collect();
        Ok(Api::from_rendered_body(&self.rest_api_body, &by_arn)?)
    }

    /// The identity API Gateway puts in the events (`requestContext`).
    pub fn identity(&self) -> Deployment {
        Deployment {
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            api_id: self.rest_api_id.clone(),
            stage: self.stage.clone(),
            stage_variables: BTreeMap::new(),
        }
    }

    pub fn function(&self, name: &str) -> Result<&DeployedFunction, DeployedError> {
        self.functions
            .get(name)
            .ok_or_else(|| DeployedError::NoFunction(name.to_owned()))
    }

    /// `sts:AssumeRole` of the function's role, signed with `admin`.
    pub async fn assume_role(
        &self,
        name: &str,
        admin: &SdkConfig,
    ) -> Result<RoleCredentials, DeployedError> {
        let function = self.function(name)?;
        assume_role(name, &function.role, admin).await
    }

    /// The function's environment as Lambda would set it, with the local
    /// overrides (see [`local_env`]).
    pub fn env_for(
        &self,
        name: &str,
        credentials: &RoleCredentials,
        overrides: &LocalOverrides,
    ) -> Result<Env, DeployedError> {
        let function = self.function(name)?;
        Ok(Env::Map(local_env(
            self,
            name,
            function,
            credentials,
            overrides,
        )))
    }
}

/// `sts:AssumeRole` of `role` for `function`, signed with `admin`.
pub async fn assume_role(
    function: &str,
    role: &str,
    admin: &SdkConfig,
) -> Result<RoleCredentials, DeployedError> {
    let provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name(format!("local-{function}"))
        .configure(admin)
        .build()
        .await;
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| DeployedError::AssumeRole {
            function: function.to_owned(),
            role: role.to_owned(),
            reason: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })?;
    Ok(RoleCredentials {
        access_key_id: creds.access_key_id().to_owned(),
        secret_access_key: creds.secret_access_key().to_owned(),
        session_token: creds.session_token().map(str::to_owned),
    })
}

/// A function's environment: what the emulator's Lambda holds, plus what
/// the Lambda service adds (`AWS_REGION`, `AWS_DEFAULT_REGION`,
/// `AWS_LAMBDA_FUNCTION_NAME`, the role's credentials), plus the local
/// differences, each for a reason:
/// - `AWS_ENDPOINT_URL`: the emulator; and `COGNITO_JWKS_URL`: the pool's
///   JWKS at the emulator (the authorizer fetches it over HTTPS from the
///   issuer's host, which the SDK endpoint setting does not reach);
/// - paths under `/var/task/` (the unpacked zip, e.g. `PLATFORM_FILE`) point
///   into [`LocalOverrides::task_root`], the repository the functions were
///   built from;
/// - [`DATABASE_VARS`] → `DATABASE_URL` of this machine's PostgreSQL (the
///   emulator's RDS instance is not a server);
/// - [`LocalOverrides::variables`] (the private service's local address).
pub fn local_env(
    deployed: &Deployed,
    name: &str,
    function: &DeployedFunction,
    credentials: &RoleCredentials,
    overrides: &LocalOverrides,
) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = function
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let lambda_name = function.arn.rsplit(':').next().unwrap_or(name).to_owned();
    for (k, v) in [
        ("AWS_REGION", deployed.region.clone()),
        ("AWS_DEFAULT_REGION", deployed.region.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME", lambda_name),
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.clone(),
        ),
        ("AWS_ENDPOINT_URL", deployed.endpoint.clone()),
    ] {
        env.insert(k.to_owned(), v);
    }
    // The authorizer fetches the pool's JWKS over HTTPS from the issuer's
    // host, not through the SDK, so AWS_ENDPOINT_URL does not reach it: the
    // emulator serves it at <endpoint>/<pool id>/.well-known/jwks.json.
    if !env.contains_key("COGNITO_JWKS_URL") && !env.contains_key("COGNITO_JWKS_JSON") {
        if let Some(pool) = env
            .get("COGNITO_ISSUER")
            .and_then(|iss| cognito_pool_of(iss, &deployed.region))
        {
            let url = format!(
                "{}/{pool}/.well-known/jwks.json",
                deployed.endpoint.trim_end_matches('/')
            );
            env.insert("COGNITO_JWKS_URL".to_owned(), url);
        }
    }
    if let Some(root) = &overrides.task_root {
        for value in env.values_mut() {
            if let Some(rest) = value.strip_prefix(LAMBDA_TASK_ROOT) {
                if rest.is_empty() || rest.starts_with('/') {
                    *value = format!("{}{rest}", root.trim_end_matches('/'));
                }
            }
        }
        env.insert("LAMBDA_TASK_ROOT".to_owned(), root.clone());
    }
    match &credentials.session_token {
        Some(t) => env.insert("AWS_SESSION_TOKEN".to_owned(), t.clone()),
        None => env.remove("AWS_SESSION_TOKEN"),
    };
    if let Some(url) = &overrides.database_url {
        let uses_database = DATABASE_VARS.iter().any(|v| env.contains_key(*v));
        if uses_database {
            for v in DATABASE_VARS {
                env.remove(v);
            }
            env.insert("DATABASE_URL".to_owned(), url.clone());
        }
    }
    for scope in ["*", name] {
        if let Some(vars) = overrides.variables.get(scope) {
            for (k, v) in vars {
                env.insert(k.clone(), v.clone());
            }
        }
    }
    env
}

/// `value` quoted for a POSIX shell (`set -a; . file`): inside single
/// quotes, each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// `https://cognito-idp.<region>.amazonaws.com/<pool id>` → `<pool id>`.
fn cognito_pool_of(issuer: &str, region: &str) -> Option<String> {
    let pool = issuer.strip_prefix(&format!("https://cognito-idp.{region}.amazonaws.com/"))?;
    (!pool.is_empty() && !pool.contains('/')).then(|| pool.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed() -> Deployed {
        let body = serde_json::json!({
            "openapi": "3.0.1",
            "components": {"securitySchemes": {"portcullis": {
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "custom",
                "x-amazon-apigateway-authorizer": {
                    "type": "request", "identitySource": "", "authorizerResultTtlInSeconds": 0,
                    "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:p-local-authorizer/invocations"
                }}}},
            "paths": {"/v1/things": {"get": {
                "security": [{"portcullis": [], "api_key": []}],
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy", "httpMethod": "POST",
                    "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:p-local-keys/invocations"
                }}}}
        });
        let f = |arn: &str, env: &[(&str, &str)]| DeployedFunction {
            arn: arn.to_owned(),
            role: "arn:aws:iam::123456789012:role/r".to_owned(),
            environment: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        Deployed {
            region: "us-east-1".into(),
            endpoint: "http://127.0.0.1:4566".into(),
            account_id: "123456789012".into(),
            rest_api_id: "abc123".into(),
            stage: "local".into(),
            rest_api_body: body.to_string(),
            gateway_responses: BTreeMap::new(),
            access_log_format: None,
            access_log_group: None,
            functions: BTreeMap::from([
                (
                    "authorizer".to_owned(),
                    f(
                        "arn:aws:lambda:us-east-1:123456789012:function:p-local-authorizer",
                        &[("DB_IAM_AUTH", "true"), ("DB_HOST", "rds.example")],
                    ),
                ),
                (
                    "keys".to_owned(),
                    f(
                        "arn:aws:lambda:us-east-1:123456789012:function:p-local-keys",
                        &[("DB_SECRET_ARN", "arn:secret"), ("RUST_LOG", "info")],
                    ),
                ),
            ]),
        }
    }

    fn creds() -> RoleCredentials {
        RoleCredentials {
            access_key_id: "ASIAROLE".into(),
            secret_access_key: "s".into(),
            session_token: Some("t".into()),
        }
    }

    #[test]
    fn the_applied_body_routes_to_the_functions_by_arn() {
        let api = deployed().api().expect("the body parses");
        assert_eq!(api.authorizer.as_deref(), Some("authorizer"));
        let things = &api.resources[0];
        assert_eq!(things.methods["GET"].function, "keys");
        assert!(things.methods["GET"].secured);
    }

    #[test]
    fn an_integration_to_an_unknown_function_is_refused() {
        let mut d = deployed();
        d.functions.remove("keys");
        let err = d.api().expect_err("keys is gone");
        assert!(
            err.to_string()
                .contains("not the invocation uri of a known Lambda function"),
            "{err}"
        );
    }

    #[test]
    fn a_function_runs_with_its_own_environment_and_role_credentials() {
        let d = deployed();
        let overrides = LocalOverrides {
            database_url: Some("postgres://postgres@127.0.0.1/x".into()),
            ..LocalOverrides::default()
        };
        let env = local_env(
            &d,
            "keys",
            d.function("keys").expect("keys"),
            &creds(),
            &overrides,
        );
        assert_eq!(env["AWS_ACCESS_KEY_ID"], "ASIAROLE");
        assert_eq!(env["AWS_SESSION_TOKEN"], "t");
        assert_eq!(env["AWS_REGION"], "us-east-1");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "p-local-keys");
        assert_eq!(env["RUST_LOG"], "info");
        assert_eq!(env["DATABASE_URL"], "postgres://postgres@127.0.0.1/x");
        assert!(!env.contains_key("DB_SECRET_ARN"));
        // The authorizer's IAM database settings are replaced the same way.
        let env = local_env(
            &d,
            "authorizer",
            d.function("authorizer").expect("authorizer"),
            &creds(),
            &overrides,
        );
        assert!(!env.contains_key("DB_IAM_AUTH") && !env.contains_key("DB_HOST"));
    }

    #[test]
    fn a_function_without_database_settings_gets_no_database() {
        let mut d = deployed();
        d.functions
            .get_mut("keys")
            .expect("keys")
            .environment
            .clear();
        let overrides = LocalOverrides {
            database_url: Some("postgres://x".into()),
            ..LocalOverrides::default()
        };
        let env = local_env(
            &d,
            "keys",
            d.function("keys").expect("keys"),
            &creds(),
            &overrides,
        );
        assert!(!env.contains_key("DATABASE_URL"));
    }

    #[test]
    fn overrides_apply_to_every_function_or_one() {
        let d = deployed();
        let mut overrides = LocalOverrides::default();
        overrides.set("*", "RUST_LOG", "debug").set(
            "keys",
            "PROXY_UPSTREAM_SAMPLE",
            "http://127.0.0.1:3001/sample",
        );
        let keys = local_env(
            &d,
            "keys",
            d.function("keys").expect("keys"),
            &creds(),
            &overrides,
        );
        assert_eq!(keys["RUST_LOG"], "debug");
        assert_eq!(
            keys["PROXY_UPSTREAM_SAMPLE"],
            "http://127.0.0.1:3001/sample"
        );
        let auth = local_env(
            &d,
            "authorizer",
            d.function("authorizer").expect("authorizer"),
            &creds(),
            &overrides,
        );
        assert!(!auth.contains_key("PROXY_UPSTREAM_SAMPLE"));
    }

    #[test]
    fn the_pool_jwks_comes_from_the_emulator() {
        let mut d = deployed();
        d.functions
            .get_mut("authorizer")
            .expect("authorizer")
            .environment
            .insert(
                "COGNITO_ISSUER".into(),
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc".into(),
            );
        let f = d.function("authorizer").expect("authorizer").clone();
        let env = local_env(&d, "authorizer", &f, &creds(), &LocalOverrides::default());
        assert_eq!(
            env["COGNITO_JWKS_URL"],
            "http://127.0.0.1:4566/us-east-1_abc/.well-known/jwks.json"
        );
        assert_eq!(
            cognito_pool_of("https://evil.example/us-east-1_abc", "us-east-1"),
            None
        );
    }

    #[test]
    fn paths_in_the_zip_point_into_the_task_root() {
        let mut d = deployed();
        d.functions
            .get_mut("keys")
            .expect("keys")
            .environment
            .insert("PLATFORM_FILE".into(), "/var/task/platform.yaml".into());
        let overrides = LocalOverrides {
            task_root: Some("/repo/".into()),
            ..LocalOverrides::default()
        };
        let env = local_env(
            &d,
            "keys",
            d.function("keys").expect("keys"),
            &creds(),
            &overrides,
        );
        assert_eq!(env["PLATFORM_FILE"], "/repo/platform.yaml");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/repo/");
        assert_eq!(env["RUST_LOG"], "info", "other values are left alone");
    }

    #[test]
    fn shell_quoting_keeps_quotes_spaces_and_dollars_literal() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's $HOME `x`"), "'it'\\''s $HOME `x`'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_access_log_fields_are_optional_and_used_only_together() {
        let base = r#""region":"us-east-1","endpoint":"x","account_id":"1","rest_api_id":"a","stage":"v1","rest_api_body":"{}","functions":{}"#;
        let without: Deployed = serde_json::from_str(&format!("{{{base}}}")).expect("loads");
        assert_eq!(without.access_log(), None);
        let with: Deployed = serde_json::from_str(&format!(
            r#"{{{base},"access_log_format":"{{\"id\":\"$context.requestId\"}}","access_log_group":"/aws/apigateway/p"}}"#
        ))
        .expect("loads");
        assert_eq!(
            with.access_log(),
            Some((r#"{"id":"$context.requestId"}"#, "/aws/apigateway/p"))
        );
    }

    #[test]
    fn a_malformed_or_incomplete_file_is_refused_with_what_to_do() {
        let dir = std::env::temp_dir().join(format!("deployed-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (name, text) in [
            ("not-json", "{ this is not json"),
            (
                "no-functions",
                r#"{"region":"us-east-1","endpoint":"x","account_id":"1","rest_api_id":"a","stage":"v1","rest_api_body":"{}"}"#,
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write");
            let err = Deployed::from_file(&path).expect_err("refused");
            assert!(err.to_string().contains("is not valid"), "{err}");
            assert!(
                err.to_string().contains("scripts/tf-local.sh deployment"),
                "{err}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_says_how_to_make_it() {
        let err = Deployed::from_file("/nonexistent/deployment.json").expect_err("no file");
        assert!(
            err.to_string().contains("scripts/tf-local.sh deployment"),
            "{err}"
        );
    }
}
