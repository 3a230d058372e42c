//! Authorizer decisions: cached / uncached JWT, cached / uncached API key
//! (PostgreSQL), and a bare RSA-2048 PKCS#1 v1.5 SHA-256 verify as the
//! yardstick for the uncached JWT path.
//!
//! The handler benches clone the event outside the timed part
//! (`iter_batched`): the runtime hands the handler an owned event, and the
//! clone of the fixture is the bench's cost, not the authorizer's.
//!
//! `cargo bench -p authorizer` (API key benches need DATABASE_URL, default
//! postgres://postgres@127.0.0.1:5432/postgres; they are skipped with a note
//! when it cannot be reached).

use authorizer::config::Config;
use authorizer::{Request, State, handle};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_auth::apikey;
use portcullis_core::Env;
use portcullis_db::Database;
use serde_json::json;
use sqlx::Connection as _;
use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench";

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn event(headers: &[(&str, &str)]) -> Request {
    let mut e: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/request.json")).expect("fixture");
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert((*k).to_owned(), json!(v));
    }
    e["headers"] = serde_json::Value::Object(h);
    serde_json::from_value(e).expect("event")
}

fn dead_db() -> Database {
    Database::from_pool(
        sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://postgres@127.0.0.1:1/none")
            .expect("lazy pool"),
    )
}

fn jwt_state(jwks: &str, cache_ttl: &str) -> State {
    let cfg = Config::from_env(&Env::from_pairs([
        ("COGNITO_ISSUER", ISSUER),
        ("COGNITO_CLIENT_IDS", "bench-client"),
        ("COGNITO_GROUP_SCOPES", "bench-users=jobs:read jobs:write"),
        ("COGNITO_JWKS_JSON", jwks),
        ("AUTH_CACHE_TTL_SECS", cache_ttl),
    ]))
    .expect("config");
    State::new(cfg, dead_db()).expect("state")
}

/// A fresh database with the migrations and one key; `None` when PostgreSQL is unreachable.
async fn key_database() -> Option<(sqlx::PgPool, String, String, String)> {
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("API key benches skipped: cannot reach DATABASE_URL ({e})");
            return None;
        }
    };
    let name = format!("authorizer_bench_{}", std::process::id());
    sqlx::query(&format!("create database {name}"))
        .execute(&mut admin)
        .await
        .ok()?;
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => return None,
    };
    let pool = sqlx::PgPool::connect(&url).await.ok()?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    sqlx::migrate::Migrator::new(dir)
        .await
        .ok()?
        .run(&pool)
        .await
        .ok()?;
    let (plain, lookup, digest) = apikey::generate();
    sqlx::query(
        "insert into api_keys (lookup_id, secret_digest, name, tenant, scopes, plan, created_by) \
         values ($1, $2, 'bench', 'bench', array['jobs:read','jobs:write','services:echo'], 'standard', 'bench')",
    )
    .bind(lookup.as_str())
    .bind(digest.as_slice())
    .execute(&pool)
    .await
    .ok()?;
    Some((pool, plain.expose_secret().to_owned(), admin_url, name))
}

