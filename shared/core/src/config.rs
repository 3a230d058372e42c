//! Typed configuration read from environment variables once, at start-up.
//!
//! Every reader takes a lookup function instead of touching the process
//! environment directly, so tests can feed exact inputs without `set_var`.
//! A missing or malformed variable fails with [`ConfigError`], whose message
//! names the variable and says what is expected. Values are never echoed back
//! (some variables hold secrets or secret ARNs).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A start-up configuration failure naming the variable at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration error: environment variable {var} is not set; expected {expected}")]
    Missing { var: String, expected: String },
    #[error(
        "configuration error: environment variable {var} is invalid ({reason}); expected {expected}"
    )]
    Invalid {
        var: String,
        expected: String,
        reason: String,
    },
}

impl ConfigError {
    /// The name of the variable at fault.
    pub fn var(&self) -> &str {
        match self {
            ConfigError::Missing { var, .. } | ConfigError::Invalid { var, .. } => var,
        }
    }

    /// `var` is not set (or blank).
    pub fn missing(var: &str, expected: &str) -> Self {
        ConfigError::Missing {
            var: var.to_owned(),
            expected: expected.to_owned(),
        }
    }

    pub fn invalid(var: &str, expected: &str, reason: impl fmt::Display) -> Self {
        ConfigError::Invalid {
            var: var.to_owned(),
            expected: expected.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Where configuration values come from: the process environment in
/// production, a map in tests.
#[derive(Clone)]
pub enum Env {
    Process,
    Map(HashMap<String, String>),
}

impl fmt::Debug for Env {
    // Never print values: some are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Env::Process => f.write_str("Env::Process"),
            Env::Map(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                f.debug_tuple("Env::Map").field(&keys).finish()
            }
        }
    }
}

impl Env {
    /// An environment made of the given pairs (tests, local gateway).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Env::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The raw value; empty strings count as unset.
    pub fn get(&self, var: &str) -> Option<String> {
        let v = match self {
            Env::Process => std::env::var(var).ok(),
            Env::Map(m) => m.get(var).cloned(),
        };
        v.filter(|s| !s.trim().is_empty())
    }

    /// A required string.
    pub fn required(&self, var: &str, expected: &str) -> Result<String, ConfigError> {
        self.get(var).ok_or_else(|| ConfigError::Missing {
            var: var.to_owned(),
            expected: expected.to_owned(),
        })
    }

    /// A required value parsed with `FromStr`.
    pub fn parse<T>(&self, var: &str, expected: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let raw = self.required(var, expected)?;
        raw.trim()
            .parse::<T>()
            .map_err(|e| ConfigError::invalid(var, expected, e))
    }

    /// An optional value parsed with `FromStr`; `default` when unset.
    pub fn parse_or<T>(&self, var: &str, expected: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<T>()
                .map_err(|e| ConfigError::invalid(var, expected, e)),
        }
    }

    /// An optional value parsed with `FromStr`.
    pub fn parse_opt<T>(&self, var: &str, expected: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(var) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|e| ConfigError::invalid(var, expected, e)),
        }
    }

    /// A duration given in whole milliseconds, bounded to `[min, max]`.
    pub fn millis_or(
        &self,
        var: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let expected = format!(
            "a whole number of milliseconds between {} and {}",
            min.as_millis(),
            max.as_millis()
        );
        let ms: u64 = self.parse_or(var, &expected, default.as_millis() as u64)?;
        let d = Duration::from_millis(ms);
        if d < min || d > max {
            return Err(ConfigError::invalid(
                var,
                &expected,
                format!("{ms} is out of range"),
            ));
        }
        Ok(d)
    }

    /// A duration given in whole seconds, bounded to `[min, max]`.
    pub fn secs_or(
        &self,
        var: &str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let expected = format!(
            "a whole number of seconds between {} and {}",
            min.as_secs(),
            max.as_secs()
        );
        let s: u64 = self.parse_or(var, &expected, default.as_secs())?;
        let d = Duration::from_secs(s);
        if d < min || d > max {
            return Err(ConfigError::invalid(
                var,
                &expected,
                format!("{s} is out of range"),
            ));
        }
        Ok(d)
    }

    /// A comma-separated list (items trimmed, empty items dropped).
    pub fn list(&self, var: &str) -> Vec<String> {
        self.get(var)
            .map(|raw| {
                raw.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A required comma-separated list with at least one item.
    pub fn required_list(&self, var: &str, expected: &str) -> Result<Vec<String>, ConfigError> {
        let items = self.list(var);
        if items.is_empty() {
            return Err(ConfigError::Missing {
                var: var.to_owned(),
                expected: expected.to_owned(),
            });
        }
        Ok(items)
    }

    /// A boolean: true/false/1/0/yes/no (any case).
    pub fn flag(&self, var: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(var) {
            None => Ok(default),
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                other => Err(ConfigError::invalid(
                    var,
                    "true or false",
                    format!("{other:?} is not a boolean"),
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_variable_is_named_with_what_is_expected() {
        let env = Env::from_pairs::<&str, &str>([]);
        let err = env
            .required("DATABASE_URL", "a postgres:// URL")
            .unwrap_err();
        assert_eq!(err.var(), "DATABASE_URL");
        let msg = err.to_string();
        assert!(
            msg.contains("DATABASE_URL") && msg.contains("postgres:// URL"),
            "{msg}"
        );
    }

    #[test]
    fn blank_variable_counts_as_missing() {
        let env = Env::from_pairs([("X", "   ")]);
        assert!(matches!(
            env.required("X", "x"),
            Err(ConfigError::Missing { .. })
        ));
    }

    #[test]
    fn malformed_number_is_invalid_and_named() {
        let env = Env::from_pairs([("PORT", "eighty")]);
        let err = env.parse::<u16>("PORT", "a TCP port").unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { .. }));
        assert!(err.to_string().contains("PORT"));
    }

    #[test]
    fn out_of_range_duration_is_rejected() {
        let env = Env::from_pairs([("T", "100000")]);
        let err = env
            .millis_or(
                "T",
                Duration::from_secs(1),
                Duration::from_millis(1),
                Duration::from_secs(29),
            )
            .unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn bad_flag_is_rejected() {
        let env = Env::from_pairs([("F", "maybe")]);
        assert!(env.flag("F", false).is_err());
        assert!(env.flag("G", true).unwrap());
    }

    #[test]
    fn debug_output_never_shows_values() {
        let env = Env::from_pairs([("DB_PASSWORD", "hunter2")]);
        let printed = format!("{env:?}");
        assert!(printed.contains("DB_PASSWORD") && !printed.contains("hunter2"));
    }
}
