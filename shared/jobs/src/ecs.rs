//! ECS helpers shared by jobs, task-events and reconciler: where tasks run
//! (cluster, private subnets, job security groups). The one ECS client per
//! process is `portcullis_aws::clients::ecs`, built from the shared SDK
//! configuration so `AWS_ENDPOINT_URL` points it at the local emulator.

use portcullis_core::config::{ConfigError, Env};

/// Where job tasks are placed. Read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `ECS_CLUSTER`: cluster name or ARN.
    pub cluster: String,
    /// `JOB_SUBNETS`: private subnet ids (comma-separated).
    pub subnets: Vec<String>,
    /// `JOB_SECURITY_GROUPS`: security group ids for job tasks (comma-separated).
    pub security_groups: Vec<String>,
}

impl Placement {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let cluster = env.required(
            "ECS_CLUSTER",
            "the ECS cluster name or ARN job tasks run in",
        )?;
        let subnets = env.required_list(
            "JOB_SUBNETS",
            "comma-separated private subnet ids (subnet-...)",
        )?;
        if let Some(bad) = subnets.iter().find(|s| !s.starts_with("subnet-")) {
            return Err(ConfigError::invalid(
                "JOB_SUBNETS",
                "comma-separated private subnet ids (subnet-...)",
                format!("{bad:?} is not a subnet id"),
            ));
        }
        let security_groups = env.required_list(
            "JOB_SECURITY_GROUPS",
            "comma-separated security group ids (sg-...)",
        )?;
        if let Some(bad) = security_groups.iter().find(|s| !s.starts_with("sg-")) {
            return Err(ConfigError::invalid(
                "JOB_SECURITY_GROUPS",
                "comma-separated security group ids (sg-...)",
                format!("{bad:?} is not a security group id"),
            ));
        }
        Ok(Self {
            cluster,
            subnets,
            security_groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_needs_subnets_and_security_groups() {
        let env = Env::from_pairs([("ECS_CLUSTER", "c"), ("JOB_SUBNETS", "subnet-1, subnet-2")]);
        let err = Placement::from_env(&env).unwrap_err();
        assert_eq!(err.var(), "JOB_SECURITY_GROUPS");
    }

    #[test]
    fn a_subnet_that_is_not_a_subnet_id_is_refused() {
        let env = Env::from_pairs([
            ("ECS_CLUSTER", "c"),
            ("JOB_SUBNETS", "vpc-1"),
            ("JOB_SECURITY_GROUPS", "sg-1"),
        ]);
        assert_eq!(Placement::from_env(&env).unwrap_err().var(), "JOB_SUBNETS");
    }

    #[test]
    fn placement_parses_lists() {
        let env = Env::from_pairs([
            ("ECS_CLUSTER", "c"),
            ("JOB_SUBNETS", "subnet-1, subnet-2"),
            ("JOB_SECURITY_GROUPS", "sg-1"),
        ]);
        let p = Placement::from_env(&env).unwrap();
        assert_eq!(p.subnets, vec!["subnet-1", "subnet-2"]);
        assert_eq!(p.security_groups, vec!["sg-1"]);
    }
}
