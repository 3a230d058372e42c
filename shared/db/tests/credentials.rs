//! `portcullis_db::Database` against a PostgreSQL that enforces passwords
//! (`PORTCULLIS_PG_AUTH_URL`, see scripts/pg-auth-cluster.sh) and secrets held
//! in the moto server (`AWS_ENDPOINT_URL`). `make test` provides both.
//! (Moved here from the migrate crate: they test this crate.)
#![cfg(feature = "secrets-manager")]

use std::str::FromStr;
use std::time::Duration;

use portcullis_core::Env;
use portcullis_db::{Database, DbConfig, DbError};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// A guard against hangs only (not a speed assertion).
const HANG_GUARD: Duration = Duration::from_secs(60);

fn required(var: &str, what: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{var} is not set ({what}); run the tests through `make test`"))
}

fn auth_admin_options() -> PgConnectOptions {
    let url = required(
        "PORTCULLIS_PG_AUTH_URL",
        "admin URL of a PostgreSQL that enforces passwords: scripts/pg-auth-cluster.sh start DIR PORT",
    );
    PgConnectOptions::from_str(&url).expect("PORTCULLIS_PG_AUTH_URL must be a postgres:// URL")
}

async fn secrets() -> aws_sdk_secretsmanager::Client {
    required(
        "AWS_ENDPOINT_URL",
        "the moto server holding the test secrets",
    );
    aws_sdk_secretsmanager::Client::new(&portcullis_aws::sdk_config().await)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A role with its own database in the password-enforcing cluster.
struct TestRole {
    admin: PgConnectOptions,
    name: String,
}

impl TestRole {
    async fn create(password: &str) -> TestRole {
        let admin = auth_admin_options();
        let name = unique("pc_role");
        let role = TestRole { admin, name };
        role.admin_sql(&format!(
            "create role {0} login password '{password}'; create database {0} owner {0}",
            role.name
        ))
        .await;
        role
    }

    fn host(&self) -> String {
        self.admin.get_host().to_owned()
    }

    fn port(&self) -> u16 {
        self.admin.get_port()
    }

    /// Change the role's password, as a rotation does.
    async fn rotate(&self, password: &str) {
        self.admin_sql(&format!("alter role {} password '{password}'", self.name))
            .await;
    }

    /// End the role's sessions (idle connections dropped, as when a Lambda
    /// environment is recycled), so the next query must log in again.
    async fn disconnect_all(&self) {
        self.admin_sql(&format!(
            "select pg_terminate_backend(pid) from pg_stat_activity where usename = '{}'",
            self.name
        ))
        .await;
    }

    /// Runs each `;`-separated statement on its own (CREATE/DROP DATABASE
    /// cannot run inside the implicit transaction of a multi-statement query).
    async fn admin_sql(&self, sql: &str) {
        let mut conn = self.admin.connect().await.expect("admin connection");
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            sqlx::raw_sql(statement)
                .execute(&mut conn)
                .await
                .expect(statement);
        }
        conn.close().await.ok();
    }

    async fn drop(self) {
        self.admin_sql(&format!(
            "drop database if exists {0} with (force); drop role if exists {0}",
            self.name
        ))
        .await;
    }
}

fn secret_json(role: &TestRole, password: &str, full: bool) -> String {
    if full {
        serde_json::json!({
            "engine": "postgres", "username": role.name, "password": password,
            "host": role.host(), "port": role.port(), "dbname": role.name,
        })
        .to_string()
    } else {
        // What RDS stores for a managed master password: credentials only.
        serde_json::json!({ "username": role.name, "password": password }).to_string()
    }
}

async fn create_secret(sm: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    let out = sm
        .create_secret()
        .name(unique("portcullis-test-db"))
        .secret_string(value)
        .send()
        .await
        .expect("create secret in the emulator");
    out.arn().expect("CreateSecret returns an ARN").to_owned()
}

async fn put_secret(sm: &aws_sdk_secretsmanager::Client, arn: &str, value: &str) {
    sm.put_secret_value()
        .secret_id(arn)
        .secret_string(value)
        .send()
        .await
        .expect("put secret value");
}

async fn database(pairs: Vec<(&str, String)>) -> Result<Database, DbError> {
    database_with(pairs, |_| {}).await
}

async fn database_with(
    pairs: Vec<(&str, String)>,
    adjust: impl FnOnce(&mut DbConfig),
) -> Result<Database, DbError> {
    let env = Env::from_pairs(pairs);
    let mut config = DbConfig::from_env(&env)?;
    adjust(&mut config);
    Database::connect(config, Some(&portcullis_aws::sdk_config().await)).await
}

