//! Which deployment environment something exists in: a registry entry's
//! `environments` (a service in `platform.yaml`) against Terraform's
//! `var.environment` (`DEPLOYMENT_ENVIRONMENT` in the functions).

/// Whether an entry limited to `environments` is deployed in `environment`:
/// no list means every environment, and no environment named (a local or
/// test run) means every entry.
pub fn deployed_in<S: AsRef<str>>(environments: Option<&[S]>, environment: Option<&str>) -> bool {
    match (environments, environment) {
        (Some(list), Some(e)) => list.iter().any(|l| l.as_ref() == e),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::deployed_in;

    #[test]
    fn a_listed_entry_is_deployed_only_in_its_environments() {
        let dev_local = Some(&["dev", "local"][..]);
        assert!(deployed_in(dev_local, Some("dev")));
        assert!(deployed_in(dev_local, Some("local")));
        assert!(!deployed_in(dev_local, Some("prod")));
    }

    #[test]
    fn an_entry_without_a_list_is_deployed_everywhere() {
        assert!(deployed_in::<&str>(None, Some("prod")));
        assert!(deployed_in::<String>(None, None));
    }

    #[test]
    fn with_no_environment_named_every_entry_counts() {
        assert!(deployed_in(Some(&["dev".to_owned()][..]), None));
    }
}
