//! Where the secret and IAM sources get their credentials, and connect
//! options made with fresh ones.
//!
//! - RDS IAM tokens: [`IamCredentials::rds_token`] of `portcullis-aws` (SigV4
//!   presigning, no SDK client, no HTTP stack), with credentials from the
//!   Lambda environment (`IamCredentials::from_env_for`), the process's SDK
//!   configuration (`IamCredentials::from_sdk`, feature `secrets-manager`),
//!   or anything a caller hands in (`IamCredentials::new`).
//! - Secrets Manager (feature `secrets-manager`): an RDS-format JSON secret,
//!   read with `portcullis-aws`'s reader (the SDK client).

use portcullis_aws::IamCredentials;
use secrecy::ExposeSecret;
use sqlx::postgres::PgConnectOptions;

use portcullis_core::config::{ConfigError, Env};

use crate::config::{DbConfig, DbSource};
use crate::error::DbError;

/// What the database's IAM credentials are for, in the error naming a
/// missing Lambda variable.
const IAM_NEEDED_BY: &str = "DB_IAM_AUTH to sign RDS IAM auth tokens";

/// The Lambda environment's credentials for RDS IAM tokens
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`). Read once; a missing variable is named.
pub fn iam_credentials(env: &Env) -> Result<IamCredentials, ConfigError> {
    IamCredentials::from_env_for(env, IAM_NEEDED_BY)
}

/// A fresh RDS IAM auth token for `user` at `host:port`.
async fn iam_token(
    credentials: &IamCredentials,
    host: &str,
    port: u16,
    user: &str,
) -> Result<secrecy::SecretString, DbError> {
    credentials
        .rds_token(host, port, user)
        .await
        .map_err(|reason| DbError::IamToken {
            user: user.to_owned(),
            host: host.to_owned(),
            port,
            reason,
        })
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
            secrets: Some(portcullis_aws::clients::secrets_manager(sdk)),
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
                let token = iam_token(credentials, host, *port, user).await?;
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
    use portcullis_aws::secrets::{SecretError, SecretSource};
    use secrecy::{ExposeSecret, SecretString};
    use sqlx::postgres::PgConnectOptions;

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
        let out = SecretSource::get_secret_value(client, arn)
            .await
            .map_err(|e| secret_error(arn, e))?;
        let creds = parse_secret(arn, out.string.expose_secret())?;
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
            version: out.version_id,
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

    /// A secret that could not be read, saying what to do about it.
    fn secret_error(arn: &str, err: SecretError) -> DbError {
        match err {
            SecretError::NotAString { .. } => DbError::SecretFormat {
                arn: arn.to_owned(),
                reason: "it has no SecretString (binary secrets are not supported)".to_owned(),
            },
            _ => DbError::SecretUnavailable {
                arn: arn.to_owned(),
                code: match err.code() {
                    "" => "unknown error".to_owned(),
                    code => code.to_owned(),
                },
                hint: err.hint("DB_SECRET_ARN"),
                detail: err.to_string(),
            },
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
    use aws_credential_types::provider::{ProvideCredentials, future};

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
        let err = iam_token(
            &IamCredentials::new("eu-west-1", NoCredentials),
            "db.example",
            5432,
            "app",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, DbError::IamToken { .. }), "{err}");
        assert!(err.to_string().contains("credentials"), "{err}");
    }

    #[tokio::test]
    async fn lambda_environment_credentials_sign_tokens_and_name_what_is_missing() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().copied());
        let e = iam_credentials(&env(&[("AWS_REGION", "eu-west-1")])).unwrap_err();
        assert_eq!(e.var(), "AWS_ACCESS_KEY_ID");
        assert!(e.to_string().contains("DB_IAM_AUTH"), "{e}");
        let creds = iam_credentials(&env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ]))
        .unwrap();
        let token = iam_token(&creds, "db.example", 5432, "app").await.unwrap();
        assert!(token.expose_secret().contains("DBUser=app"));
    }
}
