//! Cognito JWT checks, end to end through the handler.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use portcullis_core::metrics::{self, Metric, Settings};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

#[tokio::test]
async fn a_valid_access_token_is_allowed_with_its_mapped_scopes() {
    let s = jwt_state(&[]);
    let t = key().sign(&access_claims(
        "portcullis/jobs.read aws.cognito.signin.user.admin portcullis/bogus.x",
    ));
    // With the operator's opt-in, the decision is also counted per tenant.
    let cap = metrics::capture_with(Settings {
        environment: "test".to_owned(),
        tenant_dimension: true,
    });
    let r = run(&s, bearer(&t)).await.unwrap();
    assert_eq!(
        cap.sum(
            Metric::AuthorizerDecision,
            &[
                ("Outcome", "allowed"),
                ("Tenant", "acme"),
                ("Environment", "test")
            ]
        ),
        1.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(r.context.principal_type, "user");
    assert_eq!(r.context.principal_id, "user-123");
    assert_eq!(r.context.tenant, "acme");
    assert_eq!(r.context.scopes, "jobs:read");
    assert_eq!(r.context.key_id, None);
    // Metered on its tenant's usage identifier (no prefix configured here).
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some("tenant-acme_________")
    );
    let (effect, res) = statement(&r);
    assert_eq!(effect, "Allow");
    assert!(res.contains(&format!("{PREFIX}/GET/v1/jobs")), "{res:?}");
}

#[tokio::test]
async fn groups_map_to_scopes_and_a_client_token_is_a_client() {
    let s = jwt_state(&[]);
    let mut c = access_claims("");
    c["cognito:groups"] = json!([TENANT_GROUP, "admins", "unknown-group"]);
    let r = run(&s, bearer(&key().sign(&c))).await.unwrap();
    assert_eq!(r.context.scopes, "jobs:read jobs:write keys:admin");

    let mut c = access_claims("portcullis/jobs.write");
    c.as_object_mut().unwrap().remove("username");
    c["sub"] = json!(CLIENT);
    let r = run(&s, bearer(&key().sign(&c))).await.unwrap();
    assert_eq!(r.context.principal_type, "client");
    assert_eq!(r.context.principal_id, CLIENT);
}

#[tokio::test]
async fn users_and_clients_are_metered_on_their_tenants_usage_identifier() {
    // Per-consumer quotas: every Cognito principal used to share one plan's
    // identifier (DEFAULT_USAGE_PLAN), across tenants.
    let s = jwt_state(&[("USAGE_KEY_PREFIX", "pc-dev-")]);
    let r = run(
        &s,
        bearer(&key().sign(&access_claims("portcullis/jobs.read"))),
    )
    .await
    .unwrap();
    assert_eq!(r.context.principal_type, "user");
    let tenant_key = |t: &portcullis_auth::Tenant| {
        portcullis_auth::usage::usage_key("pc-dev-", portcullis_auth::usage::Consumer::Tenant(t))
    };
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some(tenant_key(&r.context.tenant).as_str())
    );
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some("pc-dev-tenant-acme__")
    );

    let mut c = access_claims("portcullis/jobs.read");
    c.as_object_mut().unwrap().remove("username");
    c["sub"] = json!(CLIENT);
    let r = run(&s, bearer(&key().sign(&c))).await.unwrap();
    assert_eq!(r.context.principal_type, "client");
    assert_eq!(
        r.usage_identifier_key.as_deref(),
        Some(tenant_key(&r.context.tenant).as_str())
    );
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let s = jwt_state(&[]);
    let header = json!({"alg": "none", "kid": key().kid}).to_string();
    let claims = access_claims("portcullis/jobs.read").to_string();
    let t = format!("{}.{}.", b64(header.as_bytes()), b64(claims.as_bytes()));
    assert_unauthorized(run(&s, bearer(&t)).await);
    // Same with a junk signature part.
    let t = format!("{}.{}.AAAA", b64(header.as_bytes()), b64(claims.as_bytes()));
    assert_unauthorized(run(&s, bearer(&t)).await);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let s = jwt_state(&[]);
    let header = json!({"alg": "HS256", "kid": key().kid, "typ": "JWT"}).to_string();
    let claims = access_claims("portcullis/jobs.read").to_string();
    let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    for secret in [
        key().public_der(),
        serde_json::to_vec(&key().jwk()).unwrap(),
    ] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(msg.as_bytes());
        let t = format!("{msg}.{}", b64(&mac.finalize().into_bytes()));
        assert_unauthorized(run(&s, bearer(&t)).await);
    }
}

