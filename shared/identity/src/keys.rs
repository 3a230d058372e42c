//! The signers' identity keys, from Secrets Manager (feature `keys`): the
//! one loader the proxy and the authorizer share.
//!
//! `IDENTITY_SECRET_ARNS=<service>=<secret ARN or name>,...` names one
//! secret per service the function signs for (Terraform sets it); each
//! secret string is base64 of at least 32 random bytes. A signer passes the
//! services it must hold a key for, and the list must name exactly those:
//! the proxy the `integration: lambda` services enabled in its environment,
//! the authorizer the `integration: vpc_link` ones. An empty set needs no
//! variable and makes no Secrets Manager call.
//!
//! Where the secrets are read from is a [`SecretSource`], the Secrets
//! Manager reader of `portcullis-aws`: the SDK's client (feature
//! `secrets-manager`, the proxy: [`load`]) or any other reader
//! ([`load_with`]; the authorizer, which links no SDK client, uses the lean
//! signed-HTTP one).

use crate::SigningKey;
pub use portcullis_aws::secrets::SecretSource;
use portcullis_core::{ConfigError, Env};
use secrecy::ExposeSecret as _;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;

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
/// [`identity_secret_arns`], then each secret from the source `source`
/// makes. No required service: an empty map, and `source` is never called
/// (no credentials, no configuration, no Secrets Manager call).
pub async fn load_with<S, F, Fut>(
    required: Required<'_>,
    env: &Env,
    source: F,
) -> Result<HashMap<String, SigningKey>, KeyError>
where
    S: SecretSource,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<S, KeyError>>,
{
    let arns = identity_secret_arns(required, env)?;
    if arns.is_empty() {
        return Ok(HashMap::new());
    }
    signing_keys(&source().await?, &arns).await
}

/// [`load_with`] the SDK client of the SDK configuration of `env`
/// (`portcullis_aws::sdk_config_in`), loaded only when a key is required.
#[cfg(feature = "secrets-manager")]
pub async fn load(
    required: Required<'_>,
    env: &Env,
) -> Result<HashMap<String, SigningKey>, KeyError> {
    load_with(required, env, || async {
        let sdk = portcullis_aws::sdk_config_in(env).await?;
        Ok(portcullis_aws::clients::secrets_manager(&sdk))
    })
    .await
}

/// Every named service's key, read concurrently (one GetSecretValue each).
pub async fn signing_keys<S: SecretSource>(
    source: &S,
    arns: &BTreeMap<String, String>,
) -> Result<HashMap<String, SigningKey>, KeyError> {
    let mut reads = tokio::task::JoinSet::new();
    for (service, arn) in arns {
        let (source, service, arn) = (source.clone(), service.clone(), arn.clone());
        reads.spawn(async move {
            let key = signing_key(&source, &arn)
                .await
                .map_err(|why| KeyError::Secret(format!("service {service} ({arn}): {why}")))?;
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
/// The error says why, without the service or ARN.
pub async fn signing_key<S: SecretSource>(source: &S, arn: &str) -> Result<SigningKey, String> {
    let text = source
        .secret_string(arn)
        .await
        .map_err(|e| e.explain(IDENTITY_SECRET_ARNS))?;
    SigningKey::from_base64(text.expose_secret()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_aws::secrets::{SecretError, SecretValue};
    use secrecy::SecretString;

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
            // Nor is any other source made.
            let never = || async { Err::<Fixed, _>(KeyError::Secret("made".to_owned())) };
            assert!(load_with(none, &env, never).await.unwrap().is_empty());
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

    /// Secrets held in memory: what any source hands the loader.
    #[derive(Clone)]
    struct Fixed(std::sync::Arc<HashMap<&'static str, Result<&'static str, &'static str>>>);

    impl SecretSource for Fixed {
        async fn get_secret_value(&self, arn: &str) -> Result<SecretValue, SecretError> {
            match self.0.get(arn) {
                Some(Ok(v)) => Ok(SecretValue {
                    string: SecretString::from(*v),
                    version_id: None,
                }),
                Some(Err(code)) => Err(SecretError::Refused {
                    code: (*code).to_owned(),
                    detail: format!("{code} (HTTP 400)"),
                }),
                None => Err(SecretError::Refused {
                    code: "ResourceNotFoundException".to_owned(),
                    detail: "no such secret".to_owned(),
                }),
            }
        }
    }

    #[tokio::test]
    async fn each_key_is_read_from_the_source_and_a_failure_names_service_and_secret() {
        let source = Fixed(std::sync::Arc::new(HashMap::from([
            ("arn:a", Ok("d2ViLXNlcnZpY2UtaWRlbnRpdHkta2V5LTMyLWJ5dGU=")),
            ("arn:b", Ok("b3RoZXItc2VydmljZS1pZGVudGl0eS1rZXktMzJieXQ=")),
            ("arn:short", Ok("aHVudGVyMg==")),
            ("arn:denied", Err("AccessDeniedException")),
        ])));
        let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, "my-svc=arn:a,other=arn:b")]);
        let keys = load_with(TWO, &env, || async { Ok(source.clone()) })
            .await
            .unwrap();
        let mut names: Vec<&str> = keys.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["my-svc", "other"]);
        for (value, says) in [
            (
                "my-svc=arn:a,other=arn:denied",
                "service other (arn:denied): GetSecretValue failed: AccessDeniedException (HTTP 400): grant secretsmanager:GetSecretValue",
            ),
            (
                "my-svc=arn:short,other=arn:b",
                "service my-svc (arn:short): ",
            ),
        ] {
            let env = Env::from_pairs([(IDENTITY_SECRET_ARNS, value)]);
            let e = load_with(TWO, &env, || async { Ok(source.clone()) })
                .await
                .unwrap_err()
                .to_string();
            assert!(e.contains(says) && e.contains(IDENTITY_SECRET_ARNS), "{e}");
            assert!(!e.contains("aHVudGVyMg") && !e.contains("hunter2"), "{e}");
        }
    }
}
