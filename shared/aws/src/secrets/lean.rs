//! Secrets Manager without the SDK (feature `lean`): one `GetSecretValue`
//! call, a `POST /` with `X-Amz-Target: secretsmanager.GetSecretValue`,
//! `Content-Type: application/x-amz-json-1.1` and the body
//! `{"SecretId": "<arn>"}`, signed with SigV4 by [`IamCredentials`] (the
//! Lambda environment's credentials and region, as the database's IAM tokens
//! are) and sent with the small HTTP client of [`crate::http`]. For a
//! function that links no AWS SDK client and no aws-config (the authorizer:
//! its cold start is on every request path; scripts/test.sh checks its
//! dependency tree).
//!
//! Endpoint, as the SDK picks it ([`crate::endpoint`]):
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL` (the local
//! emulator), else `https://secretsmanager.<region>.amazonaws.com`
//! (`.amazonaws.com.cn` in the China regions). Errors carry the AWS error
//! code and its message ([`SecretError`]); the secret's value is never part
//! of one.

use portcullis_core::{ConfigError, Env};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

use super::{SecretError, SecretSource, SecretValue};
use crate::IamCredentials;
use crate::endpoint::SECRETS_MANAGER;
use crate::http;
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
pub struct HttpSecretsManager(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    endpoint: url::Url,
    credentials: IamCredentials,
}

impl HttpSecretsManager {
    /// The credentials and region of the Lambda environment `env`
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION`) and its endpoint (see the module documentation).
    pub fn from_env(env: &Env) -> Result<HttpSecretsManager, ConfigError> {
        HttpSecretsManager::from_env_for(
            env,
            "Secrets Manager, to sign its GetSecretValue requests",
        )
    }

    /// [`HttpSecretsManager::from_env`] saying what reads the secrets in the
    /// error naming a missing variable (`"IDENTITY_SECRET_ARNS, to sign
    /// ..."`).
    pub fn from_env_for(env: &Env, needed_by: &str) -> Result<HttpSecretsManager, ConfigError> {
        let credentials = IamCredentials::from_env_for(env, needed_by)?;
        let region = credentials.region().unwrap_or_default();
        let endpoint = SECRETS_MANAGER.endpoint(env, region)?;
        Ok(HttpSecretsManager::new(endpoint, credentials))
    }