#[tokio::test]
async fn a_token_signed_by_another_key_with_a_known_kid_is_rejected() {
    let s = jwt_state(&[]);
    let other = TestKey::generate(&key().kid);
    let t = other.sign(&access_claims("portcullis/jobs.read"));
    assert_unauthorized(run(&s, bearer(&t)).await);
}

#[tokio::test]
async fn missing_kid_is_rejected() {
    let s = jwt_state(&[]);
    let t = key().sign_raw(
        &json!({"alg": "RS256"}).to_string(),
        &access_claims("portcullis/jobs.read").to_string(),
    );
    assert_unauthorized(run(&s, bearer(&t)).await);
}

#[tokio::test]
async fn expired_and_exp_missing_are_rejected() {
    let s = jwt_state(&[]);
    let cap = metrics::capture();
    let mut c = access_claims("portcullis/jobs.read");
    c["exp"] = json!(now() - 31); // leeway is 30 s
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    c.as_object_mut().unwrap().remove("exp");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    c["exp"] = serde_json::Value::Null;
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    assert_eq!(decisions(&cap, "expired"), 1.0, "{:?}", cap.lines());
    assert_eq!(decisions(&cap, "bad_token"), 2.0, "{:?}", cap.lines());
    assert!(cap.records().iter().all(|r| r.get("Tenant").is_none()));
}

#[tokio::test]
async fn a_request_without_credentials_is_counted_as_no_credential() {
    let s = jwt_state(&[]);
    let cap = metrics::capture();
    assert_unauthorized(run(&s, event(&[])).await);
    assert_unauthorized(run(&s, event(&[("Authorization", "Basic dTpw")])).await);
    assert_eq!(decisions(&cap, "no_credential"), 1.0, "{:?}", cap.lines());
    assert_eq!(decisions(&cap, "bad_token"), 1.0, "{:?}", cap.lines());
}

#[tokio::test]
async fn a_token_expired_within_the_leeway_is_accepted() {
    let s = jwt_state(&[]);
    let mut c = access_claims("portcullis/jobs.read");
    c["exp"] = json!(now() - 5);
    assert!(run(&s, bearer(&key().sign(&c))).await.is_ok());
}

#[tokio::test]
async fn exp_nbf_and_iat_of_the_wrong_json_type_are_rejected() {
    let s = jwt_state(&[]);
    let far = now() + 100_000;
    for (claim, value) in [
        ("exp", json!(far.to_string())),
        ("exp", json!(far as f64 + 0.5)),
        ("exp", json!(-1)),
        ("exp", json!([far])),
        ("nbf", json!((now() - 10).to_string())),
        ("iat", json!((now() - 10).to_string())),
        ("iss", json!([ISSUER])),
        ("token_use", json!(["access"])),
        ("client_id", json!(1)),
        ("cognito:groups", json!("admins")),
    ] {
        let mut c = access_claims("portcullis/jobs.read");
        c[claim] = value.clone();
        let r = run(&s, bearer(&key().sign(&c))).await;
        assert!(r.is_err(), "{claim}={value} was accepted");
        assert_unauthorized(r);
    }
}

#[tokio::test]
async fn nbf_in_the_future_and_iat_in_the_future_are_rejected() {
    let s = jwt_state(&[]);
    let mut c = access_claims("portcullis/jobs.read");
    c["nbf"] = json!(now() + 120);
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    let mut c = access_claims("portcullis/jobs.read");
    c["iat"] = json!(now() + 120);
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    // nbf in the past is fine.
    let mut c = access_claims("portcullis/jobs.read");
    c["nbf"] = json!(now() - 10);
    assert!(run(&s, bearer(&key().sign(&c))).await.is_ok());
}

