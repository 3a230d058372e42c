//! A private service's identity configuration: the one home for what every
//! service behind Portcullis reads at start-up (`IDENTITY_SECRET`,
//! `IDENTITY_SECRET_PREVIOUS`, `BASE_PATH`; `PORT` and `BIND_ADDR` for where
//! it listens), and how it verifies a request with them
//! ([`ServiceConfig::verify`]), so a service needs no other Portcullis crate.
//! The crate's default build gains no dependency for it. With the
//! `service-runtime` feature (axum, tokio, tracing), [`serve`] serves a
//! service's router and [`run`] is its binary's whole `main`.
//!
//! ```
//! use portcullis_identity::service::{ServiceConfig, Vars, listen_addr};
//! let env = Vars(|name: &str| match name {
//!     "IDENTITY_SECRET" => Some("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=".to_owned()),
//!     "BASE_PATH" => Some("/web".to_owned()),
//!     _ => None,
//! });
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

/// A start-up configuration failure: the variable at fault and what it
/// should hold (values are never echoed: some are secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: environment variable {var} {problem}; expected {expected}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
    pub expected: &'static str,
}

impl ConfigError {
    /// `var` is not set (or blank).
    pub fn missing(var: &'static str, expected: &'static str) -> Self {
        ConfigError {
            var,
            problem: "is not set".to_owned(),
            expected,
        }
    }

    /// `var` is set but unusable, for `reason` (which must not quote a
    /// secret value).
    pub fn invalid(
        var: &'static str,
        expected: &'static str,
        reason: impl std::fmt::Display,
    ) -> Self {
        ConfigError {
            var,
            problem: format!("is invalid ({reason})"),
            expected,
        }
    }
}

/// Where variables come from: the process environment, or any lookup in
/// tests. A blank value counts as unset.
pub struct Vars<F>(pub F);

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Vars(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    /// `var`'s value; `None` when unset or blank.
    pub fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).filter(|v| !v.trim().is_empty())
    }

    /// `var` parsed, or `default` when unset.
    pub fn parse_or<T: std::str::FromStr>(
        &self,
        var: &'static str,
        expected: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| ConfigError::invalid(var, expected, e)),
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
}

impl ServiceConfig {
    /// `keys` (current first) under `base_path` (a trailing `/` is dropped),
    /// with the default skew.
    pub fn new(keys: Vec<SigningKey>, base_path: &str) -> Self {
        ServiceConfig {
            keys,
            base_path: base_path.trim_end_matches('/').to_owned(),
            max_skew: DEFAULT_MAX_SKEW,
        }
    }

    /// `IDENTITY_SECRET` (required), `IDENTITY_SECRET_PREVIOUS` (during a
    /// rotation), `BASE_PATH` (empty or starting with `/`).
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Vars<F>) -> Result<Self, ConfigError> {
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
        Ok(ServiceConfig::new(keys, &base))
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
pub fn listen_addr<F: Fn(&str) -> Option<String>>(
    env: &Vars<F>,
) -> Result<SocketAddr, ConfigError> {
    let port: u16 = env.parse_or("PORT", "a TCP port (0 to 65535)", 8080)?;
    let bind: IpAddr = env.parse_or("BIND_ADDR", "an IP address", [0, 0, 0, 0].into())?;
    Ok(SocketAddr::new(bind, port))
}

/// A private service binary's whole `main`: [`init_json_logs`], its
/// [`ServiceConfig::from_env`] and [`listen_addr`] from the process
/// environment, then [`serve`] of `router(config)` on a socket bound there
/// until [`shutdown_signal`]. A bad variable stops it with the variable's name.
#[cfg(feature = "service-runtime")]
pub async fn run(
    name: &str,
    router: impl FnOnce(ServiceConfig) -> axum::Router,
) -> Result<(), Box<dyn std::error::Error>> {
    init_json_logs();
    let env = Vars::process();
    let config = ServiceConfig::from_env(&env)?;
    let addr = listen_addr(&env)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{name} cannot listen on {addr} (PORT, BIND_ADDR): {e}"))?;
    tracing::info!(addr = %listener.local_addr()?, "{name} listening");
    serve(listener, router(config), shutdown_signal()).await?;
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

/// JSON log lines on stdout (for CloudWatch through awslogs), filtered by
/// `RUST_LOG` (default `info`).
#[cfg(feature = "service-runtime")]
pub fn init_json_logs() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
}

/// Resolves on SIGTERM (ECS stopping the task) or Ctrl-C: a service's
/// graceful-shutdown signal.
#[cfg(feature = "service-runtime")]
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            // No SIGTERM handler (cannot happen on Linux): Ctrl-C alone.
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

    fn vars(pairs: &[(&str, &str)]) -> Vars<impl Fn(&str) -> Option<String> + use<>> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Vars(move |name: &str| map.get(name).cloned())
    }

    #[test]
    fn config_requires_a_real_key_and_an_absolute_base_path() {
        for env in [
            vars(&[]),
            vars(&[("X", "y")]),
            vars(&[("IDENTITY_SECRET", " ")]),
        ] {
            let e = ServiceConfig::from_env(&env).unwrap_err();
            assert_eq!(e.var, "IDENTITY_SECRET");
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
            assert_eq!(e.var, "BASE_PATH");
        }
        let e = ServiceConfig::from_env(&vars(&[
            ("IDENTITY_SECRET", KEY),
            ("IDENTITY_SECRET_PREVIOUS", "x"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "IDENTITY_SECRET_PREVIOUS");
        let rotating = vars(&[("IDENTITY_SECRET", KEY), ("IDENTITY_SECRET_PREVIOUS", KEY)]);
        assert_eq!(ServiceConfig::from_env(&rotating).unwrap().keys.len(), 2);
    }

    #[test]
    fn numbers_parse_with_a_default_and_a_blank_is_unset() {
        let vars = Vars(|name: &str| match name {
            "PORT" => Some("9000".to_owned()),
            "BLANK" => Some("  ".to_owned()),
            "BAD" => Some("eighty".to_owned()),
            _ => None,
        });
        assert_eq!(vars.parse_or("PORT", "a TCP port", 8080u16), Ok(9000));
        assert_eq!(vars.parse_or("BLANK", "a TCP port", 8080u16), Ok(8080));
        assert_eq!(vars.parse_or("UNSET", "a TCP port", 8080u16), Ok(8080));
        let e = vars.parse_or("BAD", "a TCP port", 8080u16).unwrap_err();
        assert_eq!((e.var, e.expected), ("BAD", "a TCP port"));
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
    fn the_listen_address_defaults_to_every_interface_on_8080() {
        assert_eq!(listen_addr(&vars(&[])).unwrap().to_string(), "0.0.0.0:8080");
        let local = vars(&[("PORT", "8081"), ("BIND_ADDR", "127.0.0.1")]);
        assert_eq!(listen_addr(&local).unwrap().to_string(), "127.0.0.1:8081");
        let e = listen_addr(&vars(&[("PORT", "70000")])).unwrap_err();
        assert_eq!(e.var, "PORT");
        let e = listen_addr(&vars(&[("BIND_ADDR", "localhost")])).unwrap_err();
        assert_eq!(e.var, "BIND_ADDR");
        assert!(e.to_string().contains("an IP address"), "{e}");
    }
}
