//! Pure request/response shaping: the upstream path, and the header policy.

use http::{HeaderMap, HeaderName, header};
use portcullis_core::ApiError;
use portcullis_identity::is_identity_header;
use portcullis_platform::services::Service;
use std::collections::HashSet;

/// Hop-by-hop headers (RFC 9110 §7.6.1 plus the legacy ones): never forwarded either way.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Client headers always dropped: the proxy sets its own, or they are credentials.
const ALWAYS_STRIPPED: &[&str] = &[
    "host",
    "authorization",
    "x-api-key",
    "content-length",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-request-id",
    "x-amzn-trace-id",
];

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
/// and `Set-Cookie` unless the service may use cookies.
pub fn response_headers(service: &Service, upstream: &HeaderMap) -> HeaderMap {
    let named = connection_named(upstream);
    let mut out = HeaderMap::new();
    for (name, value) in upstream {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || named.contains(n) || name == header::CONTENT_LENGTH {
            continue;
        }
        if name == header::SET_COOKIE && !service.allow_cookies {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// Approximate size of the headers in the Lambda response JSON.
pub fn headers_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 8)
        .sum()
}

fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Validate the path under the service (the `{proxy+}` parameter, which API
/// Gateway hands over percent-decoded once) and return it percent-encoded
/// once, without a leading slash.
///
/// Rejected with 400: any `%` escape left after that one decoding (`%XX`
/// with two hex digits: the client double-encoded it, e.g. `%250a` → `%0a`,
/// `%2509` → `%09`, `%25c0%25ae` → `%c0%ae`, and the upstream would decode it
/// again into a control character or a dot); `.`/`..` segments, also with a
/// path parameter (`..;x`, `.;`: servlet containers drop `;...` and then
/// traverse); control characters, backslashes, a leading `/` (an empty first
/// segment: `//host` targets) and `scheme://` (absolute-form targets). A `%`
/// that starts no escape (`100%`) is a literal and is sent as `%25`.
pub fn upstream_path(proxy: &str) -> Result<String, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(format!("the path under the service is not allowed: {why}"))
    };
    if proxy.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(bad("it contains a control character or NUL"));
    }
    if proxy.contains('\\') {
        return Err(bad("it contains a backslash"));
    }
    let bytes = proxy.as_bytes();
    let escape_at = |i: usize| {
        bytes[i] == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    if (0..bytes.len()).any(escape_at) {
        return Err(bad(
            "it still holds a percent-encoded character after decoding (double encoding such as %250a or %252e); send each character encoded once",
        ));
    }
    if proxy.starts_with('/') {
        return Err(bad(
            "it starts with a slash (absolute or scheme-relative target)",
        ));
    }
    if proxy.contains("://") {
        return Err(bad(
            "it is an absolute URL; only paths under the service are forwarded",
        ));
    }
    // A segment's name is what precedes its path parameters (`;...`).
    let dots = |seg: &str| {
        let name = seg.split(';').next().unwrap_or(seg);
        name == "." || name == ".."
    };
    if proxy.split('/').any(dots) {
        return Err(bad(
            "it contains a '.' or '..' segment (also as '..;' with a path parameter)",
        ));
    }
    let mut out = String::with_capacity(proxy.len() + 8);
    for &b in bytes {
        if b == b'/' || is_pchar(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(out)
}

/// A valid value for `X-Amzn-Trace-Id`/request id headers: printable ASCII, bounded.
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
    fn traversal_and_absolute_targets_are_rejected() {
        for p in [
            "..",
            "a/../b",
            "a/./b",
            ".",
            "a/%2e%2e/b",
            "%2E%2E",
            "a%2fb",
            "a%5cb",
            "a\\b",
            "a\0b",
            "%00",
            "/etc/passwd",
            "//evil.example/x",
            "http://evil.example/",
            "a/%252e%252e",
        ] {
            assert!(upstream_path(p).is_err(), "{p:?} should be rejected");
        }
    }

    #[test]
    fn leftover_escapes_and_path_parameter_traversal_are_rejected() {
        // The `{proxy+}` value arrives decoded once: `%250a` from the client
        // is `%0a` here, which the upstream would decode again.
        for p in [
            "%0a",
            "echo/%0A",
            "echo/%09",
            "echo/%c0%ae",
            "%C0%AE%C0%AE/etc",
            "echo/a%20b",
            "echo/%7e",
            "..;",
            "..;/admin",
            "echo/..;/..;/admin",
            "echo/..;jsessionid=1/x",
            ".;/echo",
            "echo/.;x",
        ] {
            let e = upstream_path(p).expect_err(p);
            assert_eq!(e.status().as_u16(), 400, "{p:?}");
        }
        assert!(
            upstream_path("%0a")
                .unwrap_err()
                .to_string()
                .contains("encoded"),
            "the answer says why"
        );
    }

    #[test]
    fn ordinary_paths_are_encoded_once() {
        assert_eq!(upstream_path("items/1").unwrap(), "items/1");
        assert_eq!(upstream_path("a b/ü?#").unwrap(), "a%20b/%C3%BC%3F%23");
        assert_eq!(upstream_path("100%").unwrap(), "100%25");
        assert_eq!(upstream_path("50%zz").unwrap(), "50%25zz");
        assert_eq!(upstream_path("items;v=1/a;b").unwrap(), "items;v=1/a;b");
        assert_eq!(upstream_path("...;x").unwrap(), "...;x");
        assert_eq!(upstream_path("").unwrap(), "");
        assert_eq!(upstream_path("dir/").unwrap(), "dir/");
        assert_eq!(upstream_path("...").unwrap(), "...");
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
    fn set_cookie_is_returned_only_when_cookies_are_allowed() {
        let mut h = HeaderMap::new();
        h.append("set-cookie", HeaderValue::from_static("a=1"));
        h.append("set-cookie", HeaderValue::from_static("b=2"));
        h.insert("content-length", HeaderValue::from_static("2"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        assert_eq!(
            response_headers(&service(true), &h)
                .get_all("set-cookie")
                .iter()
                .count(),
            2
        );
        let out = response_headers(&service(false), &h);
        assert!(out.is_empty(), "{out:?}");
    }
}
