//! A small HTTP client (feature `lean`): one HTTP/1.1 request on a fresh
//! connection, with hyper's client connection over tokio-rustls (aws-lc-rs,
//! the webpki roots) for `https://` and plain TCP for `http://` (local
//! stand-ins). For a function that makes few requests and links no SDK
//! client: the authorizer's JWKS download and the lean Secrets Manager reads
//! ([`crate::secrets::HttpSecretsManager`]).
//!
//! It keeps no pool, follows no redirect and reads no proxy variables. The
//! TLS configuration is built by the first request, not at start-up.
//! Compared with a general client this links one crypto library (the
//! aws-lc-rs that `jsonwebtoken` and sqlx use) and keeps the certificate
//! roots out of the cold start.

use http_body_util::{BodyExt as _, Full};
use hyper::StatusCode;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};

/// A response: its status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

/// The `Host` header a request to `url` carries: the host, and the port
/// when it is not the scheme's default. A signer signs this value.
pub fn host_header(url: &url::Url) -> Result<String, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    Ok(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// `method url` with `headers` (and `Host`: [`host_header`]; a `host` in
/// `headers` is not sent twice; `User-Agent: portcullis` unless `headers`
/// has one) and `body`; the answer whatever its status, its body at most
/// `limit` bytes. The caller bounds the time.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    limit: usize,
) -> Result<Answer, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    let https = match parsed.scheme() {
        "https" => true,
        "http" => false,
        other => return Err(format!("scheme {other:?} is not http or https")),
    };
    let host = parsed.host_str().ok_or("the URL has no host")?;
    let port = parsed
        .port_or_known_default()
        .ok_or("the URL has no port")?;
    let authority = host_header(&parsed)?;
    let method = hyper::Method::from_bytes(method.as_bytes())
        .map_err(|e| format!("method {method:?}: {e}"))?;
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority);
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
    {
        request = request.header(hyper::header::USER_AGENT, "portcullis");
    }
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("host") {
            request = request.header(*name, *value);
        }
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    // `[::1]` in a URL is `::1` to the resolver and to TLS.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare_host, port))
        .await
        .map_err(|e| format!("connect to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    if https {
        let name = ServerName::try_from(bare_host.to_owned())
            .map_err(|e| format!("{host} is not a TLS server name: {e}"))?;
        let tls = TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        exchange(tls, request, limit).await
    } else {
        exchange(tcp, request, limit).await
    }
}

async fn exchange<S>(
    stream: S,
    request: hyper::Request<Full<Bytes>>,
    limit: usize,
) -> Result<Answer, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    // Drives the connection; it ends when the response is read or dropped.
    let driver = tokio::spawn(conn);
    let result = async {
        let resp = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        let (parts, mut body) = resp.into_parts();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("body: {e}"))?;
            if let Some(chunk) = frame.data_ref() {
                if out.len() + chunk.len() > limit {
                    return Err(format!(
                        "the answer exceeds {limit} bytes (status {status})"
                    ));
                }
                out.extend_from_slice(chunk);
            }
        }
        Ok(Answer {
            status,
            headers: parts.headers,
            body: out,
        })
    }
    .await;
    driver.abort();
    result
}

/// The TLS client configuration, made on first use: aws-lc-rs, the
/// webpki roots, TLS 1.2 and 1.3.
fn tls_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(c) = CONFIG.get() {
        return Ok(c.clone());
    }
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
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
            let e = send("GET", url, &[], Vec::new(), 1024).await.unwrap_err();
            assert!(e.contains(reason), "{url}: {e}");
        }
    }

    #[test]
    fn the_tls_configuration_is_made_once() {
        let a = tls_config().expect("TLS configuration");
        let b = tls_config().expect("TLS configuration");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!a.alpn_protocols.is_empty());
    }
}