async fn current_user(db: &Database) -> Result<String, DbError> {
    db.with_retry(|pool| async move {
        sqlx::query_scalar::<_, String>("select current_user::text")
            .fetch_one(&pool)
            .await
    })
    .await
}

#[tokio::test]
async fn rotated_password_is_picked_up_after_exactly_one_refresh() {
    let sm = secrets().await;
    let role = TestRole::create("first-pass-1").await;
    let arn = create_secret(&sm, &secret_json(&role, "first-pass-1", false)).await;
    let db = database(vec![
        ("DB_SECRET_ARN", arn.clone()),
        ("DB_HOST", role.host()),
        ("DB_PORT", role.port().to_string()),
        ("DB_NAME", role.name.clone()),
        ("DB_SSL_MODE", "disable".into()),
    ])
    .await
    .expect("database from secret");
    assert_eq!(db.source_kind(), "secret");

    assert_eq!(current_user(&db).await.unwrap(), role.name);
    assert_eq!(db.refresh_count(), 0);

    // Rotation: the role's password and the secret both change.
    role.rotate("second-pass-2").await;
    put_secret(&sm, &arn, &secret_json(&role, "second-pass-2", false)).await;
    role.disconnect_all().await;

    let user = tokio::time::timeout(HANG_GUARD, current_user(&db))
        .await
        .expect("no hang");
    assert_eq!(user.expect("query after rotation"), role.name);
    assert_eq!(db.refresh_count(), 1);

    // Later work needs no further refresh.
    let mut tx = db.begin().await.unwrap();
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(one, 1);
    assert_eq!(db.refresh_count(), 1);

    drop(db);
    role.drop().await;
}

#[tokio::test]
async fn secret_recheck_installs_the_new_credentials_before_any_login_fails() {
    let sm = secrets().await;
    let role = TestRole::create("old-pass").await;
    let arn = create_secret(&sm, &secret_json(&role, "old-pass", true)).await;
    let db = database(vec![
        ("DB_SECRET_ARN", arn.clone()),
        ("DB_SSL_MODE", "disable".into()),
    ])
    .await
    .expect("database from secret");
    assert!(
        !db.recheck_credentials().await.unwrap(),
        "nothing changed yet"
    );
    assert_eq!(db.refresh_count(), 0);

    role.rotate("new-pass").await;
    put_secret(&sm, &arn, &secret_json(&role, "new-pass", true)).await;
    role.disconnect_all().await;

    // What the background task does every DB_SECRET_RECHECK_SECS.
    assert!(
        db.recheck_credentials().await.unwrap(),
        "the new version is seen"
    );
    let user = current_user(&db)
        .await
        .expect("the pool logs in with the new password");
    assert_eq!(user, role.name);
    // Only the re-check refreshed: the login did not fail first.
    assert_eq!(db.refresh_count(), 1);
    assert!(!db.recheck_credentials().await.unwrap());

    drop(db);
    role.drop().await;
}

#[tokio::test]
async fn concurrent_auth_failures_share_one_refresh() {
    let sm = secrets().await;
    let role = TestRole::create("alpha-pass").await;
    let arn = create_secret(&sm, &secret_json(&role, "alpha-pass", true)).await;
    let db = database(vec![
        ("DB_SECRET_ARN", arn.clone()),
        ("DB_SSL_MODE", "prefer".into()),
        ("DB_MAX_CONNECTIONS", "2".into()),
    ])
    .await
    .expect("database from secret");

    role.rotate("beta-pass").await;
    put_secret(&sm, &arn, &secret_json(&role, "beta-pass", true)).await;

    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { current_user(&db).await })
        })
        .collect();
    for task in tasks {
        let user = tokio::time::timeout(HANG_GUARD, task)
            .await
            .expect("no hang")
            .unwrap();
        assert_eq!(user.expect("every query succeeds"), role.name);
    }
    assert_eq!(db.refresh_count(), 1);

    drop(db);
    role.drop().await;
}

