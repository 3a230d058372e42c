//! CORS, owned by the functions: the one policy every HTTP function applies to
//! its answers and its preflights, identical behind the local gateway and
//! behind API Gateway (whose Lambda proxy integrations add no CORS header).
//!
//! The policy comes from the function's environment (Terraform sets it from
//! `var.cors_allow_origins` and the `x-portcullis-cors` block of
//! `api/openapi.yaml`, the one source of the header lists):
//!
//! | variable | format | unset |
//! |---|---|---|
//! | `CORS_ALLOW_ORIGINS` | comma list of exact origins `scheme://host[:port]` (`http`/`https`, no path), or `*` alone | no origin is allowed |
//! | `CORS_ALLOW_HEADERS` | comma list of request header names a browser may send | none beyond the CORS-safelisted ones |
//! | `CORS_EXPOSE_HEADERS` | comma list of response header names scripts may read | none |
//! | `CORS_MAX_AGE_SECS` | whole seconds, 0 to 86400, that a browser may cache a preflight | header omitted (browser default, 5 s) |
//! | `CORS_ALLOW_CREDENTIALS` | `true`/`false` | `false` |
//!
//! Behaviour (docs/development.md#cors):
//! - the request's `Origin` is echoed in `Access-Control-Allow-Origin` only
//!   when it is on the list; origins compare as RFC 6454 tuples (scheme and
//!   host case-insensitive, a default port equals no port);
//! - `Vary: Origin` is on every answer, allowed origin or not;
//! - a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//!   from an allowed origin is 204 with the route's methods, the allowed
//!   headers and the max age; from any other origin it is 403 problem+json
//!   with no `Access-Control-Allow-*` header;
//! - any `Access-Control-*` header already on an answer (a proxied service's)
//!   is removed first: the policy is the only source of CORS headers.

use crate::config::{ConfigError, Env};
use http::Method;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The variables of the policy.
pub const ALLOW_ORIGINS_VAR: &str = "CORS_ALLOW_ORIGINS";
pub const ALLOW_HEADERS_VAR: &str = "CORS_ALLOW_HEADERS";
pub const EXPOSE_HEADERS_VAR: &str = "CORS_EXPOSE_HEADERS";
pub const MAX_AGE_VAR: &str = "CORS_MAX_AGE_SECS";
pub const ALLOW_CREDENTIALS_VAR: &str = "CORS_ALLOW_CREDENTIALS";

/// The largest `Access-Control-Max-Age` accepted (Firefox's cap; Chromium caps at 7200).
pub const MAX_AGE_LIMIT: u64 = 86_400;

const ORIGINS_EXPECTED: &str = "a comma-separated list of exact origins such as https://app.example.com,http://localhost:5173 (scheme http or https, host, optional port; no path), or * alone";
const HEADERS_EXPECTED: &str =
    "a comma-separated list of HTTP header names such as authorization,content-type";

/// An origin as RFC 6454 compares it: lower-case scheme and host, the port
/// made explicit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// Parse `scheme://host[:port]`; the error says what is wrong.
    fn parse(text: &str) -> Result<Origin, String> {
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} has no scheme (write https://{text})"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return Err(format!("{text:?}: the scheme must be http or https")),
        };
        if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#' | '@')) {
            return Err(format!(
                "{text:?} is not an origin: an origin has no path, query, fragment or user ({c:?} found); write {scheme}://host[:port]"
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{text:?}: the IPv6 address has no closing ]"))?;
            if addr.is_empty()
                || !addr
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(format!("{text:?}: [{addr}] is not an IPv6 address"));
            }
            let port =
                match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or_else(|| {
                        format!("{text:?}: only :port may follow the IPv6 address")
                    })?),
                };
            (format!("[{}]", addr.to_ascii_lowercase()), port)
        } else {
            let (host, port) = match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            if host.is_empty() {
                return Err(format!("{text:?} has no host"));
            }
            if !host.is_ascii() {
                return Err(format!(
                    "{text:?}: write an internationalised host in its ASCII (punycode) form, as browsers send it"
                ));
            }
            if host.starts_with('.')
                || host.contains("..")
                || !host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(format!("{text:?}: {host:?} is not a host name"));
            }
            (host.to_ascii_lowercase(), port)
        };
        let port = match port {
            None => default_port,
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("{text:?}: the port must be a number"));
                }
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{text:?}: the port must be between 1 and 65535"))?
            }
        };
        Ok(Origin { scheme, host, port })
    }
}

