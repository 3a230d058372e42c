//! `plans` section of platform.yaml.
