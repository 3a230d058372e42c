//! `DB_APP_USER`: the application role `migrate` ensures after migrating,
//! against real PostgreSQL (`DATABASE_URL`; roles are cluster-wide, so every
//! test uses its own role name and drops it at the end).

use migrate::{APP_USER_VAR, State, ensure_app_user, handle, run_with};
use portcullis_core::Env;
use portcullis_db::{Database, DbError};
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Connects as `role` to the test database (the local server trusts every user).
async fn connect_as(pool: &PgPool, role: &str) -> PgConnection {
    let db: String = sqlx::query_scalar("select current_database()::text")
        .fetch_one(pool)
        .await
        .unwrap();
    PgConnection::connect(&format!("postgres://{role}@127.0.0.1:5432/{db}"))
        .await
        .unwrap_or_else(|e| panic!("cannot connect as {role}: {e}"))
}

async fn drop_role(pool: &PgPool, role: &str) {
    sqlx::query(&format!("drop owned by \"{role}\""))
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(&format!("drop role \"{role}\""))
        .execute(pool)
        .await
        .unwrap();
}

async fn is_member_of(pool: &PgPool, role: &str, group: &str) -> bool {
    sqlx::query_scalar(
        "select exists (select 1 from pg_auth_members m \
         join pg_roles r on r.oid = m.member join pg_roles g on g.oid = m.roleid \
         where r.rolname = $1 and g.rolname = $2)",
    )
    .bind(role)
    .bind(group)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn role_is_created_once_and_reused_on_the_second_run(pool: PgPool) {
    let role = unique("app_reuse");
    let state = State::new(Database::from_pool(pool.clone()))
        .with_app_user(role.clone())
        .unwrap();

    let first = handle(&state, json!({})).await.expect("first run");
    let first_user = first.app_user.clone().expect("app_user reported");
    assert_eq!(first_user.name, role);
    assert!(first_user.created, "{first:?}");
    let output = serde_json::to_value(&first).unwrap();
    assert_eq!(output["app_user"]["name"], json!(role));
    assert_eq!(output["app_user"]["created"], json!(true));
    assert!(output["app_user"]["rds_iam"].is_boolean(), "{output}");

    let second = handle(&state, json!({})).await.expect("second run");
    let second_user = second.app_user.expect("app_user reported");
    assert!(!second_user.created, "the role must be reused");
    assert!(second.applied.is_empty());

    let can_login: bool = sqlx::query_scalar("select rolcanlogin from pg_roles where rolname = $1")
        .bind(&role)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(can_login);
    drop_role(&pool, &role).await;
}

#[sqlx::test(migrations = false)]
async fn without_an_app_user_the_output_has_no_app_user(pool: PgPool) {
    let report = run_with(&Database::from_pool(pool), None).await.unwrap();
    assert!(report.app_user.is_none());
    let output = serde_json::to_value(&report).unwrap();
    assert!(output.get("app_user").is_none(), "{output}");
}

#[sqlx::test(migrations = false)]
async fn app_role_can_read_and_write_jobs_but_append_only_tables_still_refuse_changes(
    pool: PgPool,
) {
    let role = unique("app_dml");
    run_with(&Database::from_pool(pool.clone()), Some(&role))
        .await
        .unwrap();
    let mut conn = connect_as(&pool, &role).await;

    let id: uuid::Uuid = sqlx::query_scalar(
        "insert into jobs (tenant, principal, type, params, request_hash) \
         values ('acme', 'key:abc', 'sample', '{\"args\": []}', 'ab12') returning id",
    )
    .fetch_one(&mut conn)
    .await
    .expect("the app role inserts into jobs");
    let tenant: String = sqlx::query_scalar("select tenant from jobs where id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .expect("the app role selects from jobs");
    assert_eq!(tenant, "acme");

    // A serial column: needs the sequence grant.
    sqlx::query("insert into job_events (job_id, to_status, source) values ($1, 'queued', 'api')")
        .bind(id)
        .execute(&mut conn)
        .await
        .expect("the app role appends to job_events");
    let err = sqlx::query("delete from job_events where job_id = $1")
        .bind(id)
        .execute(&mut conn)
        .await
        .expect_err("job_events stays append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("update job_events set source = 'reconciler' where job_id = $1")
        .bind(id)
        .execute(&mut conn)
        .await
        .expect_err("job_events stays append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
    // Not a superuser: DDL is refused.
    let err = sqlx::query("drop table jobs cascade")
        .execute(&mut conn)
        .await
        .expect_err("the app role must not own the schema");
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{err}"
    );

    conn.close().await.unwrap();
    drop_role(&pool, &role).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn tables_created_after_the_grants_are_also_accessible(pool: PgPool) {
    let role = unique("app_future");
    let mut admin = pool.acquire().await.unwrap();
    ensure_app_user(&mut admin, &role, "rds_iam").await.unwrap();
    sqlx::query("create table later_things (id bigserial primary key, name text not null)")
        .execute(&mut *admin)
        .await
        .unwrap();
    drop(admin);

    let mut conn = connect_as(&pool, &role).await;
    let id: i64 = sqlx::query_scalar("insert into later_things (name) values ('x') returning id")
        .fetch_one(&mut conn)
        .await
        .expect("default privileges cover future tables and sequences");
    assert!(id > 0);
    conn.close().await.unwrap();
    drop_role(&pool, &role).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_an_rds_iam_role_nothing_is_granted_and_the_output_says_so(pool: PgPool) {
    // rds_iam itself may exist in this cluster (another test creates it), so
    // stand in a role name that certainly does not.
    let role = unique("app_noiam");
    let missing = unique("rds_iam_absent");
    let mut admin = pool.acquire().await.unwrap();
    let user = ensure_app_user(&mut admin, &role, &missing).await.unwrap();
    drop(admin);
    assert!(!user.rds_iam, "{user:?}");
    assert!(user.created);
    assert!(!is_member_of(&pool, &role, &missing).await);
    drop_role(&pool, &role).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn with_an_rds_iam_role_the_app_role_is_granted_it(pool: PgPool) {
    // Cluster-wide and never dropped: concurrent tests may rely on it.
    sqlx::query(
        "do $$ begin create role rds_iam; exception when duplicate_object then null; end $$",
    )
    .execute(&pool)
    .await
    .unwrap();
    let role = unique("app_iam");
    let report = run_with(&Database::from_pool(pool.clone()), Some(&role))
        .await
        .unwrap();
    let user = report.app_user.expect("app_user reported");
    assert!(user.rds_iam, "{user:?}");
    assert!(is_member_of(&pool, &role, "rds_iam").await);

    // Idempotent: granting again is fine.
    let again = run_with(&Database::from_pool(pool.clone()), Some(&role))
        .await
        .unwrap();
    assert_eq!(
        again.app_user.map(|u| (u.created, u.rds_iam)),
        Some((false, true))
    );
    drop_role(&pool, &role).await;
}

#[tokio::test]
async fn unsafe_app_user_names_fail_start_up_naming_the_variable() {
    for bad in [
        "Portcullis",
        "app-user",
        "app\"; drop table jobs; --",
        "1app",
        "app user",
        &"a".repeat(64),
    ] {
        let err = State::from_env(&Env::from_pairs([
            (
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/postgres",
            ),
            (APP_USER_VAR, bad),
        ]))
        .await
        .err()
        .unwrap_or_else(|| panic!("{bad:?} must be refused"));
        let Some(DbError::Config(config)) = err.downcast_ref::<DbError>() else {
            panic!("configuration error expected for {bad:?}, got {err}");
        };
        assert_eq!(config.var(), "DB_APP_USER");
        assert!(err.to_string().contains("DB_APP_USER"), "{err}");
        assert!(
            !err.to_string().contains(bad),
            "the value is not echoed: {err}"
        );
    }
}

#[sqlx::test(migrations = false)]
async fn longest_allowed_name_and_underscore_names_are_accepted(pool: PgPool) {
    let state = State::new(Database::from_pool(pool));
    let longest = format!("_{}", "a".repeat(62));
    assert!(migrate::is_safe_identifier(&longest));
    assert!(state.with_app_user(longest).is_ok());
    assert!(!migrate::is_safe_identifier(""));
}