/// Which origins may read answers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origins {
    /// `*`: any origin (only without credentials).
    Any,
    /// Exact origins; empty: none.
    List(Vec<Origin>),
}

/// The CORS policy of one function, built once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Origins,
    allow_headers: Vec<HeaderName>,
    expose_headers: Vec<HeaderName>,
    max_age: Option<u64>,
    credentials: bool,
}

impl Default for CorsPolicy {
    /// No origin allowed: answers carry `Vary: Origin` and nothing else.
    fn default() -> Self {
        CorsPolicy::disabled()
    }
}

fn header_list(env: &Env, var: &str) -> Result<Vec<HeaderName>, ConfigError> {
    let mut out: Vec<HeaderName> = Vec::new();
    for item in env.list(var) {
        if item == "*" {
            return Err(ConfigError::invalid(
                var,
                HEADERS_EXPECTED,
                "* is not accepted: list the headers by name",
            ));
        }
        let name = HeaderName::from_bytes(item.to_ascii_lowercase().as_bytes()).map_err(|_| {
            ConfigError::invalid(
                var,
                HEADERS_EXPECTED,
                format!("{item:?} is not a header name"),
            )
        })?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

impl CorsPolicy {
    /// No origin allowed (what a function without `CORS_ALLOW_ORIGINS` runs with).
    pub fn disabled() -> CorsPolicy {
        CorsPolicy {
            origins: Origins::List(Vec::new()),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: None,
            credentials: false,
        }
    }

    /// The policy from the `CORS_*` variables (module documentation). A bad
    /// origin, header name or max age, or `*` with credentials, fails start-up
    /// naming the variable.
    pub fn from_env(env: &Env) -> Result<CorsPolicy, ConfigError> {
        let credentials = env.flag(ALLOW_CREDENTIALS_VAR, false)?;
        let items = env.list(ALLOW_ORIGINS_VAR);
        let origins = if items.iter().any(|i| i == "*") {
            if items.len() > 1 {
                return Err(ConfigError::invalid(
                    ALLOW_ORIGINS_VAR,
                    ORIGINS_EXPECTED,
                    "* allows every origin, so it stands alone",
                ));
            }
            if credentials {
                return Err(ConfigError::invalid(
                    ALLOW_ORIGINS_VAR,
                    ORIGINS_EXPECTED,
                    format!(
                        "* cannot be used with {ALLOW_CREDENTIALS_VAR}=true (browsers refuse it, and it would let every site act as the user); list the origins"
                    ),
                ));
            }
            Origins::Any
        } else {
            let mut list: Vec<Origin> = Vec::new();
            for item in &items {
                if item.eq_ignore_ascii_case("null") {
                    return Err(ConfigError::invalid(
                        ALLOW_ORIGINS_VAR,
                        ORIGINS_EXPECTED,
                        "\"null\" is the opaque origin of sandboxed frames and local files, which any page can take on; it cannot be allowed",
                    ));
                }
                let origin = Origin::parse(item).map_err(|reason| {
                    ConfigError::invalid(ALLOW_ORIGINS_VAR, ORIGINS_EXPECTED, reason)
                })?;
                if !list.contains(&origin) {
                    list.push(origin);
                }
            }
            Origins::List(list)
        };
        let max_age = match env
            .parse_opt::<u64>(MAX_AGE_VAR, "a whole number of seconds between 0 and 86400")?
        {
            Some(s) if s > MAX_AGE_LIMIT => {
                return Err(ConfigError::invalid(
                    MAX_AGE_VAR,
                    "a whole number of seconds between 0 and 86400",
                    format!("{s} is out of range"),
                ));
            }
            other => other,
        };
        Ok(CorsPolicy {
            origins,
            allow_headers: header_list(env, ALLOW_HEADERS_VAR)?,
            expose_headers: header_list(env, EXPOSE_HEADERS_VAR)?,
            max_age,
            credentials,
        })
    }

    /// Whether this origin (as a browser sends it in `Origin`) may read answers.
    pub fn allows(&self, origin: &str) -> bool {
        match &self.origins {
            Origins::Any => !origin.eq_ignore_ascii_case("null") && Origin::parse(origin).is_ok(),
            Origins::List(list) => Origin::parse(origin).is_ok_and(|o| list.contains(&o)),
        }
    }

    /// The `Access-Control-Allow-Origin` value for this request: its one
    /// `Origin` when allowed (`*` under `CORS_ALLOW_ORIGINS=*`), else `None`.
    pub fn allowed_origin(&self, request: &HeaderMap) -> Option<HeaderValue> {
        let mut all = request.get_all(header::ORIGIN).iter();
        let (Some(value), None) = (all.next(), all.next()) else {
            return None;
        };
        let text = value.to_str().ok()?;
        if !self.allows(text) {
            return None;
        }
        match self.origins {
            Origins::Any => Some(HeaderValue::from_static("*")),
            Origins::List(_) => Some(value.clone()),
        }
    }

    /// Put the policy on an answer's headers: every `Access-Control-*` header
    /// already there is removed, `Vary: Origin` is added, and for an allowed
    /// origin `Access-Control-Allow-Origin`, `-Expose-Headers` and (when
    /// configured) `-Allow-Credentials` are set.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        strip_cors_headers(response);
        vary_origin(response);
        if let Some(origin) = self.allowed_origin(request) {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            if self.credentials {
                response.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
            if let Some(v) = join(&self.expose_headers) {
                response.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
        }
    }

    /// The headers of a preflight answer for an allowed origin (`None` when
    /// the origin is not allowed): `allow` is what the route serves,
    /// `extra_headers` request headers the route accepts beyond the policy's
    /// (a proxied service's `allow_headers`).
    pub fn preflight(
        &self,
        request: &HeaderMap,
        allow: &[&str],
        extra_headers: &[HeaderName],
    ) -> Option<HeaderMap> {
        let origin = self.allowed_origin(request)?;
        let mut h = HeaderMap::new();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(v) = HeaderValue::from_str(&allow.join(", ")) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        let mut headers = self.allow_headers.clone();
        for name in extra_headers {
            if !headers.contains(name) {
                headers.push(name.clone());
            }
        }
        if let Some(v) = join(&headers) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
        if let Some(age) = self.max_age {
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        if self.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        vary_origin(&mut h);
        Some(h)
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
/// Any other `OPTIONS` is an ordinary one.
pub fn is_preflight(method: &Method, request: &HeaderMap) -> bool {
    method == Method::OPTIONS
        && request.contains_key(header::ORIGIN)
        && request.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Remove every `Access-Control-*` header (a proxied service's, say).
pub fn strip_cors_headers(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for n in names {
        headers.remove(n);
    }
}

/// Make `Vary` name `Origin`, keeping what it already names, in one field.
fn vary_origin(headers: &mut HeaderMap) {
    let mut tokens: Vec<String> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if tokens
        .iter()
        .any(|t| t == "*" || t.eq_ignore_ascii_case("origin"))
    {
        return;
    }
    tokens.push("Origin".to_owned());
    if let Ok(v) = HeaderValue::from_str(&tokens.join(", ")) {
        headers.insert(header::VARY, v);
    }
}

fn join(names: &[HeaderName]) -> Option<HeaderValue> {
    if names.is_empty() {
        return None;
    }
    let text = names
        .iter()
        .map(HeaderName::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::from_str(&text).ok()
}

#[cfg(feature = "http")]
mod lambda {
    use super::*;
    use crate::error::ApiError;
    use lambda_http::{Body, Request, Response};

    impl CorsPolicy {
        /// Put the policy on a handler's answer (success or problem+json):
        /// see [`CorsPolicy::apply`].
        pub fn finish(&self, req: &Request, mut resp: Response<Body>) -> Response<Body> {
            self.apply(req.headers(), resp.headers_mut());
            resp
        }

        /// The answer to `OPTIONS` on a route this function serves, given the
        /// route's methods (`allow`) and any request headers it accepts beyond
        /// the policy's. Never authenticated (the gateway runs no authorizer on
        /// `OPTIONS`), so it reveals nothing but the route's methods:
        /// - a preflight from an allowed origin: 204 with the preflight headers;
        /// - a preflight from another origin: 403 problem+json, `Vary: Origin`,
        ///   no `Access-Control-Allow-*` header;
        /// - an ordinary `OPTIONS`: 204 with `Allow`.
        pub fn options(
            &self,
            req: &Request,
            allow: &[&str],
            extra_headers: &[HeaderName],
        ) -> Response<Body> {
            let headers = req.headers();
            if !is_preflight(req.method(), headers) {
                let mut methods: Vec<&str> = allow.to_vec();
                if !methods.contains(&"OPTIONS") {
                    methods.push("OPTIONS");
                }
                let mut resp = Response::new(Body::Empty);
                *resp.status_mut() = http::StatusCode::NO_CONTENT;
                if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
                    resp.headers_mut().insert(header::ALLOW, v);
                }
                return self.finish(req, resp);
            }
            match self.preflight(headers, allow, extra_headers) {
                Some(h) => {
                    let mut resp = Response::new(Body::Empty);
                    *resp.status_mut() = http::StatusCode::NO_CONTENT;
                    *resp.headers_mut() = h;
                    resp
                }
                None => {
                    let origin = headers
                        .get(header::ORIGIN)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    let request_id = crate::http::request_id(req);
                    let mut resp = ApiError::forbidden(format!(
                        "origin {origin:?} may not call this API from a browser: it is not on the API's CORS allowlist ({ALLOW_ORIGINS_VAR}, set by Terraform from cors_allow_origins)"
                    ))
                    .into_response(request_id.as_deref());
                    self.apply(headers, resp.headers_mut());
                    resp
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn policy() -> CorsPolicy {
            CorsPolicy::from_env(&Env::from_pairs([
                (
                    ALLOW_ORIGINS_VAR,
                    "https://app.example.com,http://localhost:5173",
                ),
                (ALLOW_HEADERS_VAR, "authorization,content-type"),
                (MAX_AGE_VAR, "600"),
            ]))
            .expect("the test policy is valid")
        }

        fn options(origin: Option<&str>, requested: Option<&str>) -> Request {
            let mut b = http::Request::builder().method("OPTIONS").uri("/v1/keys");
            if let Some(o) = origin {
                b = b.header(header::ORIGIN, o);
            }
            if let Some(m) = requested {
                b = b.header(header::ACCESS_CONTROL_REQUEST_METHOD, m);
            }
            b.body(Body::Empty).expect("a valid request")
        }

        #[test]
        fn a_preflight_from_an_allowed_origin_is_204_with_the_preflight_headers() {
            let resp = policy().options(
                &options(Some("http://localhost:5173"), Some("POST")),
                &["GET", "POST"],
                &[],
            );
            assert_eq!(resp.status(), 204);
            let h = resp.headers();
            assert_eq!(
                h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "http://localhost:5173"
            );
            assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
            assert_eq!(
                h[header::ACCESS_CONTROL_ALLOW_HEADERS],
                "authorization, content-type"
            );
            assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
            assert_eq!(h[header::VARY], "Origin");
        }

        #[test]
        fn a_preflight_from_another_origin_is_403_without_access_control_headers() {
            let resp = policy().options(
                &options(Some("https://evil.example.com"), Some("POST")),
                &["GET", "POST"],
                &[],
            );
            assert_eq!(resp.status(), 403);
            let h = resp.headers();
            assert_eq!(h[header::CONTENT_TYPE], crate::error::PROBLEM_JSON);
            assert_eq!(h[header::VARY], "Origin");
            assert!(
                h.keys().all(|n| !n.as_str().starts_with("access-control-")),
                "{h:?}"
            );
        }

        #[test]
        fn an_ordinary_options_is_204_with_allow() {
            let resp = policy().options(&options(None, None), &["GET", "POST"], &[]);
            assert_eq!(resp.status(), 204);
            assert_eq!(resp.headers()[header::ALLOW], "GET, POST, OPTIONS");
            assert!(
                !resp
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
            );
            // from an allowed origin it is readable like any answer
            let resp = policy().options(
                &options(Some("https://app.example.com"), None),
                &["GET"],
                &[],
            );
            assert_eq!(resp.status(), 204);
            assert_eq!(
                resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "https://app.example.com"
            );
        }

        #[test]
        fn finish_puts_the_policy_on_a_problem_answer() {
            let req = http::Request::builder()
                .method("GET")
                .header(header::ORIGIN, "https://app.example.com")
                .body(Body::Empty)
                .expect("a valid request");
            let resp = policy().finish(
                &req,
                ApiError::not_found("no such thing").into_response(None),
            );
            assert_eq!(resp.status(), 404);
            assert_eq!(
                resp.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "https://app.example.com"
            );
            assert_eq!(resp.headers()[header::VARY], "Origin");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: [(&str, &str); 5] = [
        (
            ALLOW_ORIGINS_VAR,
            "https://app.example.com, http://localhost:5173,https://[::1]:8443",
        ),
        (ALLOW_HEADERS_VAR, "Authorization,content-type,x-api-key"),
        (EXPOSE_HEADERS_VAR, "x-request-id,location"),
        (MAX_AGE_VAR, "600"),
        (ALLOW_CREDENTIALS_VAR, "false"),
    ];

    fn policy() -> CorsPolicy {
        CorsPolicy::from_env(&Env::from_pairs(ALLOWED)).expect("the test policy is valid")
    }

    fn request(origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(
                header::ORIGIN,
                HeaderValue::from_str(o).expect("ascii origin"),
            );
        }
        h
    }

    fn applied(p: &CorsPolicy, origin: Option<&str>) -> HeaderMap {
        let mut resp = HeaderMap::new();
        p.apply(&request(origin), &mut resp);
        resp
    }

    fn config_error(pairs: &[(&str, &str)]) -> ConfigError {
        CorsPolicy::from_env(&Env::from_pairs(pairs.iter().copied()))
            .expect_err("this configuration must be refused")
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_vary_and_exposed_headers() {
        let h = applied(&policy(), Some("http://localhost:5173"));
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:5173"
        );
        assert_eq!(h[header::VARY], "Origin");
        assert_eq!(
            h[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "x-request-id, location"
        );
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        // every listed origin works, not only the first
        let h = applied(&policy(), Some("https://app.example.com"));
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        let h = applied(&policy(), Some("https://[::1]:8443"));
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://[::1]:8443");
    }

    #[test]
    fn a_disallowed_origin_gets_vary_and_no_access_control_header() {
        for origin in [
            "https://evil.example.com",
            "https://app.example.com.evil.com",
            "http://app.example.com",       // another scheme
            "https://app.example.com:8443", // another port
            "http://localhost:5174",
            "null",
            "https://app.example.com/", // not an origin
            "garbage",
        ] {
            let h = applied(&policy(), Some(origin));
            assert_eq!(h[header::VARY], "Origin", "{origin}");
            assert!(
                h.keys().all(|n| !n.as_str().starts_with("access-control-")),
                "{origin}: {h:?}"
            );
        }
    }

    #[test]
    fn scheme_and_host_compare_without_case_and_a_default_port_equals_none() {
        let p = policy();
        assert!(p.allows("HTTPS://App.Example.COM"));
        assert!(p.allows("https://app.example.com:443"));
        assert!(p.allows("http://LOCALHOST:5173"));
        assert!(!p.allows("http://localhost"));
        // the value echoed is the request's own
        let h = applied(&p, Some("HTTPS://App.Example.COM"));
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "HTTPS://App.Example.COM"
        );
        // configured with a default port, matched without one
        let p = CorsPolicy::from_env(&Env::from_pairs([(
            ALLOW_ORIGINS_VAR,
            "HTTP://Example.com:80",
        )]))
        .expect("valid");
        assert!(p.allows("http://example.com"));
    }

    #[test]
    fn a_request_without_origin_gets_vary_only() {
        let h = applied(&policy(), None);
        assert_eq!(h.len(), 1, "{h:?}");
        assert_eq!(h[header::VARY], "Origin");
    }

    #[test]
    fn two_origin_headers_are_not_trusted() {
        let mut req = request(Some("https://app.example.com"));
        req.append(
            header::ORIGIN,
            HeaderValue::from_static("https://app.example.com"),
        );
        assert_eq!(policy().allowed_origin(&req), None);
    }

    #[test]
    fn existing_cors_headers_are_replaced_and_vary_is_merged() {
        let mut resp = HeaderMap::new();
        resp.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        resp.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        resp.insert(
            HeaderName::from_static("access-control-allow-private-network"),
            HeaderValue::from_static("true"),
        );
        resp.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        resp.append(header::VARY, HeaderValue::from_static("accept"));
        policy().apply(&request(Some("https://evil.example.com")), &mut resp);
        assert!(
            resp.keys()
                .all(|n| !n.as_str().starts_with("access-control-")),
            "{resp:?}"
        );
        assert_eq!(resp[header::VARY], "Accept-Encoding, accept, Origin");
        assert_eq!(resp.get_all(header::VARY).iter().count(), 1);
        // Vary already naming Origin (any case) is left alone
        let mut resp = HeaderMap::new();
        resp.insert(header::VARY, HeaderValue::from_static("origin"));
        policy().apply(&request(None), &mut resp);
        assert_eq!(resp[header::VARY], "origin");
    }

    #[test]
    fn a_preflight_lists_the_routes_methods_and_the_allowed_headers() {
        let mut req = request(Some("https://app.example.com"));
        req.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("DELETE"),
        );
        assert!(is_preflight(&Method::OPTIONS, &req));
        let h = policy()
            .preflight(
                &req,
                &["GET", "DELETE"],
                &[HeaderName::from_static("if-match")],
            )
            .expect("allowed origin");
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, DELETE");
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization, content-type, x-api-key, if-match"
        );
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(h[header::VARY], "Origin");
        assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
        // another origin: no preflight headers at all
        let mut req = request(Some("https://evil.example.com"));
        req.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("DELETE"),
        );
        assert_eq!(policy().preflight(&req, &["GET"], &[]), None);
    }

    #[test]
    fn only_options_with_origin_and_a_requested_method_is_a_preflight() {
        let mut req = request(Some("https://app.example.com"));
        assert!(!is_preflight(&Method::OPTIONS, &req));
        req.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("GET"),
        );
        assert!(!is_preflight(&Method::GET, &req));
        req.remove(header::ORIGIN);
        assert!(!is_preflight(&Method::OPTIONS, &req));
    }

    #[test]
    fn unset_means_no_origin_is_allowed() {
        let p = CorsPolicy::from_env(&Env::from_pairs::<&str, &str>([])).expect("valid");
        assert_eq!(p, CorsPolicy::disabled());
        assert!(!p.allows("http://localhost:5173"));
        let h = applied(&p, Some("http://localhost:5173"));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn a_star_allows_every_origin_without_credentials() {
        let p = CorsPolicy::from_env(&Env::from_pairs([(ALLOW_ORIGINS_VAR, "*")])).expect("valid");
        let h = applied(&p, Some("https://anything.example"));
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(
            applied(&p, Some("null"))
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        assert!(
            applied(&p, None)
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
    }

    #[test]
    fn credentials_are_announced_only_when_configured() {
        let p = CorsPolicy::from_env(&Env::from_pairs([
            (ALLOW_ORIGINS_VAR, "https://app.example.com"),
            (ALLOW_CREDENTIALS_VAR, "true"),
        ]))
        .expect("valid");
        let h = applied(&p, Some("https://app.example.com"));
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let h = applied(&p, Some("https://other.example.com"));
        assert!(h.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    }

    #[test]
    fn bad_configuration_fails_naming_the_variable_and_the_reason() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[(ALLOW_ORIGINS_VAR, "app.example.com")],
                ALLOW_ORIGINS_VAR,
                "no scheme",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "ftp://app.example.com")],
                ALLOW_ORIGINS_VAR,
                "http or https",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://app.example.com/")],
                ALLOW_ORIGINS_VAR,
                "no path",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://app.example.com/app")],
                ALLOW_ORIGINS_VAR,
                "no path",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://user@app.example.com")],
                ALLOW_ORIGINS_VAR,
                "no path",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://app.example.com:0")],
                ALLOW_ORIGINS_VAR,
                "between 1 and 65535",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://app.example.com:99999")],
                ALLOW_ORIGINS_VAR,
                "between 1 and 65535",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://app.example.com:")],
                ALLOW_ORIGINS_VAR,
                "must be a number",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://")],
                ALLOW_ORIGINS_VAR,
                "no host",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://app_example.com")],
                ALLOW_ORIGINS_VAR,
                "not a host name",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://bücher.example")],
                ALLOW_ORIGINS_VAR,
                "punycode",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "https://[::1")],
                ALLOW_ORIGINS_VAR,
                "closing ]",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "null")],
                ALLOW_ORIGINS_VAR,
                "opaque origin",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "*,https://app.example.com")],
                ALLOW_ORIGINS_VAR,
                "stands alone",
            ),
            (
                &[(ALLOW_ORIGINS_VAR, "*"), (ALLOW_CREDENTIALS_VAR, "true")],
                ALLOW_ORIGINS_VAR,
                "cannot be used with CORS_ALLOW_CREDENTIALS=true",
            ),
            (
                &[(ALLOW_CREDENTIALS_VAR, "perhaps")],
                ALLOW_CREDENTIALS_VAR,
                "not a boolean",
            ),
            (
                &[(ALLOW_HEADERS_VAR, "authorization,bad header")],
                ALLOW_HEADERS_VAR,
                "not a header name",
            ),
            (&[(ALLOW_HEADERS_VAR, "*")], ALLOW_HEADERS_VAR, "by name"),
            (
                &[(EXPOSE_HEADERS_VAR, "x-request-id,(x)")],
                EXPOSE_HEADERS_VAR,
                "not a header name",
            ),
            (&[(MAX_AGE_VAR, "86401")], MAX_AGE_VAR, "out of range"),
            (&[(MAX_AGE_VAR, "ten")], MAX_AGE_VAR, "between 0 and 86400"),
        ];
        for (pairs, var, reason) in cases {
            let err = config_error(pairs);
            assert_eq!(err.var(), *var, "{pairs:?}");
            let msg = err.to_string();
            assert!(msg.contains(reason), "{pairs:?}: {msg}");
        }
    }

    #[test]
    fn duplicates_collapse_and_header_names_are_lower_cased() {
        let p = CorsPolicy::from_env(&Env::from_pairs([
            (ALLOW_ORIGINS_VAR, "https://a.example,HTTPS://A.EXAMPLE:443"),
            (ALLOW_HEADERS_VAR, "X-Api-Key,x-api-key"),
        ]))
        .expect("valid");
        assert_eq!(
            p.origins,
            Origins::List(vec![Origin::parse("https://a.example").expect("valid")])
        );
        assert_eq!(p.allow_headers, vec![HeaderName::from_static("x-api-key")]);
    }
}
