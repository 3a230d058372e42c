//! The `X-Amzn-Trace-Id` a submit stores with its job and hands to the task
//! (`TRACE_ID`). A client sends this header, so only the documented syntax
//! is kept (AWS X-Ray "Tracing header"): `;`-separated `Key=value` fields,
//! one of them `Root=1-<8 hex>-<24 hex>`, ASCII, at most [`MAX_LEN`]
//! characters. Anything else is dropped (logged at debug), never an error:
//! the header is a hint, not part of the request.

/// Longest trace header kept. An X-Ray header with Root, Parent, Sampled,
/// Self and Lineage fits in well under 256; the task gets it as an
/// environment variable inside ECS's 8192-character overrides.
pub const MAX_LEN: usize = 256;

/// `value` if it is a well-formed trace header, else `None`.
pub fn accept(value: &str) -> Option<&str> {
    let value = value.trim();
    if value.is_empty() || value.len() > MAX_LEN || !value.is_ascii() {
        return None;
    }
    let mut root = false;
    for field in value.split(';') {
        let (key, val) = field.trim().split_once('=')?;
        let key_ok = !key.is_empty()
            && key.len() <= 32
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let val_ok = !val.is_empty()
            && val.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'|')
            });
        if !key_ok || !val_ok {
            return None;
        }
        if key == "Root" {
            if root || !is_root(val) {
                return None;
            }
            root = true;
        }
    }
    root.then_some(value)
}

/// `1-5759e988-bd862e3fe1be46a994272793`: version 1, 8 hex digits of epoch
/// seconds, 24 hex digits.
fn is_root(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts[..], ["1", t, id] if hex(t, 8) && hex(id, 24))
}

/// The trace header of a submit: the client's header when well-formed, else
/// the function's own (`_X_AMZN_TRACE_ID`, set by Lambda) when well-formed.
pub fn of_submit(header: Option<&str>, request_id: &str) -> Option<String> {
    if let Some(h) = header {
        match accept(h) {
            Some(t) => return Some(t.to_owned()),
            None => tracing::debug!(
                request_id,
                length = h.len(),
                "X-Amzn-Trace-Id dropped: not the documented trace header syntax (Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Key=value..., at most 256 ASCII characters)"
            ),
        }
    }
    std::env::var("_X_AMZN_TRACE_ID")
        .ok()
        .and_then(|t| accept(&t).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "Root=1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn documented_headers_are_kept() {
        for ok in [
            ROOT.to_owned(),
            format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1"),
            format!("Self=1-67891234-12456789abcdef012345678;{ROOT};Sampled=0"),
            format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5"),
        ] {
            assert_eq!(accept(&ok), Some(ok.as_str()), "{ok}");
        }
    }

    #[test]
    fn anything_else_is_dropped() {
        let long = format!("{ROOT};Parent={}", "a".repeat(300));
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98g-bd862e3fe1be46a994272793",
            &format!("{ROOT};{ROOT}"),
            &format!("{ROOT};Parent=a b"),
            &format!("{ROOT};Parent"),
            &format!("{ROOT};=x"),
            &format!("{ROOT};Note=caf\u{e9}"),
            &format!("{ROOT};X=$(id)"),
            &format!("{ROOT};X=a\nb"),
            &long,
        ] {
            assert_eq!(accept(bad), None, "{bad:?}");
        }
    }
}
