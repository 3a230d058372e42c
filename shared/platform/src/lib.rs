//! The platform registry, `platform.yaml`: private services, job types and
//! usage plans. Terraform reads the same file with `yamldecode`.
//!
//! Each section is owned by one module: [`services`] (proxy), [`jobs`]
//! (job types), [`plans`] (usage plans for API keys).

pub mod jobs;
pub mod plans;
pub mod services;

use serde::Deserialize;
use std::path::Path;

/// The whole registry. Unknown top-level keys are rejected so a typo fails
/// loudly instead of silently dropping an entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    #[serde(default)]
    pub services: serde_norway::Value,
    #[serde(default)]
    pub jobs: serde_norway::Value,
    #[serde(default)]
    pub usage_plans: serde_norway::Value,
}

/// A registry that cannot be read or does not validate.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("cannot read the platform registry {path}: {source}; check PLATFORM_FILE")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the platform registry is not valid YAML or has an unknown key: {0}")]
    Parse(#[from] serde_norway::Error),
    #[error("the platform registry is invalid at {at}: {reason}")]
    Invalid { at: String, reason: String },
}

impl Platform {
    pub fn from_yaml(text: &str) -> Result<Self, PlatformError> {
        Ok(serde_norway::from_str(text)?)
    }

    pub fn load(path: &Path) -> Result<Self, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|source| PlatformError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }
}
