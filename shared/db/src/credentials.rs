//! Where the secret and IAM sources get their credentials, and connect
//! options made with fresh ones.
//!
//! - RDS IAM tokens are signed here with `aws-sigv4` ([`IamCredentials::token`]):
//!   no SDK client, no HTTP stack. The AWS credentials come from an injectable
//!   [`ProvideCredentials`] source: the Lambda environment
//!   ([`IamCredentials::from_env`]), the process's SDK configuration
//!   (`IamCredentials::from_sdk`, feature `secrets-manager`), or anything a
//!   caller hands in ([`IamCredentials::new`], e.g. a role's credentials).
//! - Secrets Manager (feature `secrets-manager`): an RDS-format JSON secret.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

use portcullis_core::config::{ConfigError, Env};

use crate::config::{DbConfig, DbSource};
use crate::error::DbError;

/// RDS IAM tokens are valid for this long (the service maximum).
const IAM_TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// AWS credentials and region for signing RDS IAM auth tokens.
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
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` and `AWS_REGION`
    /// (or `AWS_DEFAULT_REGION`). Read once; a missing variable is named.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        IamCredentials::from_env_for(env, "DB_IAM_AUTH to sign RDS IAM auth tokens")
    }

    /// [`IamCredentials::from_env`] for another use of the same credentials:
    /// `needed_by` says which in the error naming a missing variable
    /// (`"IDENTITY_SECRET_ARNS to sign its GetSecretValue requests"`).
    pub fn from_env_for(env: &Env, needed_by: &str) -> Result<Self, ConfigError> {
        let needed = format!("(needed by {needed_by}; Lambda sets it)");
        let region = env
            .get("AWS_REGION")
            .or_else(|| env.get("AWS_DEFAULT_REGION"))
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ConfigError::Missing {
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
    #[cfg(feature = "secrets-manager")]
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        IamCredentials {
            region: sdk.region().map(|r| r.as_ref().to_owned()),
            provider: sdk.credentials_provider(),
        }
    }

    /// A fresh RDS IAM auth token: a presigned `rds-db:connect` URL, valid
    /// 15 minutes, made locally (no network call).
    pub async fn token(&self, host: &str, port: u16, user: &str) -> Result<SecretString, DbError> {
        let err = |reason: String| DbError::IamToken {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
            reason,
        };
        let (region, credentials) = self.resolve().await.map_err(err)?;
        sign_token(host, port, user, region, credentials, SystemTime::now())
            .map(SecretString::from)
            .map_err(err)
    }
}

/// A request to sign with [`sign_headers`].
pub(crate) struct SignedRequest<'a> {
    pub(crate) service: &'a str,
    pub(crate) method: &'a str,
    pub(crate) url: &'a str,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) body: &'a [u8],
}

/// SigV4 in headers, at `time`: the headers to add.
pub(crate) fn sign_headers(
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
pub(crate) fn sign_token(
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

/// What a [`crate::Database`] needs from AWS besides its configuration.
#[derive(Clone, Debug, Default)]
pub struct AwsAccess {
    pub(crate) iam: Option<IamCredentials>,
    #[cfg(feature = "secrets-manager")]
    pub(crate) secrets: Option<aws_sdk_secretsmanager::Client>,
}

impl AwsAccess {
    /// Nothing: enough for `DATABASE_URL`.
    pub fn none() -> Self {
        AwsAccess::default()
    }

    /// Sign RDS IAM tokens with these credentials.
    pub fn with_iam(mut self, credentials: IamCredentials) -> Self {
        self.iam = Some(credentials);
        self
    }

    /// A Secrets Manager client and IAM credentials from one SDK configuration.
    #[cfg(feature = "secrets-manager")]
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        AwsAccess {
            iam: Some(IamCredentials::from_sdk(sdk)),
            secrets: Some(aws_sdk_secretsmanager::Client::new(sdk)),
        }
    }
}

/// Connect options with fresh credentials.
pub(crate) struct Fresh {
    pub(crate) options: PgConnectOptions,
    /// The secret's VersionId (secret source).
    pub(crate) version: Option<String>,
}

/// Re-creates connect options with fresh credentials.
pub(crate) enum Refresher {
    #[cfg(feature = "secrets-manager")]
    Secret {
        client: aws_sdk_secretsmanager::Client,
        arn: String,
        host: Option<String>,
        port: Option<u16>,
        database: Option<String>,
    },
    Iam {
        credentials: IamCredentials,
        host: String,
        port: u16,
        user: String,
        database: String,
    },
}

impl Refresher {
    /// The refresher a source needs (`None` for `DATABASE_URL`).
    pub(crate) fn for_source(
        source: &DbSource,
        aws: AwsAccess,
    ) -> Result<Option<Refresher>, DbError> {
        match source {
            DbSource::Url(_) => Ok(None),
            #[cfg(feature = "secrets-manager")]
            DbSource::Secret {
                arn,
                host,
                port,
                database,
            } => Ok(Some(Refresher::Secret {
                client: aws.secrets.ok_or_else(|| {
                    DbError::Config(ConfigError::Missing {
                        var: "AWS_REGION".to_owned(),
                        expected: "an AWS SDK configuration (DB_SECRET_ARN reads Secrets Manager)"
                            .to_owned(),
                    })
                })?,
                arn: arn.clone(),
                host: host.clone(),
                port: *port,
                database: database.clone(),
            })),
            #[cfg(not(feature = "secrets-manager"))]
            DbSource::Secret { .. } => Err(DbError::Config(ConfigError::invalid(
                "DB_SECRET_ARN",
                "unset in this function: it is built without Secrets Manager support; use \
                 DB_IAM_AUTH=true",
                "this function cannot read Secrets Manager",
            ))),
            DbSource::Iam {
                host,
                port,
                user,
                database,
            } => Ok(Some(Refresher::Iam {
                credentials: aws.iam.ok_or_else(|| {
                    DbError::Config(ConfigError::Missing {
                        var: "AWS_ACCESS_KEY_ID".to_owned(),
                        expected: "AWS credentials and a region (DB_IAM_AUTH signs RDS IAM tokens)"
                            .to_owned(),
                    })
                })?,
                host: host.clone(),
                port: *port,
                user: user.clone(),
                database: database.clone(),
            })),
        }
    }

    pub(crate) fn is_iam(&self) -> bool {
        matches!(self, Refresher::Iam { .. })
    }

    /// Where the credentials come from, for messages.
    pub(crate) fn origin(&self) -> String {
        match self {
            #[cfg(feature = "secrets-manager")]
            Refresher::Secret { arn, .. } => format!("secret {arn}"),
            Refresher::Iam { user, .. } => format!("an RDS IAM token for user {user}"),
        }
    }

    pub(crate) fn hint(&self) -> String {
        match self {
            #[cfg(feature = "secrets-manager")]
            Refresher::Secret { .. } => "the secret was re-read and its username/password still \
                                         do not match the database role; fix the secret (or \
                                         finish the rotation)"
                .to_owned(),
            Refresher::Iam { user, .. } => format!(
                "grant rds_iam to role {user}, enable IAM authentication on the instance, and allow rds-db:connect \
                 for that user to the function role"
            ),
        }
    }

    pub(crate) async fn connect_options(&self, cfg: &DbConfig) -> Result<Fresh, DbError> {
        match self {
            #[cfg(feature = "secrets-manager")]
            Refresher::Secret {
                client,
                arn,
                host,
                port,
                database,
            } => secrets::connect_options(client, arn, host, *port, database.as_deref(), cfg).await,
            Refresher::Iam {
                credentials,
                host,
                port,
                user,
                database,
            } => {
                let token = credentials.token(host, *port, user).await?;
                let opts = PgConnectOptions::new_without_pgpass()
                    .host(host)
                    .port(*port)
                    .username(user)
                    .password(token.expose_secret())
                    .database(database);
                Ok(Fresh {
                    options: cfg.finish(opts),
                    version: None,
                })
            }
        }
    }
}

/// Secrets Manager: reading and parsing the RDS-format secret.
#[cfg(feature = "secrets-manager")]
mod secrets {
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use secrecy::{ExposeSecret, SecretString};
    use sqlx::postgres::PgConnectOptions;
    use std::fmt;

    use portcullis_core::config::ConfigError;

    use super::Fresh;
    use crate::config::DbConfig;
    use crate::error::DbError;

    /// Database credentials parsed from an RDS-format secret.
    pub(super) struct SecretCredentials {
        pub(super) username: String,
        pub(super) password: SecretString,
        pub(super) host: Option<String>,
        pub(super) port: Option<u16>,
        pub(super) dbname: Option<String>,
    }

    /// Read the secret now and build connect options from it.
    pub(super) async fn connect_options(
        client: &aws_sdk_secretsmanager::Client,
        arn: &str,
        host: &Option<String>,
        port: Option<u16>,
        database: Option<&str>,
        cfg: &DbConfig,
    ) -> Result<Fresh, DbError> {
        let out = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| secret_error(arn, e))?;
        let text = out.secret_string().ok_or_else(|| DbError::SecretFormat {
            arn: arn.to_owned(),
            reason: "it has no SecretString (binary secrets are not supported)".to_owned(),
        })?;
        let creds = parse_secret(arn, text)?;
        let host = host.clone().or(creds.host).ok_or_else(|| {
            DbError::Config(ConfigError::Missing {
                var: "DB_HOST".to_owned(),
                expected: format!("the database host (secret {arn} has no \"host\" field)"),
            })
        })?;
        let opts = PgConnectOptions::new_without_pgpass()
            .host(&host)
            .port(port.or(creds.port).unwrap_or(5432))
            .username(&creds.username)
            .password(creds.password.expose_secret())
            .database(database.or(creds.dbname.as_deref()).unwrap_or("postgres"));
        Ok(Fresh {
            options: cfg.finish(opts),
            version: out.version_id().map(str::to_owned),
        })
    }

    /// Parse the RDS secret JSON. Error messages name fields, never values.
    pub(super) fn parse_secret(arn: &str, text: &str) -> Result<SecretCredentials, DbError> {
        let bad = |reason: &str| DbError::SecretFormat {
            arn: arn.to_owned(),
            reason: reason.to_owned(),
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|_| bad("the secret string is not JSON"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| bad("the secret JSON is not an object"))?;
        let string = |field: &str| -> Result<Option<String>, DbError> {
            match obj.get(field) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(&format!("field \"{field}\" is not a string"))),
            }
        };
        if string("engine")?
            .is_some_and(|e| !matches!(e.as_str(), "postgres" | "postgresql" | "aurora-postgresql"))
        {
            return Err(bad("field \"engine\" is not postgres or aurora-postgresql"));
        }
        let username = string("username")?.ok_or_else(|| bad("field \"username\" is missing"))?;
        let password = match obj.get("password") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => SecretString::from(s.clone()),
            Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
                return Err(bad("field \"password\" is missing or empty"));
            }
            Some(_) => return Err(bad("field \"password\" is not a string")),
        };
        let port = match obj.get("port") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("field \"port\" is not a TCP port"))?,
            ),
            Some(serde_json::Value::String(s)) => Some(
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("field \"port\" is not a TCP port"))?,
            ),
            Some(_) => return Err(bad("field \"port\" is not a TCP port")),
        };
        Ok(SecretCredentials {
            username,
            password,
            host: string("host")?,
            port,
            dbname: string("dbname")?,
        })
    }

    fn secret_error<R>(
        arn: &str,
        err: SdkError<aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError, R>,
    ) -> DbError
    where
        R: fmt::Debug,
    {
        let (code, hint) = match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => (
                "unreachable".to_owned(),
                "Secrets Manager could not be reached: from a VPC add a secretsmanager interface endpoint or a NAT \
                 route; locally check AWS_ENDPOINT_URL",
            ),
            _ => {
                let code = err.code().unwrap_or("unknown error").to_owned();
                let hint = match code.as_str() {
                    "AccessDeniedException" => {
                        "grant secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key) to the function role"
                    }
                    "ResourceNotFoundException" => {
                        "no such secret in this account and region; check DB_SECRET_ARN"
                    }
                    "DecryptionFailure" => {
                        "grant kms:Decrypt on the secret's KMS key to the function role"
                    }
                    "InvalidRequestException" => {
                        "the secret may be scheduled for deletion; restore it or point DB_SECRET_ARN at another one"
                    }
                    _ => "see the AWS error code; check DB_SECRET_ARN and the function role",
                };
                (code, hint)
            }
        };
        DbError::SecretUnavailable {
            arn: arn.to_owned(),
            code,
            hint,
            detail: DisplayErrorContext(&err).to_string(),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";

        #[test]
        fn rds_secret_with_all_fields_is_parsed() {
            let creds = parse_secret(
                ARN,
                r#"{"username":"app","password":"pw","engine":"postgres","host":"h","port":5433,"dbname":"d"}"#,
            )
            .unwrap();
            assert_eq!(creds.username, "app");
            assert_eq!(creds.password.expose_secret(), "pw");
            assert_eq!(creds.host.as_deref(), Some("h"));
            assert_eq!(creds.port, Some(5433));
            assert_eq!(creds.dbname.as_deref(), Some("d"));
            let minimal =
                parse_secret(ARN, r#"{"username":"app","password":"pw","port":"6432"}"#).unwrap();
            assert_eq!(minimal.port, Some(6432));
            assert_eq!(minimal.host, None);
        }

        #[test]
        fn malformed_secrets_are_rejected_without_echoing_values() {
            for (text, needle) in [
                ("not json hunter2", "not JSON"),
                (r#"["hunter2"]"#, "not an object"),
                (r#"{"password":"hunter2"}"#, "username"),
                (r#"{"username":"app"}"#, "password"),
                (r#"{"username":"app","password":""}"#, "password"),
                (r#"{"username":"app","password":987654}"#, "password"),
                (
                    r#"{"username":"app","password":"hunter2","port":"hunter2"}"#,
                    "port",
                ),
                (
                    r#"{"username":"app","password":"hunter2","port":99999}"#,
                    "port",
                ),
                (
                    r#"{"username":"app","password":"hunter2","engine":"mysql"}"#,
                    "engine",
                ),
            ] {
                let err = parse_secret(ARN, text)
                    .err()
                    .unwrap_or_else(|| panic!("{text} must be rejected"));
                let msg = err.to_string();
                assert!(matches!(err, DbError::SecretFormat { .. }), "{msg}");
                assert!(msg.contains(needle) && msg.contains(ARN), "{msg}");
                assert!(!msg.contains("hunter2") && !msg.contains("987654"), "{msg}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::future;

    fn static_credentials(region: &str) -> IamCredentials {
        IamCredentials::new(
            region,
            Credentials::new("AKIDTEST", "secret", None, None, "test"),
        )
    }

    #[tokio::test]
    async fn iam_token_is_a_presigned_connect_url_for_the_user() {
        let token = static_credentials("eu-west-1")
            .token("db.example.eu-west-1.rds.amazonaws.com", 5432, "app")
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
            .token("db.example", 5432, "app")
            .await
            .unwrap_err();
        assert!(matches!(err, DbError::IamToken { .. }), "{err}");
        assert!(err.to_string().contains("credentials"), "{err}");
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
            let err = IamCredentials::from_env(&env(&pairs)).unwrap_err();
            assert_eq!(err.var(), missing);
        }
        let creds = IamCredentials::from_env(&env(&full)).unwrap();
        assert!(!format!("{creds:?}").contains("hunter2"));
        let token = creds.token("db.example", 5432, "app").await.unwrap();
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
