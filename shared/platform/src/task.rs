//! What services and job types share: the ECS task size (Fargate cpu units
//! and memory MiB, as Terraform writes them into the task definition) and the
//! container environment (`environment:`, a map of names to values).

use super::PlatformError;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Task cpu when the registry gives none (Terraform's default too).
pub const DEFAULT_CPU: u32 = 256;
/// Task memory (MiB) when the registry gives none (Terraform's default too).
pub const DEFAULT_MEMORY: u32 = 512;

/// The Fargate cpu values, in units of 1/1024 vCPU.
pub const FARGATE_CPU: &[u32] = &[256, 512, 1024, 2048, 4096, 8192, 16384];

/// The memory sizes (MiB) Fargate accepts with `cpu`: `(lowest, highest, step)`,
/// or `None` when `cpu` is not a Fargate value. 256 is the exception: 512,
/// 1024 or 2048.
fn fargate_memory_range(cpu: u32) -> Option<(u32, u32, u32)> {
    match cpu {
        256 => Some((512, 2048, 512)),
        512 => Some((1024, 4096, 1024)),
        1024 => Some((2048, 8192, 1024)),
        2048 => Some((4096, 16384, 1024)),
        4096 => Some((8192, 30720, 1024)),
        8192 => Some((16384, 61440, 4096)),
        16384 => Some((32768, 122880, 8192)),
        _ => None,
    }
}

/// Whether `cpu`/`memory` is a task size Fargate accepts.
pub fn is_fargate_size(cpu: u32, memory: u32) -> bool {
    match fargate_memory_range(cpu) {
        // 256: 512, 1024, 2048 (the step is not uniform: 1536 is refused).
        Some(_) if cpu == 256 => matches!(memory, 512 | 1024 | 2048),
        Some((lo, hi, step)) => (lo..=hi).contains(&memory) && (memory - lo) % step == 0,
        None => false,
    }
}

/// Check a task size; `at` is the path of the entry (`services.sample`).
pub(crate) fn check_fargate_size(at: &str, cpu: u32, memory: u32) -> Result<(), PlatformError> {
    let Some((lo, hi, step)) = fargate_memory_range(cpu) else {
        let values: Vec<String> = FARGATE_CPU.iter().map(u32::to_string).collect();
        return Err(PlatformError::Invalid {
            at: format!("{at}.cpu"),
            reason: format!(
                "{cpu} is not a Fargate cpu value; use one of {}",
                values.join(", ")
            ),
        });
    };
    if !is_fargate_size(cpu, memory) {
        let allowed = if cpu == 256 {
            "512, 1024 or 2048".to_owned()
        } else {
            format!("{lo} to {hi} in steps of {step}")
        };
        return Err(PlatformError::Invalid {
            at: format!("{at}.memory"),
            reason: format!(
                "{memory} MiB is not a Fargate memory size for cpu {cpu}; use {allowed}"
            ),
        });
    }
    Ok(())
}

/// Whether `name` is a valid environment variable name for the registry:
/// upper-case letters, digits and `_`, not starting with a digit.
pub fn is_valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A container environment: name → value, sorted by name. In YAML the values
/// may be strings, whole numbers or booleans (Terraform turns them into
/// strings the same way); anything else is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment(BTreeMap<String, String>);

impl Environment {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Check every name; `reserved` are names the platform sets itself
    /// (`NAME`, or `PREFIX_*` for every name starting with `PREFIX_`), besides
    /// [`RESERVED_FOR_ECS`].
    pub(crate) fn check(&self, at: &str, reserved: &[&str]) -> Result<(), PlatformError> {
        for name in self.0.keys() {
            check_env_name(&format!("{at}.environment.{name}"), name, reserved)?;
        }
        Ok(())
    }
}

/// Names ECS and the AWS SDKs set in every task (`AWS_REGION`,
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, `ECS_CONTAINER_METADATA_URI_V4`, ...):
/// reserved in every `environment` and `secrets` map.
pub const RESERVED_FOR_ECS: &[&str] = &["AWS_*", "ECS_*"];

/// Whether `name` is `pattern` (`NAME`) or starts with its prefix (`PREFIX_*`).
fn reserved_by(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    }
}

