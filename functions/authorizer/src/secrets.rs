//! Secrets Manager without the SDK: the authorizer's reader of the
//! `vpc_link` services' identity keys (`portcullis_identity::keys::SecretSource`).
//!
//! The authorizer links no AWS SDK client and no aws-config (its cold start
//! is on every request path; scripts/test.sh checks its dependency tree).
//! Reading a key is one `GetSecretValue` call: a `POST /` with
//! `X-Amz-Target: secretsmanager.GetSecretValue`, `Content-Type:
//! application/x-amz-json-1.1` and the body `{"SecretId": "<arn>"}`, signed
//! with SigV4 by `portcullis_db::IamCredentials` (the Lambda environment's
//! credentials and region, as the database's IAM tokens are) and sent with
//! the authorizer's own HTTP client ([`crate::fetch`]).
//!
//! Endpoint, as the SDK picks it: `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else
//! `AWS_ENDPOINT_URL` (the local emulator), else
//! `https://secretsmanager.<region>.amazonaws.com` (`.amazonaws.com.cn` in
//! the China regions). Errors carry the AWS error code, its message and
//! what to do (`portcullis_identity::keys::error_hint`); the secret's value
//! is never part of one.

use crate::fetch;
use portcullis_core::{ConfigError, Env};
use portcullis_db::IamCredentials;
use portcullis_identity::keys::{SecretSource, error_hint};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

/// The endpoint variable of Secrets Manager, then the global one.
pub const ENDPOINT_VARS: [&str; 2] = ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"];
/// The API operation, as `X-Amz-Target` names it.
pub const TARGET: &str = "secretsmanager.GetSecretValue";
/// The awsJson1.1 protocol's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// How long one read may take (Lambda's init phase has 10 s in all).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read (a secret string is at most 64 KiB).
const MAX_ANSWER: usize = 1 << 20;

/// A Secrets Manager reader with the Lambda environment's credentials.
#[derive(Clone, Debug)]
pub struct SecretsManager(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    endpoint: url::Url,
    credentials: IamCredentials,
}

