//! Signed identity headers: HMAC-SHA256 signing (proxy) and verification (private services) (issue 5).
