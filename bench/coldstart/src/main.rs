//! `coldstart`: spawn each function binary N times against a mock Lambda
//! Runtime API and print a Markdown table (also written to `--out`).
//!
//! ```text
//! coldstart [--bin-dir target/release] [--runs 20] [--timeout-secs 10]
//!           [--database-url URL] [--aws-endpoint URL] [--latency-ms N] [--baseline hello]
//!           [--out target/coldstart.md] [--platform-file platform.yaml]
//!           [--fixtures tests/fixtures] [--migrations migrations] [--verbose] [--check]
//!           [NAME ...]
//! ```
//!
//! NAMEs default to the seven functions; the baseline (`hello`) is always
//! measured too. Spawns run one at a time, round-robin over the functions,
//! so load from elsewhere on the machine spreads over all rows alike.
//! `--check` exits non-zero unless every spawn answered its event without an
//! error (`make test` runs the harness so, on debug builds, so it cannot rot).
//!
//! `--latency-ms N` measures every function twice, in turn: as is, and with
//! every answer of the AWS emulator and of the JWKS endpoint delayed by N ms
//! (rows `<name> +N ms`), the round trips an AWS region adds to what
//! loopback makes free. The functions' AWS key is the harness's own
//! (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`): the emulator enforces IAM.

use anyhow::{Context as _, bail};
use coldstart::delay::DelayProxy;
use coldstart::measure::cold_start;
use coldstart::profile::{FUNCTIONS, IDENTITY_SECRET, Inputs, profile};
use coldstart::report::{Row, table};
use coldstart::runtime_api::Invocation;
use coldstart::setup;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Coldstart";
const CLIENT_ID: &str = "coldstart-client";
const USAGE: &str = "usage: coldstart [--bin-dir DIR] [--runs N] [--timeout-secs S] [--database-url URL] \
[--aws-endpoint URL] [--latency-ms N] [--baseline NAME] [--out FILE] [--platform-file FILE] [--fixtures DIR] [--migrations DIR] [--verbose] [--check] [NAME ...]";

struct Args {
    bin_dir: PathBuf,
    runs: usize,
    timeout: Duration,
    database_url: String,
    aws_endpoint: Option<String>,
    latency: Option<Duration>,
    baseline: String,
    out: PathBuf,
    platform_file: PathBuf,
    fixtures: PathBuf,
    migrations: PathBuf,
    names: Vec<String>,
    verbose: bool,
    check: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        bin_dir: PathBuf::from("target/release"),
        runs: 20,
        timeout: Duration::from_secs(10),
        database_url: std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
        aws_endpoint: None,
        latency: None,
        baseline: "hello".to_owned(),
        out: PathBuf::from("target/coldstart.md"),
        platform_file: PathBuf::from("platform.yaml"),
        fixtures: PathBuf::from("tests/fixtures"),
        migrations: PathBuf::from("migrations"),
        names: Vec::new(),
        verbose: false,
        check: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |what: &str| {
            it.next()
                .with_context(|| format!("{arg} needs {what}\n{USAGE}"))
        };
        match arg.as_str() {
            "--bin-dir" => a.bin_dir = value("a directory")?.into(),
            "--runs" => {
                a.runs = value("a count")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .context("--runs must be a whole number from 1 to 1000")?
            }
            "--timeout-secs" => {
                let secs: u64 = value("seconds")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=300).contains(n))
                    .context("--timeout-secs must be a whole number from 1 to 300")?;
                a.timeout = Duration::from_secs(secs);
            }
            "--database-url" => a.database_url = value("a URL")?,
            "--aws-endpoint" => a.aws_endpoint = Some(value("a URL")?),
            "--latency-ms" => {
                let ms: u64 = value("milliseconds")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=5000).contains(n))
                    .context("--latency-ms must be a whole number from 1 to 5000")?;
                a.latency = Some(Duration::from_millis(ms));
            }
            "--baseline" => a.baseline = value("a binary name")?,
            "--out" => a.out = value("a file")?.into(),
            "--platform-file" => a.platform_file = value("a file")?.into(),
            "--fixtures" => a.fixtures = value("a directory")?.into(),
            "--migrations" => a.migrations = value("a directory")?.into(),
            "--verbose" => a.verbose = true,
            "--check" => a.check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
            name => a.names.push(name.to_owned()),
        }
    }
    if a.names.is_empty() {
        a.names = FUNCTIONS.iter().map(|s| (*s).to_owned()).collect();
    }
    Ok(a)
}

/// A loopback port nothing listens on (bound, then released): the functions'
/// `AWS_ENDPOINT_URL` when no emulator is given, so a stray AWS call fails
/// fast instead of leaving the machine.
fn closed_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).context("cannot bind 127.0.0.1")?;
    Ok(l.local_addr()?.port())
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
}

/// One row of the table: a binary, its profile, and the latency injected
/// into its AWS and JWKS answers.
struct Variant {
    label: String,
    bin: PathBuf,
    profile: coldstart::profile::Profile,
    jwks_delay: Duration,
    /// Keeps the delaying forwarder of this row's AWS endpoint running.
    _proxy: Option<std::sync::Arc<DelayProxy>>,
}