impl SecretsManager {
    /// The credentials and region of the Lambda environment `env`
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION`) and its endpoint (see the module documentation).
    pub fn from_env(env: &Env) -> Result<SecretsManager, ConfigError> {
        let credentials = IamCredentials::from_env_for(
            env,
            "IDENTITY_SECRET_ARNS, to sign the GetSecretValue requests of the identity keys",
        )?;
        let configured = ENDPOINT_VARS.iter().find_map(|var| {
            env.get(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (*var, v))
        });
        let endpoint = match configured {
            Some((var, value)) => parse_endpoint(&value).map_err(|why| {
                ConfigError::invalid(var, "an http:// or https:// URL of Secrets Manager", why)
            })?,
            None => {
                let region = credentials.region().unwrap_or_default();
                default_endpoint(region).map_err(|why| {
                    ConfigError::invalid(
                        "AWS_REGION",
                        "an AWS region name (us-east-1, cn-north-1, ...)",
                        why,
                    )
                })?
            }
        };
        Ok(SecretsManager::new(endpoint, credentials))
    }

    /// A reader of the Secrets Manager at `endpoint`, signing with `credentials`.
    pub fn new(endpoint: url::Url, credentials: IamCredentials) -> SecretsManager {
        SecretsManager(Arc::new(Inner {
            endpoint,
            credentials,
        }))
    }

    /// Where requests go.
    pub fn endpoint(&self) -> &url::Url {
        &self.0.endpoint
    }

    /// The request that reads `arn`: URL, headers (signed) and body.
    pub async fn request(&self, arn: &str) -> Result<SignedRequest, String> {
        let url = self.0.endpoint.to_string();
        let host = fetch::host_header(&self.0.endpoint)?;
        let body = serde_json::to_vec(&serde_json::json!({ "SecretId": arn }))
            .map_err(|e| format!("the request body: {e}"))?;
        let mut headers: Vec<(String, String)> = [
            ("host", host.as_str()),
            ("content-type", CONTENT_TYPE),
            ("x-amz-target", TARGET),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
        let plain: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let signed = self
            .0
            .credentials
            .sign_request("secretsmanager", "POST", &url, &plain, &body)
            .await?;
        headers.extend(signed);
        Ok(SignedRequest { url, headers, body })
    }

    /// `GetSecretValue` of `arn`: its secret string.
    pub async fn get_secret_value(&self, arn: &str) -> Result<SecretString, String> {
        let request = self.request(arn).await?;
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let sent = fetch::send("POST", &request.url, &headers, request.body, MAX_ANSWER);
        let answer = tokio::time::timeout(TIMEOUT, sent)
            .await
            .map_err(|_| {
                format!(
                    "no answer from Secrets Manager at {} within {} s: from a VPC add a \
                     secretsmanager interface endpoint or a NAT route; locally check \
                     AWS_ENDPOINT_URL",
                    self.0.endpoint,
                    TIMEOUT.as_secs()
                )
            })?
            .map_err(|e| {
                format!(
                    "Secrets Manager at {} could not be reached ({e}): from a VPC add a \
                     secretsmanager interface endpoint or a NAT route; locally check \
                     AWS_ENDPOINT_URL",
                    self.0.endpoint
                )
            })?;
        if answer.status.is_success() {
            secret_string(&answer.body)
        } else {
            Err(error_of(
                answer.status.as_u16(),
                &answer.headers,
                &answer.body,
            ))
        }
    }
}

impl SecretSource for SecretsManager {
    async fn secret_string(&self, arn: &str) -> Result<SecretString, String> {
        self.get_secret_value(arn).await
    }
}

/// A signed `GetSecretValue` request.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub url: String,
    /// `host`, `content-type`, `x-amz-target` and the SigV4 headers.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A configured endpoint: an http(s) URL with a host.
fn parse_endpoint(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| format!("{value:?} is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{value:?} is not an http:// or https:// URL with a host"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?} has a query or fragment"));
    }
    Ok(url)
}

/// Secrets Manager's regional endpoint: `amazonaws.com`, or
/// `amazonaws.com.cn` in the China regions.
fn default_endpoint(region: &str) -> Result<url::Url, String> {
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(format!("{region:?} is not a region name"));
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    url::Url::parse(&format!("https://secretsmanager.{region}.{suffix}/"))
        .map_err(|e| format!("{region:?}: {e}"))
}

/// The `SecretString` of a successful answer. Errors never hold the body
/// (it holds the secret).
fn secret_string(body: &[u8]) -> Result<SecretString, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "SecretString")]
        secret_string: Option<SecretString>,
        #[serde(rename = "SecretBinary")]
        secret_binary: Option<serde::de::IgnoredAny>,
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the GetSecretValue answer is not the expected JSON (at line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    match answer {
        Answer {
            secret_string: Some(s),
            ..
        } => Ok(s),
        Answer {
            secret_binary: Some(_),
            ..
        } => Err("the secret is binary (SecretBinary): an identity key is a secret string".into()),
        _ => Err("the secret has no string value".to_owned()),
    }
}

/// An error answer: its code, message and what to do. The code is the
/// awsJson1.1 body's `__type` (`{"__type": ..., "message": ...}`), else the
/// `x-amzn-errortype` header, else the `<Code>` of an XML error (IAM's own
/// refusals: `AccessDenied`, `SignatureDoesNotMatch`, as the emulator sends
/// them). Error bodies hold no secret.
fn error_of(status: u16, headers: &hyper::HeaderMap, body: &[u8]) -> String {
    #[derive(serde::Deserialize, Default)]
    struct Error {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(alias = "Message")]
        message: Option<String>,
    }
    let json: Error = serde_json::from_slice(body).unwrap_or_default();
    let text = String::from_utf8_lossy(body);
    let xml = |tag: &str| -> Option<String> {
        let open = format!("<{tag}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&format!("</{tag}>"))?;
        Some(
            text[start..end]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        )
    };
    let header = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // `com.amazonaws.secretsmanager#ResourceNotFoundException:http://...`
    let code = json
        .kind
        .or(header)
        .or_else(|| xml("Code"))
        .map(|k| {
            let k = k.rsplit_once('#').map_or(k.as_str(), |(_, k)| k);
            k.split_once(':').map_or(k, |(k, _)| k).trim().to_owned()
        })
        .filter(|k| !k.is_empty());
    let message = json
        .message
        .or_else(|| xml("Message"))
        .map(|m| m.chars().take(500).collect::<String>())
        .filter(|m| !m.trim().is_empty());
    match code {
        Some(code) => format!(
            "GetSecretValue failed: {code} (HTTP {status}){}: {}",
            message.map(|m| format!(": {m}")).unwrap_or_default(),
            error_hint(&code)
        ),
        None => format!(
            "GetSecretValue failed: HTTP {status} without an AWS error code ({:?}): {}",
            text.chars().take(200).collect::<String>(),
            error_hint("")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut all = vec![
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2-secret"),
        ];
        for (k, v) in pairs {
            all.retain(|(kk, _)| kk != k);
            if !v.is_empty() {
                all.push((k, v));
            }
        }
        Env::from_pairs(all)
    }

    #[test]
    fn the_endpoint_is_the_services_variable_then_the_global_one_then_the_region() {
        let sm = |pairs: &[(&str, &str)]| {
            SecretsManager::from_env(&env(pairs))
                .unwrap()
                .endpoint()
                .to_string()
        };
        assert_eq!(sm(&[]), "https://secretsmanager.eu-west-1.amazonaws.com/");
        assert_eq!(
            sm(&[("AWS_REGION", "cn-north-1")]),
            "https://secretsmanager.cn-north-1.amazonaws.com.cn/"
        );
        assert_eq!(
            sm(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]),
            "http://127.0.0.1:4566/"
        );
        assert_eq!(
            sm(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
                (
                    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                    "https://sm.example:8443"
                ),
            ]),
            "https://sm.example:8443/"
        );
        for (pairs, var) in [
            (vec![("AWS_ENDPOINT_URL", "ftp://x")], "AWS_ENDPOINT_URL"),
            (
                vec![("AWS_ENDPOINT_URL_SECRETS_MANAGER", "not a url")],
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            ),
            (vec![("AWS_REGION", "eu west/1")], "AWS_REGION"),
            (vec![("AWS_REGION", "")], "AWS_REGION"),
            (vec![("AWS_ACCESS_KEY_ID", "")], "AWS_ACCESS_KEY_ID"),
        ] {
            let e = SecretsManager::from_env(&env(&pairs)).unwrap_err();
            assert_eq!(e.var(), var, "{pairs:?}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = SecretsManager::from_env(&env(&[("AWS_SECRET_ACCESS_KEY", "")])).unwrap_err();
        assert!(e.to_string().contains("IDENTITY_SECRET_ARNS"), "{e}");
    }

    /// The request: `POST /` to the endpoint, the awsJson1.1 headers, the
    /// ARN in the body, all signed for `secretsmanager` in the region.
    #[tokio::test]
    async fn the_request_is_a_signed_get_secret_value() {
        let sm = SecretsManager::from_env(&env(&[
            ("AWS_SESSION_TOKEN", "session-token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ]))
        .unwrap();
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:p/identity/web-AbCdEf";
        let r = sm.request(arn).await.unwrap();
        assert_eq!(r.url, "http://127.0.0.1:4566/");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, serde_json::json!({ "SecretId": arn }));
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {name}: {:?}", r.headers))
        };
        assert_eq!(header("host"), "127.0.0.1:4566");
        assert_eq!(header("content-type"), CONTENT_TYPE);
        assert_eq!(header("x-amz-target"), TARGET);
        assert_eq!(header("x-amz-security-token"), "session-token");
        let auth = header("authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
                && auth.contains("/eu-west-1/secretsmanager/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="),
            "{auth}"
        );
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn answers_are_read_without_echoing_the_secret() {
        let s =
            secret_string(br#"{"ARN":"a","Name":"n","SecretString":"hunter2","VersionId":"v"}"#)
                .unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&s), "hunter2");
        for (body, says) in [
            (
                &br#"{"SecretString": hunter2}"#[..],
                "not the expected JSON",
            ),
            (br#"{"ARN":"a","SecretBinary":"aHVudGVyMg=="}"#, "binary"),
            (br#"{"ARN":"a"}"#, "no string value"),
        ] {
            let e = secret_string(body).err().unwrap();
            assert!(e.contains(says), "{e}");
            assert!(!e.contains("hunter2") && !e.contains("aHVudGVyMg"), "{e}");
        }
    }

    #[test]
    fn error_answers_name_the_code_and_what_to_do() {
        for (status, body, says) in [
            (
                400,
                &br#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#[..],
                "ResourceNotFoundException (HTTP 400): Secrets Manager can't find the specified secret.: no such secret",
            ),
            (
                400,
                br#"{"__type":"com.amazonaws.secretsmanager#AccessDeniedException:http://internal","Message":"no"}"#,
                "AccessDeniedException (HTTP 400): no: grant secretsmanager:GetSecretValue",
            ),
            (
                400,
                br#"{"__type":"DecryptionFailure","message":"KMS"}"#,
                "kms:Decrypt",
            ),
            (
                403,
                b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: secretsmanager:GetSecretValue</Message></Error></Errors></ErrorResponse>",
                "AccessDenied (HTTP 403): User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: secretsmanager:GetSecretValue: grant secretsmanager:GetSecretValue",
            ),
            (
                502,
                b"<html>bad gateway</html>",
                "HTTP 502 without an AWS error code (\"<html>bad gateway</html>\")",
            ),
        ] {
            let e = error_of(status, &hyper::HeaderMap::new(), body);
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn the_error_type_header_names_the_code_of_a_bodyless_error() {
        let mut headers = hyper::HeaderMap::new();
        headers.insert(
            "x-amzn-errortype",
            hyper::header::HeaderValue::from_static("UnrecognizedClientException:http://internal"),
        );
        let e = error_of(400, &headers, b"");
        assert!(
            e.contains("UnrecognizedClientException (HTTP 400): the function's AWS credentials"),
            "{e}"
        );
    }
}
