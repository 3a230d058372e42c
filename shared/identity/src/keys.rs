//! The signers' identity keys, from Secrets Manager (feature `secrets-manager`):
//! the one loader the proxy and the authorizer share.
//!
//! `IDENTITY_SECRET_ARNS=<service>=<secret ARN or name>,...` names one
//! secret per service the function signs for (Terraform sets it); each
//! secret string is base64 of at least 32 random bytes. A signer passes the
//! services it must hold a key for, and the list must name exactly those:
//! the proxy the `integration: lambda` services enabled in its environment,
//! the authorizer the `integration: vpc_link` ones. An empty set needs no
//! variable and makes no Secrets Manager call.

use crate::SigningKey;
use portcullis_core::{ConfigError, Env};
use std::collections::{BTreeMap, HashMap};

/// The variable naming each service's identity secret.
pub const IDENTITY_SECRET_ARNS: &str = "IDENTITY_SECRET_ARNS";
/// The single shared key of earlier releases: refused with what to do.
const RETIRED_IDENTITY_SECRET_ARN: &str = "IDENTITY_SECRET_ARN";

/// Why the keys cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `IDENTITY_SECRET_ARNS` (or the SDK settings) is missing or malformed.
    #[error(transparent)]
    Env(#[from] ConfigError),
    /// A secret could not be read or is not a key.
    #[error("the identity signing keys cannot be loaded ({IDENTITY_SECRET_ARNS}): {0}")]
    Secret(String),
}

/// The services a signer must hold keys for: their names, and what they
/// are, for the errors (`"integration: lambda services enabled here"`).
#[derive(Debug, Clone, Copy)]
pub struct Required<'a> {
    pub names: &'a [&'a str],
    pub what: &'a str,
}

/// Each required service's secret from `IDENTITY_SECRET_ARNS`: every one
/// exactly once, no other name. With no required service the variable may
/// be absent or empty (and must not name any service).
pub fn identity_secret_arns(
    required: Required<'_>,
    env: &Env,
) -> Result<BTreeMap<String, String>, KeyError> {
    let expected = format!(
        "<service>=<Secrets Manager secret ARN>,... with one secret per {} (Terraform sets it)",
        required.what
    );
    let invalid = |reason: String| {
        KeyError::Env(ConfigError::invalid(
            IDENTITY_SECRET_ARNS,
            &expected,
            reason,
        ))
    };
    if env.get(IDENTITY_SECRET_ARNS).is_none() && env.get(RETIRED_IDENTITY_SECRET_ARN).is_some() {
        return Err(invalid(format!(
            "it is not set, and {RETIRED_IDENTITY_SECRET_ARN} (one key shared by every service) is no longer read: give each service its own secret"
        )));
    }
    let entries = if required.names.is_empty() {
        env.list(IDENTITY_SECRET_ARNS)
    } else {
        env.required_list(IDENTITY_SECRET_ARNS, &expected)?
    };
    let mut arns = BTreeMap::new();
    for entry in entries {
        let (name, arn) = entry
            .split_once('=')
            .map(|(n, a)| (n.trim(), a.trim()))
            .filter(|(n, a)| !n.is_empty() && !a.is_empty())
            .ok_or_else(|| invalid(format!("{entry:?} is not <service>=<secret ARN>")))?;
        if !required.names.contains(&name) {
            return Err(invalid(format!(
                "service {name:?} is not one of the {}: this function holds no key of another service",
                required.what
            )));
        }
        if arns.insert(name.to_owned(), arn.to_owned()).is_some() {
            return Err(invalid(format!("service {name:?} is named twice")));
        }
    }
    let mut missing: Vec<&str> = required
        .names
        .iter()
        .copied()
        .filter(|n| !arns.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        return Err(invalid(format!(
            "no secret for service(s) {}",
            missing.join(", ")
        )));
    }
    Ok(arns)
}

/// The required services' keys: `IDENTITY_SECRET_ARNS` read with
/// [`identity_secret_arns`], then each secret with the SDK configuration of
/// `env` (`portcullis_core::aws::sdk_config_in`). No required service: an
/// empty map, without loading the SDK configuration or calling Secrets Manager.
pub async fn load(
    required: Required<'_>,
    env: &Env,
) -> Result<HashMap<String, SigningKey>, KeyError> {
    let arns = identity_secret_arns(required, env)?;
    if arns.is_empty() {
        return Ok(HashMap::new());
    }
    let sdk = portcullis_core::aws::sdk_config_in(env).await?;
    signing_keys(&aws_sdk_secretsmanager::Client::new(&sdk), &arns).await
}