fn benches(c: &mut Criterion) {
    // Each decision renders and writes its metrics record as in Lambda, to
    // a sink here: criterion's report stays readable (Lambda's stdout is a
    // pipe the runtime drains; that write is not measured).
    portcullis_core::metrics::set_writer(Box::new(std::io::sink()));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // sqlx pools need a runtime context even when built lazily.
    let _guard = rt.enter();
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa key");
    let pk = pair.public_key();
    let n = pk.modulus().big_endian_without_leading_zero().to_vec();
    let e = pk.exponent().big_endian_without_leading_zero().to_vec();
    let jwks = json!({"keys": [{"kty": "RSA", "kid": "bench", "alg": "RS256", "n": b64(&n), "e": b64(&e)}]}).to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = json!({"alg": "RS256", "kid": "bench"}).to_string();
    let claims = json!({
        "sub": "u-1", "iss": ISSUER, "client_id": "bench-client", "token_use": "access", "username": "u",
        "scope": "portcullis/jobs.read portcullis/jobs.write", "exp": now + 3600, "iat": now, "jti": "x",
        "cognito:groups": ["tenant:bench", "bench-users"],
    })
    .to_string();
    let msg = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        msg.as_bytes(),
        &mut sig,
    )
    .expect("sign");
    let token = format!("{msg}.{}", b64(&sig));
    let jwt_event = event(&[("Authorization", &format!("Bearer {token}"))]);

    let parsed = RsaPublicKeyComponents {
        n: n.clone(),
        e: e.clone(),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .expect("public key");
    c.bench_function("bare RSA-2048 verify", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(msg.as_bytes()), black_box(&sig))
                .expect("valid")
        })
    });

    // The JWT verifier alone (no cache, no policy), and the jsonwebtoken call in it.
    let cognito = Config::from_env(&Env::from_pairs([
        ("COGNITO_ISSUER", ISSUER),
        ("COGNITO_CLIENT_IDS", "bench-client"),
        ("COGNITO_GROUP_SCOPES", "bench-users=jobs:read jobs:write"),
        ("COGNITO_JWKS_JSON", jwks.as_str()),
    ]))
    .expect("config")
    .cognito
    .expect("cognito");
    let verifier = authorizer::jwt::Verifier::new(cognito).expect("verifier");
    c.bench_function("JWT verify only (jwt::Verifier)", |b| {
        b.to_async(&rt)
            .iter(|| async { verifier.verify(black_box(&token)).await.expect("valid") })
    });
    let decoding = authorizer::jwt::parse_jwks(jwks.as_bytes())
        .expect("jwks")
        .remove("bench")
        .expect("bench key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.validate_nbf = true;
    c.bench_function("jsonwebtoken::decode (RS256, key parsed once)", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde::de::IgnoredAny>(black_box(&token), &decoding, &validation)
                .expect("valid")
        })
    });

    let cached = jwt_state(&jwks, "60");
    let uncached = jwt_state(&jwks, "0");
    rt.block_on(handle(&cached, jwt_event.clone()))
        .expect("warm-up");
    c.bench_function("JWT cached", |b| {
        b.to_async(&rt).iter_batched(
            || jwt_event.clone(),
            |e| async { handle(&cached, black_box(e)).await.expect("allowed") },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("JWT uncached (RS256 verify)", |b| {
        b.to_async(&rt).iter_batched(
            || jwt_event.clone(),
            |e| async { handle(&uncached, black_box(e)).await.expect("allowed") },
            BatchSize::SmallInput,
        )
    });

    interleaved(
        &parsed, &msg, &sig, &verifier, &token, &uncached, &jwt_event,
    );

    if let Some((pool, key, admin_url, name)) = rt.block_on(key_database()) {
        let key_event = event(&[("x-api-key", &key)]);
        let mk = |ttl: &str| {
            let cfg =
                Config::from_env(&Env::from_pairs([("AUTH_CACHE_TTL_SECS", ttl)])).expect("config");
            State::new(cfg, Database::from_pool(pool.clone())).expect("state")
        };
        let cached = mk("60");
        let uncached = mk("0");
        rt.block_on(handle(&cached, key_event.clone()))
            .expect("warm-up");
        c.bench_function("API key cached", |b| {
            b.to_async(&rt).iter_batched(
                || key_event.clone(),
                |e| async { handle(&cached, black_box(e)).await.expect("allowed") },
                BatchSize::SmallInput,
            )
        });
        c.bench_function("API key uncached (PostgreSQL)", |b| {
            b.to_async(&rt).iter_batched(
                || key_event.clone(),
                |e| async { handle(&uncached, black_box(e)).await.expect("allowed") },
                BatchSize::SmallInput,
            )
        });
        rt.block_on(async {
            pool.close().await;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("drop database if exists {name}"))
                    .execute(&mut admin)
                    .await;
            }
        });
    }
}

/// The uncached JWT paths against the bare verify, interleaved: each round
/// times a block of bare verifies, then of `jwt::Verifier::verify`, then of
/// uncached handler calls, so load from elsewhere on the machine hits the
/// three alike (criterion runs its benches one after the other). Prints the
/// median per call of each and the ratios. Runs whatever filter is given
/// (`cargo bench -p authorizer --bench authorizer -- interleaved` runs it
/// alone, as no criterion bench has that name).
#[allow(clippy::too_many_arguments)]
fn interleaved(
    parsed: &aws_lc_rs::signature::ParsedPublicKey,
    msg: &str,
    sig: &[u8],
    verifier: &authorizer::jwt::Verifier,
    token: &str,
    uncached: &State,
    jwt_event: &Request,
) {
    const ROUNDS: usize = 200;
    const BLOCK: u32 = 50;
    // One thread, no scheduler hand-offs: the JWT path awaits nothing that
    // is not ready (the JWKS is pre-loaded).
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let median = |v: &mut Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (mut bare, mut only, mut full) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let t = std::time::Instant::now();
        for _ in 0..BLOCK {
            parsed
                .verify_sig(black_box(msg.as_bytes()), black_box(sig))
                .expect("valid");
        }
        bare.push(t.elapsed() / BLOCK);
        let t = std::time::Instant::now();
        rt.block_on(async {
            for _ in 0..BLOCK {
                black_box(verifier.verify(black_box(token)).await.expect("valid"));
            }
        });
        only.push(t.elapsed() / BLOCK);
        let events: Vec<Request> = (0..BLOCK).map(|_| jwt_event.clone()).collect();
        let t = std::time::Instant::now();
        rt.block_on(async {
            for e in events {
                black_box(handle(uncached, black_box(e)).await.expect("allowed"));
            }
        });
        full.push(t.elapsed() / BLOCK);
    }
    let (bare, only, full) = (median(&mut bare), median(&mut only), median(&mut full));
    let ratio = |d: std::time::Duration| d.as_secs_f64() / bare.as_secs_f64();
    println!(
        "interleaved, {ROUNDS} rounds of {BLOCK} calls each, median per call: bare RSA-2048 verify {bare:?}; \
         JWT verify only {only:?} ({:.2}x bare); JWT uncached handler {full:?} ({:.2}x bare)",
        ratio(only),
        ratio(full)
    );
}

criterion_group!(authorizer_benches, benches);
criterion_main!(authorizer_benches);
