//! The migrate handler and the schema's constraints, against real PostgreSQL
//! (`DATABASE_URL`; `#[sqlx::test]` gives each test its own database).

use migrate::{Error, Report, State, handle, known_versions, run};
use portcullis_core::Env;
use portcullis_db::{Database, DbError};
use serde_json::json;
use sqlx::PgPool;

const INITIAL: i64 = 20261121000001;

#[sqlx::test(migrations = false)]
async fn first_call_applies_every_migration_and_second_applies_none(pool: PgPool) {
    let state = State::new(Database::from_pool(pool.clone()));
    let known = known_versions();
    assert!(known.contains(&INITIAL), "{known:?}");

    let first = handle(&state, json!({}))
        .await
        .expect("first migration run");
    assert_eq!(first.applied, known);
    assert_eq!(first.versions, known);

    let second = handle(&state, json!({"anything": ["is", "ignored"]}))
        .await
        .expect("second migration run");
    assert_eq!(
        second,
        Report {
            applied: vec![],
            versions: known.clone(),
            app_user: None,
        }
    );

    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables \
         where table_schema = 'public' and table_name in ('api_keys', 'jobs', 'job_events', 'audit_log') \
         order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tables, ["api_keys", "audit_log", "job_events", "jobs"]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn database_migrated_by_sqlx_test_needs_nothing_more(pool: PgPool) {
    let report = run(&Database::from_pool(pool)).await.unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.versions, known_versions());
}

#[sqlx::test(migrations = false)]
async fn concurrent_runs_apply_each_migration_exactly_once(pool: PgPool) {
    let db = Database::from_pool(pool);
    let (a, b) = tokio::join!(run(&db), run(&db));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<i64> = a.applied.iter().chain(&b.applied).copied().collect();
    all.sort_unstable();
    assert_eq!(all, known_versions(), "a={a:?} b={b:?}");
    assert_eq!(a.versions, b.versions);
}

#[sqlx::test(migrations = false)]
async fn changed_migration_is_reported_with_what_to_do(pool: PgPool) {
    let db = Database::from_pool(pool.clone());
    run(&db).await.unwrap();
    sqlx::query("update _sqlx_migrations set checksum = '\\x00'::bytea where version = $1")
        .bind(INITIAL)
        .execute(&pool)
        .await
        .unwrap();
    let err = run(&db).await.unwrap_err();
    assert!(matches!(err, Error::Modified { version: INITIAL }), "{err}");
    assert!(err.to_string().contains("add a new migration"), "{err}");
}