#[tokio::test]
async fn an_id_token_is_rejected_where_access_is_required_and_the_reverse() {
    let access_only = jwt_state(&[]);
    assert_unauthorized(run(&access_only, bearer(&key().sign(&id_claims()))).await);

    let id_only = jwt_state(&[("COGNITO_TOKEN_USE", "id")]);
    assert_unauthorized(
        run(
            &id_only,
            bearer(&key().sign(&access_claims("portcullis/jobs.read"))),
        )
        .await,
    );
    let r = run(&id_only, bearer(&key().sign(&id_claims())))
        .await
        .unwrap();
    // Its tenant is its group's, not the custom:tenant claim it also carries.
    assert_eq!(r.context.tenant, "acme");

    let any = jwt_state(&[("COGNITO_TOKEN_USE", "any")]);
    assert!(run(&any, bearer(&key().sign(&id_claims()))).await.is_ok());
    let mut c = access_claims("portcullis/jobs.read");
    c["token_use"] = json!("refresh");
    assert_unauthorized(run(&any, bearer(&key().sign(&c))).await);
    c.as_object_mut().unwrap().remove("token_use");
    assert_unauthorized(run(&any, bearer(&key().sign(&c))).await);
}

#[tokio::test]
async fn wrong_client_id_and_wrong_aud_are_rejected() {
    let s = jwt_state(&[("COGNITO_TOKEN_USE", "any")]);
    let mut c = access_claims("portcullis/jobs.read");
    c["client_id"] = json!("client-evil");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    c.as_object_mut().unwrap().remove("client_id");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    // An access token with a matching aud but no client_id is not enough.
    c["aud"] = json!(CLIENT);
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);

    let mut c = id_claims();
    c["aud"] = json!("client-evil");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    c["aud"] = json!([]);
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    c["aud"] = json!(["client-evil", "other-allowed"]);
    assert!(run(&s, bearer(&key().sign(&c))).await.is_ok());
}

#[tokio::test]
async fn wrong_or_missing_issuer_is_rejected() {
    let s = jwt_state(&[]);
    for iss in [
        json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
        json!(format!("{ISSUER}/")),
        json!("https://evil.example/us-east-1_Test"),
    ] {
        let mut c = access_claims("portcullis/jobs.read");
        c["iss"] = iss;
        assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    }
    let mut c = access_claims("portcullis/jobs.read");
    c.as_object_mut().unwrap().remove("iss");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
}

#[tokio::test]
async fn a_valid_token_without_any_permitted_route_gets_an_explicit_deny() {
    // /v1/me is `authenticated`, so use a
    // route table where every route needs a scope.
    let dir = std::env::temp_dir().join(format!("authz-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("openapi.yaml");
    std::fs::write(
        &file,
        "paths:\n  /v1/jobs:\n    get:\n      security: [{portcullis: []}]\n      x-portcullis-scope: jobs:read\n",
    )
    .unwrap();
    let s = jwt_state(&[("OPENAPI_FILE", file.to_str().unwrap())]);
    let cap = metrics::capture();
    // In a tenant, in no role group: no scope.
    let r = run(
        &s,
        bearer(&key().sign(&user_claims(
            "aws.cognito.signin.user.admin",
            &[TENANT_GROUP],
        ))),
    )
    .await
    .unwrap();
    let (effect, res) = statement(&r);
    assert_eq!(effect, "Deny");
    assert_eq!(res, vec![format!("{PREFIX}/*")]);
    let r = run(
        &s,
        bearer(&key().sign(&access_claims("portcullis/jobs.read"))),
    )
    .await
    .unwrap();
    assert_eq!(
        statement(&r),
        ("Allow".to_owned(), vec![format!("{PREFIX}/GET/v1/jobs")])
    );
    // Both answers deny the request's own route (GET /v1/me).
    assert_eq!(decisions(&cap, "scope_missing"), 2.0, "{:?}", cap.lines());
    assert_eq!(decisions(&cap, "allowed"), 0.0);
}

#[tokio::test]
async fn malformed_tokens_are_unauthorized_without_a_panic() {
    let s = jwt_state(&[]);
    let good = key().sign(&access_claims("portcullis/jobs.read"));
    let parts: Vec<&str> = good.split('.').collect();
    let huge = "a".repeat(100 * 1024);
    let huge_dots = format!(
        "{}.{}.{}",
        "a".repeat(40_000),
        "b".repeat(40_000),
        "c".repeat(40_000)
    );
    let cases = vec![
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[2]),
        format!("{}.{}.{}", "!!!!", parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], "%%%", parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "***"),
        format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]),
        format!("{}.{}.{}", parts[0], b64(b"[1,2,3]"), parts[2]),
        format!("{}.{}.{}", b64(b"\"RS256\""), parts[1], parts[2]),
        "..".to_owned(),
        ".".to_owned(),
        "e".to_owned(),
        huge,
        huge_dots,
        format!("{good}x"),
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            &parts[2][..parts[2].len() - 4]
        ),
    ];
    for t in cases {
        assert_unauthorized(run(&s, bearer(&t)).await);
    }
    // Header forms without a usable credential.
    for h in [
        ("Authorization", "Bearer"),
        ("Authorization", "Basic dXNlcjpwYXNz"),
        ("Authorization", good.as_str()),
    ] {
        assert_unauthorized(run(&s, event(&[h])).await);
    }
    assert_unauthorized(run(&s, event(&[])).await);
}