/// Every function as is and, with `--latency-ms`, again with its AWS
/// endpoint behind a delaying forwarder and its JWKS answered late (the
/// baseline makes no call: measured once).
async fn variants(
    a: &Args,
    names: &[String],
    inputs: &Inputs,
    aws_endpoint: &str,
) -> anyhow::Result<Vec<Variant>> {
    let proxy = match a.latency {
        None => None,
        Some(latency) => {
            let url = url::Url::parse(aws_endpoint)
                .with_context(|| format!("the AWS endpoint {aws_endpoint:?} is not a URL"))?;
            let upstream = url
                .socket_addrs(|| None)
                .ok()
                .and_then(|a| a.into_iter().next())
                .with_context(|| format!("the AWS endpoint {aws_endpoint} has no address"))?;
            let proxy = DelayProxy::start(upstream, latency)
                .await
                .context("cannot start the delaying forwarder on 127.0.0.1")?;
            Some((latency, std::sync::Arc::new(proxy)))
        }
    };
    let mut out = Vec::new();
    for n in names {
        let bin = absolute(&a.bin_dir.join(n))?;
        out.push(Variant {
            label: n.clone(),
            bin: bin.clone(),
            profile: profile(n, inputs)?,
            jwks_delay: Duration::ZERO,
            _proxy: None,
        });
        if let Some((latency, proxy)) = proxy.as_ref().filter(|_| *n != a.baseline) {
            let delayed = Inputs {
                aws_endpoint: format!("http://{}", proxy.addr()),
                ..inputs.clone()
            };
            out.push(Variant {
                label: format!("{n} +{} ms", latency.as_millis()),
                bin,
                profile: profile(n, &delayed)?,
                jwks_delay: *latency,
                _proxy: Some(proxy.clone()),
            });
        }
    }
    Ok(out)
}

/// One cold start of `v` (spawn `index` of round `run`).
async fn spawn(
    a: &Args,
    v: &Variant,
    run: usize,
    index: usize,
    jwks: &str,
) -> anyhow::Result<coldstart::measure::Sample> {
    let p = &v.profile;
    let invocation = Invocation {
        request_id: format!("c01d57a7-0000-4000-8000-{run:06x}{index:06x}"),
        function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", p.name),
        event: serde_json::to_vec(&p.event)?.into(),
        timeout: a.timeout,
        jwks: Some(jwks.to_owned()),
        jwks_delay: v.jwks_delay,
    };
    cold_start(
        &v.bin,
        invocation,
        |addr| p.env_for(&addr.to_string()),
        a.timeout,
    )
    .await
}

/// `Err` naming each row with a spawn that did not answer, or answered an
/// error or a 5xx.
fn check(rows: &[Row]) -> anyhow::Result<()> {
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| {
            r.samples.iter().any(|s| match &s.outcome {
                coldstart::measure::Outcome::Answered(a) => a.starts_with("HTTP 5"),
                _ => true,
            })
        })
        .map(|r| format!("{}: {}", r.name, r.outcomes()))
        .collect();
    if !failed.is_empty() {
        bail!(
            "coldstart --check: not every spawn answered (run with --verbose for their output):\n{}",
            failed.join("\n")
        );
    }
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    format!("{cores} × {cpu}, Linux {kernel}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = parse_args()?;
    let mut names = vec![a.baseline.clone()];
    names.extend(a.names.iter().filter(|n| **n != a.baseline).cloned());
    for n in &names {
        let bin = absolute(&a.bin_dir.join(n))?;
        if !bin.is_file() {
            bail!(
                "{} does not exist: build it first (cargo build --release -p {n}, or make bench-coldstart)",
                bin.display()
            );
        }
    }

    eprintln!(
        "coldstart: preparing the scratch database {}",
        setup::DATABASE
    );
    let database_url = setup::scratch_database(&a.database_url, &a.migrations).await?;
    let (aws_endpoint, emulator) = match &a.aws_endpoint {
        Some(e) => {
            setup::identity_secret(e, IDENTITY_SECRET).await?;
            (e.clone(), true)
        }
        None => (format!("http://127.0.0.1:{}", closed_port()?), false),
    };
    let token = setup::access_token(ISSUER, CLIENT_ID)?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let inputs = Inputs {
        database_url,
        aws_endpoint: aws_endpoint.clone(),
        emulator,
        credentials: (
            var("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "test".to_owned()),
            var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "test".to_owned()),
        ),
        platform_file: absolute(&a.platform_file)?,
        fixtures: a.fixtures.clone(),
        token: token.jwt.clone(),
        issuer: ISSUER.to_owned(),
        client_id: CLIENT_ID.to_owned(),
    };
    let variants = variants(&a, &names, &inputs, &aws_endpoint).await?;
    let mut rows: Vec<Row> = variants
        .iter()
        .map(|v| Row {
            name: v.label.clone(),
            binary_bytes: std::fs::metadata(&v.bin).ok().map(|m| m.len()),
            init_calls: v.profile.init_calls.to_owned(),
            samples: Vec::new(),
        })
        .collect();

    eprintln!(
        "coldstart: {} spawns of {} binaries from {}{}",
        a.runs,
        names.len(),
        a.bin_dir.display(),
        a.latency
            .map(|l| format!(
                ", each function also with {} ms injected latency",
                l.as_millis()
            ))
            .unwrap_or_default()
    );
    for run in 0..a.runs {
        for (v, row) in variants.iter().zip(rows.iter_mut()) {
            let sample = spawn(&a, v, run, row.samples.len(), &token.jwks).await?;
            if a.verbose && run == 0 {
                eprintln!(
                    "coldstart: {} answered: {}",
                    v.label,
                    sample.answer.as_deref().unwrap_or("(nothing)")
                );
                eprintln!("coldstart: {} last output: {}", v.label, sample.output);
            }
            row.samples.push(sample);
        }
        eprintln!("coldstart: round {}/{} done", run + 1, a.runs);
    }

    let text = format!(
        "Cold start, {} spawns each, binaries from `{}`; {}; {}.\n\n{}",
        a.runs,
        a.bin_dir.display(),
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        table(&rows, &a.baseline)
    );
    println!("{text}");
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&a.out, &text).with_context(|| format!("cannot write {}", a.out.display()))?;
    eprintln!("coldstart: table written to {}", a.out.display());
    if a.check {
        check(&rows)?;
    }
    Ok(())
}
