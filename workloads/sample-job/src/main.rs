//! Sample batch job for Portcullis (registered as job type `sample`).
//!
//! Usage: `sample-job [--exit-code N] [--sleep-ms N] [ARG...]`
//!
//! Prints one JSON-ish line per argument and the platform variables
//! (`JOB_ID`, `JOB_TYPE`, `REQUEST_ID`, `TRACE_ID`, `GREETING`), sleeps
//! `--sleep-ms` (or `SAMPLE_SLEEP_MS`) milliseconds, then exits with
//! `--exit-code` (default 0). A malformed option exits 2 with a message.

use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
struct Options {
    exit_code: u8,
    sleep_ms: u64,
    rest: Vec<String>,
}

fn parse(args: &[String], sleep_env: Option<&str>) -> Result<Options, String> {
    let mut opts = Options {
        exit_code: 0,
        sleep_ms: match sleep_env {
            Some(s) => s.trim().parse().map_err(|_| {
                format!("SAMPLE_SLEEP_MS must be a whole number of milliseconds, got {s:?}")
            })?,
            None => 0,
        },
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--exit-code" => {
                let v = it.next().ok_or("--exit-code needs a value (0-255)")?;
                opts.exit_code = v
                    .parse()
                    .map_err(|_| format!("--exit-code must be 0-255, got {v:?}"))?;
            }
            "--sleep-ms" => {
                let v = it.next().ok_or("--sleep-ms needs a value")?;
                opts.sleep_ms = v.parse().map_err(|_| {
                    format!("--sleep-ms must be a whole number of milliseconds, got {v:?}")
                })?;
            }
            _ => opts.rest.push(a.clone()),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args, std::env::var("SAMPLE_SLEEP_MS").ok().as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("sample-job: {e}");
            return ExitCode::from(2);
        }
    };
    for var in ["JOB_ID", "JOB_TYPE", "REQUEST_ID", "TRACE_ID", "GREETING"] {
        if let Ok(v) = std::env::var(var) {
            println!("{var}={v}");
        }
    }
    for (i, a) in opts.rest.iter().enumerate() {
        println!("arg[{i}]={a}");
    }
    if opts.sleep_ms > 0 {
        std::thread::sleep(Duration::from_millis(opts.sleep_ms));
    }
    println!("exiting with {}", opts.exit_code);
    ExitCode::from(opts.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn exit_code_and_sleep_are_read_and_the_rest_kept() {
        let o = parse(
            &s(&["a", "--exit-code", "3", "--sleep-ms", "10", "b"]),
            None,
        )
        .unwrap();
        assert_eq!(
            o,
            Options {
                exit_code: 3,
                sleep_ms: 10,
                rest: s(&["a", "b"])
            }
        );
    }

    #[test]
    fn an_exit_code_out_of_range_is_refused() {
        assert!(
            parse(&s(&["--exit-code", "300"]), None)
                .unwrap_err()
                .contains("0-255")
        );
        assert!(parse(&s(&["--exit-code"]), None).is_err());
    }

    #[test]
    fn sleep_comes_from_the_environment_unless_given() {
        assert_eq!(parse(&[], Some("25")).unwrap().sleep_ms, 25);
        assert!(parse(&[], Some("soon")).is_err());
    }
}
