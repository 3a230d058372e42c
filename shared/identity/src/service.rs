//! A private service's identity configuration: the one home for what every
//! service behind Portcullis reads at start-up (`IDENTITY_SECRET`,
//! `IDENTITY_SECRET_PREVIOUS`, `BASE_PATH`, `PORTCULLIS_COOKIES`,
//! `PORTCULLIS_PUBLIC_PATH`; `PORT` and `BIND_ADDR` for where it listens),
//! and how it verifies a request with them ([`ServiceConfig::verify`]), so a
//! service needs no other Portcullis crate. The crate's default build gains
//! no dependency for it. With the `service-runtime` feature (axum, tokio,
//! tracing), [`serve`] serves a service's router, [`guard`] wraps it in the
//! platform's controls and [`run`] is its binary's whole `main`.
//!
//! The controls ([`guard`]; [`run`] applies them) are the ones the proxy
//! function applies to `lambda` services, for the paths no proxy runs on (a
//! `vpc_link` service, whose public routes run no authorizer either):
//!
//! - a request whose path under `BASE_PATH` breaks the path rule of every
//!   private service (`portcullis_core::path`: traversal, double encoding,
//!   control characters...) is answered 400 ([`ServiceConfig::check_path`]);
//! - `Set-Cookie` follows `PORTCULLIS_COOKIES` ([`CookiePolicy`]): every
//!   service shares the API's origin, and API Gateway cannot alter an
//!   `HTTP_PROXY` answer, so the service drops what may not leave it.
//!
//! ```
//! use portcullis_identity::service::{Env, ServiceConfig, listen_addr};
//! let env = Env::from_pairs([
//!     ("IDENTITY_SECRET", "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="),
//!     ("BASE_PATH", "/web"),
//! ]);
//! let config = ServiceConfig::from_env(&env)?;
//! assert_eq!(config.base_path, "/web");
//! assert_eq!(listen_addr(&env)?.to_string(), "0.0.0.0:8080");
//! # Ok::<(), portcullis_identity::service::ConfigError>(())
//! ```

use crate::{DEFAULT_MAX_SKEW, IdentityError, SigningKey, VerifiedIdentity};
use http::{HeaderMap, Method, Uri};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The health-check route ([`ServiceConfig::health_paths`]).
pub const HEALTH: &str = "/health";

/// What `IDENTITY_SECRET` and `IDENTITY_SECRET_PREVIOUS` hold.
const KEY_EXPECTED: &str =
    "base64 of at least 32 bytes (this service's identity key, from its Secrets Manager secret)";

/// A start-up configuration failure and where variables come from: the
/// runtime kit's (`portcullis_core::config`), one type each for every
/// function and service. A blank value counts as unset; values are never
/// echoed (some are secrets).
pub use portcullis_core::config::{ConfigError, Env};

/// Which `Set-Cookie` headers a service may send (`PORTCULLIS_COOKIES`,
/// set by Terraform from the registry's `cookies`, or `allow_cookies` for a
/// `lambda` service).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CookiePolicy {
    /// `none` (the default): every `Set-Cookie` is dropped.
    #[default]
    None,
    /// `own_path`: a `Set-Cookie` is kept only when scoped to
    /// `public_path` (`PORTCULLIS_PUBLIC_PATH`, `/v1/services/<name>`),
    /// with or without a leading stage, and without `Domain`
    /// (`portcullis_core::cookies::own_path_cookie`).
    OwnPath { public_path: String },
}

/// What `PORTCULLIS_COOKIES` holds.
const COOKIES_EXPECTED: &str =
    "none (drop every Set-Cookie) or own_path (keep those scoped to PORTCULLIS_PUBLIC_PATH)";
/// What `PORTCULLIS_PUBLIC_PATH` holds.
const PUBLIC_PATH_EXPECTED: &str =
    "the service's public path, /v1/services/<name> (required with PORTCULLIS_COOKIES=own_path)";