#[tokio::test]
async fn wrong_secret_fails_with_a_clear_error_instead_of_hanging() {
    let sm = secrets().await;
    let role = TestRole::create("right-pass").await;
    let arn = create_secret(&sm, &secret_json(&role, "wrong-pass", true)).await;
    let db = database_with(
        vec![
            ("DB_SECRET_ARN", arn.clone()),
            ("DB_SSL_MODE", "disable".into()),
            ("DB_ACQUIRE_TIMEOUT_MS", "1000".into()),
        ],
        // Make "soon after" independent of how slow this machine is.
        |c| c.min_refresh_interval = Duration::from_secs(3600),
    )
    .await
    .expect("the pool connects lazily, so start-up succeeds");

    let err = tokio::time::timeout(HANG_GUARD, db.ping())
        .await
        .expect("no hang")
        .expect_err("a wrong password must fail");
    let DbError::AuthRejected { code, origin, .. } = &err else {
        panic!("AuthRejected expected, got {err}");
    };
    assert_eq!(code, "28P01");
    assert!(origin.contains(&arn), "{origin}");
    let msg = err.to_string();
    assert!(
        msg.contains("fix the secret") && !msg.contains("wrong-pass"),
        "{msg}"
    );
    // The secret was re-read once, in case it had just been rotated.
    assert_eq!(db.refresh_count(), 1);

    // A second failure soon after does not hammer Secrets Manager.
    let again = db.acquire().await.expect_err("still wrong");
    assert!(matches!(again, DbError::AuthRejected { .. }), "{again}");
    assert_eq!(db.refresh_count(), 1);

    drop(db);
    role.drop().await;
}

#[tokio::test]
async fn missing_secret_fails_start_up_naming_the_secret() {
    secrets().await;
    let arn =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:portcullis-does-not-exist-AbCdEf";
    let err = database(vec![("DB_SECRET_ARN", arn.to_owned())])
        .await
        .unwrap_err();
    let DbError::SecretUnavailable { code, .. } = &err else {
        panic!("SecretUnavailable expected, got {err}");
    };
    assert_eq!(code, "ResourceNotFoundException");
    assert!(
        err.to_string().contains(arn) && err.to_string().contains("DB_SECRET_ARN"),
        "{err}"
    );
}

#[tokio::test]
async fn secret_that_is_not_rds_json_fails_start_up() {
    let sm = secrets().await;
    let arn = create_secret(&sm, "password=hunter2").await;
    let err = database(vec![("DB_SECRET_ARN", arn.clone())])
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::SecretFormat { .. }), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[tokio::test]
async fn secret_without_host_needs_db_host() {
    let sm = secrets().await;
    let arn = create_secret(&sm, r#"{"username":"app","password":"pw"}"#).await;
    let err = database(vec![("DB_SECRET_ARN", arn)]).await.unwrap_err();
    let DbError::Config(config) = &err else {
        panic!("configuration error expected, got {err}");
    };
    assert_eq!(config.var(), "DB_HOST");
}

#[tokio::test]
async fn unreachable_database_gives_a_timeout_error_not_a_hang() {
    // Port 1 on localhost: connection refused, retried until the acquire timeout.
    let db = database(vec![
        (
            "DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none".to_owned(),
        ),
        ("DB_ACQUIRE_TIMEOUT_MS", "300".to_owned()),
    ])
    .await
    .expect("lazy pool");
    let err = tokio::time::timeout(HANG_GUARD, db.ping())
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(matches!(err, DbError::Timeout), "{err}");
    assert_eq!(db.refresh_count(), 0);
}

#[tokio::test]
async fn wrong_password_in_database_url_is_not_retried() {
    let role = TestRole::create("url-pass").await;
    let url = format!(
        "postgres://{0}:not-the-password@{1}:{2}/{0}",
        role.name,
        role.host(),
        role.port()
    );
    let db = database(vec![("DATABASE_URL", url)])
        .await
        .expect("lazy pool");
    let err = db.ping().await.unwrap_err();
    assert!(matches!(err, DbError::AuthRejected { .. }), "{err}");
    assert!(
        err.to_string().contains("DATABASE_URL") && !err.to_string().contains("not-the-password")
    );
    assert_eq!(db.refresh_count(), 0);
    // Sanity: the right password works, so the failure above was the password.
    let good = format!(
        "postgres://{0}:url-pass@{1}:{2}/{0}",
        role.name,
        role.host(),
        role.port()
    );
    let conn = PgConnection::connect(&good)
        .await
        .expect("right password connects");
    conn.close().await.ok();
    drop(db);
    role.drop().await;
}

#[tokio::test]
async fn pool_settings_reach_the_server() {
    let url = required("DATABASE_URL", "the main PostgreSQL");
    let db = database(vec![
        ("DATABASE_URL", url),
        ("DB_STATEMENT_TIMEOUT_MS", "150".into()),
        ("AWS_LAMBDA_FUNCTION_NAME", "jobs".into()),
    ])
    .await
    .expect("lazy pool");
    let (timeout, app): (String, String) = db
        .with_retry(|pool| async move {
            sqlx::query_as(
                "select current_setting('statement_timeout'), current_setting('application_name')",
            )
            .fetch_one(&pool)
            .await
        })
        .await
        .unwrap();
    assert_eq!(
        (timeout.as_str(), app.as_str()),
        ("150ms", "portcullis-jobs")
    );
    // The timeout is enforced: a long statement is cancelled (SQLSTATE 57014).
    let err = db
        .with_retry(|pool| async move { sqlx::query("select pg_sleep(30)").execute(&pool).await })
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate().as_deref(), Some("57014"), "{err}");
}

