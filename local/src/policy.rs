//! Evaluating a Lambda authorizer's IAM policy against the methodArn, as API
//! Gateway does: `execute-api:Invoke` actions, `*` / `?` wildcards in
//! resources, an explicit Deny wins, no Allow means deny.

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

/// `*` matches any run of characters (including `/` and `:`), `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
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
            .any(|a| glob_match(&a.to_ascii_lowercase(), "execute-api:invoke"));
        let resource_matches = resources.iter().any(|r| glob_match(r, method_arn));
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

    #[test]
    fn wildcards_match_like_iam() {
        assert!(glob_match(
            "arn:aws:execute-api:*:*:abc123/*/GET/v1/jobs/*",
            ARN
        ));
        assert!(glob_match("*", ARN));
        assert!(glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/4?",
            ARN
        ));
        assert!(!glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/local/POST/*",
            ARN
        ));
        assert!(!glob_match(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/v1/jobs/4",
            ARN
        ));
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