impl CookiePolicy {
    /// `PORTCULLIS_COOKIES` (`none`, the default when unset, or `own_path`)
    /// and, for `own_path`, `PORTCULLIS_PUBLIC_PATH`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mode = env.get("PORTCULLIS_COOKIES").unwrap_or_default();
        match mode.trim() {
            "" | "none" => Ok(CookiePolicy::None),
            "own_path" => {
                let path = env
                    .get("PORTCULLIS_PUBLIC_PATH")
                    .ok_or(ConfigError::missing(
                        "PORTCULLIS_PUBLIC_PATH",
                        PUBLIC_PATH_EXPECTED,
                    ))?;
                let path = path.trim().trim_end_matches('/');
                let ok = path.starts_with('/')
                    && path.len() > 1
                    && !path.contains(['?', '#', ';', ' ', '%', '\\'])
                    && !path.split('/').any(|s| s == "." || s == "..");
                if !ok {
                    return Err(ConfigError::invalid(
                        "PORTCULLIS_PUBLIC_PATH",
                        PUBLIC_PATH_EXPECTED,
                        format!(
                            "{path:?} is not an absolute path without '.', '..', '?', '#', ';', '%' or blanks"
                        ),
                    ));
                }
                Ok(CookiePolicy::OwnPath {
                    public_path: path.to_owned(),
                })
            }
            other => Err(ConfigError::invalid(
                "PORTCULLIS_COOKIES",
                COOKIES_EXPECTED,
                format!("{other:?} is neither"),
            )),
        }
    }

    /// Whether a `Set-Cookie` value may leave the service; why not otherwise.
    pub fn keeps(&self, set_cookie: &str) -> Result<(), String> {
        match self {
            CookiePolicy::None => Err("PORTCULLIS_COOKIES is none".to_owned()),
            CookiePolicy::OwnPath { public_path } => {
                portcullis_core::cookies::own_path_cookie(set_cookie, public_path)
                    .map_err(|e| format!("{e} ({public_path})"))
            }
        }
    }
}

/// A private service's identity configuration: what it verifies
/// [`crate::verify`] with, and the prefix it is mounted under.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Verification keys: current first, then the previous one during rotation.
    pub keys: Vec<SigningKey>,
    /// Path prefix the service is mounted under (the registry's
    /// `path_prefix` behind the ALB, e.g. `/web`; empty locally), without a
    /// trailing `/`.
    pub base_path: String,
    /// Accepted clock skew ([`DEFAULT_MAX_SKEW`]).
    pub max_skew: Duration,
    /// Which `Set-Cookie` headers leave the service ([`guard`]).
    pub cookies: CookiePolicy,
}

impl ServiceConfig {
    /// `keys` (current first) under `base_path` (a trailing `/` is dropped),
    /// with the default skew.
    pub fn new(keys: Vec<SigningKey>, base_path: &str) -> Self {
        ServiceConfig {
            keys,
            base_path: base_path.trim_end_matches('/').to_owned(),
            max_skew: DEFAULT_MAX_SKEW,
            cookies: CookiePolicy::None,
        }
    }

    /// The same configuration with `cookies` as its cookie policy.
    pub fn with_cookies(self, cookies: CookiePolicy) -> Self {
        ServiceConfig { cookies, ..self }
    }

