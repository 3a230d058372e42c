//! Matching a request path to a resource as API Gateway REST does: at each
//! level a literal segment beats `{param}`, which beats `{proxy+}`.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;

use crate::spec::{Resource, Segment};

/// A resource chosen for a request path, with its decoded path parameters.
#[derive(Debug)]
pub struct Matched<'a> {
    pub resource: &'a Resource,
    pub path_parameters: BTreeMap<String, String>,
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Rank of each segment match (0 literal, 1 param, 2 greedy) for a resource
/// that matches, `None` otherwise. Literal comparison is on the decoded
/// segment, as API Gateway compares the decoded path.
fn rank(resource: &Resource, parts: &[&str]) -> Option<Vec<u8>> {
    let mut ranks = Vec::with_capacity(resource.segments.len());
    for (i, seg) in resource.segments.iter().enumerate() {
        match seg {
            Segment::Literal(lit) => {
                if decode(parts.get(i)?) != *lit {
                    return None;
                }
                ranks.push(0);
            }
            Segment::Param(_) => {
                if parts.get(i)?.is_empty() {
                    return None;
                }
                ranks.push(1);
            }
            Segment::Greedy(_) => {
                if i >= parts.len() {
                    return None;
                }
                ranks.push(2);
                return Some(ranks);
            }
        }
    }
    (resource.segments.len() == parts.len()).then_some(ranks)
}

/// Find the resource for `raw_path` (still percent-encoded, as received).
pub fn route<'a>(resources: &'a [Resource], raw_path: &str) -> Option<Matched<'a>> {
    let trimmed = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let parts: Vec<&str> = if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    };
    let best = resources
        .iter()
        .filter_map(|r| rank(r, &parts).map(|k| (k, r)))
        .min_by(|(a, _), (b, _)| a.cmp(b))?;
    let resource = best.1;
    let mut path_parameters = BTreeMap::new();
    for (i, seg) in resource.segments.iter().enumerate() {
        match seg {
            Segment::Literal(_) => {}
            Segment::Param(name) => {
                path_parameters.insert(name.clone(), decode(parts[i]));
            }
            Segment::Greedy(name) => {
                path_parameters.insert(name.clone(), decode(&parts[i..].join("/")));
            }
        }
    }
    Some(Matched {
        resource,
        path_parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Api;

    fn api() -> Api {
        Api::from_yaml_str(
            r#"
paths:
  /v1/jobs/{id}:
    get: &op
      x-amazon-apigateway-integration: { uri: "${jobs_function_arn}" }
  /v1/jobs/mine:
    get: *op
  /v1/{proxy+}:
    get: *op
  /v1/services/{service}/{proxy+}:
    x-amazon-apigateway-any-method: *op
"#,
        )
        .expect("test spec")
    }

    #[test]
    fn literal_beats_param_beats_greedy() {
        let api = api();
        assert_eq!(
            route(&api.resources, "/v1/jobs/mine").map(|m| m.resource.path.as_str()),
            Some("/v1/jobs/mine")
        );
        assert_eq!(
            route(&api.resources, "/v1/jobs/42").map(|m| m.resource.path.as_str()),
            Some("/v1/jobs/{id}")
        );
        assert_eq!(
            route(&api.resources, "/v1/jobs/42/x").map(|m| m.resource.path.as_str()),
            Some("/v1/{proxy+}")
        );
    }

    #[test]
    fn greedy_parameter_takes_the_rest_decoded() {
        let api = api();
        let m = route(&api.resources, "/v1/services/web/a/b%20c/d").expect("matches");
        assert_eq!(m.path_parameters["service"], "web");
        assert_eq!(m.path_parameters["proxy"], "a/b c/d");
        let shorter =
            route(&api.resources, "/v1/services/web").expect("matches the wider greedy route");
        assert_eq!(shorter.resource.path, "/v1/{proxy+}");
        assert!(route(&api.resources, "/v2/x").is_none());
    }
}