#[tokio::test]
async fn the_bearer_scheme_and_header_names_are_case_insensitive() {
    let s = jwt_state(&[]);
    let t = key().sign(&access_claims("portcullis/jobs.read"));
    assert!(
        run(&s, event(&[("AUTHORIZATION", &format!("bearer {t}"))]))
            .await
            .is_ok()
    );
    assert!(
        run(&s, event(&[("authorization", &format!("BEARER {t}"))]))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unknown_kid_is_fetched_once_per_penalty_window_even_in_a_burst() {
    let k2 = TestKey::generate("rotated-kid");
    let server = jwks_server(jwks(&[key(), &k2]), Duration::ZERO).await;
    // Start with only the first key pre-loaded; the URL serves both.
    let s = jwt_state(&[("COGNITO_JWKS_URL", &server.url)]);
    let s = std::sync::Arc::new(s);

    // A known kid never fetches.
    assert!(
        run(
            &s,
            bearer(&key().sign(&access_claims("portcullis/jobs.read")))
        )
        .await
        .is_ok()
    );
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 0);

    // A burst of unknown kids: one fetch for all of them.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let s = s.clone();
        let header = json!({"alg": "RS256", "kid": format!("unknown-{i}")}).to_string();
        let t = key().sign_raw(&header, &access_claims("portcullis/jobs.read").to_string());
        tasks.push(tokio::spawn(async move { run(&s, bearer(&t)).await }));
    }
    for t in tasks {
        assert_unauthorized(t.await.unwrap());
    }
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(s.jwks_fetches(), 1);

    // That fetch learned the rotated key: no new fetch needed for it.
    assert!(
        run(&s, bearer(&k2.sign(&access_claims("portcullis/jobs.read"))))
            .await
            .is_ok()
    );
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_rotated_key_is_learned_with_one_fetch() {
    let k2 = TestKey::generate("new-kid");
    let server = jwks_server(jwks(&[&k2]), Duration::ZERO).await;
    let s = jwt_state(&[("COGNITO_JWKS_URL", &server.url)]);
    let t = k2.sign(&access_claims("portcullis/jobs.read"));
    let cap = metrics::capture();
    assert!(run(&s, bearer(&t)).await.is_ok());
    assert!(run(&s, bearer(&t)).await.is_ok());
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(cap.sum(Metric::JwksFetch, &[]), 1.0, "{:?}", cap.lines());
    assert_eq!(cap.sum(Metric::JwksFetchFailure, &[]), 0.0);
    assert_eq!(decisions(&cap, "allowed"), 2.0);
}

#[tokio::test]
async fn a_jwks_endpoint_that_is_down_gives_unauthorized() {
    let k2 = TestKey::generate("needs-fetch");
    let s = jwt_state(&[
        ("COGNITO_JWKS_URL", "http://127.0.0.1:1/jwks.json"),
        ("COGNITO_JWKS_JSON", ""),
    ]);
    let cap = metrics::capture();
    assert_unauthorized(run(&s, bearer(&k2.sign(&access_claims("portcullis/jobs.read")))).await);
    assert_eq!(s.jwks_fetches(), 1);
    assert_eq!(cap.sum(Metric::JwksFetch, &[]), 1.0, "{:?}", cap.lines());
    assert_eq!(cap.sum(Metric::JwksFetchFailure, &[]), 1.0);
    // The token could not be checked: an error of ours, not a bad token.
    assert_eq!(decisions(&cap, "error"), 1.0, "{:?}", cap.lines());
}

#[tokio::test]
async fn a_slow_jwks_endpoint_gives_unauthorized_after_the_timeout() {
    let k2 = TestKey::generate("slow-kid");
    let server = jwks_server(jwks(&[&k2]), Duration::from_secs(30)).await;
    let s = jwt_state(&[
        ("COGNITO_JWKS_URL", &server.url),
        ("COGNITO_JWKS_JSON", ""),
        ("JWKS_TIMEOUT_MS", "200"),
    ]);
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        run(&s, bearer(&k2.sign(&access_claims("portcullis/jobs.read")))),
    )
    .await
    .expect("the authorizer must give up on a slow JWKS endpoint by itself");
    assert_unauthorized(r);
}

