//! The sample web application over the VPC link end to end: real HTTP through the local gateway serving the REST API
//! Terraform rendered and applied to the emulator (the `web` service's
//! `http_proxy` integrations with `connectionType: VPC_LINK`), the real
//! authorizer signing the caller's identity for the service, and the sample
//! web application on a loopback port (standing for the internal ALB's `/web`
//! rule) verifying it with the key of the secret Terraform created. The
//! sample service, behind the proxy function (integration `lambda`), is the
//! comparison for a large download.

use crate::services::{start_sample, start_web, web_base_path};
use e2e::{client, deployed, deployed_gateway, overrides_for, start_gateway};
use local::Upstreams;
use portcullis_identity as identity;
use sqlx::PgPool;

/// The deployment's gateway, with the web app behind its `/web` upstream
/// (what `make local` sets with `PORTCULLIS_HTTP_UPSTREAMS`) and the sample
/// service behind the proxy; also returns the web app's own URL.
async fn gateway(pool: &PgPool) -> (e2e::RunningGateway, String) {
    let deployment = deployed();
    let body = &deployment.rest_api_body;
    assert!(
        body.contains("VPC_LINK") && body.contains("/v1/services/web/{proxy+}"),
        "the applied REST API has the web service's VPC link integration (platform.yaml services.web, integration vpc_link)"
    );
    let web = start_web(&deployment).await;
    let mut upstreams = Upstreams::default();
    upstreams.insert(&web_base_path(&deployment), &web);
    let mut overrides = overrides_for(pool);
    overrides.set(
        "proxy",
        "PROXY_UPSTREAM_SAMPLE",
        start_sample(&deployment).await,
    );
    let gw = start_gateway(
        deployed_gateway(&deployment, &overrides)
            .await
            .with_http_upstreams(upstreams),
    )
    .await;
    (gw, web)
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("a reqwest client with static settings builds")
}

/// Send `req`, with API key `key` when there is one (none: no credential).
async fn send(req: reqwest::RequestBuilder, key: Option<&str>) -> reqwest::Response {
    let req = match key {
        Some(key) => req.header("x-api-key", key),
        None => req,
    };
    req.send().await.expect("the gateway answers")
}

/// `req` carrying the note form `body` (`application/x-www-form-urlencoded`).
fn form(req: reqwest::RequestBuilder, body: &'static str) -> reqwest::RequestBuilder {
    req.header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The seven identity headers of tenant `evil` with every scope, signed for
/// `path` with the web service's own key exactly as the authorizer signs:
/// what would verify at the service, were a client's copies passed on.
fn forged(
    key: &identity::SigningKey,
    method: http::Method,
    path: &str,
) -> reqwest::header::HeaderMap {
    let evil = identity::Identity {
        principal: "mallory".into(),
        principal_type: "api_key".into(),
        tenant: "evil".into(),
        scopes: vec!["services:web".into(), "keys:admin".into()],
    };
    identity::sign_unsigned_payload(&evil, &method, path, now(), key)
        .expect("sign the forged identity")
}

#[sqlx::test(migrations = "../migrations")]
async fn the_web_apps_public_pages_need_no_credential_and_its_notes_need_one(pool: PgPool) {
    let (gw, _) = gateway(&pool).await;
    let http = no_redirects();

    // Public: no credential, no authorizer; the service saw the anonymous identity.
    let resp = send(http.get(gw.at("/v1/services/web/home")), None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"href="static/style.css""#), "{html}");
    assert!(html.contains("Anonymous visitor"), "{html}");
    for (file, ty) in [
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let url = gw.at(&format!("/v1/services/web/static/{file}"));
        let resp = send(http.get(url), None).await;
        assert_eq!(resp.status(), 200, "{file}");
        assert_eq!(resp.headers()["content-type"], ty, "{file}");
        assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");
    }

    // Authenticated: the gateway's 401 without a credential, for GET and the form post.
    let notes = gw.at("/v1/services/web/notes");
    assert_eq!(send(http.get(&notes), None).await.status(), 401);
    let resp = send(form(http.post(&notes), "text=anonymous"), None).await;
    assert_eq!(resp.status(), 401);
    // Another service's scope only: 403.
    let other = e2e::api_key(&pool, "sample only", "acme", &["services:sample"]).await;
    assert_eq!(send(http.get(&notes), Some(&other)).await.status(), 403);

    let key = e2e::api_key(&pool, "web caller", "acme", &["services:web"]).await;
    let resp = send(http.get(&notes), Some(&key)).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Notes of acme"),
        "the service verified the caller's tenant: {html}"
    );
    assert!(html.contains("No notes yet."), "{html}");

    let note = form(http.post(&notes), "text=through+the+VPC+link+%26+back");
    let resp = send(note, Some(&key)).await;
    assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
    assert_eq!(resp.headers()["location"], "notes");
    let html = send(http.get(&notes), Some(&key))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("through the VPC link &amp; back"), "{html}");
    assert!(
        html.contains(r#"<b class="tenant">acme</b>"#),
        "the page names the verified tenant: {html}"
    );
    assert!(
        html.contains("the form body and query string are not signed"),
        "the authorizer signed without the body (UNSIGNED-PAYLOAD): {html}"
    );
    // A bad form is the service's own 400, with why.
    let resp = send(form(http.post(&notes), "text=+"), Some(&key)).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("the note is empty"));

    // A method the registry does not list for the service (GET, HEAD, POST)
    // never reaches it: the REST API has no such operation on its paths, and
    // API Gateway answers as for any missing method (no fallback to the
    // generic service path, whose proxy would refuse it too).
    for method in [reqwest::Method::DELETE, reqwest::Method::PUT] {
        let resp = send(http.request(method.clone(), &notes), Some(&key)).await;
        assert_eq!(resp.status(), 403, "{method}");
        let text = resp.text().await.unwrap();
        assert!(
            text.contains("Missing Authentication Token"),
            "{method}: {text}"
        );
    }
}

