//! The SDK's Secrets Manager client as a [`SecretSource`] (feature
//! `secrets-manager`).

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use secrecy::SecretString;

use super::{SecretError, SecretSource, SecretValue};

impl SecretSource for aws_sdk_secretsmanager::Client {
    async fn get_secret_value(&self, id: &str) -> Result<SecretValue, SecretError> {
        let out = self
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| match &e {
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                    SecretError::Unreachable {
                        detail: format!(
                            "Secrets Manager could not be reached: {}",
                            DisplayErrorContext(&e)
                        ),
                    }
                }
                _ => SecretError::Refused {
                    code: e.code().unwrap_or_default().to_owned(),
                    detail: DisplayErrorContext(&e).to_string(),
                },
            })?;
        let string = out.secret_string().ok_or_else(|| SecretError::NotAString {
            detail: "the secret has no string value (SecretString; binary secrets are not read)"
                .to_owned(),
        })?;
        Ok(SecretValue {
            string: SecretString::from(string.to_owned()),
            version_id: out.version_id().map(str::to_owned),
        })
    }
}