    /// Whether a request path (as received: percent-encoded) passes the path
    /// rule of every private service (`portcullis_core::path::upstream_path`,
    /// the proxy's and the authorizer's), applied to the path under
    /// [`Self::base_path`] decoded once, as API Gateway hands the proxy its
    /// `{proxy+}` parameter. A path outside the base path is checked whole.
    pub fn check_path(&self, path: &str) -> Result<(), String> {
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| {
                "the path under the service is not allowed: it does not decode to UTF-8 text"
                    .to_owned()
            })?;
        let under = decoded
            .strip_prefix(self.base_path.as_str())
            .filter(|rest| self.base_path.is_empty() || rest.is_empty() || rest.starts_with('/'))
            .unwrap_or(&decoded);
        let rest = under.strip_prefix('/').unwrap_or(under);
        portcullis_core::path::upstream_path(rest)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// `IDENTITY_SECRET` (required), `IDENTITY_SECRET_PREVIOUS` (during a
    /// rotation), `BASE_PATH` (empty or starting with `/`; behind the ALB
    /// `/<stage><path_prefix>` for a `vpc_link` service, whose path carries
    /// API Gateway's stage, `<path_prefix>` for a `lambda` one), and the
    /// cookie policy ([`CookiePolicy::from_env`]).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let key = |var: &'static str, value: &str| {
            SigningKey::from_base64(value).map_err(|e| ConfigError::invalid(var, KEY_EXPECTED, e))
        };
        let current = env
            .get("IDENTITY_SECRET")
            .ok_or(ConfigError::missing("IDENTITY_SECRET", KEY_EXPECTED))?;
        let mut keys = vec![key("IDENTITY_SECRET", &current)?];
        if let Some(previous) = env.get("IDENTITY_SECRET_PREVIOUS") {
            keys.push(key("IDENTITY_SECRET_PREVIOUS", &previous)?);
        }
        let base = env.get("BASE_PATH").unwrap_or_default();
        if !(base.is_empty() || base.starts_with('/')) {
            return Err(ConfigError::invalid(
                "BASE_PATH",
                "a path such as /web (the service's path_prefix), or empty",
                "it does not start with /",
            ));
        }
        let cookies = CookiePolicy::from_env(env)?;
        Ok(ServiceConfig::new(keys, &base).with_cookies(cookies))
    }

    /// Where `route` (e.g. `/notes`) is served: under [`Self::base_path`].
    /// A service registers each route at this full path (rather than
    /// nesting a router under the prefix), so its handlers and the identity
    /// check see the path exactly as it was sent and signed.
    pub fn path(&self, route: &str) -> String {
        format!("{}{route}", self.base_path)
    }

    /// Where the ALB health check is answered (without identity): `/health`,
    /// and under [`Self::base_path`] when there is one.
    pub fn health_paths(&self) -> Vec<String> {
        let mut paths = vec![HEALTH.to_owned()];
        if !self.base_path.is_empty() {
            paths.push(self.path(HEALTH));
        }
        paths
    }

    /// [`crate::verify`] of a request this service received, with `target`
    /// its path and query as received ([`request_target`]) and `body` the
    /// bytes received, at [`unix_now`], against this service's keys and skew.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        method: &Method,
        target: &str,
        body: &[u8],
    ) -> Result<VerifiedIdentity, IdentityError> {
        crate::verify(
            headers,
            method,
            target,
            body,
            unix_now(),
            &self.keys,
            self.max_skew,
        )
    }
}