/// The 200 page of `resp`, which names neither the forged tenant nor its
/// principal.
async fn page_without_the_forgery(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(
        !html.contains("evil") && !html.contains("mallory"),
        "{html}"
    );
    html
}

#[sqlx::test(migrations = "../migrations")]
async fn a_client_sent_identity_header_never_reaches_the_web_app_as_sent(pool: PgPool) {
    let (gw, web) = gateway(&pool).await;
    let http = client();
    let web_key = e2e::identity_key(&deployed(), "web").await;
    // The service's paths are under its base path (the stage in front).
    let base = web_base_path(&deployed());
    // A GET of `url` carrying the identity forged for the service's `path`.
    let forged_get = |url: String, path: &str| {
        http.get(url)
            .headers(forged(&web_key, http::Method::GET, path))
    };

    // The control: sent straight to the service, the forgery verifies.
    let notes_path = format!("{base}/notes");
    let resp = send(forged_get(format!("{web}{notes_path}"), &notes_path), None).await;
    let html = resp.text().await.unwrap();
    assert!(html.contains(r#"<b class="tenant">evil</b>"#), "{html}");

    // Public route: the gateway maps its static anonymous values over the
    // client's, so even a validly signed forgery arrives overwritten.
    let home = forged_get(gw.at("/v1/services/web/home"), &format!("{base}/home"));
    let html = page_without_the_forgery(send(home, None).await).await;
    assert!(html.contains("Anonymous visitor"), "{html}");

    // Authenticated route: the authorizer's identity replaces the client's.
    let key = e2e::api_key(&pool, "web caller", "acme", &["services:web"]).await;
    let notes = forged_get(gw.at("/v1/services/web/notes"), &notes_path);
    let html = page_without_the_forgery(send(notes, Some(&key)).await).await;
    assert!(html.contains(r#"<b class="tenant">acme</b>"#), "{html}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_10_mb_download_passes_the_vpc_link_and_the_lambda_proxy_refuses_it(pool: PgPool) {
    const TEN_MB: usize = 10_000_000;
    let (gw, _) = gateway(&pool).await;
    let http = client();
    let key = e2e::api_key(
        &pool,
        "both services",
        "acme",
        &["services:web", "services:sample"],
    )
    .await;

    let url = gw.at(&format!("/v1/services/web/download?bytes={TEN_MB}"));
    let resp = send(http.get(url), Some(&key)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.len(), TEN_MB);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == sample_web::download_byte(i as u64)),
        "the download arrives byte for byte"
    );

    // The same size from the sample service through the proxy function: its
    // 502 says why (the answer cannot fit a Lambda response).
    let url = gw.at(&format!("/v1/services/sample/download?bytes={TEN_MB}"));
    let resp = send(http.get(url), Some(&key)).await;
    assert_eq!(resp.status(), 502);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("is larger than") && text.contains("6 MB Lambda response limit"),
        "{text}"
    );
}

/// The JSON the sample web application answers on `/headers` and
/// `/public/headers`: what it received.
async fn received(resp: reqwest::Response) -> serde_json::Value {
    assert_eq!(resp.status(), 200);
    resp.json()
        .await
        .expect("the web app's /headers answer is JSON")
}

#[sqlx::test(migrations = "../migrations")]
async fn no_caller_credential_reaches_the_web_app_on_public_or_scoped_routes(pool: PgPool) {
    let (gw, web) = gateway(&pool).await;
    let http = client();
    let base = web_base_path(&deployed());
    let key = e2e::api_key(&pool, "web caller", "acme", &["services:web"]).await;
    // Every credential a browser or a client may send: the API key (as
    // x-api-key and as a bearer token) and a cookie of the API's origin.
    let credentialed = |req: reqwest::RequestBuilder, auth: &str| {
        req.header("x-api-key", &key)
            .header("authorization", format!("Bearer {auth}"))
            .header("cookie", "session=s3cret-session; other=1")
    };

    // The control: sent straight to the service, all three arrive.
    let direct = received(
        send(
            credentialed(http.get(format!("{web}{base}/public/headers")), &key),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(direct["credentials"]["x-api-key"], key.as_str(), "{direct}");
    assert!(direct.to_string().contains("s3cret-session"), "{direct}");

    // Through the gateway, on the public route (no authorizer runs) and on
    // a scoped one (the key authenticates; the service verifies who it is):
    // API Gateway overwrites the three with the static placeholder.
    for (path, auth, principal_is_anonymous) in [
        ("/v1/services/web/public/headers", key.as_str(), true),
        ("/v1/services/web/headers", key.as_str(), false),
    ] {
        let got = received(send(credentialed(http.get(gw.at(path)), auth), None).await).await;
        let text = got.to_string();
        assert!(
            !text.contains(&key) && !text.contains("s3cret-session"),
            "{path}: {text}"
        );
        for name in ["authorization", "x-api-key", "cookie"] {
            assert_eq!(
                got["credentials"][name], "portcullis-removed",
                "{path} {name}: {text}"
            );
        }
        assert_eq!(
            got["principal"] == "anonymous",
            principal_is_anonymous,
            "{path}: {text}"
        );
        // The stage is in front of the path a private integration sends
        // (AWS "Private integrations for REST APIs", Considerations).
        let under = path.trim_start_matches("/v1/services/web");
        assert_eq!(got["path"], format!("{base}{under}"), "{text}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_50_mb_download_streams_over_the_vpc_link_and_a_buffered_one_stops_at_10_mb(
    pool: PgPool,
) {
    const FIFTY_MB: usize = 50_000_000;
    let (gw, _) = gateway(&pool).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        // API Gateway paces a stream past its first 10 MB at 2 MB/s (the
        // local gateway models it): 50 MB take about 20 s.
        .timeout(std::time::Duration::from_secs(180))
        .build()
        .expect("a reqwest client with static settings builds");
    let key = e2e::api_key(&pool, "web caller", "acme", &["services:web"]).await;

    // The STREAM route (platform.yaml: /stream/{proxy+}, response_transfer_mode: STREAM).
    let url = gw.at(&format!(
        "/v1/services/web/stream/download?bytes={FIFTY_MB}"
    ));
    let resp = send(http.get(url), Some(&key)).await;
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("the whole stream arrives");
    assert_eq!(bytes.len(), FIFTY_MB);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == sample_web::download_byte(i as u64)),
        "the stream arrives byte for byte"
    );

    // The buffered route: API Gateway's 10 MB response payload limit.
    let url = gw.at("/v1/services/web/download?bytes=11000000");
    let resp = send(http.get(url), Some(&key)).await;
    assert_eq!(resp.status(), 502);

    // Server-sent events through the same STREAM route.
    let url = gw.at("/v1/services/web/stream/events?count=3");
    let resp = send(http.get(url), Some(&key)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.expect("the events arrive");
    let expected: String = (1..=3).map(|i| sample_web::event_text(i, 3)).collect();
    assert_eq!(text, expected);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_caller_whose_tenant_has_no_usage_plan_gets_a_403_naming_the_fix(pool: PgPool) {
    let (gw, _) = gateway(&pool).await;
    let http = client();
    // A key of tenant globex inserted without the usage key that
    // provisioning gives a tenant's consumers (PUT /v1/tenants, POST
    // /v1/keys): API Gateway finds no API key for its usage identifier and
    // answers INVALID_API_KEY, which the body's gateway response rewrites.
    // Raw SQL on purpose: every way the store offers to make a key also
    // makes its usage key, and this state is a key without one.
    let (plain, lookup, digest) = portcullis_auth::apikey::generate();
    sqlx::query(
        "insert into api_keys (id, lookup_id, secret_digest, name, tenant, scopes, plan, created_by) \
         values ($1, $2, $3, 'unprovisioned', 'globex', $4, 'standard', 'e2e')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(lookup.as_str())
    .bind(&digest[..])
    .bind(vec!["services:web".to_owned()])
    .execute(&pool)
    .await
    .expect("insert a key without a usage key");
    let resp = send(
        http.get(gw.at("/v1/services/web/notes")),
        Some(plain.expose_secret()),
    )
    .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: serde_json::Value = resp.json().await.expect("a problem document");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("PUT /v1/tenants/globex") && detail.contains("platform administrator"),
        "{body}"
    );
}
