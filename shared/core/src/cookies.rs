//! Which `Set-Cookie` headers of a private service may reach the browser.
//!
//! Every service is served from the API's one origin, so a cookie a service
//! sets with `Path=/` or a `Domain` is sent to every other service and to
//! the platform's own routes. A service may keep only cookies scoped to its
//! own public path, `/v1/services/<name>` (registry `cookies: own_path` for
//! `vpc_link` services, enforced by the identity service kit; `allow_cookies:
//! true` for `lambda` services, enforced by the proxy function); otherwise
//! none (docs/proxy.md). The browser's path matching is RFC 6265 §5.1.4.

/// Why [`own_path_cookie`] refused a `Set-Cookie` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CookieRefused {
    #[error("it has a Domain attribute (the cookie would reach other hosts or every path)")]
    Domain,
    #[error("its Path is not under the service's public path")]
    Path,
}

/// The cookie's name (what precedes `=`), for logs: never its value.
pub fn cookie_name(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split('=').next())
        .map_or("", str::trim)
}

/// Whether a `Set-Cookie` value stays within `public_path` (such as
/// `/v1/services/web`): no `Domain` attribute, and each `Path` attribute
/// equal to `public_path` or under it (`<public_path>/...`), with or without
/// one leading stage segment (`/v1/v1/services/web`: the invoke URL of a
/// stage). A cookie without a usable `Path` (absent, empty or not starting
/// with `/`) gets the browser's default path, the directory of the request
/// URL (RFC 6265 §5.1.4), which for any request to the service is under its
/// public path: kept.
pub fn own_path_cookie(set_cookie: &str, public_path: &str) -> Result<(), CookieRefused> {
    let public_path = public_path.trim_end_matches('/');
    for attr in set_cookie.split(';').skip(1) {
        let (name, value) = attr.split_once('=').unwrap_or((attr, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("domain") {
            return Err(CookieRefused::Domain);
        }
        let value = value.trim();
        if name.eq_ignore_ascii_case("path")
            && value.starts_with('/')
            && !path_under(value, public_path)
        {
            return Err(CookieRefused::Path);
        }
    }
    Ok(())
}

/// `path` is `base`, or under it, directly or after one stage segment.
fn path_under(path: &str, base: &str) -> bool {
    let under = |p: &str| {
        p.strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under(path) {
        return true;
    }
    // `/<stage>` + base: a stage name is 1-128 of A-Za-z0-9_- (API Gateway).
    let Some((stage, rest)) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .map(|(s, r)| (s, format!("/{r}")))
    else {
        return false;
    };
    let stage_ok = !stage.is_empty()
        && stage.len() <= 128
        && stage
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    stage_ok && under(&rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEB: &str = "/v1/services/web";

    #[test]
    fn cookies_under_the_services_own_path_are_kept() {
        for c in [
            "s=1; Path=/v1/services/web",
            "s=1; Path=/v1/services/web/",
            "s=1; path=/v1/services/web/notes; HttpOnly; Secure; SameSite=Lax",
            "s=1; Path=/v1/v1/services/web/notes",
            "s=1; Path=/prod/v1/services/web",
            "s=1; HttpOnly",
            "s=1",
            "s=1; Path=",
            "s=1; Path=relative",
        ] {
            assert_eq!(own_path_cookie(c, WEB), Ok(()), "{c}");
        }
    }

    #[test]
    fn cookies_for_other_paths_or_with_a_domain_are_refused() {
        for (c, why) in [
            ("s=1; Path=/", CookieRefused::Path),
            ("s=1; Path=/v1", CookieRefused::Path),
            ("s=1; Path=/v1/services", CookieRefused::Path),
            ("s=1; Path=/v1/services/webx", CookieRefused::Path),
            ("s=1; Path=/v1/services/sample", CookieRefused::Path),
            ("s=1; Path=/a/b/v1/services/web", CookieRefused::Path),
            ("s=1; Path=/v1/services/web; Path=/", CookieRefused::Path),
            (
                "s=1; Path=/v1/services/web; Domain=example.com",
                CookieRefused::Domain,
            ),
            ("s=1; domain=.example.com", CookieRefused::Domain),
            ("s=1; Domain", CookieRefused::Domain),
        ] {
            assert_eq!(own_path_cookie(c, WEB), Err(why), "{c}");
        }
    }

    #[test]
    fn a_cookie_is_named_in_logs_by_its_name_only() {
        assert_eq!(cookie_name("session=secret; Path=/"), "session");
        assert_eq!(cookie_name(" a = b"), "a");
        assert_eq!(cookie_name(""), "");
    }
}
