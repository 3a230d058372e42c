//! IAM credentials and SigV4 signing: the one place Portcullis signs an AWS
//! request without an SDK client.
//!
//! - [`IamCredentials`]: a region and an injectable [`ProvideCredentials`]
//!   source: the Lambda environment ([`IamCredentials::from_env_for`]), an
//!   SDK configuration (`IamCredentials::from_sdk`, feature `sdk`), or
//!   anything a caller hands in ([`IamCredentials::new`], e.g. a role's
//!   credentials).
//! - [`IamCredentials::sign_request`]: SigV4 in headers, for an AWS API
//!   called without its SDK client (the lean Secrets Manager reader).
//! - [`IamCredentials::rds_token`]: an RDS IAM auth token, SigV4 presigned
//!   in the query string (no SDK client, no HTTP stack; `portcullis-db`
//!   logs in with it).

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use secrecy::SecretString;

use portcullis_core::config::{ConfigError, Env};

/// RDS IAM tokens are valid for this long (the service maximum).
const IAM_TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// AWS credentials and region, for signing requests and RDS IAM auth tokens.
#[derive(Clone)]
pub struct IamCredentials {
    region: Option<String>,
    provider: Option<SharedCredentialsProvider>,
}

impl fmt::Debug for IamCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamCredentials")
            .field("region", &self.region)
            .field("provider", &self.provider.as_ref().map(|_| "set"))
            .finish()
    }
}

impl IamCredentials {
    /// Credentials from any source (the injection point: a local gateway can
    /// hand each function its own role's credentials).
    pub fn new(region: impl Into<String>, provider: impl ProvideCredentials + 'static) -> Self {
        IamCredentials {
            region: Some(region.into()),
            provider: Some(SharedCredentialsProvider::new(provider)),
        }
    }

    /// What Lambda gives every function: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and the region
    /// ([`crate::region`]). Read once; a missing variable is named, and
    /// `needed_by` says what needs it (`"DB_IAM_AUTH to sign RDS IAM auth
    /// tokens"`).
    pub fn from_env_for(env: &Env, needed_by: &str) -> Result<Self, ConfigError> {
        let needed = format!("(needed by {needed_by}; Lambda sets it)");
        let region = crate::region(env).ok_or_else(|| ConfigError::Missing {
            var: "AWS_REGION".to_owned(),
            expected: format!("the AWS region the function runs in {needed}"),
        })?;
        let key = env.required(
            "AWS_ACCESS_KEY_ID",
            &format!("an AWS access key id {needed}"),
        )?;
        let secret = env.required(
            "AWS_SECRET_ACCESS_KEY",
            &format!("the AWS secret access key {needed}"),
        )?;
        let session = env
            .get("AWS_SESSION_TOKEN")
            .filter(|t| !t.trim().is_empty());
        Ok(IamCredentials::new(
            region,
            Credentials::new(key.trim(), secret.trim(), session, None, "environment"),
        ))
    }