#[tokio::test]
async fn a_tampered_payload_is_rejected() {
    let s = jwt_state(&[]);
    let good = key().sign(&access_claims("portcullis/jobs.read"));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = b64(access_claims("portcullis/jobs.read portcullis/keys.admin")
        .to_string()
        .as_bytes());
    let t = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_unauthorized(run(&s, bearer(&t)).await);
}

#[tokio::test]
async fn jwts_are_refused_when_cognito_is_not_configured() {
    let cfg =
        authorizer::config::Config::from_env(&portcullis_core::Env::from_pairs::<&str, &str>([]))
            .unwrap();
    let s = authorizer::State::new(cfg, dead_db()).unwrap();
    assert_unauthorized(
        run(
            &s,
            bearer(&key().sign(&access_claims("portcullis/jobs.read"))),
        )
        .await,
    );
}

#[tokio::test]
async fn a_repeated_token_gets_the_same_answer_with_a_single_jwks_fetch() {
    let k2 = TestKey::generate("cache-kid");
    let server = jwks_server(jwks(&[&k2]), Duration::ZERO).await;
    let s = jwt_state(&[("COGNITO_JWKS_URL", &server.url), ("COGNITO_JWKS_JSON", "")]);
    let t = k2.sign(&access_claims("portcullis/jobs.read"));
    let a = run(&s, bearer(&t)).await.unwrap();
    let b = run(&s, bearer(&t)).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(s.jwks_fetches(), 1);
}

#[tokio::test]
async fn a_jwt_in_the_x_api_key_header_is_refused() {
    let s = jwt_state(&[]);
    let t = key().sign(&access_claims("portcullis/jobs.read"));
    assert!(run(&s, bearer(&t)).await.is_ok());
    assert_unauthorized(run(&s, event(&[("x-api-key", &t)])).await);
}

#[tokio::test]
async fn the_answer_has_the_json_shape_api_gateway_expects() {
    let s = jwt_state(&[]);
    let r = run(
        &s,
        bearer(&key().sign(&access_claims("portcullis/jobs.read"))),
    )
    .await
    .unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["principalId"], "user-123");
    assert_eq!(v["policyDocument"]["Version"], "2012-10-17");
    assert_eq!(
        v["policyDocument"]["Statement"][0]["Action"][0],
        "execute-api:Invoke"
    );
    let ctx = v["context"].as_object().unwrap();
    let mut keys: Vec<&str> = ctx.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["principal_id", "principal_type", "scopes", "tenant"]);
    assert!(
        ctx.values().all(|x| x.is_string()),
        "context values must be strings: {v}"
    );
}

