//! `usage_plans` section of platform.yaml: every API key belongs to one plan.
//!
//! ```yaml
//! usage_plans:
//!   standard:
//!     description: Default plan for API keys.
//!     throttle: { rate_limit: 50, burst_limit: 100 }   # requests/s, bucket size
//!     quota: { limit: 100000, period: DAY }            # DAY | WEEK | MONTH
//! ```
//!
//! Terraform turns each entry into an API Gateway usage plan. Each consumer
//! has its own API Gateway API key in its plan (a Portcullis key's, or a
//! tenant's for its Cognito users), made by the keys function; the authorizer
//! returns that key's value as `usageIdentifierKey` (`portcullis_auth::usage`).

use super::PlatformError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest plan name.
pub const PLAN_NAME_MAX: usize = 63;

/// Requests per second and burst.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

/// How often a quota resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

/// Requests allowed per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    pub limit: u64,
    pub period: QuotaPeriod,
}

/// One usage plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePlan {
    #[serde(default)]
    pub description: String,
    pub throttle: Option<Throttle>,
    pub quota: Option<Quota>,
}

/// All usage plans by name (sorted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsagePlans(BTreeMap<String, UsagePlan>);

/// Whether `name` is a valid plan name: 1–63 of `a-z`, `0-9`, `-`, `_`,
/// starting with a letter.
pub fn is_valid_plan_name(name: &str) -> bool {
    name.len() <= PLAN_NAME_MAX
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl UsagePlans {
    /// Validate the section as parsed by [`crate::Platform::from_yaml`].
    pub(crate) fn from_raw(map: BTreeMap<String, UsagePlan>) -> Result<Self, PlatformError> {
        for (name, plan) in &map {
            let at = format!("usage_plans.{name}");
            if !is_valid_plan_name(name) {
                return Err(PlatformError::Invalid {
                    at,
                    reason: "a plan name is 1 to 63 characters of a-z, 0-9, '-' and '_', starting with a letter"
                        .to_owned(),
                });
            }
            if let Some(t) = &plan.throttle {
                if !(t.rate_limit.is_finite() && t.rate_limit > 0.0) {
                    return Err(PlatformError::Invalid {
                        at: format!("{at}.throttle.rate_limit"),
                        reason: "must be a positive number of requests per second".to_owned(),
                    });
                }
                if t.burst_limit == 0 {
                    return Err(PlatformError::Invalid {
                        at: format!("{at}.throttle.burst_limit"),
                        reason: "must be at least 1 request (the token bucket size)".to_owned(),
                    });
                }
            }
            if let Some(q) = &plan.quota {
                if q.limit == 0 {
                    return Err(PlatformError::Invalid {
                        at: format!("{at}.quota.limit"),
                        reason: "must be at least 1 request per period".to_owned(),
                    });
                }
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&UsagePlan> {
        self.0.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(yaml: &str) -> Result<UsagePlans, PlatformError> {
        Ok(crate::Platform::from_yaml(yaml)?.usage_plans)
    }

    #[test]
    fn the_standard_plan_parses() {
        let p = plans(
            "usage_plans:\n  standard:\n    description: d\n    throttle: { rate_limit: 50, burst_limit: 100 }\n    quota: { limit: 100000, period: DAY }\n",
        )
        .unwrap();
        let s = p.get("standard").unwrap();
        assert_eq!(s.throttle.as_ref().unwrap().burst_limit, 100);
        assert_eq!(s.quota.as_ref().unwrap().period, QuotaPeriod::Day);
        assert!(p.contains("standard") && !p.contains("gold"));
    }

    #[test]
    fn the_repository_platform_file_is_valid() {
        let text = include_str!("../../../platform.yaml");
        let p = plans(text).unwrap();
        assert!(!p.is_empty());
    }

    #[test]
    fn absent_section_means_no_plans() {
        assert!(plans("services: {}\n").unwrap().is_empty());
    }

    #[test]
    fn bad_period_unknown_field_and_bad_numbers_are_named() {
        let e = plans("usage_plans:\n  a:\n    quota: { limit: 1, period: YEAR }\n").unwrap_err();
        assert!(e.to_string().contains("usage_plans"), "{e}");
        let e = plans(
            "usage_plans:\n  a:\n    throttle: { rate_limit: 1, burst_limit: 1, extra: 2 }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
        let e = plans("usage_plans:\n  a:\n    throttle: { rate_limit: 0, burst_limit: 1 }\n")
            .unwrap_err();
        assert!(
            e.to_string().contains("usage_plans.a.throttle.rate_limit"),
            "{e}"
        );
        let e = plans("usage_plans:\n  a:\n    throttle: { rate_limit: 1, burst_limit: 0 }\n")
            .unwrap_err();
        assert!(
            e.to_string().contains("usage_plans.a.throttle.burst_limit"),
            "{e}"
        );
        let e = plans("usage_plans:\n  a:\n    quota: { limit: 0, period: DAY }\n").unwrap_err();
        assert!(e.to_string().contains("usage_plans.a.quota.limit"), "{e}");
        let e = plans("usage_plans:\n  Gold:\n    description: x\n").unwrap_err();
        assert!(e.to_string().contains("usage_plans.Gold"), "{e}");
    }
}
