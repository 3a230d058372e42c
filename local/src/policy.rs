//! Evaluating a Lambda authorizer's IAM policy against the methodArn, as API
//! Gateway does: `execute-api:Invoke` actions, `*` / `?` wildcards in
//! resources (IAM's, `portcullis_contract::wildcard_match`: on characters,
//! `/` and `:` included), an explicit Deny wins, no Allow means deny.

use portcullis_contract::wildcard_match;
use serde_json::Value;

/// The outcome of a policy for one methodArn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allowed the call.
    ImplicitDeny,
    /// A Deny statement matched.
    ExplicitDeny,
}

fn one_or_many(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Why a policy document could not be evaluated (API Gateway answers 500).
#[derive(Debug, thiserror::Error)]
#[error("invalid policy document: {0}")]
pub struct PolicyError(pub String);

/// Evaluate `policyDocument` (the JSON object) for `method_arn`.
pub fn evaluate(policy: &Value, method_arn: &str) -> Result<Decision, PolicyError> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err(PolicyError("Statement is missing".into())),
    };
    let mut allowed = false;
    for st in &statements {
        let effect = st
            .get("Effect")
            .and_then(Value::as_str)
            .ok_or_else(|| PolicyError("Effect is missing".into()))?;
        let actions = one_or_many(st.get("Action"));
        let resources = one_or_many(st.get("Resource"));
        let action_matches = actions
            .iter()
            .any(|a| wildcard_match(&a.to_ascii_lowercase(), "execute-api:invoke"));
        let resource_matches = resources.iter().any(|r| wildcard_match(r, method_arn));
        if !(action_matches && resource_matches) {
            continue;
        }
        match effect {
            "Deny" => return Ok(Decision::ExplicitDeny),
            "Allow" => allowed = true,
            other => return Err(PolicyError(format!("unknown Effect {other:?}"))),
        }
    }
    Ok(if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/42";

    /// One statement allowing `resource`, evaluated for [`ARN`].
    fn allowing(resource: &str) -> Decision {
        let p = json!({"Statement": {"Effect": "Allow", "Action": "execute-api:*", "Resource": resource}});
        evaluate(&p, ARN).expect("valid")
    }

    #[test]
    fn resources_and_actions_match_with_iams_wildcards() {
        assert_eq!(
            allowing("arn:aws:execute-api:*:*:abc123/*/GET/v1/jobs/*"),
            Decision::Allow
        );
        assert_eq!(allowing("*"), Decision::Allow);
        assert_eq!(
            allowing("arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/4?"),
            Decision::Allow
        );
        assert_eq!(
            allowing("arn:aws:execute-api:us-east-1:123456789012:abc123/local/POST/*"),
            Decision::ImplicitDeny
        );
        assert_eq!(
            allowing("arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/4"),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let p = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ["*"]},
            {"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": "*/GET/v1/jobs/*"}
        ]});
        assert_eq!(evaluate(&p, ARN).expect("valid"), Decision::ExplicitDeny);
    }

    /// The authorizer's policy for a `services:mine` principal, evaluated on
    /// the methodArns the local gateway builds: the proxy's greedy path cannot
    /// carry another service's name in front of the one the scope names.
    #[test]
    fn a_service_scope_does_not_reach_another_service_through_the_proxy_path() {
        use authorizer::routes::{ANY_METHODS, MethodArn, RouteTable, Scope};
        let deployment = crate::event::Deployment::default();
        let prefix = MethodArn::parse(&deployment.method_arn("GET", "/v1/me")).expect("arn");
        let scopes = Scope::parse_list("services:mine").expect("a scope");
        let resources: Vec<String> = RouteTable::embedded()
            .expect("the embedded contract")
            .permitted(&scopes)
            .iter()
            .map(|r| prefix.resource(r))
            .collect();
        let policy = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["execute-api:Invoke"], "Resource": resources}
        ]});
        for m in ANY_METHODS {
            let mine = deployment.method_arn(m, "/v1/services/mine/x");
            assert_eq!(
                evaluate(&policy, &mine).expect("valid"),
                Decision::Allow,
                "{m}"
            );
            for crafted in [
                "/v1/services/other/v1/services/mine/x",
                "/v1/services/other/x/v1/services/mine/",
            ] {
                let arn = deployment.method_arn(m, crafted);
                assert_eq!(
                    evaluate(&policy, &arn).expect("valid"),
                    Decision::ImplicitDeny,
                    "{m} {crafted}: {resources:?}"
                );
            }
        }
    }

    #[test]
    fn no_matching_allow_is_an_implicit_deny() {
        let p = json!({"Statement": {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*/POST/*"}});
        assert_eq!(evaluate(&p, ARN).expect("valid"), Decision::ImplicitDeny);
        let wrong_action =
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
        assert_eq!(
            evaluate(&wrong_action, ARN).expect("valid"),
            Decision::ImplicitDeny
        );
        assert!(evaluate(&json!({}), ARN).is_err());
    }
}
