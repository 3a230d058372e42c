//! API keys through the handler, against a real PostgreSQL database
//! (`#[sqlx::test]`: set DATABASE_URL, or run `make test`).

mod common;

use authorizer::State;
use authorizer::config::Config;
use common::*;
use portcullis_auth::Scopes;
use portcullis_auth::apikey;
use portcullis_auth::audit::Actor;
use portcullis_auth::store::{self, KeyName, NewKey};
use portcullis_core::Env;
use portcullis_core::metrics::{self, Metric};
use portcullis_db::Database;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

const FIXTURE_OPENAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openapi.yaml");

#[derive(Debug)]
struct Key {
    text: String,
    id: uuid::Uuid,
}

/// A key of `tenant-a` made by the key store, as `POST /v1/keys` makes one;
/// `extra_sql` then sets what the store does not make (a revocation, an
/// expiry in the past).
async fn insert_key(pool: &PgPool, scopes: &[&str], plan: &str, extra_sql: &str) -> Key {
    let new = NewKey {
        name: KeyName::parse("test key").unwrap(),
        tenant: "tenant-a".parse().unwrap(),
        scopes: Scopes::new(scopes.iter().map(|s| s.parse().unwrap())),
        plan: plan.to_owned(),
        expires_at: None,
    };
    let created = store::create(
        &Database::from_pool(pool.clone()),
        &new,
        Actor::Bootstrap,
        None,
    )
    .await
    .unwrap();
    let id = created.record.id;
    if !extra_sql.is_empty() {
        sqlx::query(&format!("update api_keys set {extra_sql} where id = $1"))
            .bind(id)
            .execute(pool)
            .await
            .unwrap();
    }
    Key {
        text: created.key.expose_secret().to_owned(),
        id,
    }
}

/// A key row of `tenant` inserted with SQL, bypassing the store: the store
/// takes a parsed `Tenant`, so only SQL can offer the table a tenant the
/// type refuses, to show the table's own check refuses it too.
async fn insert_key_of(pool: &PgPool, tenant: &str) -> Result<Key, sqlx::Error> {
    let (plain, lookup, digest) = apikey::generate();
    let id: uuid::Uuid = sqlx::query_scalar(
        "insert into api_keys (lookup_id, secret_digest, name, tenant, scopes, plan, created_by) \
         values ($1, $2, 'test key', $3, array['jobs:read'], 'standard', 'tests') returning id",
    )
    .bind(lookup.as_str())
    .bind(digest.as_slice())
    .bind(tenant)
    .fetch_one(pool)
    .await?;
    Ok(Key {
        text: plain.expose_secret().to_owned(),
        id,
    })
}

fn state_with(pool: PgPool, extra: &[(&str, &str)]) -> State {
    let mut pairs: Vec<(String, String)> = vec![
        ("OPENAPI_FILE".into(), FIXTURE_OPENAPI.into()),
        ("USAGE_KEY_PREFIX".into(), "pc-test-".into()),
    ];
    for (k, v) in extra {
        pairs.retain(|(kk, _)| kk != k);
        pairs.push(((*k).into(), (*v).into()));
    }
    let cfg = Config::from_env(&Env::from_pairs(pairs)).unwrap();
    State::new(cfg, Database::from_pool(pool)).unwrap()
}

fn x_api_key(k: &str) -> authorizer::Request {
    event(&[("x-api-key", k)])
}

