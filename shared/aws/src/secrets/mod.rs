//! The Secrets Manager reader: one trait, [`SecretSource`], and its two
//! implementations.
//!
//! - The SDK's client, `aws_sdk_secretsmanager::Client` (feature
//!   `secrets-manager`): functions that link the SDK anyway (the proxy, the
//!   database pool's `DB_SECRET_ARN`).
//! - [`HttpSecretsManager`] (feature `lean`): one SigV4-signed
//!   `GetSecretValue` request over a small HTTP client, no SDK client and no
//!   aws-config (the authorizer, whose cold start is on every request path).
//!
//! Both answer the same [`SecretValue`] or [`SecretError`]; the caller adds
//! which variable named the secret, and [`SecretError::hint`] says what to
//! do about it. No error ever holds the secret's value.

#[cfg(feature = "lean")]
mod lean;
#[cfg(feature = "secrets-manager")]
mod sdk;

#[cfg(feature = "lean")]
pub use lean::{CONTENT_TYPE, HttpSecretsManager, SignedRequest, TARGET, TIMEOUT};

use secrecy::SecretString;
use std::future::Future;

/// Reads secrets with Secrets Manager's `GetSecretValue`, through whatever
/// client the function links.
pub trait SecretSource: Clone + Send + Sync + 'static {
    /// The current value of `id` (an ARN or a name).
    fn get_secret_value(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<SecretValue, SecretError>> + Send;

    /// The current secret string of `id`.
    fn secret_string(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<SecretString, SecretError>> + Send {
        async move { Ok(self.get_secret_value(id).await?.string) }
    }
}

/// A secret's current value (its `Debug` shows no secret).
#[derive(Debug)]
pub struct SecretValue {
    /// `SecretString` (a secret without one is a [`SecretError::NotAString`]).
    pub string: SecretString,
    /// `VersionId`, when the answer has one.
    pub version_id: Option<String>,
}

/// Why a secret could not be read. The text never holds the secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager could not be reached, or did not answer in time.
    #[error("{detail}")]
    Unreachable { detail: String },
    /// Secrets Manager (or IAM in front of it) refused: the AWS error code
    /// (empty when the answer had none) and what it said.
    #[error("GetSecretValue failed: {detail}")]
    Refused { code: String, detail: String },
    /// The secret has no string value (a binary secret, or an answer that is
    /// not the expected JSON).
    #[error("{detail}")]
    NotAString { detail: String },
}

impl SecretError {
    /// The AWS error code; `unreachable` when Secrets Manager was not
    /// reached; empty when there is none.
    pub fn code(&self) -> &str {
        match self {
            SecretError::Unreachable { .. } => "unreachable",
            SecretError::Refused { code, .. } => code,
            SecretError::NotAString { .. } => "",
        }
    }

    /// What to do about it, for a secret named by the variable `named_by`
    /// (`"DB_SECRET_ARN"`, `"IDENTITY_SECRET_ARNS"`).
    pub fn hint(&self, named_by: &str) -> String {
        match self {
            SecretError::Unreachable { .. } => UNREACHABLE_HINT.to_owned(),
            SecretError::Refused { code, .. } => error_hint(code, named_by),
            SecretError::NotAString { .. } => format!(
                "store the value as a secret string (SecretString), or point {named_by} at one"
            ),
        }
    }

    /// The error and what to do: `"<error>: <hint>"`.
    pub fn explain(&self, named_by: &str) -> String {
        format!("{self}: {}", self.hint(named_by))
    }
}

/// What to do when Secrets Manager cannot be reached.
const UNREACHABLE_HINT: &str = "from a VPC add a secretsmanager interface endpoint or a NAT \
                                route; locally check AWS_ENDPOINT_URL";

/// What to do about a `GetSecretValue` error, by its code (the error type
/// without any namespace: `AccessDeniedException`, ...), for a secret named
/// by the variable `named_by`.
pub fn error_hint(code: &str, named_by: &str) -> String {
    match code {
        // `AccessDenied`: the shape of IAM's own refusals (the emulator's too).
        "AccessDeniedException" | "AccessDenied" => {
            "grant secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key) to the function role".to_owned()
        }
        "ResourceNotFoundException" => {
            format!("no such secret in this account and region; check {named_by}")
        }
        "DecryptionFailure" => {
            "grant kms:Decrypt on the secret's KMS key to the function role".to_owned()
        }
        "InvalidRequestException" => format!(
            "the secret may be scheduled for deletion; restore it or point {named_by} at another one"
        ),
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "ExpiredTokenException"
        | "IncompleteSignature"
        | "MissingAuthenticationToken" => {
            "the function's AWS credentials were refused (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)".to_owned()
        }
        _ => format!("see the AWS error code; check {named_by} and the function role"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secrets_manager_error_says_what_to_do() {
        for (code, says) in [
            ("AccessDeniedException", "secretsmanager:GetSecretValue"),
            ("AccessDenied", "secretsmanager:GetSecretValue"),
            ("SignatureDoesNotMatch", "credentials"),
            ("ResourceNotFoundException", "IDENTITY_SECRET_ARNS"),
            ("DecryptionFailure", "kms:Decrypt"),
            ("InvalidRequestException", "IDENTITY_SECRET_ARNS"),
            ("UnrecognizedClientException", "credentials"),
            ("SomethingNew", "function role"),
        ] {
            let hint = error_hint(code, "IDENTITY_SECRET_ARNS");
            assert!(hint.contains(says), "{code}: {hint}");
        }
    }

    #[test]
    fn an_error_explained_names_the_variable_and_what_to_do() {
        let refused = SecretError::Refused {
            code: "ResourceNotFoundException".to_owned(),
            detail: "ResourceNotFoundException (HTTP 400): gone".to_owned(),
        };
        assert_eq!(refused.code(), "ResourceNotFoundException");
        assert_eq!(
            refused.explain("DB_SECRET_ARN"),
            "GetSecretValue failed: ResourceNotFoundException (HTTP 400): gone: no such secret \
             in this account and region; check DB_SECRET_ARN"
        );
        let unreachable = SecretError::Unreachable {
            detail: "Secrets Manager at http://127.0.0.1:9/ could not be reached".to_owned(),
        };
        assert_eq!(unreachable.code(), "unreachable");
        assert!(
            unreachable
                .explain("X")
                .ends_with("locally check AWS_ENDPOINT_URL")
        );
        let binary = SecretError::NotAString {
            detail: "the secret is binary (SecretBinary)".to_owned(),
        };
        assert!(binary.explain("DB_SECRET_ARN").contains("DB_SECRET_ARN"));
    }
}