#[sqlx::test(migrations = false)]
async fn database_newer_than_the_build_is_refused(pool: PgPool) {
    let db = Database::from_pool(pool.clone());
    run(&db).await.unwrap();
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
         values (99991231000000, 'from the future', true, '\\x00'::bytea, 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let err = run(&db).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unknown {
                version: 99991231000000
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn missing_database_configuration_fails_start_up_naming_the_variable() {
    let err = State::from_env(&Env::from_pairs([("DB_MAX_CONNECTIONS", "2")]))
        .await
        .err()
        .expect("start-up must fail");
    let Some(DbError::Config(config)) = err.downcast_ref::<DbError>() else {
        panic!("configuration error expected, got {err}");
    };
    assert_eq!(config.var(), "DATABASE_URL");
    assert!(err.to_string().contains("DATABASE_URL"));
}

// ---------------------------------------------------------------- constraints

async fn insert_key(pool: &PgPool, lookup: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into api_keys (lookup_id, secret_digest, name, tenant, scopes, created_by) \
         values ($1, $2, 'ci key', 'acme', $3, 'admin@acme')",
    )
    .bind(lookup)
    .bind(vec![7u8; 32])
    .bind(vec!["jobs:read".to_owned()])
    .execute(pool)
    .await
    .map(|_| ())
}

async fn insert_job(
    pool: &PgPool,
    tenant: &str,
    key: Option<&str>,
) -> Result<uuid::Uuid, sqlx::Error> {
    sqlx::query_scalar(
        "insert into jobs (tenant, principal, type, params, idempotency_key, request_hash) \
         values ($1, 'key:abc', 'sample', '{\"args\": []}', $2, 'ab12') returning id",
    )
    .bind(tenant)
    .bind(key)
    .fetch_one(pool)
    .await
}

fn constraint_of(e: &sqlx::Error) -> (String, String) {
    let db = e.as_database_error().expect("a database error");
    (
        db.code().map(|c| c.into_owned()).unwrap_or_default(),
        db.constraint().unwrap_or_default().to_owned(),
    )
}

#[sqlx::test(migrations = "../../migrations")]
async fn api_key_lookup_id_is_unique(pool: PgPool) {
    insert_key(&pool, "k3yl00kup").await.unwrap();
    let err = insert_key(&pool, "k3yl00kup").await.unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23505".into(), "api_keys_lookup_id_key".into())
    );
    insert_key(&pool, "other").await.unwrap();
}

#[sqlx::test(migrations = "../../migrations")]
async fn api_key_digest_must_be_a_sha256(pool: PgPool) {
    let err = sqlx::query(
        "insert into api_keys (lookup_id, secret_digest, name, tenant, created_by) \
         values ('short', '\\x0102'::bytea, 'k', 't', 'me')",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23514".into(), "api_keys_secret_digest_check".into())
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn idempotency_key_is_unique_per_tenant_only(pool: PgPool) {
    insert_job(&pool, "acme", Some("order-1")).await.unwrap();
    let err = insert_job(&pool, "acme", Some("order-1"))
        .await
        .unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23505".into(), "jobs_tenant_idempotency_key_key".into())
    );
    let as_db = DbError::from(err);
    assert!(as_db.is_unique_violation());
    assert_eq!(as_db.constraint(), Some("jobs_tenant_idempotency_key_key"));
    // Another tenant may use the same key; jobs without a key never collide.
    insert_job(&pool, "globex", Some("order-1")).await.unwrap();
    insert_job(&pool, "acme", None).await.unwrap();
    insert_job(&pool, "acme", None).await.unwrap();
}

#[sqlx::test(migrations = "../../migrations")]
async fn unknown_job_status_is_rejected(pool: PgPool) {
    let id = insert_job(&pool, "acme", None).await.unwrap();
    let status: String = sqlx::query_scalar("select status from jobs where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "queued");
    let err = sqlx::query("update jobs set status = 'paused' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23514".into(), "jobs_status_check".into())
    );
    for status in ["starting", "running", "succeeded"] {
        sqlx::query("update jobs set status = $2 where id = $1")
            .bind(id)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn terminal_job_status_never_changes(pool: PgPool) {
    let id = insert_job(&pool, "acme", None).await.unwrap();
    sqlx::query("update jobs set status = 'cancelled', finished_at = now() where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let err = sqlx::query("update jobs set status = 'running' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23514".into(), "jobs_terminal_status_check".into())
    );
    // Other columns of a finished job may still be filled in.
    sqlx::query("update jobs set exit_code = 0 where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = "../../migrations")]
async fn attempts_cannot_exceed_the_jobs_max_attempts(pool: PgPool) {
    let id = insert_job(&pool, "acme", None).await.unwrap();
    sqlx::query("update jobs set max_attempts = 2, attempts = 2 where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let err = sqlx::query("update jobs set attempts = attempts + 1 where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23514".into(), "jobs_max_attempts_check".into())
    );
    let err = sqlx::query("update jobs set attempts = -1, max_attempts = null where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert_eq!(
        constraint_of(&err),
        ("23514".into(), "jobs_attempts_check".into())
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn updated_at_moves_on_update(pool: PgPool) {
    let id = insert_job(&pool, "acme", None).await.unwrap();
    sqlx::query("update jobs set updated_at = created_at - interval '1 hour' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    let later: bool = sqlx::query_scalar("select updated_at >= created_at from jobs where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(later, "the trigger must overwrite updated_at");
}

#[sqlx::test(migrations = "../../migrations")]
async fn job_events_are_append_only(pool: PgPool) {
    let id = insert_job(&pool, "acme", None).await.unwrap();
    sqlx::query(
        "insert into job_events (job_id, from_status, to_status, source, detail) \
         values ($1, null, 'queued', 'api', '{}'), ($1, 'queued', 'starting', 'reconciler', '{\"attempt\": 1}')",
    )
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
    for statement in [
        "update job_events set to_status = 'failed'",
        "delete from job_events",
        "truncate job_events",
    ] {
        let err = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert_eq!(constraint_of(&err).0, "42501", "{statement}: {err}");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from job_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn job_event_source_and_statuses_are_checked(pool: PgPool) {
    let id = insert_job(&pool, "acme", None).await.unwrap();
    for (to, source, constraint) in [
        ("running", "cron", "job_events_source_check"),
        ("exploded", "api", "job_events_to_status_check"),
    ] {
        let err =
            sqlx::query("insert into job_events (job_id, to_status, source) values ($1, $2, $3)")
                .bind(id)
                .bind(to)
                .bind(source)
                .execute(&pool)
                .await
                .unwrap_err();
        assert_eq!(constraint_of(&err), ("23514".into(), constraint.into()));
    }
    let err = sqlx::query(
        "insert into job_events (job_id, to_status, source) values ($1, 'queued', 'api')",
    )
    .bind(uuid::Uuid::new_v4())
    .execute(&pool)
    .await
    .unwrap_err();
    assert_eq!(constraint_of(&err).0, "23503");
}

#[sqlx::test(migrations = "../../migrations")]
async fn audit_log_is_append_only(pool: PgPool) {
    sqlx::query(
        "insert into audit_log (principal, tenant, action, target, detail, request_id) \
         values ('key:abc', 'acme', 'keys.revoke', 'key/123', '{}', 'req-1')",
    )
    .execute(&pool)
    .await
    .unwrap();
    for statement in [
        "update audit_log set action = 'nothing'",
        "delete from audit_log",
        "truncate audit_log",
    ] {
        let err = sqlx::query(statement).execute(&pool).await.unwrap_err();
        assert_eq!(constraint_of(&err).0, "42501", "{statement}: {err}");
    }
}
