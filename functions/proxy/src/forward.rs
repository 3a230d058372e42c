//! Pure request/response shaping: the upstream path (the shared rule of
//! `portcullis_core::path`), and the header policy.

use http::{HeaderMap, HeaderName, HeaderValue, header};
use portcullis_core::ApiError;
use portcullis_core::cookies;
use portcullis_identity::is_identity_header;
use portcullis_platform::services::Service;
use std::collections::HashSet;

// The headers never forwarded either way (hop-by-hop ones and `Host`), and
// the client headers always dropped (credentials, and the forwarding and
// tracing headers the proxy sets itself): the contract's lists.
use portcullis_contract::{HOP_BY_HOP, STRIPPED_BY_PROXY as ALWAYS_STRIPPED};

/// Headers listed in `Connection` (lower-cased).
fn connection_named(headers: &HeaderMap) -> HashSet<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The client headers the service receives: only the registry's
/// `allow_headers` (and `Cookie` when `allow_cookies`), never hop-by-hop
/// headers or those named in `Connection`, credentials, `Host` or any
/// `x-portcullis-*` identity header.
pub fn request_headers(service: &Service, incoming: &HeaderMap) -> HeaderMap {
    let named = connection_named(incoming);
    let mut out = HeaderMap::new();
    for (name, value) in incoming {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || named.contains(n)
            || ALWAYS_STRIPPED.contains(&n)
            || is_identity_header(n)
        {
            continue;
        }
        let allowed = if name == header::COOKIE {
            service.allow_cookies
        } else {
            service.allow_headers.iter().any(|a| a == n)
        };
        if allowed {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// The upstream's headers the caller receives: all but hop-by-hop headers,
/// those named in `Connection`, `Content-Length` (recomputed by API Gateway)
/// and the `Set-Cookie` headers [`keeps_set_cookie`] drops.
pub fn response_headers(service: &Service, upstream: &HeaderMap) -> HeaderMap {
    let named = connection_named(upstream);
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || named.contains(n) || name == header::CONTENT_LENGTH {
            continue;
        }
        if name == header::SET_COOKIE && !keeps_set_cookie(service, value) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Whether a service's `Set-Cookie` reaches the caller: never without
/// `allow_cookies`; with it, only a cookie scoped to the service's own
/// public path `/v1/services/<name>` and without `Domain`
/// (`portcullis_core::cookies::own_path_cookie`, the rule the identity
/// service kit applies to `vpc_link` services with `cookies: own_path`):
/// every service shares the API's origin. A dropped cookie is logged by name.
pub fn keeps_set_cookie(service: &Service, value: &HeaderValue) -> bool {
    let text = String::from_utf8_lossy(value.as_bytes());
    let name = cookies::cookie_name(&text);
    if !service.allow_cookies {
        tracing::info!(service = %service.name, cookie = name, "Set-Cookie dropped: the service has allow_cookies: false");
        return false;
    }
    let public_path = format!("/v1/services/{}", service.name);
    match cookies::own_path_cookie(&text, &public_path) {
        Ok(()) => true,
        Err(why) => {
            tracing::warn!(service = %service.name, cookie = name, reason = %why, public_path, "Set-Cookie dropped: not scoped to the service's own path");
            false
        }
    }
}

/// Approximate size of the headers in the Lambda response JSON.
pub fn headers_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 8)
        .sum()
}

/// The path rule of every private service (`portcullis_core::path`), as
/// the proxy answers it: 400 with the reason.
pub fn upstream_path(proxy: &str) -> Result<String, ApiError> {
    portcullis_core::path::upstream_path(proxy).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A valid value for the request id header: printable ASCII, bounded (the
/// trace header has its own rule, `portcullis_core::trace::accept`).
pub fn plain_token(v: &str) -> bool {
    !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| (0x21..0x7f).contains(&b))
}

pub fn name(n: &'static str) -> HeaderName {
    HeaderName::from_static(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use portcullis_platform::services::Services;

    fn service(cookies: bool) -> Service {
        let yaml = format!(
            "s:\n  workload: w\n  methods: [GET]\n  allow_headers: [accept, x-custom]\n  allow_cookies: {cookies}\n"
        );
        Services::from_text(&yaml)
            .unwrap()
            .get("s")
            .unwrap()
            .clone()
    }

    #[test]
    fn a_refused_path_is_a_400_that_says_why() {
        // The rule itself is portcullis_core::path's (its tests).
        for p in ["a/../b", "%0a", "//evil.example/x"] {
            let e = upstream_path(p).expect_err(p);
            assert_eq!(e.status().as_u16(), 400, "{p:?}");
            assert!(
                e.to_string()
                    .contains("the path under the service is not allowed"),
                "{e}"
            );
        }
        assert_eq!(upstream_path("a b/ü").unwrap(), "a%20b/%C3%BC");
    }

    #[test]
    fn only_allowed_headers_pass_and_credentials_never_do() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("accept", "application/json"),
            ("x-custom", "1"),
            ("x-other", "dropped"),
            ("authorization", "Bearer t"),
            ("x-api-key", "k"),
            ("host", "evil"),
            ("cookie", "session=1"),
            ("x-portcullis-tenant", "spoofed"),
            ("X-Portcullis-Principal", "spoofed"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-forwarded-for", "6.6.6.6"),
        ] {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_static(v),
            );
        }
        let out = request_headers(&service(false), &h);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, vec!["accept", "x-custom"]);
        let out = request_headers(&service(true), &h);
        assert_eq!(out.get("cookie").unwrap(), "session=1");
    }

    #[test]
    fn headers_named_in_connection_are_stripped_even_when_allowed() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, X-Custom"));
        h.insert("x-custom", HeaderValue::from_static("1"));
        h.insert("accept", HeaderValue::from_static("*/*"));
        let out = request_headers(&service(false), &h);
        assert!(out.get("x-custom").is_none() && out.get("accept").is_some());
    }

    #[test]
    fn set_cookie_is_returned_only_when_allowed_and_scoped_to_the_service() {
        let mut h = HeaderMap::new();
        for c in [
            "a=1; Path=/",
            "b=2; Path=/v1/services/s/x; Secure",
            "c=3; Max-Age=60",
            "d=4; Path=/v1/services/s; Domain=example.com",
            "e=5; Path=/v1/services/other",
            "f=6; Path=/v1/v1/services/s",
        ] {
            h.append("set-cookie", HeaderValue::from_static(c));
        }
        h.insert("content-length", HeaderValue::from_static("2"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        let kept: Vec<_> = response_headers(&service(true), &h)
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            kept,
            [
                "b=2; Path=/v1/services/s/x; Secure",
                "c=3; Max-Age=60",
                "f=6; Path=/v1/v1/services/s"
            ]
        );
        let out = response_headers(&service(false), &h);
        assert!(out.is_empty(), "{out:?}");
    }
}
