//! The headers a gateway never forwards, in either direction.
//!
//! One list for API Gateway as the local gateway models it, the proxy
//! function and the registry's `allow_headers` check: the hop-by-hop
//! headers of RFC 9110 §7.6.1 (`Connection` and those it names are the
//! connection's, not the message's; the RFC lists `Proxy-Connection`,
//! `Keep-Alive`, `TE`, `Transfer-Encoding` and `Upgrade` as fields to
//! remove), the ones RFC 2616 §13.5.1 also called hop-by-hop and proxies
//! still treat so (`Proxy-Authenticate`, `Proxy-Authorization`, `Trailer`:
//! a proxy's credentials are for the next hop only), and `Host`, which
//! neither API Gateway nor the proxy passes on: each sets the integration's
//! own. Headers *named* in a `Connection` header are hop-by-hop too; the
//! proxy drops those as well.

/// Lower-case names of the headers never forwarded.
pub const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Lower-case names of the client headers the proxy function never passes
/// to a service besides [`HOP_BY_HOP`]: credentials (the caller's, which the
/// service must never see), and the forwarding and tracing headers the proxy
/// sets itself. The registry refuses them in `allow_headers`.
pub const STRIPPED_BY_PROXY: &[&str] = &[
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

/// Whether a header of this name is never forwarded (any letter case).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connections_own_headers_and_host_are_never_forwarded() {
        for name in [
            "Connection",
            "keep-alive",
            "Proxy-Connection",
            "TE",
            "Transfer-Encoding",
            "Upgrade",
            "Host",
        ] {
            assert!(is_hop_by_hop(name), "{name}");
        }
    }

    #[test]
    fn end_to_end_headers_are_forwarded() {
        for name in [
            "content-type",
            "authorization",
            "cookie",
            "x-trace",
            "trailers",
        ] {
            assert!(!is_hop_by_hop(name), "{name}");
        }
    }

    #[test]
    fn the_lists_are_lower_case_and_name_each_header_once() {
        let both: Vec<&str> = HOP_BY_HOP
            .iter()
            .chain(STRIPPED_BY_PROXY)
            .copied()
            .collect();
        for (i, h) in both.iter().enumerate() {
            assert_eq!(*h, h.to_ascii_lowercase());
            assert!(!both[..i].contains(h), "{h} twice");
        }
    }
}
