//! The one path rule of private services: what may follow
//! `/v1/services/<name>/` on its way to a service, applied by the proxy
//! function (lambda services), the authorizer (vpc_link services: an explicit
//! Deny) and the identity service kit (`portcullis_identity::service`: 400,
//! for the public routes no authorizer runs on). See docs/proxy.md, "What is
//! forwarded".
//!
//! The input is the path under the service as API Gateway hands it over:
//! percent-decoded once (the `{proxy+}` path parameter; a service decodes the
//! path it received once to get the same text).

/// Why [`upstream_path`] refused a path under a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the path under the service is not allowed: {reason}")]
pub struct PathRefused {
    pub reason: &'static str,
}

fn refused(reason: &'static str) -> PathRefused {
    PathRefused { reason }
}

fn is_pchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Validate the path under the service (percent-decoded once, without the
/// leading `/`) and return it percent-encoded once.
///
/// Refused: any `%` escape left after that one decoding (`%XX` with two hex
/// digits: the client double-encoded it, e.g. `%250a` → `%0a`, `%2509` →
/// `%09`, `%25c0%25ae` → `%c0%ae`, and the upstream would decode it again
/// into a control character or a dot); `.`/`..` segments, also with a path
/// parameter (`..;x`, `.;`: servlet containers drop `;...` and then
/// traverse); control characters, backslashes, a leading `/` (an empty first
/// segment: `//host` targets) and `scheme://` (absolute-form targets). A `%`
/// that starts no escape (`100%`) is a literal and is sent as `%25`.
pub fn upstream_path(proxy: &str) -> Result<String, PathRefused> {
    if proxy.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(refused("it contains a control character or NUL"));
    }
    if proxy.contains('\\') {
        return Err(refused("it contains a backslash"));
    }
    let bytes = proxy.as_bytes();
    let escape_at = |i: usize| {
        bytes[i] == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    if (0..bytes.len()).any(escape_at) {
        return Err(refused(
            "it still holds a percent-encoded character after decoding (double encoding such as %250a or %252e); send each character encoded once",
        ));
    }
    if proxy.starts_with('/') {
        return Err(refused(
            "it starts with a slash (absolute or scheme-relative target)",
        ));
    }
    if proxy.contains("://") {
        return Err(refused(
            "it is an absolute URL; only paths under the service are forwarded",
        ));
    }
    // A segment's name is what precedes its path parameters (`;...`).
    let dots = |seg: &str| {
        let name = seg.split(';').next().unwrap_or(seg);
        name == "." || name == ".."
    };
    if proxy.split('/').any(dots) {
        return Err(refused(
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

/// The path under a service for a request on `template` (a resource path
/// relative to the service, such as `/items/{id}` or `/{proxy+}`), with
/// each `{param}` / `{param+}` filled by `param` (API Gateway's decoded path
/// parameters), without the leading `/`. `None` when a parameter is missing.
pub fn fill_template<'a>(
    template: &str,
    param: impl Fn(&str) -> Option<&'a str>,
) -> Option<String> {
    let mut sub = Vec::new();
    for seg in template.trim_start_matches('/').split('/') {
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => sub.push(param(name.trim_end_matches('+'))?),
            None => sub.push(seg),
        }
    }
    Some(sub.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_absolute_targets_are_refused() {
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
            assert!(upstream_path(p).is_err(), "{p:?} should be refused");
        }
    }

    #[test]
    fn leftover_escapes_and_path_parameter_traversal_are_refused() {
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
            upstream_path(p).expect_err(p);
        }
        let e = upstream_path("%0a").unwrap_err();
        assert!(
            e.to_string().contains("encoded"),
            "the answer says why: {e}"
        );
        assert!(e.to_string().starts_with("the path under the service"));
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
    fn a_template_is_filled_with_its_parameters() {
        let params = |name: &str| match name {
            "id" => Some("a b"),
            "proxy" => Some("x/y"),
            _ => None,
        };
        assert_eq!(fill_template("/items/{id}", params).unwrap(), "items/a b");
        assert_eq!(fill_template("/{proxy+}", params).unwrap(), "x/y");
        assert_eq!(fill_template("/home", params).unwrap(), "home");
        assert_eq!(fill_template("/f/{other}", params), None);
    }
}