/// Check one container variable name (of `environment` or `secrets`); `at`
/// is its path (`services.s.environment.NAME`).
fn check_env_name(at: &str, name: &str, reserved: &[&str]) -> Result<(), PlatformError> {
    if !is_valid_env_name(name) {
        return Err(PlatformError::Invalid {
            at: at.to_owned(),
            reason: "a container variable name is upper-case letters, digits and '_', not starting with a digit".to_owned(),
        });
    }
    let all: Vec<&str> = reserved.iter().chain(RESERVED_FOR_ECS).copied().collect();
    if all.iter().any(|p| reserved_by(p, name)) {
        return Err(PlatformError::Invalid {
            at: at.to_owned(),
            reason: format!(
                "{name} is set by the platform; choose another name (reserved here: {})",
                all.join(", ")
            ),
        });
    }
    Ok(())
}

/// The log retentions CloudWatch Logs accepts, in days (`retention_in_days`).
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Check an optional `log_retention_days` (none: Terraform's
/// `log_retention_days` of the environment).
pub(crate) fn check_log_retention(at: &str, days: Option<u32>) -> Result<(), PlatformError> {
    match days {
        Some(d) if !LOG_RETENTION_DAYS.contains(&d) => {
            let values: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
            Err(PlatformError::Invalid {
                at: format!("{at}.log_retention_days"),
                reason: format!(
                    "{d} is not a retention CloudWatch Logs accepts; use one of {}",
                    values.join(", ")
                ),
            })
        }
        _ => Ok(()),
    }
}

/// A Secrets Manager reference of `secrets:`: the secret (its full ARN, or
/// its name in the deployment's account and region) and, optionally, one key
/// of its JSON value. Written `name`, `name:json-key`, `arn:...:secret:id` or
/// `arn:...:secret:id:json-key`; Terraform renders it as the container's
/// `secrets[].valueFrom` (`<arn>` or `<arn>:<json-key>::`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The secret's ARN or name.
    pub secret: String,
    pub json_key: Option<String>,
}

/// Characters of a Secrets Manager secret name.
fn is_secret_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}

impl SecretRef {
    /// Parse a reference; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        const SYNTAX: &str = "expected a secret name (letters, digits and /_+=.@-, at most 512) or a Secrets Manager ARN (arn:<partition>:secretsmanager:<region>:<account>:secret:<id>), optionally followed by :<json-key>";
        let (secret, json_key) = if text.starts_with("arn:") {
            let parts: Vec<&str> = text.split(':').collect();
            let arn_ok = parts.len() >= 7
                && !parts[1].is_empty()
                && parts[2] == "secretsmanager"
                && !parts[3].is_empty()
                && parts[4].len() == 12
                && parts[4].bytes().all(|b| b.is_ascii_digit())
                && parts[5] == "secret"
                && !parts[6].is_empty()
                && parts[6].chars().all(is_secret_name_char);
            if !arn_ok || parts.len() > 8 {
                return Err(format!(
                    "{text:?} is not a Secrets Manager secret ARN: {SYNTAX}"
                ));
            }
            (parts[..7].join(":"), parts.get(7).map(|k| (*k).to_owned()))
        } else {
            match text.split_once(':') {
                Some((name, key)) => (name.to_owned(), Some(key.to_owned())),
                None => (text.to_owned(), None),
            }
        };
        if !secret.starts_with("arn:")
            && (secret.is_empty() || secret.len() > 512 || !secret.chars().all(is_secret_name_char))
        {
            return Err(format!("{text:?} is not a secret reference: {SYNTAX}"));
        }
        if let Some(k) = &json_key {
            if k.is_empty() || k.contains(|c: char| c == ':' || c.is_whitespace() || c.is_control())
            {
                return Err(format!(
                    "{text:?}: the JSON key after ':' must be one non-empty key without ':' or blanks"
                ));
            }
        }
        Ok(SecretRef { secret, json_key })
    }
}

/// `secrets:`: container variable name → Secrets Manager reference, sorted
/// by name. ECS reads each value at task start with the task's execution
/// role, which Terraform allows to read exactly these secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Secrets {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Secrets(BTreeMap::<String, String>::deserialize(d)?))
    }
}

