//! The authorizer's Secrets Manager reader of the `vpc_link` services'
//! identity keys (`portcullis_identity::keys::SecretSource`): the lean
//! signed-HTTP reader of `portcullis-aws` (`portcullis_aws::secrets`, feature
//! `lean`). The authorizer links no AWS SDK client and no aws-config (its
//! cold start is on every request path; scripts/test.sh checks its
//! dependency tree).

pub use portcullis_aws::secrets::HttpSecretsManager as SecretsManager;
