//! The JWKS download: one `GET` with the small HTTP client of
//! `portcullis-aws` (`portcullis_aws::http`, feature `lean`: hyper over
//! tokio-rustls with aws-lc-rs, a fresh connection, no redirect, no proxy
//! variables, the TLS configuration made by the first request).
//!
//! The authorizer makes few requests (a JWKS fetch for an unknown `kid`, at
//! most once per penalty window), so it keeps no pool; a 3xx is an error
//! (Cognito serves the JWKS directly).

use portcullis_aws::http::send;

/// `GET url` and its body, at most `limit` bytes; a status other than 2xx
/// is an error. The caller bounds the time.
pub async fn get(url: &str, limit: usize) -> Result<Vec<u8>, String> {
    let answer = send(
        "GET",
        url,
        &[
            ("accept", "application/json"),
            ("user-agent", "portcullis-authorizer"),
        ],
        Vec::new(),
        limit,
    )
    .await?;
    if !answer.status.is_success() {
        return Err(format!("status {}", answer.status));
    }
    Ok(answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn urls_it_cannot_fetch_are_refused_with_a_reason() {
        for (url, reason) in [
            ("not a url", "bad URL"),
            ("ftp://example.com/jwks.json", "scheme"),
            ("file:///etc/passwd", "scheme"),
        ] {
            let e = get(url, 1024).await.unwrap_err();
            assert!(e.contains(reason), "{url}: {e}");
        }
    }
}