impl Secrets {
    /// Every name and its parsed reference (checked by [`Secrets::check`]).
    pub fn iter(&self) -> impl Iterator<Item = (&str, SecretRef)> {
        self.0
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), SecretRef::parse(v).ok()?)))
    }

    /// Every name and its reference as written (what Terraform reads).
    pub fn raw(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, name: &str) -> Option<SecretRef> {
        self.0.get(name).and_then(|v| SecretRef::parse(v).ok())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Check every name (as [`Environment::check`], and not also in
    /// `environment`) and every reference.
    pub(crate) fn check(
        &self,
        at: &str,
        reserved: &[&str],
        environment: &Environment,
    ) -> Result<(), PlatformError> {
        for (name, value) in &self.0 {
            let at = format!("{at}.secrets.{name}");
            check_env_name(&at, name, reserved)?;
            if environment.contains(name) {
                return Err(PlatformError::Invalid {
                    at,
                    reason: format!(
                        "{name} is in both environment and secrets; a container variable comes from one of them"
                    ),
                });
            }
            SecretRef::parse(value).map_err(|reason| PlatformError::Invalid { at, reason })?;
        }
        Ok(())
    }
}

/// One value of an environment map, as a string.
struct EnvValue(String);

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, a whole number or true/false (quote anything else)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvValue, E> {
                Ok(EnvValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Environment {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, EnvValue>::deserialize(d)?;
        Ok(Environment(
            raw.into_iter().map(|(k, v)| (k, v.0)).collect(),
        ))
    }
}

/// Check an optional image reference (`image:`, used instead of the
/// workload's ECR repository).
pub(crate) fn check_image(at: &str, image: Option<&str>) -> Result<(), PlatformError> {
    match image {
        Some(i)
            if i.is_empty()
                || i.len() > 1024
                || i.contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            Err(PlatformError::Invalid {
                at: format!("{at}.image"),
                reason: "expected an image reference such as public.ecr.aws/org/name:tag"
                    .to_owned(),
            })
        }
        _ => Ok(()),
    }
}

/// Check a workload name: the ECR repository `<name>/<workload>` and the
/// folder `workloads/<workload>` that `make images` builds.
pub(crate) fn check_workload(at: &str, workload: &str) -> Result<(), PlatformError> {
    let ok = (1..=64).contains(&workload.len())
        && workload.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && workload.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err(PlatformError::Invalid {
            at: format!("{at}.workload"),
            reason: "a workload is 1-64 characters of a-z, 0-9, '-', '_' and '.', starting with a letter or digit (it names workloads/<workload> and its ECR repository)".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes_follow_the_aws_table() {
        for (cpu, memory) in [
            (256, 512),
            (256, 2048),
            (512, 4096),
            (1024, 2048),
            (2048, 16384),
            (4096, 30720),
            (8192, 20480),
            (16384, 122880),
        ] {
            assert!(is_fargate_size(cpu, memory), "{cpu}/{memory}");
        }
        for (cpu, memory) in [
            (256, 1536),
            (256, 4096),
            (512, 512),
            (1024, 9216),
            (8192, 17408),
            (300, 512),
            (0, 0),
        ] {
            assert!(!is_fargate_size(cpu, memory), "{cpu}/{memory}");
        }
    }

    #[test]
    fn a_bad_size_names_the_field_and_what_to_use() {
        let e = check_fargate_size("jobs.a", 300, 512)
            .unwrap_err()
            .to_string();
        assert!(e.contains("jobs.a.cpu") && e.contains("16384"), "{e}");
        let e = check_fargate_size("services.s", 256, 4096)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("services.s.memory") && e.contains("512, 1024 or 2048"),
            "{e}"
        );
    }

    #[test]
    fn environment_values_become_strings_and_other_shapes_are_refused() {
        let env: Environment =
            serde_norway::from_str("A: x\nB: 10\nC: true\nD: \"1.5\"\n").unwrap();
        assert_eq!(
            env.iter().collect::<Vec<_>>(),
            [("A", "x"), ("B", "10"), ("C", "true"), ("D", "1.5")]
        );
        for bad in ["A: 1.5\n", "A: [x]\n", "A: {b: c}\n", "A:\n"] {
            assert!(serde_norway::from_str::<Environment>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environment_names_are_checked_and_reserved_ones_refused() {
        let env: Environment = serde_norway::from_str("lower: x\n").unwrap();
        let e = env.check("services.s", &[]).unwrap_err().to_string();
        assert!(e.contains("services.s.environment.lower"), "{e}");
        let env: Environment = serde_norway::from_str("PORT: 1\n").unwrap();
        let e = env.check("services.s", &["PORT"]).unwrap_err().to_string();
        assert!(e.contains("PORT is set by the platform"), "{e}");
        let env: Environment = serde_norway::from_str("_OK_1: x\n").unwrap();
        assert!(env.check("services.s", &["PORT"]).is_ok());
    }
}
