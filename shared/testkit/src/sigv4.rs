//! SigV4 signing of a raw request with the process's key (`make test`
//! exports the emulator administrator's; the emulator enforces IAM), for
//! emulator APIs the test's crate has no SDK client for.

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

/// The headers that sign `method url` with `headers` and `body` for
/// `service` (signing name, e.g. `ec2`, `cognito-idp`): add them, and
/// `headers`, to the request as they are.
pub fn sign_request(
    service: &str,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let identity = aws_credential_types::Credentials::new(
        var("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "test".to_owned()),
        var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "test".to_owned()),
        var("AWS_SESSION_TOKEN"),
        None,
        "testkit",
    )
    .into();
    let region = var("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .expect("static signing parameters build")
        .into();
    let signable = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("a signable request");
    let (instructions, _) = sign(signable, &params)
        .expect("the request signs")
        .into_parts();
    instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}
