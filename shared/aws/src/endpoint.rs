//! Region and endpoint resolution, the SDK's rules written once for what
//! calls AWS without an SDK configuration (the lean Secrets Manager reader,
//! IAM credentials from a Lambda environment). An SDK configuration
//! ([`crate::sdk`]) applies the same rules through the SDK itself.
//!
//! - Region: `AWS_REGION`, else `AWS_DEFAULT_REGION` (Lambda sets the first).
//! - Endpoint of a service: `AWS_ENDPOINT_URL_<SERVICE>` (the SDK's spelling
//!   of the service id: `SECRETS_MANAGER`, `API_GATEWAY`), else
//!   `AWS_ENDPOINT_URL` (the local emulator), else the regional endpoint
//!   `https://<prefix>.<region>.amazonaws.com/` (`.amazonaws.com.cn` in the
//!   China regions).

use portcullis_core::config::{ConfigError, Env};

/// The AWS region of `env`: `AWS_REGION`, else `AWS_DEFAULT_REGION`
/// (trimmed; a blank value is unset).
pub fn region(env: &Env) -> Option<String> {
    env.get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
}

/// An AWS service, as its endpoint is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The suffix of its endpoint variable (`AWS_ENDPOINT_URL_<env_suffix>`).
    pub env_suffix: &'static str,
    /// The first label of its regional endpoint's host.
    pub prefix: &'static str,
}

/// AWS Secrets Manager.
pub const SECRETS_MANAGER: Service = Service {
    env_suffix: "SECRETS_MANAGER",
    prefix: "secretsmanager",
};

/// Amazon API Gateway (the REST API's control plane).
pub const API_GATEWAY: Service = Service {
    env_suffix: "API_GATEWAY",
    prefix: "apigateway",
};

impl Service {
    /// Its endpoint variables, the service's own first.
    pub fn endpoint_vars(&self) -> [String; 2] {
        [
            format!("AWS_ENDPOINT_URL_{}", self.env_suffix),
            "AWS_ENDPOINT_URL".to_owned(),
        ]
    }

    /// The endpoint `env` configures for this service, if any: the variable
    /// that set it and its value.
    pub fn configured_endpoint(&self, env: &Env) -> Option<(String, String)> {
        self.endpoint_vars().into_iter().find_map(|var| {
            env.get(&var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (var, v))
        })
    }

    /// Its endpoint in `env`: a configured one (checked: an http(s) URL with
    /// a host, no query), else the regional endpoint of `region`. An error
    /// names the variable at fault.
    pub fn endpoint(&self, env: &Env, region: &str) -> Result<url::Url, ConfigError> {
        match self.configured_endpoint(env) {
            Some((var, value)) => parse_endpoint(&value).map_err(|why| {
                ConfigError::invalid(
                    &var,
                    &format!("an http:// or https:// URL of {}", self.prefix),
                    why,
                )
            }),
            None => self.regional_endpoint(region).map_err(|why| {
                ConfigError::invalid(
                    "AWS_REGION",
                    "an AWS region name (us-east-1, cn-north-1, ...)",
                    why,
                )
            }),
        }
    }

    /// Its regional endpoint: `amazonaws.com`, or `amazonaws.com.cn` in the
    /// China regions.
    pub fn regional_endpoint(&self, region: &str) -> Result<url::Url, String> {
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
        url::Url::parse(&format!("https://{}.{region}.{suffix}/", self.prefix))
            .map_err(|e| format!("{region:?}: {e}"))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn the_region_is_aws_region_then_aws_default_region() {
        assert_eq!(region(&env(&[])), None);
        assert_eq!(region(&env(&[("AWS_REGION", " ")])), None);
        let both = env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]);
        assert_eq!(region(&both).as_deref(), Some("eu-west-1"));
        let default = env(&[("AWS_DEFAULT_REGION", " eu-west-3 ")]);
        assert_eq!(region(&default).as_deref(), Some("eu-west-3"));
    }

    #[test]
    fn the_endpoint_is_the_services_variable_then_the_global_one_then_the_region() {
        let at = |pairs: &[(&str, &str)], region: &str| {
            SECRETS_MANAGER
                .endpoint(&env(pairs), region)
                .map(|u| u.to_string())
        };
        assert_eq!(
            at(&[], "eu-west-1").unwrap(),
            "https://secretsmanager.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            at(&[], "cn-north-1").unwrap(),
            "https://secretsmanager.cn-north-1.amazonaws.com.cn/"
        );
        let global = ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
        assert_eq!(
            at(&[global], "eu-west-1").unwrap(),
            "http://127.0.0.1:4566/"
        );
        let own = (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "https://sm.example:8443",
        );
        assert_eq!(
            at(&[global, own], "eu-west-1").unwrap(),
            "https://sm.example:8443/"
        );
        let apigw = API_GATEWAY.endpoint(&env(&[own]), "us-east-1").unwrap();
        assert_eq!(
            apigw.as_str(),
            "https://apigateway.us-east-1.amazonaws.com/"
        );
        for (pairs, region, var) in [
            (
                vec![("AWS_ENDPOINT_URL", "ftp://x")],
                "eu-west-1",
                "AWS_ENDPOINT_URL",
            ),
            (
                vec![("AWS_ENDPOINT_URL_SECRETS_MANAGER", "not a url")],
                "eu-west-1",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            ),
            (
                vec![("AWS_ENDPOINT_URL", "http://x/?a=b")],
                "eu-west-1",
                "AWS_ENDPOINT_URL",
            ),
            (vec![], "eu west/1", "AWS_REGION"),
            (vec![], "", "AWS_REGION"),
        ] {
            let e = SECRETS_MANAGER.endpoint(&env(&pairs), region).unwrap_err();
            assert_eq!(e.var(), var, "{pairs:?} {region}: {e}");
        }
    }
}