/// Every named service's key, read concurrently (one GetSecretValue each).
pub async fn signing_keys(
    client: &aws_sdk_secretsmanager::Client,
    arns: &BTreeMap<String, String>,
) -> Result<HashMap<String, SigningKey>, KeyError> {
    let mut reads = tokio::task::JoinSet::new();
    for (service, arn) in arns {
        let (client, service, arn) = (client.clone(), service.clone(), arn.clone());
        reads.spawn(async move {
            let key = signing_key(&client, &arn).await.map_err(|e| match e {
                KeyError::Secret(why) => {
                    KeyError::Secret(format!("service {service} ({arn}): {why}"))
                }
                other => other,
            })?;
            Ok::<_, KeyError>((service, key))
        });
    }
    let mut keys = HashMap::with_capacity(arns.len());
    while let Some(read) = reads.join_next().await {
        let (service, key) =
            read.map_err(|e| KeyError::Secret(format!("a key read did not finish: {e}")))??;
        keys.insert(service, key);
    }
    Ok(keys)
}

/// Fetch one signing key (the secret string is base64 of ≥ 32 bytes).
pub async fn signing_key(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<SigningKey, KeyError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            KeyError::Secret(format!(
                "GetSecretValue failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            ))
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| KeyError::Secret("the secret has no string value".to_owned()))?;
    SigningKey::from_base64(text).map_err(|e| KeyError::Secret(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: Required<'static> = Required {
        names: &["my-svc", "other"],
        what: "integration: lambda services enabled here",
    };

    #[test]
    fn each_service_names_its_own_identity_secret() {
        let env = Env::from_pairs([(
            IDENTITY_SECRET_ARNS,
            "my-svc=arn:aws:secretsmanager:r:1:secret:p/identity/my-svc-AbCdEf, other=p/identity/other",
        )]);
        let arns = identity_secret_arns(TWO, &env).unwrap();
        assert_eq!(
            arns["my-svc"],
            "arn:aws:secretsmanager:r:1:secret:p/identity/my-svc-AbCdEf"
        );
        assert_eq!(arns["other"], "p/identity/other");
    }

    #[test]
    fn a_service_without_a_secret_or_an_unknown_or_repeated_one_is_refused() {
        for (value, says) in [
            ("my-svc=a", "no secret for service(s) other"),
            (
                "my-svc=a,other=b,ghost=c",
                "\"ghost\" is not one of the integration: lambda services enabled here",
            ),
            ("my-svc=a,other=b,other=c", "named twice"),
            ("my-svc=a,other", "is not <service>=<secret ARN>"),
        ] {
            let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, value)]);
            let e = identity_secret_arns(TWO, &env).unwrap_err().to_string();
            assert!(
                e.contains(says) && e.contains(IDENTITY_SECRET_ARNS),
                "{value}: {e}"
            );
        }
        let e = identity_secret_arns(TWO, &Env::from_pairs::<&str, &str>([]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(IDENTITY_SECRET_ARNS), "{e}");
        // The single shared key of earlier releases is refused, saying why.
        let env = Env::from_pairs([("IDENTITY_SECRET_ARN", "arn:shared")]);
        let e = identity_secret_arns(TWO, &env).unwrap_err().to_string();
        assert!(
            e.contains("no longer read") && e.contains(IDENTITY_SECRET_ARNS),
            "{e}"
        );
    }

    /// The authorizer when no `vpc_link` service is enabled: nothing to
    /// read, and no key of another service may be handed to it.
    #[tokio::test]
    async fn no_required_service_needs_no_variable_and_no_secrets_manager() {
        let none = Required {
            names: &[],
            what: "integration: vpc_link services enabled here",
        };
        for env in [
            Env::from_pairs::<&str, &str>([]),
            Env::from_pairs([(IDENTITY_SECRET_ARNS, "")]),
        ] {
            assert!(identity_secret_arns(none, &env).unwrap().is_empty());
            // No AWS_REGION, no credentials: loading any SDK configuration
            // of this map would fail, so an empty answer proves none was.
            assert!(load(none, &env).await.unwrap().is_empty());
        }
        let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, "sample=arn:1")]);
        let e = identity_secret_arns(none, &env).unwrap_err().to_string();
        assert!(e.contains("\"sample\" is not one of"), "{e}");
    }

    #[tokio::test]
    async fn a_required_key_needs_the_sdk_settings_of_the_environment() {
        let one = Required {
            names: &["web"],
            what: "integration: vpc_link services enabled here",
        };
        let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, "web=arn:1")]);
        let e = load(one, &env).await.unwrap_err();
        assert!(
            matches!(&e, KeyError::Env(c) if c.var() == "AWS_REGION"),
            "{e}"
        );
    }
}