    /// The AWS region, when one is configured.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The region and the credentials now (a provider may refresh them).
    async fn resolve(&self) -> Result<(&str, Credentials), String> {
        let region = self
            .region
            .as_deref()
            .ok_or("no AWS region is configured (AWS_REGION)")?;
        let provider = self
            .provider
            .as_ref()
            .ok_or("no AWS credentials are configured")?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("the AWS credentials could not be loaded: {e}"))?;
        Ok((region, credentials))
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` with a session) that sign `method url` with
    /// `headers` and `body` for AWS service `service` (its signing name,
    /// e.g. `secretsmanager`) in this region, now. Send them and `headers`
    /// (which should hold `host`) as they are. For an AWS API called without
    /// its SDK client (the authorizer's Secrets Manager reads).
    pub async fn sign_request(
        &self,
        service: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let (region, credentials) = self.resolve().await?;
        sign_headers(
            SignedRequest {
                service,
                method,
                url,
                headers,
                body,
            },
            region,
            credentials,
            SystemTime::now(),
        )
    }

    /// Region and credentials provider of an SDK configuration (either may
    /// be absent; making a token then fails saying which).
    #[cfg(feature = "sdk")]
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        IamCredentials {
            region: sdk.region().map(|r| r.as_ref().to_owned()),
            provider: sdk.credentials_provider(),
        }
    }

    /// A fresh RDS IAM auth token for `user` at `host:port`: a presigned
    /// `rds-db:connect` URL, valid 15 minutes, made locally (no network
    /// call). The error says why (no region, no credentials, ...).
    pub async fn rds_token(
        &self,
        host: &str,
        port: u16,
        user: &str,
    ) -> Result<SecretString, String> {
        let (region, credentials) = self.resolve().await?;
        sign_token(host, port, user, region, credentials, SystemTime::now()).map(SecretString::from)
    }
}

/// A request to sign with [`sign_headers`].
struct SignedRequest<'a> {
    service: &'a str,
    method: &'a str,
    url: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a [u8],
}

/// SigV4 in headers, at `time`: the headers to add.
fn sign_headers(
    request: SignedRequest<'_>,
    region: &str,
    credentials: Credentials,
    time: SystemTime,
) -> Result<Vec<(String, String)>, String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(request.service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?;
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| format!("the request cannot be signed: {e}"))?;
    let (instructions, _signature) = sign(signable, &params.into())
        .map_err(|e| format!("the request cannot be signed: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect())
}

/// Sign `https://host:port/?Action=connect&DBUser=user` for `rds-db` with
/// SigV4 in the query string, and drop the scheme: the same token as
/// `aws_sdk_rds::auth_token::AuthTokenGenerator` (a test holds them equal).
fn sign_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: Credentials,
    time: SystemTime,
) -> Result<String, String> {
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    use aws_sigv4::sign::v4;

    let identity = credentials.into();
    let mut settings = SigningSettings::default();
    settings.expires_in = Some(IAM_TOKEN_LIFETIME);
    settings.signature_location = SignatureLocation::QueryParams;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={user}");
    let request = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::empty())
        .map_err(|e| e.to_string())?;
    let (instructions, _signature) = sign(request, &params.into())
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut signed = url::Url::parse(&url).map_err(|e| format!("host or user: {e}"))?;
    for (name, value) in instructions.params() {
        signed.query_pairs_mut().append_pair(name, value);
    }
    let text = signed.to_string();
    Ok(text
        .strip_prefix("https://")
        .map_or_else(|| text.clone(), str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future;
    use secrecy::ExposeSecret as _;

    fn static_credentials(region: &str) -> IamCredentials {
        IamCredentials::new(
            region,
            Credentials::new("AKIDTEST", "secret", None, None, "test"),
        )
    }

    #[tokio::test]
    async fn iam_token_is_a_presigned_connect_url_for_the_user() {
        let token = static_credentials("eu-west-1")
            .rds_token("db.example.eu-west-1.rds.amazonaws.com", 5432, "app")
            .await
            .unwrap();
        let t = token.expose_secret();
        assert!(
            t.starts_with("db.example.eu-west-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app"),
            "{t}"
        );
        assert!(
            t.contains("X-Amz-Expires=900") && t.contains("eu-west-1%2Frds-db"),
            "{t}"
        );
    }

    /// The token is byte for byte what the SDK's own generator makes from the
    /// same credentials, region and time (`aws-sdk-rds` is the reference).
    #[tokio::test]
    async fn iam_token_is_exactly_the_aws_sdk_rds_token() {
        use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};
        use aws_types::sdk_config::{SdkConfig, TimeSource};

        #[derive(Debug)]
        struct Fixed(SystemTime);
        impl TimeSource for Fixed {
            fn now(&self) -> SystemTime {
                self.0
            }
        }

        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        for (session, user) in [
            (None, "app"),
            (Some("FwoGZXIvYXdzEXAMPLE"), "portcullis_app"),
        ] {
            let creds = Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI",
                session.map(str::to_owned),
                None,
                "test",
            );
            let ours = sign_token(
                "db.x.eu-west-1.rds.amazonaws.com",
                5432,
                user,
                "eu-west-1",
                creds.clone(),
                at,
            )
            .unwrap();
            let sdk = SdkConfig::builder()
                .region(aws_types::region::Region::new("eu-west-1"))
                .credentials_provider(SharedCredentialsProvider::new(creds))
                .time_source(Fixed(at))
                .build();
            let generator = AuthTokenGenerator::new(
                Config::builder()
                    .hostname("db.x.eu-west-1.rds.amazonaws.com")
                    .port(5432)
                    .username(user)
                    .expires_in(900)
                    .build()
                    .unwrap(),
            );
            let theirs = generator.auth_token(&sdk).await.unwrap();
            assert_eq!(ours, theirs.as_str());
        }
    }

    #[derive(Debug)]
    struct NoCredentials;
    impl ProvideCredentials for NoCredentials {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
                "nothing in this test",
            )))
        }
    }

    #[tokio::test]
    async fn iam_token_without_credentials_says_what_is_missing() {
        let err = IamCredentials::new("eu-west-1", NoCredentials)
            .rds_token("db.example", 5432, "app")
            .await
            .unwrap_err();
        assert!(err.contains("credentials"), "{err}");
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[tokio::test]
    async fn lambda_environment_credentials_are_read_once_and_named_when_missing() {
        let full = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "hunter2-secret"),
            ("AWS_SESSION_TOKEN", "session-token"),
        ];
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let pairs: Vec<_> = full
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = IamCredentials::from_env_for(&env(&pairs), "a test").unwrap_err();
            assert_eq!(err.var(), missing);
        }
        let creds = IamCredentials::from_env_for(&env(&full), "a test").unwrap();
        assert!(!format!("{creds:?}").contains("hunter2"));
        let token = creds.rds_token("db.example", 5432, "app").await.unwrap();
        let t = token.expose_secret();
        assert!(
            t.contains("X-Amz-Security-Token=session-token") && t.contains("AKIDTEST"),
            "{t}"
        );
    }

    /// A request signed in headers: the scope names the service, region and
    /// day; every given header and the session token are signed.
    #[tokio::test]
    async fn a_request_is_signed_in_headers_for_its_service() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000); // 2026-09-21
        let creds = Credentials::new("AKIDTEST", "secret", Some("tok".into()), None, "test");
        let headers = [
            ("host", "secretsmanager.eu-west-1.amazonaws.com"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let request = |body: &'static [u8]| SignedRequest {
            service: "secretsmanager",
            method: "POST",
            url: "https://secretsmanager.eu-west-1.amazonaws.com/",
            headers: &headers,
            body,
        };
        let signed = sign_headers(request(b"{}"), "eu-west-1", creds.clone(), at).unwrap();
        let get = |name: &str| {
            signed
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{name} in {signed:?}"))
        };
        let auth = get("authorization");
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260921/eu-west-1/secretsmanager/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="
            ),
            "{auth}"
        );
        assert_eq!(get("x-amz-date"), "20260921T141320Z");
        assert_eq!(get("x-amz-security-token"), "tok");
        // The body is signed: another body, another signature.
        let other = sign_headers(request(b"{ }"), "eu-west-1", creds, at).unwrap();
        assert_ne!(signed, other);

        // Now, with the credentials of the Lambda environment.
        let env = env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]);
        let creds = IamCredentials::from_env_for(&env, "a test").unwrap();
        assert_eq!(creds.region(), Some("eu-west-1"));
        let signed = creds
            .sign_request(
                "secretsmanager",
                "POST",
                "https://x.invalid/",
                &headers,
                b"{}",
            )
            .await
            .unwrap();
        assert!(
            signed.iter().any(|(n, _)| n == "authorization"),
            "{signed:?}"
        );
        assert!(!signed.iter().any(|(n, _)| n == "x-amz-security-token"));
        let e =
            IamCredentials::from_env_for(&Env::from_pairs::<&str, &str>([]), "a test").unwrap_err();
        assert!(e.to_string().contains("needed by a test"), "{e}");
    }
}