/// Lambda-style IAM database settings for a host that does not exist.
fn nowhere_database() -> Vec<(&'static str, &'static str)> {
    vec![
        ("DB_IAM_AUTH", "true"),
        ("DB_HOST", "db.invalid"),
        ("DB_PORT", "5432"),
        ("DB_USER", "portcullis_app"),
        ("DB_NAME", "portcullis"),
        ("DB_ACQUIRE_TIMEOUT_MS", "100"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ("AWS_SECRET_ACCESS_KEY", "not-a-real-secret"),
    ]
}

#[tokio::test]
async fn a_jwt_is_served_while_the_database_configuration_points_nowhere() {
    // The vpc_link service's key is read at start (from the emulator).
    let (_, identity) = web_identity_env().await;
    let mut env = base_env(&nowhere_database());
    env.retain(|(k, _)| !identity.iter().any(|(i, _)| i == k));
    env.extend(identity);
    let s = authorizer::State::from_env(&portcullis_core::Env::from_pairs(env))
        .await
        .expect("the database settings are only checked at start-up");
    let r = run(
        &s,
        bearer(&key().sign(&access_claims("portcullis/jobs.read"))),
    )
    .await
    .unwrap();
    assert_eq!(r.context.principal_type, "user");
    assert!(!s.database_built(), "the JWT path must not build the pool");

    // The first API key builds it; a database that is not there is a
    // failure (500), not a refusal (401).
    let (plain, _, _) = portcullis_auth::apikey::generate();
    let r = run(&s, event(&[("x-api-key", plain.expose_secret())])).await;
    match r {
        Err(m) => assert_ne!(m, "Unauthorized"),
        Ok(resp) => panic!("no key store, yet allowed: {resp:?}"),
    }
    assert!(s.database_built());
    assert_eq!(s.key_lookups(), 1);
}

#[tokio::test]
async fn bad_database_settings_still_fail_start_up_naming_the_variable() {
    let mut db = nowhere_database();
    db.retain(|(k, _)| *k != "DB_USER");
    let err = authorizer::State::from_env(&portcullis_core::Env::from_pairs(base_env(&db)))
        .await
        .err()
        .expect("DB_USER is missing");
    assert_eq!(err.var(), Some("DB_USER"));
    let mut db = nowhere_database();
    db.retain(|(k, _)| *k != "AWS_ACCESS_KEY_ID");
    let err = authorizer::State::from_env(&portcullis_core::Env::from_pairs(base_env(&db)))
        .await
        .err()
        .expect("no credentials to sign IAM tokens with");
    assert_eq!(err.var(), Some("AWS_ACCESS_KEY_ID"));
}

#[tokio::test]
async fn the_authorizer_is_built_without_secrets_manager_and_refuses_a_secret_arn() {
    if portcullis_db::secrets_manager() && std::env::var_os("PORTCULLIS_LEAN_AUTHORIZER").is_none()
    {
        // A workspace build unifies features: another member turned the
        // feature on. scripts/test.sh runs the authorizer's tests again on
        // their own, with PORTCULLIS_LEAN_AUTHORIZER=1, where this holds.
        eprintln!("skipped: portcullis-db built with secrets-manager by another workspace member");
        return;
    }
    assert!(
        !portcullis_db::secrets_manager(),
        "portcullis-db's secrets-manager feature is on in this build: some dependency of the \
         authorizer (or of its tests) enables it; the authorizer must stay lean"
    );
    let err = authorizer::State::from_env(&portcullis_core::Env::from_pairs(base_env(&[(
        "DB_SECRET_ARN",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf",
    )])))
    .await
    .err()
    .expect("DB_SECRET_ARN cannot work without Secrets Manager");
    assert_eq!(err.var(), Some("DB_SECRET_ARN"));
    assert!(err.to_string().contains("DB_IAM_AUTH=true"), "{err}");
}

// --- Tenancy: a principal's tenant and privileges
// come only from what an administrator controls.

#[tokio::test]
async fn a_user_in_no_tenant_group_is_refused() {
    let s = jwt_state(&[]);
    let cap = metrics::capture();
    for groups in [
        vec![],
        vec!["admins"],
        vec!["tenant", "tenants:acme", "admins"],
    ] {
        let t = key().sign(&user_claims("portcullis/jobs.read", &groups));
        assert_unauthorized(run(&s, bearer(&t)).await);
    }
    let mut c = access_claims("portcullis/jobs.read");
    c.as_object_mut().unwrap().remove("cognito:groups");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
    assert_eq!(
        decisions(&cap, "tenant_not_provisioned"),
        4.0,
        "{:?}",
        cap.lines()
    );
}

#[tokio::test]
async fn a_user_in_two_tenant_groups_is_refused() {
    let s = jwt_state(&[]);
    let t = key().sign(&user_claims(
        "portcullis/jobs.read",
        &["tenant:acme", "admins", "tenant:platform"],
    ));
    assert_unauthorized(run(&s, bearer(&t)).await);
    // The same tenant twice is still one tenant.
    let t = key().sign(&user_claims(
        "portcullis/jobs.read",
        &["tenant:acme", "tenant:acme"],
    ));
    assert_eq!(run(&s, bearer(&t)).await.unwrap().context.tenant, "acme");
}

#[tokio::test]
async fn a_tenant_group_that_is_not_a_tenant_id_is_refused() {
    let s = jwt_state(&[]);
    for bad in ["tenant:", "tenant:Acme Corp", "tenant:acme/x"] {
        let t = key().sign(&user_claims("portcullis/jobs.read", &[bad]));
        assert_unauthorized(run(&s, bearer(&t)).await);
    }
    let t = key().sign(&user_claims("portcullis/jobs.read", &["tenant:Acme.Corp"]));
    assert_eq!(
        run(&s, bearer(&t)).await.unwrap().context.tenant,
        "Acme.Corp"
    );
}

#[tokio::test]
async fn the_custom_tenant_claim_is_ignored() {
    let s = jwt_state(&[("COGNITO_TOKEN_USE", "any")]);
    let mut c = access_claims("portcullis/jobs.read");
    c["custom:tenant"] = json!("platform");
    let r = run(&s, bearer(&key().sign(&c))).await.unwrap();
    assert_eq!(r.context.tenant, "acme");
    // An id token carries the (user-writable) attribute: ignored too.
    let r = run(&s, bearer(&key().sign(&id_claims()))).await.unwrap();
    assert_eq!(r.context.tenant, "acme");
    // Without a tenant group the claim does not stand in for one.
    let mut c = id_claims();
    c.as_object_mut().unwrap().remove("cognito:groups");
    c["custom:tenant"] = json!("acme");
    assert_unauthorized(run(&s, bearer(&key().sign(&c))).await);
}

#[tokio::test]
async fn a_requested_scope_the_groups_do_not_grant_is_absent() {
    let s = jwt_state(&[]);
    // In a tenant, in no role group: every resource-server scope requested.
    let t = key().sign(&user_claims(
        "portcullis/jobs.read portcullis/jobs.write portcullis/services.sample portcullis/keys.admin",
        &[TENANT_GROUP],
    ));
    let r = run(&s, bearer(&t)).await.unwrap();
    assert_eq!(r.context.tenant, "acme");
    assert_eq!(r.context.scopes, "");
    let (effect, res) = statement(&r);
    assert_eq!(
        effect, "Allow",
        "authenticated routes such as /v1/me stay open"
    );
    assert!(!res.iter().any(|x| x.contains("/v1/jobs")), "{res:?}");
}

#[tokio::test]
async fn a_sign_in_can_narrow_the_granted_scopes_but_never_widen_them() {
    let s = jwt_state(&[(
        "COGNITO_GROUP_SCOPES",
        "admins=keys:admin jobs:read jobs:write;readers=jobs:read",
    )]);
    // Granted by admins: keys:admin jobs:read jobs:write. Asked: jobs.read.
    let t = key().sign(&user_claims(
        "openid portcullis/jobs.read",
        &[TENANT_GROUP, "admins"],
    ));
    assert_eq!(
        run(&s, bearer(&t)).await.unwrap().context.scopes,
        "jobs:read"
    );
    // No resource-server scope in the token (the console's password sign-in): all granted.
    let t = key().sign(&user_claims(
        "aws.cognito.signin.user.admin",
        &[TENANT_GROUP, "admins"],
    ));
    assert_eq!(
        run(&s, bearer(&t)).await.unwrap().context.scopes,
        "jobs:read jobs:write keys:admin"
    );
    // A reader asking for more gets what it was granted, no more.
    let t = key().sign(&user_claims(
        "portcullis/jobs.read portcullis/jobs.write",
        &[TENANT_GROUP, "readers"],
    ));
    assert_eq!(
        run(&s, bearer(&t)).await.unwrap().context.scopes,
        "jobs:read"
    );
}

#[tokio::test]
async fn a_machine_client_gets_the_tenant_the_configuration_maps_it_to_and_its_token_scopes() {
    let s = jwt_state(&[(
        "COGNITO_CLIENT_TENANTS",
        &format!("{MACHINE}=robots; other-allowed=acme"),
    )]);
    let r = run(
        &s,
        bearer(&key().sign(&machine_claims(
            "portcullis/jobs.read portcullis/jobs.write",
        ))),
    )
    .await
    .unwrap();
    assert_eq!(r.context.principal_type, "client");
    assert_eq!(r.context.principal_id, MACHINE);
    assert_eq!(r.context.tenant, "robots");
    assert_eq!(r.context.scopes, "jobs:read jobs:write");
    // A tenant claim or group in a client token changes nothing.
    let mut c = machine_claims("portcullis/jobs.read");
    c["custom:tenant"] = json!("platform");
    c["cognito:groups"] = json!(["tenant:platform", "admins"]);
    let r = run(&s, bearer(&key().sign(&c))).await.unwrap();
    assert_eq!(r.context.tenant, "robots");
    assert_eq!(r.context.scopes, "jobs:read");
}

#[tokio::test]
async fn a_machine_client_without_a_tenant_mapping_is_refused() {
    let s = jwt_state(&[]);
    let cap = metrics::capture();
    let t = key().sign(&machine_claims("portcullis/jobs.read"));
    assert_unauthorized(run(&s, bearer(&t)).await);
    let s = jwt_state(&[("COGNITO_CLIENT_TENANTS", "other-allowed=acme")]);
    assert_unauthorized(run(&s, bearer(&t)).await);
    assert_eq!(decisions(&cap, "tenant_not_provisioned"), 2.0);
}

#[test]
fn the_removed_tenant_settings_stop_the_start_up_with_what_to_do() {
    for var in ["COGNITO_DEFAULT_TENANT", "COGNITO_TENANT_CLAIM"] {
        let e = authorizer::config::Config::from_env(&portcullis_core::Env::from_pairs(base_env(
            &[(var, "platform")],
        )))
        .err()
        .unwrap_or_else(|| panic!("{var} was accepted"));
        assert_eq!(e.var(), var, "{e}");
        assert!(e.to_string().contains("tenant:"), "{e}");
    }
}

#[test]
fn client_tenants_must_be_well_formed_and_name_allowed_clients() {
    for bad in [
        "machine-client",
        "machine-client=Acme Corp",
        "=acme",
        "machine-client=acme;machine-client=other",
        "unknown-client=acme",
    ] {
        let e = authorizer::config::Config::from_env(&portcullis_core::Env::from_pairs(base_env(
            &[("COGNITO_CLIENT_TENANTS", bad)],
        )))
        .err()
        .unwrap_or_else(|| panic!("{bad:?} was accepted"));
        assert_eq!(e.var(), "COGNITO_CLIENT_TENANTS", "{e}");
    }
}

// --- JWKS: an answer that lacks keys does not evict them.

#[tokio::test]
async fn a_partial_or_empty_jwks_answer_keeps_the_keys_already_cached() {
    let learned = TestKey::generate("learned-kid");
    let server = jwks_server(jwks(&[&learned]), Duration::ZERO).await;
    // key() is pre-loaded; `learned` is fetched on its first token.
    let s = jwt_state(&[
        ("COGNITO_JWKS_URL", &server.url),
        ("JWKS_PENALTY_SECS", "1"),
        ("AUTH_CACHE_TTL_SECS", "0"),
    ]);
    let t = learned.sign(&access_claims("portcullis/jobs.read"));
    assert!(run(&s, bearer(&t)).await.is_ok());
    assert_eq!(s.jwks_fetches(), 1);

    // The endpoint now answers with another key only, then with none.
    let third = TestKey::generate("third-kid");
    for body in [jwks(&[&third]), r#"{"keys": []}"#.to_owned()] {
        server.serve(body);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let unknown = key().sign_raw(
            &json!({"alg": "RS256", "kid": "never-served"}).to_string(),
            &access_claims("portcullis/jobs.read").to_string(),
        );
        let fetches = s.jwks_fetches();
        assert_unauthorized(run(&s, bearer(&unknown)).await);
        assert_eq!(s.jwks_fetches(), fetches + 1, "the unknown kid fetched");
        // Both the learned and the pre-loaded keys still verify, without a fetch.
        assert!(
            run(
                &s,
                bearer(&learned.sign(&access_claims("portcullis/jobs.write")))
            )
            .await
            .is_ok()
        );
        assert!(
            run(
                &s,
                bearer(&key().sign(&access_claims("portcullis/jobs.write")))
            )
            .await
            .is_ok()
        );
        assert_eq!(s.jwks_fetches(), fetches + 1);
    }
    // The key of the partial answer was learned too.
    assert!(
        run(
            &s,
            bearer(&third.sign(&access_claims("portcullis/jobs.read")))
        )
        .await
        .is_ok()
    );
}
