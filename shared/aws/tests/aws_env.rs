//! `sdk_config_in` against the emulator (`make test ARGS='-p portcullis-aws'`):
//! a map's credentials are the ones requests are signed with, its endpoints
//! are the ones called, and nothing comes from the process.

use portcullis_aws::{sdk_config, sdk_config_in};
use portcullis_core::Env;
use portcullis_testkit::env::{emulator_endpoint, unique};

const ACCOUNT: &str = "123456789012";

/// Temporary credentials of a role session, from the emulator's STS (as
/// Lambda's are: key, secret and session token).
async fn role_session(role: &str, session: &str) -> aws_sdk_sts::types::Credentials {
    let sts = aws_sdk_sts::Client::new(&sdk_config().await);
    sts.assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
        .role_session_name(session)
        .send()
        .await
        .expect("AssumeRole on the emulator")
        .credentials
        .expect("AssumeRole returns credentials")
}

fn lambda_env(creds: &aws_sdk_sts::types::Credentials, extra: &[(&str, &str)]) -> Env {
    let mut pairs = vec![
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), creds.access_key_id.clone()),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            creds.secret_access_key.clone(),
        ),
        ("AWS_SESSION_TOKEN".to_owned(), creds.session_token.clone()),
    ];
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Env::from_pairs(pairs)
}

async fn caller_arn(sdk: &aws_config::SdkConfig) -> Result<String, String> {
    aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map(|out| out.arn.unwrap_or_default())
        .map_err(|e| aws_sdk_sts::error::DisplayErrorContext(&e).to_string())
}

#[tokio::test]
async fn requests_are_signed_with_the_maps_credentials() {
    let (role, session) = (unique("fn-role"), unique("fn"));
    let creds = role_session(&role, &session).await;
    let endpoint = emulator_endpoint();
    let sdk = sdk_config_in(&lambda_env(&creds, &[("AWS_ENDPOINT_URL", &endpoint)]))
        .await
        .expect("a complete Lambda environment");
    assert_eq!(
        caller_arn(&sdk).await.expect("GetCallerIdentity"),
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")
    );
    // The process's own credentials are another identity (the contrast that
    // makes the assertion above mean something).
    let process = caller_arn(&sdk_config().await)
        .await
        .expect("GetCallerIdentity");
    assert!(!process.contains(&role), "{process}");
    // The session token is the map's too: the emulator (IAM enforced)
    // refuses the session's key without it.
    let mut without_token = creds.clone();
    without_token.session_token = String::new();
    let sdk = sdk_config_in(&lambda_env(
        &without_token,
        &[("AWS_ENDPOINT_URL", &endpoint)],
    ))
    .await
    .expect("a key pair without a token");
    let e = caller_arn(&sdk).await.unwrap_err();
    assert!(e.contains("InvalidClientTokenId"), "{e}");
}

#[tokio::test]
async fn a_services_own_endpoint_variable_wins_over_the_global_one() {
    let creds = role_session(&unique("fn-role"), &unique("fn")).await;
    let endpoint = emulator_endpoint();
    // Nothing listens on port 9 of 127.0.0.1 (discard); STS must go to the emulator.
    let sdk = sdk_config_in(&lambda_env(
        &creds,
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ENDPOINT_URL_STS", &endpoint),
        ],
    ))
    .await
    .expect("a complete Lambda environment");
    caller_arn(&sdk)
        .await
        .expect("STS is called at AWS_ENDPOINT_URL_STS");
    // And the global one is used when the service has none: the call fails.
    let sdk = sdk_config_in(&lambda_env(
        &creds,
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    ))
    .await
    .expect("a complete Lambda environment");
    let e = caller_arn(&sdk).await.unwrap_err();
    assert!(e.contains("127.0.0.1:9"), "{e}");
}

#[tokio::test]
async fn a_map_without_credentials_never_signs_with_the_processs() {
    let endpoint = emulator_endpoint();
    let sdk = sdk_config_in(&Env::from_pairs([
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ]))
    .await
    .expect("region and endpoint suffice");
    let e = caller_arn(&sdk).await.unwrap_err();
    // The SDK refuses to send an unsigned request.
    assert!(e.contains("no identity resolver"), "{e}");
}

#[tokio::test]
async fn a_map_without_a_region_is_refused_naming_aws_region() {
    let e = sdk_config_in(&Env::from_pairs([(
        "AWS_ENDPOINT_URL",
        emulator_endpoint(),
    )]))
    .await
    .unwrap_err();
    assert_eq!(e.var(), "AWS_REGION");
}

/// Run `child_reads_nothing_from_the_process` in a child process whose own
/// environment has every AWS variable set to something else.
#[test]
fn a_map_reads_nothing_from_the_process() {
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_reads_nothing_from_the_process",
            "--ignored",
            "--test-threads=1",
        ])
        .env("PORTCULLIS_CHILD", "1")
        .env("AWS_REGION", "ap-southeast-2")
        .env("AWS_DEFAULT_REGION", "ap-southeast-2")
        .env("AWS_ACCESS_KEY_ID", "AKIDPROCESS")
        .env("AWS_SECRET_ACCESS_KEY", "process-secret")
        .env("AWS_SESSION_TOKEN", "process-token")
        .env("AWS_ENDPOINT_URL", "http://process.invalid:1")
        .env("AWS_ENDPOINT_URL_STS", "http://process-sts.invalid:1")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
#[ignore = "run by a_map_reads_nothing_from_the_process in a prepared child process"]
async fn child_reads_nothing_from_the_process() {
    assert_eq!(
        std::env::var("PORTCULLIS_CHILD").as_deref(),
        Ok("1"),
        "run through a_map_reads_nothing_from_the_process"
    );
    use aws_credential_types::provider::ProvideCredentials;
    // The process's chain sees the process's variables ...
    let process = sdk_config().await;
    assert_eq!(process.region().map(|r| r.as_ref()), Some("ap-southeast-2"));
    assert_eq!(process.endpoint_url(), Some("http://process.invalid:1"));
    // ... a map sees only its own.
    let sdk = sdk_config_in(&Env::from_pairs([("AWS_REGION", "eu-west-3")]))
        .await
        .expect("a region suffices");
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-3"));
    assert_eq!(sdk.endpoint_url(), None);
    assert!(sdk.credentials_provider().is_none());
    let sdk = sdk_config_in(&Env::from_pairs([
        ("AWS_DEFAULT_REGION", "eu-west-3"),
        ("AWS_ACCESS_KEY_ID", "AKIDMAP"),
        ("AWS_SECRET_ACCESS_KEY", "map-secret"),
    ]))
    .await
    .expect("a region and a key pair");
    assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-3"));
    let creds = sdk
        .credentials_provider()
        .expect("the map's credentials")
        .provide_credentials()
        .await
        .expect("static credentials");
    assert_eq!(creds.access_key_id(), "AKIDMAP");
    assert_eq!(creds.session_token(), None);
    let service = sdk.service_config().expect("the map's service config");
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("STS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("a service config key");
    assert_eq!(service.load_config(key), None);
}
