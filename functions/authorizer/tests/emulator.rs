//! A real token from the emulator's Cognito (moto), verified with the JWKS
//! the emulator serves. Needs AWS_ENDPOINT_URL: run through `make test`.

mod common;

use authorizer::State;
use authorizer::config::Config;
use common::*;
use portcullis_core::Env;
use serde_json::{Value, json};

fn endpoint() -> String {
    portcullis_testkit::emulator_endpoint()
}

async fn cognito(http: &reqwest::Client, target: &str, body: Value) -> Value {
    // Signed with the key `make test` exports: the emulator enforces IAM.
    let url = format!("{}/", endpoint().trim_end_matches('/'));
    let amz_target = format!("AWSCognitoIdentityProviderService.{target}");
    let body = body.to_string();
    let headers = [
        ("x-amz-target", amz_target.as_str()),
        ("content-type", "application/x-amz-json-1.1"),
    ];
    let signed = portcullis_testkit::sigv4::sign_request(
        "cognito-idp",
        "POST",
        &url,
        &headers,
        body.as_bytes(),
    );
    let mut request = http.post(&url).body(body);
    for (name, value) in headers.iter().copied() {
        request = request.header(name, value);
    }
    for (name, value) in &signed {
        request = request.header(name, value);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{target}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn an_access_token_issued_by_the_emulator_is_accepted_and_a_tampered_one_is_not() {
    let ep = endpoint();
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let http = reqwest::Client::new();
    let name = format!("authz-test-{}", uuid::Uuid::new_v4());
    let pool = cognito(&http, "CreateUserPool", json!({"PoolName": name})).await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let client = cognito(
        &http,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "authz-test", "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH"]}),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    cognito(
        &http,
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "alice", "MessageAction": "SUPPRESS"}),
    )
    .await;
    cognito(
        &http,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool_id, "Username": "alice", "Password": "Correct-Horse-9", "Permanent": true}),
    )
    .await;
    cognito(
        &http,
        "CreateGroup",
        json!({"UserPoolId": pool_id, "GroupName": "admins"}),
    )
    .await;
    cognito(
        &http,
        "AdminAddUserToGroup",
        json!({"UserPoolId": pool_id, "Username": "alice", "GroupName": "admins"}),
    )
    .await;
    // Her tenant: the group an administrator put her in (docs/auth.md#tenancy).
    cognito(
        &http,
        "CreateGroup",
        json!({"UserPoolId": pool_id, "GroupName": "tenant:demo"}),
    )
    .await;
    cognito(
        &http,
        "AdminAddUserToGroup",
        json!({"UserPoolId": pool_id, "Username": "alice", "GroupName": "tenant:demo"}),
    )
    .await;
    let auth = cognito(
        &http,
        "AdminInitiateAuth",
        json!({"UserPoolId": pool_id, "ClientId": client_id, "AuthFlow": "ADMIN_NO_SRP_AUTH",
               "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Correct-Horse-9"}}),
    )
    .await;
    let access = auth["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_token = auth["AuthenticationResult"]["IdToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
    let jwks_url = format!(
        "{}/{pool_id}/.well-known/jwks.json",
        ep.trim_end_matches('/')
    );
    let cfg = Config::from_env(&Env::from_pairs([
        ("COGNITO_ISSUER", issuer.as_str()),
        ("COGNITO_JWKS_URL", jwks_url.as_str()),
        ("COGNITO_CLIENT_IDS", client_id.as_str()),
        ("COGNITO_GROUP_SCOPES", "admins=keys:admin jobs:read"),
    ]))
    .unwrap();
    let s = State::new(cfg, dead_db()).unwrap();

    // The emulator's access token carries `cognito:groups`, as Cognito's does.
    let r = run(&s, bearer(&access)).await.unwrap();
    assert_eq!(r.context.principal_type, "user");
    assert_eq!(r.context.tenant, "demo");
    assert_eq!(r.context.scopes, "jobs:read keys:admin");
    let (effect, res) = statement(&r);
    assert_eq!(effect, "Allow");
    assert!(res.iter().any(|x| x.ends_with("/GET/v1/keys")), "{res:?}");
    assert_eq!(s.jwks_fetches(), 1);

    // The id token is refused where access tokens are required.
    assert_unauthorized(run(&s, bearer(&id_token)).await);

    // One flipped character in the payload: refused.
    let parts: Vec<&str> = access.split('.').collect();
    let mut payload = parts[1].as_bytes().to_vec();
    payload[5] = if payload[5] == b'A' { b'B' } else { b'A' };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(payload).unwrap(),
        parts[2]
    );
    assert_unauthorized(run(&s, bearer(&tampered)).await);

    // Bob is in `admins` but in no tenant group: refused.
    cognito(
        &http,
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "bob", "MessageAction": "SUPPRESS"}),
    )
    .await;
    cognito(
        &http,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool_id, "Username": "bob", "Password": "Correct-Horse-9", "Permanent": true}),
    )
    .await;
    cognito(
        &http,
        "AdminAddUserToGroup",
        json!({"UserPoolId": pool_id, "Username": "bob", "GroupName": "admins"}),
    )
    .await;
    let bob = cognito(
        &http,
        "AdminInitiateAuth",
        json!({"UserPoolId": pool_id, "ClientId": client_id, "AuthFlow": "ADMIN_NO_SRP_AUTH",
               "AuthParameters": {"USERNAME": "bob", "PASSWORD": "Correct-Horse-9"}}),
    )
    .await;
    let bob_access = bob["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_unauthorized(run(&s, bearer(&bob_access)).await);

    // Another app client of the same pool is not in the allowlist.
    let other_cfg = Config::from_env(&Env::from_pairs([
        ("COGNITO_ISSUER", issuer.as_str()),
        ("COGNITO_JWKS_URL", jwks_url.as_str()),
        ("COGNITO_CLIENT_IDS", "some-other-client"),
    ]))
    .unwrap();
    let other = State::new(other_cfg, dead_db()).unwrap();
    assert_unauthorized(run(&other, bearer(&access)).await);
}
