//! `jobs` section of platform.yaml.
