//! The keys routes against real PostgreSQL (a fresh database per test).

mod support;

use portcullis_auth::apikey;
use portcullis_core::metrics::{self, Metric};
use serde_json::json;
use sqlx::{PgPool, Row};
use std::collections::HashSet;
use support::{Ev, admin, call, ci_key, count, create, reader, revoked_at, state};

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_created_key_verifies_against_the_stored_digest(pool: PgPool) {
    let s = state(pool.clone());
    let b = create(
        &s,
        &admin("acme"),
        json!({"name": "ci", "scopes": ["jobs:read", "jobs:write"]}),
    )
    .await;
    let key = b["key"].as_str().unwrap();
    let parsed = apikey::parse(key).expect("the returned key is well formed");
    assert_eq!(b["prefix"], format!("pcs_{}", parsed.lookup_id()));
    assert_eq!(b["tenant"], "acme");
    assert_eq!(b["plan"], "standard");
    assert_eq!(b["status"], "active");
    assert_eq!(b["created_by"], "key:admin-of-acme");
    assert_eq!(b["scopes"], json!(["jobs:read", "jobs:write"]));

    let row = sqlx::query("select lookup_id, secret_digest from api_keys where id = $1::uuid")
        .bind(b["id"].as_str().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    let lookup: String = row.get("lookup_id");
    let digest: Vec<u8> = row.get("secret_digest");
    assert_eq!(lookup, parsed.lookup_id().as_str());
    assert!(
        apikey::verify(&parsed, &digest),
        "the key must verify against the stored digest"
    );
    // Another key with the same lookup id does not verify against this digest.
    let other = apikey::generate().0;
    let other_parsed = apikey::parse(other.expose_secret()).unwrap();
    assert!(!apikey::verify(&other_parsed, &digest));
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn only_the_digest_is_stored_never_the_key(pool: PgPool) {
    let s = state(pool.clone());
    let (_, b) = ci_key(&s, "acme").await;
    let key = b["key"].as_str().unwrap();
    let secret = &key[apikey::PREFIX.len() + apikey::LOOKUP_LEN + 1..];
    let rows: Vec<String> = sqlx::query_scalar("select row_to_json(k)::text from api_keys k")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        !rows[0].contains(secret),
        "the secret is stored in clear: {}",
        rows[0]
    );
    let audit: Vec<String> = sqlx::query_scalar("select row_to_json(a)::text from audit_log a")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        audit.iter().all(|r| !r.contains(secret)),
        "the secret reached the audit log"
    );

    // Reads never show the key or its digest.
    let (status, got, _) = call(
        &s,
        Ev::key("GET", b["id"].as_str().unwrap()).by(&admin("acme")),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    let text = got.to_string();
    assert!(
        got.get("key").is_none() && !text.contains(secret) && !text.contains("digest"),
        "{text}"
    );
    assert_eq!(got["id"], b["id"]);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn listing_pages_through_every_key_without_duplicates_or_gaps(pool: PgPool) {
    let s = state(pool);
    let mut created = Vec::new();
    for i in 0..5 {
        let b = create(
            &s,
            &admin("acme"),
            json!({"name": format!("k{i}"), "scopes": ["jobs:read"]}),
        )
        .await;
        created.push(b["id"].as_str().unwrap().to_owned());
    }
    create(
        &s,
        &admin("other"),
        json!({"name": "theirs", "scopes": ["jobs:read"]}),
    )
    .await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut ev = Ev::at("GET", "/v1/keys")
            .by(&admin("acme"))
            .query("limit", "2");
        if let Some(c) = &cursor {
            ev = ev.query("cursor", c.clone());
        }
        let (status, page, _) = call(&s, ev).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for it in items {
            assert!(it.get("key").is_none(), "a listing must not show keys");
            assert_eq!(it["tenant"], "acme");
            seen.push(it["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "duplicates across pages: {seen:?}"
    );
    // Newest first: the reverse of the creation order.
    created.reverse();
    assert_eq!(seen, created);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn bad_cursors_limits_and_tenants_are_invalid_parameters(pool: PgPool) {
    let s = state(pool);
    for (k, v) in [
        ("cursor", "not-a-cursor"),
        ("cursor", "djF8eWVzdGVyZGF5fDEyMw"),
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "ten"),
        ("tenant", "Acme!"),
        ("tenant", ""),
    ] {
        let (status, b, _) = call(
            &s,
            Ev::at("GET", "/v1/keys").by(&admin("platform")).query(k, v),
        )
        .await;
        assert_eq!(status, 400, "{k}={v}: {b}");
        assert!(b["detail"].as_str().unwrap().contains(k), "{b}");
        assert_eq!(b["field"], k, "{b}");
        assert!(
            b["type"].as_str().unwrap().ends_with("invalid-parameter"),
            "{b}"
        );
    }
    let (status, _, _) = call(
        &s,
        Ev::at("GET", "/v1/keys")
            .by(&admin("acme"))
            .query("limit", "1")
            .query("limit", "2"),
    )
    .await;
    assert_eq!(status, 400);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_key_of_another_tenant_is_not_found(pool: PgPool) {
    let s = state(pool.clone());
    let (id, _) = ci_key(&s, "acme").await;
    let id = id.as_str();
    let (status, body, _) = call(&s, Ev::key("GET", id).by(&admin("evil"))).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, _) = call(&s, Ev::key("DELETE", id).by(&admin("evil"))).await;
    assert_eq!(status, 404);
    assert!(
        revoked_at(&pool, id).await.is_none(),
        "another tenant revoked the key"
    );
    // Naming the tenant does not help a non-platform admin.
    let (status, _, _) = call(
        &s,
        Ev::key("GET", id)
            .by(&admin("evil"))
            .query("tenant", "acme"),
    )
    .await;
    assert_eq!(status, 403);
    // A platform admin may look across tenants when it says so.
    let (status, _, _) = call(
        &s,
        Ev::key("GET", id)
            .by(&admin("platform"))
            .query("tenant", "acme"),
    )
    .await;
    assert_eq!(status, 200);
    // And without naming it: key ids are global.
    let (status, body, _) = call(&s, Ev::key("GET", id).by(&admin("platform"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tenant"], "acme");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_malformed_key_id_is_the_same_404_as_an_unknown_one(pool: PgPool) {
    let s = state(pool);
    let (status, unknown, _) = call(
        &s,
        Ev::key("GET", &uuid::Uuid::new_v4().to_string()).by(&admin("acme")),
    )
    .await;
    assert_eq!(status, 404, "{unknown}");
    for method in ["GET", "DELETE"] {
        let (status, b, _) = call(&s, Ev::key(method, "12345").by(&admin("acme"))).await;
        assert_eq!(status, 404, "{method}: {b}");
        assert_eq!(b["type"], unknown["type"], "{b}");
    }
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn revoking_twice_keeps_the_first_revoked_at(pool: PgPool) {
    let s = state(pool.clone());
    let cap = metrics::capture();
    let (id, _) = ci_key(&s, "acme").await;
    let id = id.as_str();
    let (status, first, _) = call(&s, Ev::key("DELETE", id).by(&admin("acme"))).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "revoked");
    assert_eq!(first["already_revoked"], false);
    assert_eq!(first["authorizer_cache"]["status"], "skipped");
    assert!(first["revoked_at"].is_string());

    let (status, second, _) = call(&s, Ev::key("DELETE", id).by(&admin("acme"))).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["already_revoked"], true);
    assert_eq!(second["revoked_at"], first["revoked_at"]);
    // Created once, revoked once; no usage plans here, so no key count.
    assert_eq!(cap.sum(Metric::KeyCreated, &[]), 1.0, "{:?}", cap.lines());
    assert_eq!(cap.sum(Metric::KeyRevoked, &[]), 1.0);
    assert!(cap.values(Metric::ApiKeyCount, &[]).is_empty());

    let stored = revoked_at(&pool, id).await.expect("revoked_at is set");
    let shown: chrono::DateTime<chrono::Utc> =
        first["revoked_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(stored, shown);

    let (_, got, _) = call(&s, Ev::key("GET", id).by(&admin("acme"))).await;
    assert_eq!(got["status"], "revoked");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn bad_bodies_are_rejected_naming_the_field(pool: PgPool) {
    let s = state(pool.clone());
    let cases: Vec<(&str, u16, Option<&str>)> = vec![
        ("{\"name\": ", 400, None),
        ("not json", 400, None),
        ("", 400, None),
        (
            "{\"name\":\"a\",\"scopes\":[\"jobs:read\"]} trailing",
            400,
            None,
        ),
        ("[1,2]", 422, Some("body")),
        (
            r#"{"name":"a","scopes":["jobs:read"],"name":"b"}"#,
            422,
            Some("name"),
        ),
        (
            r#"{"name":"a","scopes":["jobs:read"],"colour":"red"}"#,
            422,
            Some("colour"),
        ),
        (r#"{"scopes":["jobs:read"]}"#, 422, Some("name")),
        (r#"{"name":"","scopes":["jobs:read"]}"#, 422, Some("name")),
        (
            r#"{"name":"a","scopes":["jobs:read","sudo"]}"#,
            422,
            Some("scopes[1]"),
        ),
        (r#"{"name":"a","scopes":[]}"#, 422, Some("scopes")),
        (
            r#"{"name":"a","scopes":["jobs:read"],"plan":"platinum"}"#,
            422,
            Some("plan"),
        ),
        (
            r#"{"name":"a","scopes":["jobs:read"],"expires_at":"2000-01-01T00:00:00Z"}"#,
            422,
            Some("expires_at"),
        ),
        (
            r#"{"name":"a","scopes":["jobs:read"],"expires_at":"soon"}"#,
            422,
            Some("expires_at"),
        ),
    ];
    for (body, want, field) in cases {
        let (status, b, resp) = call(&s, Ev::create_key(&admin("acme"), body)).await;
        assert_eq!(status, want, "{body}: {b}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        if let Some(f) = field {
            assert_eq!(b["field"], f, "{body}: {b}");
        }
    }
    let long = json!({"name": "n".repeat(101), "scopes": ["jobs:read"]}).to_string();
    let (status, b, _) = call(&s, Ev::create_key(&admin("acme"), long)).await;
    assert_eq!((status, b["field"].as_str()), (422, Some("name")), "{b}");

    assert_eq!(
        count(&pool, "select count(*) from api_keys").await,
        0,
        "a rejected body created a key"
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_body_over_sixteen_kilobytes_is_refused_with_413(pool: PgPool) {
    let s = state(pool);
    let big =
        json!({"name": "a", "scopes": ["jobs:read"], "pad": "x".repeat(17 * 1024)}).to_string();
    let (status, b, _) = call(&s, Ev::create_key(&admin("acme"), big)).await;
    assert_eq!(status, 413, "{b}");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_caller_without_keys_admin_is_forbidden_by_the_handler(pool: PgPool) {
    let s = state(pool.clone());
    let (id, _) = ci_key(&s, "acme").await;
    let body = json!({"name": "x", "scopes": ["keys:admin"]}).to_string();
    let evs = [
        Ev::at("GET", "/v1/keys"),
        Ev::at("POST", "/v1/keys").body(body.clone()),
        Ev::key("GET", &id),
        Ev::key("DELETE", &id),
    ];
    for ev in evs {
        let label = format!("{} {}", ev.method, ev.resource);
        let (status, b, _) = call(&s, ev.by(&reader("acme"))).await;
        assert_eq!(status, 403, "{label}: {b}");
        assert!(b["detail"].as_str().unwrap().contains("keys:admin"), "{b}");
    }
    // No authorizer context at all: the gateway would never do this; 401.
    let (status, _, _) = call(&s, Ev::at("GET", "/v1/keys")).await;
    assert_eq!(status, 401);
    assert_eq!(count(&pool, "select count(*) from api_keys").await, 1);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn creating_and_revoking_are_written_to_the_audit_log(pool: PgPool) {
    let s = state(pool.clone());
    let ev = Ev::create_key(
        &admin("acme"),
        json!({"name": "ci", "scopes": ["jobs:read"]}).to_string(),
    );
    let create_req = ev.request_id.clone();
    let (status, b, _) = call(&s, ev).await;
    assert_eq!(status, 201);
    let id = b["id"].as_str().unwrap().to_owned();
    let ev = Ev::key("DELETE", &id).by(&admin("acme"));
    let revoke_req = ev.request_id.clone();
    assert_eq!(call(&s, ev).await.0, 200);

    let rows = sqlx::query(
        "select principal, tenant, action, target, request_id from audit_log order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let got: Vec<(String, String, String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "key:admin-of-acme".into(),
                "acme".into(),
                "key.create".into(),
                id.clone(),
                Some(create_req)
            ),
            (
                "key:admin-of-acme".into(),
                "acme".into(),
                "key.revoke".into(),
                id.clone(),
                Some(revoke_req)
            ),
        ]
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_key_is_not_created_when_its_audit_entry_cannot_be_written(pool: PgPool) {
    let s = state(pool.clone());
    let cap = metrics::capture();
    sqlx::query("alter table audit_log rename to audit_log_unavailable")
        .execute(&pool)
        .await
        .unwrap();
    let (status, b, _) = call(
        &s,
        Ev::create_key(
            &admin("acme"),
            json!({"name": "ci", "scopes": ["jobs:read"]}).to_string(),
        ),
    )
    .await;
    assert_eq!(status, 500, "{b}");
    assert!(
        !b.to_string().contains("audit_log"),
        "internal details leaked: {b}"
    );
    assert_eq!(
        count(&pool, "select count(*) from api_keys").await,
        0,
        "the key was committed without its audit entry"
    );
    assert_eq!(cap.sum(Metric::KeyCreated, &[]), 0.0, "nothing was created");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn me_returns_the_authorizer_context(pool: PgPool) {
    let s = state(pool);
    let (status, b, _) = call(&s, Ev::at("GET", "/v1/me").by(&reader("acme"))).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(
        b,
        json!({
            "principal_id": "key:reader-of-acme",
            "principal_type": "api_key",
            "tenant": "acme",
            "scopes": ["jobs:read"],
            "key_id": "00000000-0000-0000-0000-000000000001"
        })
    );
    let (status, _, _) = call(&s, Ev::at("GET", "/v1/me")).await;
    assert_eq!(status, 401);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn only_platform_admins_create_keys_for_other_tenants(pool: PgPool) {
    let s = state(pool);
    let body =
        json!({"name": "for acme", "scopes": ["jobs:read"], "tenant": "acme", "plan": "gold"});
    let (status, b, _) = call(&s, Ev::create_key(&admin("evil"), body.to_string())).await;
    assert_eq!(status, 403, "{b}");
    let b = create(&s, &admin("platform"), body).await;
    assert_eq!(b["tenant"], "acme");
    assert_eq!(b["plan"], "gold");
    assert_eq!(b["created_by"], "key:admin-of-platform");
    // Naming one's own tenant is fine.
    let b = create(
        &s,
        &admin("acme"),
        json!({"name": "own", "scopes": ["jobs:read"], "tenant": "acme"}),
    )
    .await;
    assert_eq!(b["tenant"], "acme");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_created_key_carries_its_expiry_and_a_no_store_header(pool: PgPool) {
    let s = state(pool);
    let at = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, b, resp) = call(
        &s,
        Ev::create_key(
            &admin("acme"),
            json!({"name": "temp", "scopes": ["services:billing"], "expires_at": at}).to_string(),
        ),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(
        resp.headers()["location"],
        format!("/v1/keys/{}", b["id"].as_str().unwrap())
    );
    let shown: chrono::DateTime<chrono::Utc> = b["expires_at"].as_str().unwrap().parse().unwrap();
    let wanted: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    assert_eq!(shown.timestamp_micros(), wanted.timestamp_micros());
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn methods_and_routes_not_served_are_refused(pool: PgPool) {
    let s = state(pool);
    let (status, _, resp) = call(&s, Ev::at("PUT", "/v1/keys").by(&admin("acme"))).await;
    assert_eq!(status, 405);
    assert_eq!(resp.headers()["allow"], "GET, POST");
    let (status, _, _) = call(&s, Ev::at("GET", "/v1/jobs").by(&admin("acme"))).await;
    assert_eq!(status, 404);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn the_bootstrap_key_is_a_working_audited_admin_key(pool: PgPool) {
    let db = portcullis_db::Database::from_pool(pool.clone());
    let cap = metrics::capture();
    let created = keys::bootstrap_admin_key(&db, "platform", "first admin", "standard")
        .await
        .unwrap();
    assert_eq!(cap.sum(Metric::KeyCreated, &[]), 1.0);
    let parsed = apikey::parse(created.key.expose_secret()).unwrap();
    let digest: Vec<u8> = sqlx::query_scalar("select secret_digest from api_keys where id = $1")
        .bind(created.record.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(apikey::verify(&parsed, &digest));
    assert_eq!(created.record.scopes, "keys:admin");
    assert_eq!(created.record.tenant, "platform");
    let action: String = sqlx::query_scalar("select action from audit_log where target = $1")
        .bind(created.record.id.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(action, "key.create");
    assert!(
        keys::bootstrap_admin_key(&db, "Not A Tenant", "x", "standard")
            .await
            .is_err()
    );
    assert!(
        keys::bootstrap_admin_key(&db, "platform", "  ", "standard")
            .await
            .is_err()
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_base64_encoded_body_is_accepted(pool: PgPool) {
    // api/openapi.yaml declares `*/*` binary media types, so API Gateway
    // base64-encodes every request body.
    let s = state(pool);
    let ev = Ev::create_key(
        &admin("acme"),
        json!({"name": "encoded", "scopes": ["jobs:read"]}).to_string(),
    )
    .base64();
    let (status, b, _) = call(&s, ev).await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["name"], "encoded");
    let ev = Ev::create_key(&admin("acme"), "{broken").base64();
    assert_eq!(call(&s, ev).await.0, 400);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn concurrent_revocations_agree_on_one_revoked_at(pool: PgPool) {
    let s = state(pool.clone());
    let (id, _) = ci_key(&s, "acme").await;
    let id = id.as_str();
    let (one, two) = tokio::join!(
        call(&s, Ev::key("DELETE", id).by(&admin("acme"))),
        call(&s, Ev::key("DELETE", id).by(&admin("acme")))
    );
    assert_eq!((one.0, two.0), (200, 200), "{} {}", one.1, two.1);
    assert_eq!(one.1["revoked_at"], two.1["revoked_at"]);
    let firsts = [&one.1, &two.1]
        .iter()
        .filter(|b| b["already_revoked"] == false)
        .count();
    assert_eq!(firsts, 1, "exactly one call revokes: {} {}", one.1, two.1);
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'key.revoke'"
        )
        .await,
        2
    );
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn a_tenant_that_cognito_could_sign_in_can_also_be_named_by_a_platform_admin(pool: PgPool) {
    // `Acme.Corp` used to pass the authorizer but not the keys API: its own
    // admins could create keys, and no platform admin could name it.
    let s = state(pool);
    let own = create(
        &s,
        &admin("Acme.Corp"),
        json!({"name": "own", "scopes": ["jobs:read"]}),
    )
    .await;
    assert_eq!(own["tenant"], "Acme.Corp");
    let theirs = create(
        &s,
        &admin("platform"),
        json!({"name": "by platform", "scopes": ["jobs:read"], "tenant": "Acme.Corp"}),
    )
    .await;
    assert_eq!(theirs["tenant"], "Acme.Corp");
    let (status, page, _) = call(
        &s,
        Ev::at("GET", "/v1/keys")
            .by(&admin("platform"))
            .query("tenant", "Acme.Corp"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    // Case is significant: `acme.corp` is another tenant.
    let (_, page, _) = call(
        &s,
        Ev::at("GET", "/v1/keys")
            .by(&admin("platform"))
            .query("tenant", "acme.corp"),
    )
    .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");

    // What no side accepts is refused by the body, the query and the
    // bootstrap tool alike, with the same rule in the message.
    let (status, b, _) = call(
        &s,
        Ev::create_key(
            &admin("platform"),
            json!({"name": "n", "scopes": ["jobs:read"], "tenant": "Acme Corp"}).to_string(),
        ),
    )
    .await;
    assert_eq!((status, b["field"].as_str()), (422, Some("tenant")), "{b}");
    let rule = portcullis_auth::tenant::TENANT_SYNTAX;
    assert!(b["detail"].as_str().unwrap().contains(rule), "{b}");
    let (status, b, _) = call(
        &s,
        Ev::at("GET", "/v1/keys")
            .by(&admin("platform"))
            .query("tenant", "Acme Corp"),
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert!(b["detail"].as_str().unwrap().contains(rule), "{b}");
    let err = keys::bootstrap_admin_key(&s.db, "Acme Corp", "x", "standard")
        .await
        .unwrap_err();
    assert!(err.to_string().contains(rule), "{err}");
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn an_authorizer_context_that_does_not_read_is_a_server_error_not_a_401(pool: PgPool) {
    let s = state(pool);
    let mut ev = Ev::at("GET", "/v1/me").by(&reader("acme")).event();
    ev["requestContext"]["authorizer"]["tenant"] = json!("not a tenant");
    let req = lambda_http::request::from_str(&ev.to_string()).unwrap();
    let resp = keys::handle(&s, req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 500);
}

#[sqlx::test(
    migrations = "../../migrations",
    fixtures(path = "fixtures", scripts("entitled"))
)]
async fn audit_entries_say_who_acted_the_same_way_for_every_writer(pool: PgPool) {
    let s = state(pool.clone());
    let (id, b) = ci_key(&s, "acme").await;
    assert_eq!(
        call(&s, Ev::key("DELETE", &id).by(&admin("acme"))).await.0,
        200
    );
    keys::bootstrap_admin_key(&s.db, "platform", "first", "standard")
        .await
        .unwrap();
    let rows: Vec<(String, serde_json::Value)> =
        sqlx::query_as("select action, detail from audit_log order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
    for (action, detail) in &rows[..2] {
        assert_eq!(detail["principal_type"], "api_key", "{action}: {detail}");
        assert_eq!(detail["caller_tenant"], "acme", "{action}: {detail}");
        assert_eq!(
            detail["key_id"], "00000000-0000-0000-0000-000000000001",
            "{action}: {detail}"
        );
    }
    assert_eq!(rows[0].1["prefix"], b["prefix"]);
    assert_eq!(rows[1].1["already_revoked"], false);
    assert_eq!(rows[2].0, "key.create");
    assert_eq!(rows[2].1["via"], "bootstrap");
    assert_eq!(rows[2].1["scopes"], json!(["keys:admin"]));
}