    /// A reader of the Secrets Manager at `endpoint`, signing with `credentials`.
    pub fn new(endpoint: url::Url, credentials: IamCredentials) -> HttpSecretsManager {
        HttpSecretsManager(Arc::new(Inner {
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
        let host = http::host_header(&self.0.endpoint)?;
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

    /// `GetSecretValue` of `arn`: its secret string and version.
    pub async fn read(&self, arn: &str) -> Result<SecretValue, SecretError> {
        let request = self
            .request(arn)
            .await
            .map_err(|detail| SecretError::Refused {
                code: String::new(),
                detail: format!("the request cannot be made: {detail}"),
            })?;
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let sent = http::send("POST", &request.url, &headers, request.body, MAX_ANSWER);
        let answer = tokio::time::timeout(TIMEOUT, sent)
            .await
            .map_err(|_| SecretError::Unreachable {
                detail: format!(
                    "no answer from Secrets Manager at {} within {} s",
                    self.0.endpoint,
                    TIMEOUT.as_secs()
                ),
            })?
            .map_err(|e| SecretError::Unreachable {
                detail: format!(
                    "Secrets Manager at {} could not be reached ({e})",
                    self.0.endpoint
                ),
            })?;
        if answer.status.is_success() {
            secret_value(&answer.body)
        } else {
            Err(error_of(
                answer.status.as_u16(),
                &answer.headers,
                &answer.body,
            ))
        }
    }
}

impl SecretSource for HttpSecretsManager {
    async fn get_secret_value(&self, arn: &str) -> Result<SecretValue, SecretError> {
        self.read(arn).await
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

/// The `SecretString` and `VersionId` of a successful answer. Errors never
/// hold the body (it holds the secret).
fn secret_value(body: &[u8]) -> Result<SecretValue, SecretError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "SecretString")]
        secret_string: Option<SecretString>,
        #[serde(rename = "SecretBinary")]
        secret_binary: Option<serde::de::IgnoredAny>,
        #[serde(rename = "VersionId")]
        version_id: Option<String>,
    }
    let not_a_string = |detail: String| SecretError::NotAString { detail };
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        not_a_string(format!(
            "the GetSecretValue answer is not the expected JSON (at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match answer {
        Answer {
            secret_string: Some(string),
            version_id,
            ..
        } => Ok(SecretValue { string, version_id }),
        Answer {
            secret_binary: Some(_),
            ..
        } => Err(not_a_string(
            "the secret is binary (SecretBinary), not a secret string".to_owned(),
        )),
        _ => Err(not_a_string("the secret has no string value".to_owned())),
    }
}

/// An error answer: its code and message. The code is the
/// awsJson1.1 body's `__type` (`{"__type": ..., "message": ...}`), else the
/// `x-amzn-errortype` header, else the `<Code>` of an XML error (IAM's own
/// refusals: `AccessDenied`, `SignatureDoesNotMatch`, as the emulator sends
/// them). Error bodies hold no secret.
fn error_of(status: u16, headers: &hyper::HeaderMap, body: &[u8]) -> SecretError {
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
        Some(code) => SecretError::Refused {
            detail: format!(
                "{code} (HTTP {status}){}",
                message.map(|m| format!(": {m}")).unwrap_or_default()
            ),
            code,
        },
        None => SecretError::Refused {
            code: String::new(),
            detail: format!(
                "HTTP {status} without an AWS error code ({:?})",
                text.chars().take(200).collect::<String>()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEEDED_BY: &str =
        "IDENTITY_SECRET_ARNS, to sign the GetSecretValue requests of the identity keys";

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
            HttpSecretsManager::from_env_for(&env(pairs), NEEDED_BY)
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
            let e = HttpSecretsManager::from_env_for(&env(&pairs), NEEDED_BY).unwrap_err();
            assert_eq!(e.var(), var, "{pairs:?}: {e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let e = HttpSecretsManager::from_env_for(&env(&[("AWS_SECRET_ACCESS_KEY", "")]), NEEDED_BY)
            .unwrap_err();
        assert!(e.to_string().contains("IDENTITY_SECRET_ARNS"), "{e}");
    }

    /// The request: `POST /` to the endpoint, the awsJson1.1 headers, the
    /// ARN in the body, all signed for `secretsmanager` in the region.
    #[tokio::test]
    async fn the_request_is_a_signed_get_secret_value() {
        let sm = HttpSecretsManager::from_env_for(
            &env(&[
                ("AWS_SESSION_TOKEN", "session-token"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
            ]),
            NEEDED_BY,
        )
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
        let s = secret_value(br#"{"ARN":"a","Name":"n","SecretString":"hunter2","VersionId":"v"}"#)
            .unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&s.string), "hunter2");
        assert_eq!(s.version_id.as_deref(), Some("v"));
        for (body, says) in [
            (
                &br#"{"SecretString": hunter2}"#[..],
                "not the expected JSON",
            ),
            (br#"{"ARN":"a","SecretBinary":"aHVudGVyMg=="}"#, "binary"),
            (br#"{"ARN":"a"}"#, "no string value"),
        ] {
            let e = secret_value(body).err().unwrap().to_string();
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
            let e = error_of(status, &hyper::HeaderMap::new(), body).explain("IDENTITY_SECRET_ARNS");
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
        let e = error_of(400, &headers, b"").explain("IDENTITY_SECRET_ARNS");
        assert!(
            e.contains("UnrecognizedClientException (HTTP 400): the function's AWS credentials"),
            "{e}"
        );
    }
}
