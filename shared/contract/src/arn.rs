//! Method ARNs: how API Gateway names the request it asks an authorizer
//! about (`methodArn`), and the resources of the policy the authorizer
//! answers with.

/// The parts of a `methodArn` the policy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn {
    /// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}`
    pub prefix: String,
}

/// The `methodArn` of the event is not an execute-api ARN.
#[derive(Debug, thiserror::Error)]
#[error(
    "the event's methodArn is not arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>"
)]
pub struct MethodArnError;

impl MethodArn {
    /// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`,
    /// each part present.
    pub fn parse(arn: &str) -> Result<Self, MethodArnError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [arn_lit, partition, service, region, account, rest] = parts.as_slice() else {
            return Err(MethodArnError);
        };
        if *arn_lit != "arn"
            || partition.is_empty()
            || *service != "execute-api"
            || region.is_empty()
            || account.is_empty()
        {
            return Err(MethodArnError);
        }
        let mut it = rest.splitn(3, '/');
        let (Some(api), Some(stage)) = (it.next(), it.next()) else {
            return Err(MethodArnError);
        };
        if api.is_empty() || stage.is_empty() {
            return Err(MethodArnError);
        }
        Ok(MethodArn {
            prefix: format!("arn:{partition}:execute-api:{region}:{account}:{api}/{stage}"),
        })
    }

    /// The full resource ARN of a `METHOD/path` resource.
    pub fn resource(&self, method_and_path: &str) -> String {
        format!("{}/{method_and_path}", self.prefix)
    }

    /// Every method and path of this API stage.
    pub fn everything(&self) -> String {
        format!("{}/*", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_arns_give_the_api_stage_prefix() {
        let a = MethodArn::parse(
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/jobs/9",
        )
        .unwrap();
        assert_eq!(
            a.prefix,
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod"
        );
        assert_eq!(
            a.resource("GET/v1/me"),
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/v1/me"
        );
        assert_eq!(
            a.everything(),
            "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/*"
        );
        for bad in [
            "",
            "arn:aws:s3:::bucket",
            "arn:aws:execute-api:r:a:api",
            "arn:aws:execute-api:r::api/prod/GET/x",
        ] {
            assert!(MethodArn::parse(bad).is_err(), "{bad}");
        }
    }
}
