//! The authorizer's Secrets Manager reader (`portcullis_aws::secrets`'s lean
//! one: one SigV4-signed `GetSecretValue`, no SDK client) against the emulator with IAM enforced
//! (`make test` starts it and exports AWS_ENDPOINT_URL and its
//! administrator's key): a function role's credentials, as Lambda hands
//! them, read what its policy grants and are refused otherwise.

mod common;

use authorizer::secrets::SecretsManager;
use common::{create_secret, may_read, role_env};
use portcullis_core::Env;
use portcullis_identity::keys::{self, Required};
use secrecy::ExposeSecret as _;
use serde_json::json;

/// The variable that names the authorizer's secrets, for the errors' hints.
const NAMED_BY: &str = "IDENTITY_SECRET_ARNS";
const KEY: &str = "bGVhbi1yZWFkZXItaWRlbnRpdHkta2V5LTMyLWJ5dGVz"; // 32 bytes

fn reader(env: &[(String, String)]) -> SecretsManager {
    SecretsManager::from_env(&Env::from_pairs(env.to_vec())).expect("a complete Lambda environment")
}

#[tokio::test]
async fn a_role_reads_the_secret_its_policy_grants() {
    let arn = create_secret("portcullis-lean-read", KEY).await;
    let env = role_env(may_read(&arn)).await;
    let value = reader(&env).read(&arn).await.unwrap();
    assert_eq!(value.string.expose_secret(), KEY);

    // And through the shared loader, as the authorizer starts.
    let mut with_arns = env.clone();
    with_arns.push(("IDENTITY_SECRET_ARNS".to_owned(), format!("web={arn}")));
    let env = Env::from_pairs(with_arns);
    let required = Required {
        names: &["web"],
        what: "integration: vpc_link services",
    };
    let loaded = keys::load_with(required, &env, || async {
        Ok(SecretsManager::from_env(&env)?)
    })
    .await
    .unwrap();
    assert!(loaded.contains_key("web"));
}

/// A role whose policy does not grant `secretsmanager:GetSecretValue` is
/// refused, and the error says what to grant. (Locally the check is per
/// action, not per secret: scripts/moto-server.py.)
#[tokio::test]
async fn a_role_without_get_secret_value_is_refused_saying_what_to_grant() {
    let arn = create_secret("portcullis-lean-denied", KEY).await;
    let env = role_env(json!([{
        "Effect": "Allow",
        "Action": "secretsmanager:DescribeSecret",
        "Resource": arn,
    }]))
    .await;
    let e = reader(&env).read(&arn).await.unwrap_err().explain(NAMED_BY);
    assert!(
        e.contains("AccessDenied")
            && e.contains("grant secretsmanager:GetSecretValue on the secret"),
        "{e}"
    );
    assert!(!e.contains(KEY), "{e}");
}

#[tokio::test]
async fn a_missing_secret_is_named_not_found() {
    let missing = format!(
        "arn:aws:secretsmanager:us-east-1:{}:secret:{}-AbCdEf",
        common::ACCOUNT,
        portcullis_testkit::unique("portcullis-lean-missing")
    );
    let env = role_env(may_read(&missing)).await;
    let e = reader(&env)
        .read(&missing)
        .await
        .unwrap_err()
        .explain(NAMED_BY);
    assert!(
        e.contains("ResourceNotFoundException") && e.contains("no such secret"),
        "{e}"
    );
}

/// The emulator checks the signature: a wrong secret key, or a session's
/// key without its token, is refused as bad credentials.
#[tokio::test]
async fn requests_signed_with_bad_credentials_are_refused() {
    let arn = create_secret("portcullis-lean-badsig", KEY).await;
    let env = role_env(may_read(&arn)).await;
    for (var, value) in [
        ("AWS_SECRET_ACCESS_KEY", "wrong"),
        ("AWS_SESSION_TOKEN", ""),
    ] {
        let mut bad: Vec<(String, String)> =
            env.iter().filter(|(k, _)| k != var).cloned().collect();
        if !value.is_empty() {
            bad.push((var.to_owned(), value.to_owned()));
        }
        let e = reader(&bad).read(&arn).await.unwrap_err().explain(NAMED_BY);
        assert!(
            e.contains("GetSecretValue failed") && e.contains("AWS credentials were refused"),
            "{var}: {e}"
        );
        assert!(!e.contains(KEY), "{e}");
    }
}

/// Nothing listens: the error names the endpoint and what to check.
#[tokio::test]
async fn an_unreachable_endpoint_is_named() {
    let env = Env::from_pairs([
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:8"),
    ]);
    let e = SecretsManager::from_env(&env)
        .unwrap()
        .read("arn:x")
        .await
        .unwrap_err()
        .explain(NAMED_BY);
    assert!(
        e.contains("http://127.0.0.1:9/") && e.contains("could not be reached"),
        "{e}"
    );
}