/// A function's own Lambda environment (an `Env::Map`): the database
/// variables plus its AWS region, endpoint and credentials (the emulator's
/// key `make test` exports, copied into the map), with the `aws` pairs
/// replacing those (an empty value removes one).
fn lambda_env(arn: &str, aws: &[(&str, &str)]) -> Env {
    let endpoint = required(
        "AWS_ENDPOINT_URL",
        "the moto server holding the test secrets",
    );
    let key = required("AWS_ACCESS_KEY_ID", "the emulator's access key");
    let secret = required("AWS_SECRET_ACCESS_KEY", "the emulator's secret key");
    let mut pairs: std::collections::BTreeMap<String, String> = [
        ("DB_SECRET_ARN", arn.to_owned()),
        ("DB_SSL_MODE", "disable".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in aws {
        pairs.insert((*k).to_owned(), (*v).to_owned());
    }
    Env::from_pairs(pairs)
}

/// The AWS error code and the SDK's detail of a secret that could not be read.
fn unavailable(err: DbError) -> (String, String) {
    match err {
        DbError::SecretUnavailable { code, detail, .. } => (code, detail),
        other => panic!("expected the secret to be unavailable, got {other}"),
    }
}

#[tokio::test]
async fn a_map_env_reads_its_secret_with_its_own_aws_settings_only() {
    let sm = secrets().await;
    let role = TestRole::create("map-pass-1").await;
    let arn = create_secret(&sm, &secret_json(&role, "map-pass-1", true)).await;

    let db = Database::from_env(&lambda_env(&arn, &[]))
        .await
        .expect("the secret is read at the map's endpoint");
    assert_eq!(current_user(&db).await.unwrap(), role.name);
    let lazy =
        portcullis_db::LazyDatabase::from_env(&lambda_env(&arn, &[])).expect("a complete map");
    assert_eq!(
        current_user(lazy.get().await.unwrap()).await.unwrap(),
        role.name
    );

    // The endpoint is the map's, not the process's (which is the emulator).
    let dead = [("AWS_ENDPOINT_URL", "http://127.0.0.1:9")];
    let (_, detail) = unavailable(
        Database::from_env(&lambda_env(&arn, &dead))
            .await
            .unwrap_err(),
    );
    assert!(detail.contains("127.0.0.1:9"), "{detail}");
    let lazy = portcullis_db::LazyDatabase::from_env(&lambda_env(&arn, &dead)).unwrap();
    let (_, detail) = unavailable(lazy.get().await.unwrap_err());
    assert!(detail.contains("127.0.0.1:9"), "{detail}");

    // The credentials are the map's: a key the emulator does not know is
    // refused (the emulator enforces IAM), though the process's key is valid.
    let unknown = [
        ("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNFUNCTION"),
        ("AWS_SECRET_ACCESS_KEY", "unknown"),
    ];
    let (code, detail) = unavailable(
        Database::from_env(&lambda_env(&arn, &unknown))
            .await
            .unwrap_err(),
    );
    // AWS answers UnrecognizedClientException; moto answers its
    // InvalidClientTokenId in XML, which the JSON client cannot decode.
    assert!(
        code == "UnrecognizedClientException" || detail.contains("InvalidClientTokenId"),
        "{code}: {detail}"
    );

    // No credentials in the map: none at all, never the process's.
    let none = [("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")];
    let (_, detail) = unavailable(
        Database::from_env(&lambda_env(&arn, &none))
            .await
            .unwrap_err(),
    );
    assert!(detail.contains("no identity resolver"), "{detail}");

    // No region: refused at once, naming AWS_REGION.
    let no_region = [("AWS_REGION", "")];
    let err = Database::from_env(&lambda_env(&arn, &no_region))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DbError::Config(c) if c.var() == "AWS_REGION"),
        "{err}"
    );
    let err = portcullis_db::LazyDatabase::from_env(&lambda_env(&arn, &no_region)).unwrap_err();
    assert_eq!(err.var(), "AWS_REGION");
    role.drop().await;
}
