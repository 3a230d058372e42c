//! The variables `make test` exports (docs/development.md#tests).

/// The value of `var`, or a panic (a failed test) naming it, saying what it
/// is for and that `make test` sets it up.
pub fn require(var: &str, what: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!("{var} is not set ({what}); run the tests through `make test`, which starts it and exports {var}")
        })
}

/// `AWS_ENDPOINT_URL`: the moto server of this test run.
pub fn emulator_endpoint() -> String {
    require(
        "AWS_ENDPOINT_URL",
        "the AWS emulator (moto server) this test talks to",
    )
}

/// `DATABASE_URL`: a PostgreSQL whose user may create databases.
pub fn database_url() -> String {
    require(
        "DATABASE_URL",
        "a PostgreSQL URL whose user may create databases",
    )
}

/// A name no other test of this run uses: `<prefix>-<pid>-<counter>-<nanos>`
/// (the emulator is shared by every test of a run).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_within_one_process() {
        let a = unique("x");
        let b = unique("x");
        assert_ne!(a, b);
        assert!(a.starts_with("x-"), "{a}");
    }

    #[test]
    #[should_panic(expected = "run the tests through `make test`")]
    fn a_missing_variable_fails_saying_to_run_make_test() {
        require("PORTCULLIS_TESTKIT_SURELY_UNSET", "nothing");
    }
}