/// The request target a service verifies: the path and query exactly as
/// received (`/` when the URI has none).
pub fn request_target(uri: &Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// The verifier's clock: Unix seconds now (0 for a clock before 1970, which
/// then fails the skew check rather than panicking).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Where the service listens: `BIND_ADDR` (default `0.0.0.0`) and `PORT`
/// (default 8080).
pub fn listen_addr(env: &Env) -> Result<SocketAddr, ConfigError> {
    let port: u16 = env.parse_or("PORT", "a TCP port (0 to 65535)", 8080)?;
    let bind: IpAddr = env.parse_or("BIND_ADDR", "an IP address", [0, 0, 0, 0].into())?;
    Ok(SocketAddr::new(bind, port))
}

/// A private service binary's whole `main`: JSON logs (`portcullis_core::telemetry`), its
/// [`ServiceConfig::from_env`] and [`listen_addr`] from the process
/// environment (read once), then [`serve`] of `router(config)` behind
/// [`guard`] on a socket bound there until [`shutdown_signal`]. A bad
/// variable stops it with the variable's name.
#[cfg(feature = "service-runtime")]
pub async fn run(
    name: &str,
    router: impl FnOnce(ServiceConfig) -> axum::Router,
) -> Result<(), Box<dyn std::error::Error>> {
    // JSON lines on stdout (CloudWatch through awslogs), the runtime kit's
    // log initialisation, filtered by RUST_LOG (default info).
    portcullis_core::telemetry::init_as(portcullis_core::telemetry::Format::Json);
    let env = Env::Process;
    let config = ServiceConfig::from_env(&env)?;
    let addr = listen_addr(&env)?;
    tracing::info!(base_path = %config.base_path, cookies = ?config.cookies, "{name} configuration");
    let controls = config.clone();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{name} cannot listen on {addr} (PORT, BIND_ADDR): {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "{name} listening");
    serve(
        listener,
        guard(&controls, router(config)),
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

/// Serve `app` on `listener` until `shutdown` resolves, then finish the
/// requests in flight ([`run`], tests and the local platform share it).
#[cfg(feature = "service-runtime")]
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The platform's controls around a service's router, for `config`'s base
/// path and cookie policy: a request whose path [`ServiceConfig::check_path`]
/// refuses is answered 400 (`application/problem+json`, with the reason)
/// and never reaches the router; every `Set-Cookie` of an answer that
/// [`CookiePolicy::keeps`] refuses is dropped, logged by cookie name.
#[cfg(feature = "service-runtime")]
pub fn guard(config: &ServiceConfig, router: axum::Router) -> axum::Router {
    let controls = std::sync::Arc::new(Controls {
        config: ServiceConfig {
            keys: Vec::new(),
            ..config.clone()
        },
    });
    router.layer(axum::middleware::from_fn_with_state(controls, guarded))
}

/// What [`guard`] keeps of the configuration (no key).
#[cfg(feature = "service-runtime")]
struct Controls {
    config: ServiceConfig,
}

#[cfg(feature = "service-runtime")]
async fn guarded(
    axum::extract::State(controls): axum::extract::State<std::sync::Arc<Controls>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(why) = controls.config.check_path(req.uri().path()) {
        tracing::info!(path = %req.uri().path(), reason = %why, "request refused: path rule");
        let detail: String = why
            .chars()
            .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
            .collect();
        let body = format!(
            r#"{{"type":"about:blank","title":"Bad Request","status":400,"detail":"{detail}"}}"#
        );
        return (
            http::StatusCode::BAD_REQUEST,
            [(http::header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
    }
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    let cookies: Vec<http::HeaderValue> = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if cookies.is_empty() {
        return resp;
    }
    headers.remove(http::header::SET_COOKIE);
    for value in cookies {
        let text = String::from_utf8_lossy(value.as_bytes());
        match controls.config.cookies.keeps(&text) {
            Ok(()) => {
                headers.append(http::header::SET_COOKIE, value);
            }
            Err(why) => {
                let cookie = portcullis_core::cookies::cookie_name(&text);
                tracing::warn!(cookie, reason = %why, "Set-Cookie dropped");
            }
        }
    }
    resp
}

/// Resolves on SIGTERM (ECS stopping the task) or Ctrl-C: a service's
/// graceful-shutdown signal, the runtime kit's (`portcullis_core::runtime`).
#[cfg(feature = "service-runtime")]
pub use portcullis_core::runtime::shutdown_signal;

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

    fn vars(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn config_requires_a_real_key_and_an_absolute_base_path() {
        for env in [
            vars(&[]),
            vars(&[("X", "y")]),
            vars(&[("IDENTITY_SECRET", " ")]),
        ] {
            let e = ServiceConfig::from_env(&env).unwrap_err();
            assert_eq!(e.var(), "IDENTITY_SECRET");
            assert!(e.to_string().contains("is not set"), "{e}");
        }
        let e = ServiceConfig::from_env(&vars(&[("IDENTITY_SECRET", "c2hvcnQ=")])).unwrap_err();
        assert!(e.to_string().contains("IDENTITY_SECRET is invalid"), "{e}");
        assert!(
            !e.to_string().contains("c2hvcnQ="),
            "the value is never echoed: {e}"
        );
        for (base, want) in [("/web/", "/web"), ("/sample", "/sample"), ("", "")] {
            let ok = vars(&[("IDENTITY_SECRET", KEY), ("BASE_PATH", base)]);
            let config = ServiceConfig::from_env(&ok).unwrap();
            assert_eq!(config.base_path, want);
            assert_eq!(config.keys.len(), 1);
            assert_eq!(config.max_skew, DEFAULT_MAX_SKEW);
        }
        for base in ["web", "sample"] {
            let e =
                ServiceConfig::from_env(&vars(&[("IDENTITY_SECRET", KEY), ("BASE_PATH", base)]))
                    .unwrap_err();
            assert_eq!(e.var(), "BASE_PATH");
        }
        let e = ServiceConfig::from_env(&vars(&[
            ("IDENTITY_SECRET", KEY),
            ("IDENTITY_SECRET_PREVIOUS", "x"),
        ]))
        .unwrap_err();
        assert_eq!(e.var(), "IDENTITY_SECRET_PREVIOUS");
        let rotating = vars(&[("IDENTITY_SECRET", KEY), ("IDENTITY_SECRET_PREVIOUS", KEY)]);
        assert_eq!(ServiceConfig::from_env(&rotating).unwrap().keys.len(), 2);
    }

    #[test]
    fn numbers_parse_with_a_default_and_a_blank_is_unset() {
        let vars = vars(&[("PORT", "9000"), ("BLANK", "  "), ("BAD", "eighty")]);
        assert_eq!(vars.parse_or("PORT", "a TCP port", 8080u16), Ok(9000));
        assert_eq!(vars.parse_or("BLANK", "a TCP port", 8080u16), Ok(8080));
        assert_eq!(vars.parse_or("UNSET", "a TCP port", 8080u16), Ok(8080));
        let e = vars.parse_or("BAD", "a TCP port", 8080u16).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { var, expected, .. } if var == "BAD" && expected == "a TCP port"),
            "{e:?}"
        );
    }

    #[test]
    fn the_target_is_the_path_and_query_as_received_and_the_clock_is_unix_seconds() {
        let uri: Uri = "/web/notes?a=%20b".parse().unwrap();
        assert_eq!(request_target(&uri), "/web/notes?a=%20b");
        let uri: Uri = "http://example.com".parse().unwrap();
        assert_eq!(request_target(&uri), "/");
        // 2020-01-01 < now < 2100-01-01
        assert!((1_577_836_800..4_102_444_800).contains(&unix_now()));
    }

    #[test]
    fn routes_and_the_health_check_are_served_under_the_base_path() {
        let key = || SigningKey::from_bytes(&[7; 32]).unwrap();
        let mounted = ServiceConfig::new(vec![key()], "/web/");
        assert_eq!(mounted.path("/notes"), "/web/notes");
        assert_eq!(mounted.health_paths(), ["/health", "/web/health"]);
        let local = ServiceConfig::new(vec![key()], "");
        assert_eq!(local.path("/notes"), "/notes");
        assert_eq!(local.health_paths(), ["/health"]);
    }

    #[test]
    fn a_config_verifies_with_its_own_keys_now() {
        let current = SigningKey::from_bytes(&[7; 32]).unwrap();
        let previous = SigningKey::from_bytes(&[8; 32]).unwrap();
        let config = ServiceConfig::new(vec![current.clone(), previous.clone()], "/web");
        let who = crate::Identity {
            principal: "alice".into(),
            principal_type: "user".into(),
            tenant: "acme".into(),
            scopes: vec!["services:web".into()],
        };
        let sign = |k: &SigningKey, ts: i64| {
            crate::sign(&who, &Method::POST, "/web/notes", b"text=hi", ts, k).unwrap()
        };
        for k in [&current, &previous] {
            let id = config
                .verify(
                    &sign(k, unix_now()),
                    &Method::POST,
                    "/web/notes",
                    b"text=hi",
                )
                .unwrap();
            assert_eq!(id.tenant, "acme");
        }
        let other = SigningKey::from_bytes(&[9; 32]).unwrap();
        let headers = sign(&other, unix_now());
        assert!(
            config
                .verify(&headers, &Method::POST, "/web/notes", b"text=hi")
                .is_err()
        );
        let stale = sign(&current, unix_now() - 3600);
        assert!(
            config
                .verify(&stale, &Method::POST, "/web/notes", b"text=hi")
                .is_err()
        );
        let headers = sign(&current, unix_now());
        assert!(
            config
                .verify(&headers, &Method::POST, "/web/notes", b"text=ho")
                .is_err()
        );
    }

    #[test]
    fn the_cookie_policy_is_read_at_start_and_a_bad_value_stops_it() {
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![("IDENTITY_SECRET", KEY)];
            all.extend_from_slice(pairs);
            ServiceConfig::from_env(&vars(&all))
        };
        assert_eq!(with(&[]).unwrap().cookies, CookiePolicy::None);
        assert_eq!(
            with(&[("PORTCULLIS_COOKIES", "none")]).unwrap().cookies,
            CookiePolicy::None
        );
        assert_eq!(
            with(&[
                ("PORTCULLIS_COOKIES", "own_path"),
                ("PORTCULLIS_PUBLIC_PATH", "/v1/services/web/")
            ])
            .unwrap()
            .cookies,
            CookiePolicy::OwnPath {
                public_path: "/v1/services/web".to_owned()
            }
        );
        for (pairs, var, says) in [
            (
                vec![("PORTCULLIS_COOKIES", "all")],
                "PORTCULLIS_COOKIES",
                "none (drop every Set-Cookie) or own_path",
            ),
            (
                vec![("PORTCULLIS_COOKIES", "own_path")],
                "PORTCULLIS_PUBLIC_PATH",
                "is not set",
            ),
            (
                vec![
                    ("PORTCULLIS_COOKIES", "own_path"),
                    ("PORTCULLIS_PUBLIC_PATH", "v1/services/web"),
                ],
                "PORTCULLIS_PUBLIC_PATH",
                "not an absolute path",
            ),
            (
                vec![
                    ("PORTCULLIS_COOKIES", "own_path"),
                    ("PORTCULLIS_PUBLIC_PATH", "/"),
                ],
                "PORTCULLIS_PUBLIC_PATH",
                "not an absolute path",
            ),
        ] {
            let e = with(&pairs).unwrap_err();
            assert_eq!(e.var(), var, "{pairs:?}");
            assert!(e.to_string().contains(says), "{e}");
        }
    }

    #[test]
    fn own_path_keeps_only_cookies_scoped_to_the_public_path_and_none_keeps_none() {
        let own = CookiePolicy::OwnPath {
            public_path: "/v1/services/web".to_owned(),
        };
        assert!(own.keeps("s=1; Path=/v1/services/web; HttpOnly").is_ok());
        assert!(own.keeps("s=1; Path=/v1/v1/services/web/notes").is_ok());
        assert!(own.keeps("s=1; Path=/").is_err());
        assert!(
            own.keeps("s=1; Path=/v1/services/web; Domain=example.com")
                .is_err()
        );
        assert!(
            CookiePolicy::None
                .keeps("s=1; Path=/v1/services/web")
                .is_err()
        );
    }

    #[test]
    fn the_path_under_the_base_path_follows_the_proxys_rule() {
        let key = || SigningKey::from_bytes(&[7; 32]).unwrap();
        let web = ServiceConfig::new(vec![key()], "/v1/web");
        for ok in [
            "/v1/web/notes",
            "/v1/web",
            "/v1/web/",
            "/v1/web/a%20b/%C3%BC",
            "/v1/web/100%25",
            "/health",
            "/",
        ] {
            assert_eq!(web.check_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "/v1/web/../admin",
            "/v1/web/a/%2e%2e/b",
            "/v1/web/..;/x",
            "/v1/web/%252e%252e/x",
            "/v1/web/%250a",
            "/v1/web/a%0ab",
            "/v1/web/a%5cb",
            "/v1/web//evil.example/x",
            "/v1/web/%ff",
            "/../etc",
        ] {
            let e = web.check_path(bad).expect_err(bad);
            assert!(
                e.starts_with("the path under the service is not allowed"),
                "{bad}: {e}"
            );
        }
        // Without a base path, the whole path is under the service.
        let local = ServiceConfig::new(vec![key()], "");
        assert!(local.check_path("/notes").is_ok());
        assert!(local.check_path("/a/../b").is_err());
    }

    #[cfg(feature = "service-runtime")]
    mod guarded {
        use super::super::*;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        /// A router answering every path with two cookies, behind [`guard`].
        async fn start(config: ServiceConfig) -> std::net::SocketAddr {
            let app = axum::Router::new().fallback(|| async {
                let mut h = http::HeaderMap::new();
                for c in ["own=1; Path=/v1/services/web", "wide=2; Path=/"] {
                    h.append(http::header::SET_COOKIE, http::HeaderValue::from_static(c));
                }
                (h, "reached")
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = guard(&config, app);
            tokio::spawn(serve(listener, app, std::future::pending()));
            addr
        }

        /// The raw answer to `GET <target>` (sent as written, not normalised).
        async fn get(addr: std::net::SocketAddr, target: &str) -> String {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out.to_ascii_lowercase()
        }

        fn key() -> SigningKey {
            SigningKey::from_bytes(&[7; 32]).unwrap()
        }

        #[tokio::test]
        async fn a_refused_path_is_a_400_that_never_reaches_the_service() {
            let addr = start(ServiceConfig::new(vec![key()], "/v1/web")).await;
            for target in ["/v1/web/..;/admin", "/v1/web/%252e%252e/x", "/v1/web/a%0ab"] {
                let resp = get(addr, target).await;
                assert!(resp.starts_with("http/1.1 400"), "{target}: {resp}");
                assert!(
                    resp.contains("application/problem+json") && resp.contains("not allowed"),
                    "{resp}"
                );
                assert!(!resp.contains("reached"), "{resp}");
            }
            assert!(get(addr, "/v1/web/notes").await.starts_with("http/1.1 200"));
        }

        #[tokio::test]
        async fn set_cookie_follows_the_cookie_policy() {
            let none = start(ServiceConfig::new(vec![key()], "/v1/web")).await;
            let resp = get(none, "/v1/web/notes").await;
            assert!(
                resp.contains("reached") && !resp.contains("set-cookie"),
                "{resp}"
            );
            let own = start(ServiceConfig::new(vec![key()], "/v1/web").with_cookies(
                CookiePolicy::OwnPath {
                    public_path: "/v1/services/web".to_owned(),
                },
            ))
            .await;
            let resp = get(own, "/v1/web/notes").await;
            assert!(
                resp.contains("set-cookie: own=1; path=/v1/services/web"),
                "{resp}"
            );
            assert!(!resp.contains("wide=2"), "{resp}");
        }
    }

    #[test]
    fn the_listen_address_defaults_to_every_interface_on_8080() {
        assert_eq!(listen_addr(&vars(&[])).unwrap().to_string(), "0.0.0.0:8080");
        let local = vars(&[("PORT", "8081"), ("BIND_ADDR", "127.0.0.1")]);
        assert_eq!(listen_addr(&local).unwrap().to_string(), "127.0.0.1:8081");
        let e = listen_addr(&vars(&[("PORT", "70000")])).unwrap_err();
        assert_eq!(e.var(), "PORT");
        let e = listen_addr(&vars(&[("BIND_ADDR", "localhost")])).unwrap_err();
        assert_eq!(e.var(), "BIND_ADDR");
        assert!(e.to_string().contains("an IP address"), "{e}");
    }
}