/// The same checksum the key format uses, to forge well-formed keys.
fn with_checksum(body: &str) -> String {
    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let h = Sha256::digest(body.as_bytes());
    let mut n = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = B62[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", std::str::from_utf8(&out).unwrap())
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_valid_key_gets_exactly_the_routes_its_scopes_allow(pool: PgPool) {
    let k = insert_key(&pool, &["jobs:read", "services:echo"], "gold", "").await;
    let s = state_with(pool, &[]);
    let cap = metrics::capture();
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    assert_eq!(decisions(&cap, "allowed"), 1.0, "{:?}", cap.lines());
    assert_eq!(cap.sum(Metric::AuthorizerCacheHit, &[]), 0.0);
    let (effect, res) = statement(&r);
    assert_eq!(effect, "Allow");
    // The proxy's ANY route: one resource per method, never `*` (which would
    // also match `GET/v1/services/other/v1/services/echo/x`).
    let mut expected: Vec<String> = ["GET/v1/jobs", "GET/v1/jobs/*", "GET/v1/me"]
        .iter()
        .map(|r| format!("{PREFIX}/{r}"))
        .chain(
            authorizer::routes::ANY_METHODS
                .iter()
                .map(|m| format!("{PREFIX}/{m}/v1/services/echo/*")),
        )
        .collect();
    expected.sort();
    assert_eq!(res, expected);
    assert_eq!(r.context.principal_type, "api_key");
    assert_eq!(r.context.tenant, "tenant-a");
    assert_eq!(r.context.scopes, "jobs:read services:echo");
    assert_eq!(r.context.key_id, Some(k.id));
    assert_eq!(r.principal_id, r.context.principal_id);
    let own = format!("pc-test-key-{}", k.id);
    assert_eq!(r.usage_identifier_key.as_deref(), Some(own.as_str()));
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_admin_key_gets_the_key_routes_and_the_write_routes(pool: PgPool) {
    let k = insert_key(&pool, &["keys:admin", "jobs:write"], "standard", "").await;
    let s = state_with(pool, &[]);
    let r = run(
        &s,
        event(&[("Authorization", &format!("Bearer {}", k.text))]),
    )
    .await
    .unwrap();
    let (_, res) = statement(&r);
    let expected: Vec<String> = [
        "DELETE/v1/keys/*",
        "GET/v1/keys",
        "GET/v1/keys/*",
        "GET/v1/me",
        "POST/v1/jobs",
        "POST/v1/jobs/*/cancel",
        "POST/v1/keys",
    ]
    .iter()
    .map(|r| format!("{PREFIX}/{r}"))
    .collect();
    assert_eq!(res, expected);
    let own = format!("pc-test-key-{}", k.id);
    assert_eq!(r.usage_identifier_key.as_deref(), Some(own.as_str()));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_key_without_scopes_still_reaches_authenticated_routes_only(pool: PgPool) {
    let k = insert_key(&pool, &[], "standard", "").await;
    let s = state_with(pool, &[]);
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    assert_eq!(
        statement(&r),
        ("Allow".to_owned(), vec![format!("{PREFIX}/GET/v1/me")])
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_key_with_no_permitted_route_gets_an_explicit_deny(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("authz-deny-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("openapi.yaml");
    std::fs::write(
        &file,
        "paths:\n  /v1/keys:\n    get:\n      x-portcullis-scope: keys:admin\n",
    )
    .unwrap();
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let s = state_with(pool, &[("OPENAPI_FILE", file.to_str().unwrap())]);
    let cap = metrics::capture();
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    assert_eq!(
        statement(&r),
        ("Deny".to_owned(), vec![format!("{PREFIX}/*")])
    );
    assert_eq!(decisions(&cap, "scope_missing"), 1.0, "{:?}", cap.lines());
}

#[tokio::test]
async fn a_key_with_a_bad_checksum_is_refused_without_any_database_query() {
    // The database is a closed port: any query would fail with a 500, not 401.
    let s = State::new(
        Config::from_env(&Env::from_pairs::<&str, &str>([])).unwrap(),
        dead_db(),
    )
    .unwrap();
    let (plain, _, _) = apikey::generate();
    let text = plain.expose_secret();
    let mut bad = text.as_bytes().to_vec();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    let cap = metrics::capture();
    for k in [
        bad.as_str(),
        "pcs_short",
        &text[..text.len() - 1],
        &format!("{text}0"),
    ] {
        assert_unauthorized(run(&s, x_api_key(k)).await);
    }
    assert_eq!(s.key_lookups(), 0);
    // A well-formed key does reach the (dead) database: a 500, not a 401.
    let r = run(&s, x_api_key(text)).await;
    assert_ne!(
        r.as_ref().err().map(String::as_str),
        Some("Unauthorized"),
        "{r:?}"
    );
    assert!(r.is_err());
    assert_eq!(s.key_lookups(), 1);
    assert_eq!(decisions(&cap, "bad_key"), 4.0, "{:?}", cap.lines());
    assert_eq!(decisions(&cap, "error"), 1.0, "{:?}", cap.lines());
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_single_changed_character_is_refused(pool: PgPool) {
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let s = state_with(pool, &[]);
    assert!(run(&s, x_api_key(&k.text)).await.is_ok());
    let b = k.text.as_bytes();
    for i in 0..b.len() {
        let mut c = b.to_vec();
        c[i] = if c[i] == b'x' { b'y' } else { b'x' };
        let changed = String::from_utf8(c).unwrap();
        assert_unauthorized(run(&s, x_api_key(&changed)).await);
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_well_formed_key_with_the_wrong_secret_is_refused(pool: PgPool) {
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let (other, _, _) = apikey::generate();
    // Lookup id of the stored key, secret of another one, valid checksum.
    let body = format!("{}{}", &k.text[..17], &other.expose_secret()[17..17 + 32]);
    let forged = with_checksum(&body);
    assert!(
        apikey::parse(&forged).is_ok(),
        "the forgery must pass the format check"
    );
    let s = state_with(pool, &[]);
    assert_unauthorized(run(&s, x_api_key(&forged)).await);
    assert_eq!(s.key_lookups(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn revoked_expired_and_unknown_keys_are_refused(pool: PgPool) {
    let revoked = insert_key(
        &pool,
        &["jobs:read"],
        "standard",
        "revoked_at = now() - interval '1 second'",
    )
    .await;
    let expired = insert_key(
        &pool,
        &["jobs:read"],
        "standard",
        "expires_at = now() - interval '1 second'",
    )
    .await;
    let future = insert_key(
        &pool,
        &["jobs:read"],
        "standard",
        "expires_at = now() + interval '1 hour'",
    )
    .await;
    let (unknown, _, _) = apikey::generate();
    let s = state_with(pool, &[]);
    let cap = metrics::capture();
    assert_unauthorized(run(&s, x_api_key(&revoked.text)).await);
    assert_unauthorized(run(&s, x_api_key(&expired.text)).await);
    assert_unauthorized(run(&s, x_api_key(unknown.expose_secret())).await);
    assert_eq!(s.key_lookups(), 3, "each of them was looked up");
    assert!(run(&s, x_api_key(&future.text)).await.is_ok());
    // Each outcome counted once, under its own Outcome.
    for outcome in ["revoked", "expired", "bad_key", "allowed"] {
        assert_eq!(
            decisions(&cap, outcome),
            1.0,
            "{outcome}: {:?}",
            cap.lines()
        );
    }
    // The refusal cache answers a repeat with the same outcome.
    assert_unauthorized(run(&s, x_api_key(&revoked.text)).await);
    assert_eq!(s.key_lookups(), 4, "no new look-up");
    assert_eq!(decisions(&cap, "revoked"), 2.0, "{:?}", cap.lines());
}

/// Made-up keys with a valid checksum pass the format check; the refusal
/// cache keeps a repeated one away from the database for the cache TTL. It
/// never allows anything and is bounded like the credential cache.
#[sqlx::test(migrations = "../../migrations")]
async fn a_refused_well_formed_key_reaches_the_database_once_per_cache_ttl(pool: PgPool) {
    let (unknown, _, _) = apikey::generate();
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let (other, _, _) = apikey::generate();
    let wrong_secret = with_checksum(&format!(
        "{}{}",
        &k.text[..17],
        &other.expose_secret()[17..17 + 32]
    ));
    let s = state_with(pool.clone(), &[("AUTH_CACHE_TTL_SECS", "1")]);
    for _ in 0..5 {
        assert_unauthorized(run(&s, x_api_key(unknown.expose_secret())).await);
        assert_unauthorized(run(&s, x_api_key(&wrong_secret)).await);
    }
    assert_eq!(s.key_lookups(), 2, "one look-up per refused key");
    // The stored key itself is unaffected by the refusal of its forgery.
    assert!(run(&s, x_api_key(&k.text)).await.is_ok());
    assert_eq!(s.key_lookups(), 3);
    // After the TTL the refusal is looked up again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_unauthorized(run(&s, x_api_key(unknown.expose_secret())).await);
    assert_eq!(s.key_lookups(), 4);

    // Bounded by AUTH_CACHE_MAX_ENTRIES: with room for one, a second refused
    // key evicts the first.
    let one = state_with(pool.clone(), &[("AUTH_CACHE_MAX_ENTRIES", "1")]);
    let (second, _, _) = apikey::generate();
    for key in [&unknown, &second, &unknown] {
        assert_unauthorized(run(&one, x_api_key(key.expose_secret())).await);
    }
    assert_eq!(one.key_lookups(), 3);

    // A refusal is never remembered when the cache is off, and a database
    // failure is never remembered as a refusal.
    let off = state_with(pool.clone(), &[("AUTH_CACHE_TTL_SECS", "0")]);
    for _ in 0..3 {
        assert_unauthorized(run(&off, x_api_key(unknown.expose_secret())).await);
    }
    assert_eq!(off.key_lookups(), 3);
    let dead = State::new(
        Config::from_env(&Env::from_pairs::<&str, &str>([])).unwrap(),
        dead_db(),
    )
    .unwrap();
    for _ in 0..2 {
        let r = run(&dead, x_api_key(unknown.expose_secret())).await;
        assert!(
            r.is_err() && r.as_ref().err().map(String::as_str) != Some("Unauthorized"),
            "{r:?}"
        );
    }
    assert_eq!(dead.key_lookups(), 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_warm_key_touches_the_database_once_and_without_cache_revocation_is_immediate(
    pool: PgPool,
) {
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let s = state_with(pool.clone(), &[]);
    let cap = metrics::capture();
    for _ in 0..5 {
        run(&s, x_api_key(&k.text)).await.unwrap();
    }
    assert_eq!(s.key_lookups(), 1);
    assert_eq!(
        cap.sum(Metric::AuthorizerCacheHit, &[]),
        4.0,
        "{:?}",
        cap.lines()
    );
    assert_eq!(decisions(&cap, "allowed"), 5.0);

    // With the cache off, revocation is seen at once.
    let s0 = state_with(pool.clone(), &[("AUTH_CACHE_TTL_SECS", "0")]);
    run(&s0, x_api_key(&k.text)).await.unwrap();
    sqlx::query("update api_keys set revoked_at = now() where id = $1")
        .bind(k.id)
        .execute(&pool)
        .await
        .unwrap();
    assert_unauthorized(run(&s0, x_api_key(&k.text)).await);
    assert_eq!(s0.key_lookups(), 2);
}

/// A cached key never outlives its `expires_at` (the revocation bound): with a
/// 60 s cache, a key expiring in 2 s is refused once it has expired, with no
/// second database look-up deciding it.
#[sqlx::test(migrations = "../../migrations")]
async fn a_cached_key_is_refused_once_its_expiry_passes(pool: PgPool) {
    let k = insert_key(
        &pool,
        &["jobs:read"],
        "standard",
        "expires_at = now() + interval '2 seconds'",
    )
    .await;
    let s = state_with(pool.clone(), &[("AUTH_CACHE_TTL_SECS", "60")]);
    run(&s, x_api_key(&k.text)).await.unwrap();
    run(&s, x_api_key(&k.text)).await.unwrap();
    assert_eq!(s.key_lookups(), 1, "the second call came from the cache");
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    assert_unauthorized(run(&s, x_api_key(&k.text)).await);
}

#[sqlx::test(migrations = "../../migrations")]
async fn last_used_is_written_once_per_interval(pool: PgPool) {
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let s = state_with(pool.clone(), &[("AUTH_CACHE_TTL_SECS", "0")]);
    let read = || async {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
            "select last_used_at from api_keys where id = $1",
        )
        .bind(k.id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(read().await, None);
    run(&s, x_api_key(&k.text)).await.unwrap();
    s.settle().await;
    let first = read()
        .await
        .expect("last_used_at is set after the first use");
    run(&s, x_api_key(&k.text)).await.unwrap();
    run(&s, x_api_key(&k.text)).await.unwrap();
    s.settle().await;
    assert_eq!(
        read().await,
        Some(first),
        "not rewritten within the interval"
    );

    // Interval 0: every use writes.
    let s0 = state_with(
        pool.clone(),
        &[
            ("AUTH_CACHE_TTL_SECS", "0"),
            ("AUTH_LAST_USED_INTERVAL_SECS", "0"),
        ],
    );
    run(&s0, x_api_key(&k.text)).await.unwrap();
    s0.settle().await;
    assert!(read().await > Some(first));
}

#[sqlx::test(migrations = "../../migrations")]
async fn both_headers_must_name_the_same_principal(pool: PgPool) {
    let a = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let b = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let s = state_with(pool, &[]);
    let same = event(&[
        ("x-api-key", &a.text),
        ("Authorization", &format!("Bearer {}", a.text)),
    ]);
    assert!(run(&s, same).await.is_ok());
    let different = event(&[
        ("x-api-key", &a.text),
        ("Authorization", &format!("Bearer {}", b.text)),
    ]);
    assert_unauthorized(run(&s, different).await);
    let one_bad = event(&[
        ("x-api-key", &a.text),
        ("Authorization", "Bearer pcs_nonsense"),
    ]);
    assert_unauthorized(run(&s, one_bad).await);
}

#[sqlx::test(migrations = "../../migrations")]
async fn each_key_is_metered_on_its_own_usage_identifier_even_in_one_plan_and_tenant(pool: PgPool) {
    // Per-consumer quotas: keys of one plan used to share the plan's identifier
    // (one bucket and one quota for every consumer of the plan).
    let a = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let b = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let s = state_with(pool, &[]);
    let ra = run(&s, x_api_key(&a.text)).await.unwrap();
    let rb = run(&s, x_api_key(&b.text)).await.unwrap();
    let (ua, ub) = (
        ra.usage_identifier_key.unwrap(),
        rb.usage_identifier_key.unwrap(),
    );
    assert_ne!(ua, ub);
    // The keys function's name for the key's API Gateway key, one definition.
    assert_eq!(
        ua,
        portcullis_auth::usage::usage_key("pc-test-", portcullis_auth::usage::Consumer::Key(a.id))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_a_prefix_the_usage_identifier_is_still_per_key_and_long_enough(pool: PgPool) {
    let k = insert_key(&pool, &["jobs:read"], "standard", "").await;
    let cfg = Config::from_env(&Env::from_pairs([("OPENAPI_FILE", FIXTURE_OPENAPI)])).unwrap();
    let s = State::new(cfg, Database::from_pool(pool)).unwrap();
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    let expected = format!("key-{}", k.id);
    assert_eq!(r.usage_identifier_key.as_deref(), Some(expected.as_str()));
}

#[tokio::test]
async fn a_missing_or_foreign_method_arn_is_a_server_error_not_a_401() {
    let s = jwt_state(&[]);
    let mut ev = bearer(&key().sign(&access_claims("portcullis/jobs.read")));
    ev.method_arn = Some("arn:aws:s3:::bucket".to_owned());
    let r = run(&s, ev).await;
    assert!(matches!(&r, Err(m) if m != "Unauthorized"), "{r:?}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_context_the_authorizer_writes_is_what_the_functions_read(pool: PgPool) {
    let k = insert_key(&pool, &["jobs:read", "services:echo"], "gold", "").await;
    let s = state_with(pool, &[]);
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    // The answer's JSON context, as API Gateway hands it to the integration
    // (plus the keys API Gateway adds), read with the functions' reader.
    let answer = serde_json::to_value(&r).unwrap();
    let mut fields = answer["context"].as_object().unwrap().clone();
    assert!(
        fields.values().all(serde_json::Value::is_string),
        "{answer}"
    );
    fields.insert("principalId".into(), answer["principalId"].clone());
    fields.insert("integrationLatency".into(), serde_json::json!(2));
    let read = portcullis_auth::AuthContext::from_fields(&fields).unwrap();
    assert_eq!(read, r.context);
    assert_eq!(read.key_id, Some(k.id));
    assert!(read.has_scope("services:echo"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn one_tenant_rule_for_key_rows_and_cognito_tokens(pool: PgPool) {
    // `Acme.Corp` (formerly accepted here but refused by the keys API) is a
    // tenant on both paths; `Acme Corp` is one on neither.
    let k = insert_key_of(&pool, "Acme.Corp").await.unwrap();
    let s = state_with(pool.clone(), &[]);
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    assert_eq!(r.context.tenant, "Acme.Corp");
    let refused = insert_key_of(&pool, "Acme Corp").await.unwrap_err();
    let constraint = refused
        .as_database_error()
        .and_then(|d| d.constraint())
        .map(str::to_owned);
    assert_eq!(
        constraint.as_deref(),
        Some("api_keys_tenant_check"),
        "{refused}"
    );

    // A Cognito user's tenant is its `tenant:<id>` group, under the same rule.
    let jwt = jwt_state(&[("COGNITO_TOKEN_USE", "id")]);
    let mut claims = id_claims();
    claims["cognito:groups"] = serde_json::json!(["tenant:Acme.Corp"]);
    let r = run(&jwt, bearer(&key().sign(&claims))).await.unwrap();
    assert_eq!(r.context.tenant, "Acme.Corp");
    claims["cognito:groups"] = serde_json::json!(["tenant:Acme Corp"]);
    assert_unauthorized(run(&jwt, bearer(&key().sign(&claims))).await);

    // COGNITO_CLIENT_TENANTS follows the same rule at start-up.
    assert!(
        Config::from_env(&Env::from_pairs(base_env(&[(
            "COGNITO_CLIENT_TENANTS",
            "client-allowed=Acme.Corp"
        )])))
        .is_ok()
    );
    let e = Config::from_env(&Env::from_pairs(base_env(&[(
        "COGNITO_CLIENT_TENANTS",
        "client-allowed=Acme Corp",
    )])))
    .unwrap_err();
    assert_eq!(e.var(), "COGNITO_CLIENT_TENANTS");
}

/// Every statement of the policy: (effect, resources).
fn statements(r: &authorizer::Response) -> Vec<(String, Vec<String>)> {
    let v = serde_json::to_value(&r.policy_document).unwrap();
    v["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            let res = match &st["Resource"] {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(a) => {
                    a.iter().map(|x| x.as_str().unwrap().to_owned()).collect()
                }
                other => panic!("resource {other}"),
            };
            (st["Effect"].as_str().unwrap().to_owned(), res)
        })
        .collect()
}

/// platform.yaml's sample declares `PUT /items/{id}` needing
/// `services:sample.write`: `services:sample` alone allows
/// `PUT/v1/services/sample/*`, which matches it, so the policy denies it
/// explicitly; with the write scope it is allowed and nothing is denied.
#[sqlx::test(migrations = "../../migrations")]
async fn a_declared_write_route_is_denied_without_its_scope(pool: PgPool) {
    let write = format!("{PREFIX}/PUT/v1/services/sample/items/*");
    let k = insert_key(&pool, &["services:sample"], "standard", "").await;
    let s = state_with(pool.clone(), &[]);
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    let st = statements(&r);
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(st[0].0, "Allow");
    assert!(
        st[0]
            .1
            .contains(&format!("{PREFIX}/PUT/v1/services/sample/*"))
    );
    assert_eq!(st[1], ("Deny".to_owned(), vec![write.clone()]));

    let k = insert_key(
        &pool,
        &["services:sample", "services:sample.write"],
        "standard",
        "",
    )
    .await;
    let r = run(&s, x_api_key(&k.text)).await.unwrap();
    let st = statements(&r);
    assert_eq!(st.len(), 1, "{st:?}");
    assert!(st[0].0 == "Allow" && st[0].1.contains(&write), "{st:?}");
}
