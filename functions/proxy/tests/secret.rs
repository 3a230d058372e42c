//! The signing key comes from Secrets Manager (the AWS emulator here): run
//! through `make test`, which exports AWS_ENDPOINT_URL.

use portcullis_identity::{self as identity, Identity};

fn require_emulator() {
    portcullis_testkit::emulator_endpoint();
}

fn unique(prefix: &str) -> String {
    portcullis_testkit::unique(prefix)
}

#[tokio::test]
async fn signing_key_is_read_from_secrets_manager_and_rotation_keeps_old_signatures_valid() {
    require_emulator();
    let sdk = portcullis_aws::sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("portcullis-proxy-identity");
    let first = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="; // 32 bytes
    let created = sm
        .create_secret()
        .name(&name)
        .secret_string(first)
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_owned();

    let old_key = portcullis_identity::keys::signing_key(&sm, &arn)
        .await
        .unwrap();
    let who = Identity {
        principal: "p".into(),
        principal_type: "api_key".into(),
        tenant: "t".into(),
        scopes: vec![],
    };
    let signed = identity::sign(&who, &http::Method::GET, "/x", b"", 100, &old_key).unwrap();

    // Rotate: a new current value; the service keeps the previous key for a while.
    let second = "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY=";
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(second)
        .send()
        .await
        .unwrap();
    let new_key = portcullis_identity::keys::signing_key(&sm, &arn)
        .await
        .unwrap();
    let max = identity::DEFAULT_MAX_SKEW;
    assert!(
        identity::verify(
            &signed,
            &http::Method::GET,
            "/x",
            b"",
            100,
            std::slice::from_ref(&new_key),
            max
        )
        .is_err()
    );
    assert!(
        identity::verify(
            &signed,
            &http::Method::GET,
            "/x",
            b"",
            100,
            &[new_key, old_key],
            max
        )
        .is_ok()
    );
}

#[tokio::test]
async fn each_service_gets_the_key_of_its_own_secret() {
    require_emulator();
    let sdk = portcullis_aws::sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut arns = std::collections::BTreeMap::new();
    for (service, value) in [
        ("a", "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="),
        ("b", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXphYmNkZWY="),
    ] {
        let created = sm
            .create_secret()
            .name(unique(&format!("portcullis-proxy-identity-{service}")))
            .secret_string(value)
            .send()
            .await
            .unwrap();
        arns.insert(service.to_owned(), created.arn().unwrap().to_owned());
    }
    let keys = portcullis_identity::keys::signing_keys(&sm, &arns)
        .await
        .unwrap();
    let who = Identity {
        principal: "p".into(),
        principal_type: "api_key".into(),
        tenant: "t".into(),
        scopes: vec![],
    };
    let for_a = identity::sign(&who, &http::Method::GET, "/x", b"", 100, &keys["a"]).unwrap();
    let max = identity::DEFAULT_MAX_SKEW;
    let verify_with = |k: &identity::SigningKey| {
        identity::verify(
            &for_a,
            &http::Method::GET,
            "/x",
            b"",
            100,
            std::slice::from_ref(k),
            max,
        )
    };
    assert!(verify_with(&keys["a"]).is_ok());
    assert!(verify_with(&keys["b"]).is_err());

    // One unreadable secret fails the read (the first signing request) naming its service.
    arns.insert("c".to_owned(), unique("portcullis-proxy-absent"));
    let e = portcullis_identity::keys::signing_keys(&sm, &arns)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("service c"), "{e}");
}

#[tokio::test]
async fn a_weak_or_missing_secret_fails_the_read_with_a_clear_message() {
    require_emulator();
    let sdk = portcullis_aws::sdk_config().await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = unique("portcullis-proxy-weak");
    let created = sm
        .create_secret()
        .name(&name)
        .secret_string("c2hvcnQ=")
        .send()
        .await
        .unwrap();
    let e = portcullis_identity::keys::signing_key(&sm, created.arn().unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at least 32"), "{e}");
    let e = portcullis_identity::keys::signing_key(&sm, &unique("portcullis-proxy-absent"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("GetSecretValue"), "{e}");
}
