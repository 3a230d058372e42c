//! What the functions need before the first spawn: a migrated scratch
//! database, the proxy's identity secret in the emulator, and a signed
//! Cognito-shaped access token with its JWKS.

use anyhow::{Context as _, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sqlx::Connection as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The scratch database the harness re-creates on every run.
pub const DATABASE: &str = "portcullis_bench_coldstart";

/// `admin_url` with its database replaced by `name`.
pub fn with_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(admin_url)
        .with_context(|| "the database URL is not a URL (expected postgres://USER@HOST:PORT/DB)")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Drop and re-create [`DATABASE`], apply `migrations`; returns its URL.
pub async fn scratch_database(admin_url: &str, migrations: &Path) -> anyhow::Result<String> {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.with_context(|| {
        "cannot connect to PostgreSQL with --database-url (or DATABASE_URL): start one \
         (`make postgres` prints a URL) or point the option at a server whose user may create databases"
    })?;
    sqlx::query(&format!("drop database if exists {DATABASE} with (force)"))
        .execute(&mut admin)
        .await
        .with_context(|| format!("cannot drop the scratch database {DATABASE}"))?;
    sqlx::query(&format!("create database {DATABASE}"))
        .execute(&mut admin)
        .await
        .with_context(|| {
            format!("cannot create the scratch database {DATABASE} (the user needs CREATEDB)")
        })?;
    let _ = admin.close().await;
    let url = with_database(admin_url, DATABASE)?;
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .with_context(|| format!("cannot connect to the new database {DATABASE}"))?;
    let migrator = sqlx::migrate::Migrator::new(migrations)
        .await
        .with_context(|| format!("cannot read the migrations in {}", migrations.display()))?;
    migrator
        .run(&mut conn)
        .await
        .with_context(|| format!("cannot migrate {DATABASE}"))?;
    let _ = conn.close().await;
    Ok(url)
}

/// Create the proxy's identity secret (base64 of 32 bytes) in the emulator
/// at `endpoint` with one Secrets Manager `CreateSecret` call (plain HTTP/1.1
/// on loopback), SigV4-signed with the process's key: the emulator enforces
/// IAM (`make bench-coldstart` exports its administrator's key). An
/// existing secret of that name is kept.
pub async fn identity_secret(endpoint: &str, name: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(endpoint)
        .with_context(|| format!("--aws-endpoint {endpoint:?} is not a URL"))?;
    let host = url
        .host_str()
        .context("--aws-endpoint has no host")?
        .to_owned();
    let port = url
        .port_or_known_default()
        .context("--aws-endpoint has no port")?;
    let value = STANDARD.encode([0x42u8; 32]);
    let body = json!({ "Name": name, "SecretString": value }).to_string();
    let authority = format!("{host}:{port}");
    let headers = [
        ("host", authority.as_str()),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "secretsmanager.CreateSecret"),
    ];
    let signed = portcullis_testkit::sigv4::sign_request(
        "secretsmanager",
        "POST",
        &format!("http://{authority}/"),
        &headers,
        body.as_bytes(),
    );
    let mut request = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in headers
        .iter()
        .map(|(n, v)| (*n, *v))
        .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| {
            format!("cannot reach the AWS emulator at {endpoint}: start it (`make emulator`)")
        })?;
    stream.write_all(request.as_bytes()).await?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await?;
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.lines().next().unwrap_or("");
    if status.contains(" 200 ") || reply.contains("ResourceExistsException") {
        return Ok(());
    }
    bail!(
        "CreateSecret {name} in the emulator at {endpoint} failed: {status}; the emulator enforces IAM: \
         export its administrator's key (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; scripts/lib.sh's \
         start_moto does, as `make bench-coldstart` runs it)"
    );
}

/// A signed RS256 access token and the JWKS that verifies it.
pub struct Token {
    pub jwt: String,
    pub jwks: String,
}

/// Sign a Cognito-shaped access token for `issuer` / `client_id` (scope
/// `portcullis/jobs.read`, valid one hour) with a fresh RSA-2048 key, of a
/// user in the groups `tenant:<TENANT>` and `coldstart` (which the
/// authorizer's COGNITO_GROUP_SCOPES grants jobs:read).
pub fn access_token(issuer: &str, client_id: &str) -> anyhow::Result<Token> {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let pair = RsaKeyPair::generate(KeySize::Rsa2048)
        .map_err(|e| anyhow::anyhow!("cannot generate an RSA key: {e}"))?;
    let pk = pair.public_key();
    let jwks = json!({ "keys": [{
        "kty": "RSA", "kid": "coldstart", "alg": "RS256", "use": "sig",
        "n": b64(pk.modulus().big_endian_without_leading_zero()),
        "e": b64(pk.exponent().big_endian_without_leading_zero()),
    }]})
    .to_string();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let header = json!({ "alg": "RS256", "kid": "coldstart" }).to_string();
    let claims = json!({
        "sub": "coldstart-user", "iss": issuer, "client_id": client_id, "token_use": "access",
        "username": "coldstart", "scope": "portcullis/jobs.read",
        "cognito:groups": [format!("tenant:{}", crate::profile::TENANT), "coldstart"],
        "exp": now + 3600, "iat": now, "auth_time": now, "jti": "coldstart",
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
    .map_err(|e| anyhow::anyhow!("cannot sign the token: {e}"))?;
    Ok(Token {
        jwt: format!("{msg}.{}", b64(&sig)),
        jwks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_query_kept() {
        assert_eq!(
            with_database(
                "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
                "x"
            )
            .unwrap(),
            "postgres://postgres@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1", "x").unwrap(),
            "postgres://u:p@h:1/x"
        );
    }

    #[test]
    fn the_token_has_three_parts_and_its_key_is_in_the_jwks() {
        let t = access_token("https://i/p", "c").unwrap();
        assert_eq!(t.jwt.split('.').count(), 3);
        let jwks: serde_json::Value = serde_json::from_str(&t.jwks).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], "coldstart");
    }
}
