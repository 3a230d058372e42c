//! `services` section of platform.yaml.
