//! Metrics in CloudWatch Embedded Metric Format (EMF): the one catalogue of
//! what the code can emit, and the emitter that writes it.
//!
//! One record is one JSON line on stdout. In Lambda, CloudWatch Logs
//! extracts the metrics of every line that follows the EMF specification
//! from the function's log group: no agent, no `PutMetricData`, no network
//! call on the request's path ("Using the embedded metric format with
//! Lambda",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Lambda.html>).
//! The shape follows "Specification: Embedded metric format"
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//!
//! ```json
//! {"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Portcullis",
//!   "Dimensions":[["Environment"],["Environment","Outcome"]],
//!   "Metrics":[{"Name":"AuthorizerDecision","Unit":"Count"}]}]},
//!  "Environment":"dev","Outcome":"allowed","AuthorizerDecision":1,"Function":"authorizer"}
//! ```
//!
//! - Namespace [`NAMESPACE`]; every metric is published under
//!   `[Environment]` (the roll-up alarms use) and, when the catalogue gives
//!   it one, under `[Environment, <its dimensions>]`
//!   ([`Metric::dimensions`]). `Environment` is `DEPLOYMENT_ENVIRONMENT`
//!   (default `dev`), read once ([`Settings`]).
//! - Bounded cardinality: dimensions are the [`Dimension`] enum, so no other
//!   name can be emitted; a dimension a metric does not declare is refused
//!   (a debug assertion; dropped in release builds, never published) and
//!   the values given are closed sets (an outcome, a reason class, a status
//!   class) or names from the registry (job types, services). No tenant,
//!   key or principal id is a dimension, except `Tenant` for the metrics
//!   marked [`Metric::per_tenant`] when the operator sets
//!   `METRICS_TENANT_DIMENSION=true`.
//! - `Function` (the binary's name, given to [`init`] by the runtime kit)
//!   is a property of the record, not a dimension.
//!
//! ```
//! use portcullis_core::metrics::{self, Dimension, Metric, Record};
//! use std::time::Duration;
//!
//! metrics::count(Metric::KeyCreated, &[]);
//! Record::new()
//!     .dimension(Dimension::Service, "echo")
//!     .dimension(Dimension::StatusClass, "2xx")
//!     .count(Metric::ProxyUpstreamResponse)
//!     .millis(Metric::ProxyUpstreamLatency, Duration::from_millis(12))
//!     .bytes(Metric::ProxyBytesOut, 512)
//!     .emit();
//! ```
//!
//! Tests read what was emitted with [`capture`].

use crate::config::{ConfigError, Env};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::rc::Rc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The CloudWatch namespace of every Portcullis metric (Terraform:
/// `local.metrics_namespace`).
pub const NAMESPACE: &str = "Portcullis";

/// The deployment environment, the one dimension of every metric.
pub const DEPLOYMENT_ENVIRONMENT: &str = "DEPLOYMENT_ENVIRONMENT";
/// `true`: the metrics marked [`Metric::per_tenant`] are also published
/// per tenant (`[Environment, Tenant]`). Off by default: one series per
/// tenant costs a custom metric each.
pub const METRICS_TENANT_DIMENSION: &str = "METRICS_TENANT_DIMENSION";
/// The environment when `DEPLOYMENT_ENVIRONMENT` is unset.
pub const DEFAULT_ENVIRONMENT: &str = "dev";

/// The most values one metric carries in one record (EMF: an array of at
/// most 100 values); more are written in further records.
pub const MAX_VALUES: usize = 100;
/// The longest dimension value written (CloudWatch allows 1024; ours are
/// short names).
pub const MAX_DIMENSION_VALUE: usize = 255;

/// The dimensions a metric can have: no other name can be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// `DEPLOYMENT_ENVIRONMENT`: set by the emitter on every record.
    Environment,
    /// The authorizer's decision ([`AUTHORIZER_OUTCOMES`]).
    Outcome,
    /// A job type of the registry (platform.yaml `jobs:`).
    JobType,
    /// A refusal or failure class (a closed set per metric).
    Reason,
    /// A service of the registry (platform.yaml `services:`).
    Service,
    /// An upstream answer's class: 2xx, 3xx, 4xx, 5xx, timeout, error.
    StatusClass,
    /// The caller's tenant: only with `METRICS_TENANT_DIMENSION=true`, set
    /// with [`Record::tenant`].
    Tenant,
}

impl Dimension {
    pub const fn name(self) -> &'static str {
        match self {
            Dimension::Environment => "Environment",
            Dimension::Outcome => "Outcome",
            Dimension::JobType => "JobType",
            Dimension::Reason => "Reason",
            Dimension::Service => "Service",
            Dimension::StatusClass => "StatusClass",
            Dimension::Tenant => "Tenant",
        }
    }
}

/// The units of the catalogue (CloudWatch's unit names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

/// The authorizer's outcomes, the values of its `Outcome` dimension.
pub const AUTHORIZER_OUTCOMES: &[&str] = &[
    "allowed",
    "no_credential",
    "bad_key",
    "revoked",
    "expired",
    "bad_token",
    "tenant_not_provisioned",
    "scope_missing",
    "error",
];

/// The upstream answer classes of the proxy's `StatusClass` dimension.
pub const STATUS_CLASSES: &[&str] = &["2xx", "3xx", "4xx", "5xx", "timeout", "error"];

/// Every metric the code can emit: the catalogue (docs/observability.md;
/// the Terraform alarms may name only these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// An authorizer decision, by `Outcome` ([`AUTHORIZER_OUTCOMES`]).
    AuthorizerDecision,
    /// A credential answered from the authorizer's in-process cache.
    AuthorizerCacheHit,
    /// A JWKS download attempted.
    JwksFetch,
    /// A JWKS download that failed (unreachable, timeout, not a JWKS).
    JwksFetchFailure,
    /// A request for a private service sent or allowed without its signed
    /// identity (key not loaded, signing error).
    IdentitySigningFailure,
    /// A job accepted by the jobs API, by `JobType`.
    JobSubmitted,
    /// A submit answered with an existing job (same Idempotency-Key).
    JobDeduplicated,
    /// A job whose task reached RUNNING.
    JobStarted,
    JobSucceeded,
    JobFailed,
    JobCancelled,
    JobTimedOut,
    /// Submit (created) to RUNNING.
    JobQueueWait,
    /// RUNNING to the terminal status.
    JobRunTime,
    /// A RunTask call that started no task, by `Reason` class.
    RunTaskFailure,
    /// An upstream answer of the proxy, by `Service` and `StatusClass`.
    ProxyUpstreamResponse,
    /// The time of the upstream call, by `Service`.
    ProxyUpstreamLatency,
    /// A request the proxy refused before calling the upstream, by `Reason`.
    ProxyRefusal,
    /// The body bytes of the upstream's answer, by `Service`.
    ProxyBytesOut,
    KeyCreated,
    KeyRevoked,
    /// A tenant provisioned or changed (PUT /v1/tenants/{tenant}).
    TenantChanged,
    /// The API Gateway API keys of the account (10,000 at most).
    ApiKeyCount,
    ReconcilerRedriven,
    ReconcilerOrphanAdopted,
    ReconcilerDuplicateStopped,
    ReconcilerSweepDuration,
    TaskEventProcessed,
    TaskEventUnknownTask,
    TaskEventStale,
}

use Dimension as D;

impl Metric {
    /// The catalogue, in its order.
    pub const ALL: &'static [Metric] = &[
        Metric::AuthorizerDecision,
        Metric::AuthorizerCacheHit,
        Metric::JwksFetch,
        Metric::JwksFetchFailure,
        Metric::IdentitySigningFailure,
        Metric::JobSubmitted,
        Metric::JobDeduplicated,
        Metric::JobStarted,
        Metric::JobSucceeded,
        Metric::JobFailed,
        Metric::JobCancelled,
        Metric::JobTimedOut,
        Metric::JobQueueWait,
        Metric::JobRunTime,
        Metric::RunTaskFailure,
        Metric::ProxyUpstreamResponse,
        Metric::ProxyUpstreamLatency,
        Metric::ProxyRefusal,
        Metric::ProxyBytesOut,
        Metric::KeyCreated,
        Metric::KeyRevoked,
        Metric::TenantChanged,
        Metric::ApiKeyCount,
        Metric::ReconcilerRedriven,
        Metric::ReconcilerOrphanAdopted,
        Metric::ReconcilerDuplicateStopped,
        Metric::ReconcilerSweepDuration,
        Metric::TaskEventProcessed,
        Metric::TaskEventUnknownTask,
        Metric::TaskEventStale,
    ];

    /// The metric's name in CloudWatch.
    pub const fn name(self) -> &'static str {
        match self {
            Metric::AuthorizerDecision => "AuthorizerDecision",
            Metric::AuthorizerCacheHit => "AuthorizerCacheHit",
            Metric::JwksFetch => "JwksFetch",
            Metric::JwksFetchFailure => "JwksFetchFailure",
            Metric::IdentitySigningFailure => "IdentitySigningFailure",
            Metric::JobSubmitted => "JobSubmitted",
            Metric::JobDeduplicated => "JobDeduplicated",
            Metric::JobStarted => "JobStarted",
            Metric::JobSucceeded => "JobSucceeded",
            Metric::JobFailed => "JobFailed",
            Metric::JobCancelled => "JobCancelled",
            Metric::JobTimedOut => "JobTimedOut",
            Metric::JobQueueWait => "JobQueueWait",
            Metric::JobRunTime => "JobRunTime",
            Metric::RunTaskFailure => "RunTaskFailure",
            Metric::ProxyUpstreamResponse => "ProxyUpstreamResponse",
            Metric::ProxyUpstreamLatency => "ProxyUpstreamLatency",
            Metric::ProxyRefusal => "ProxyRefusal",
            Metric::ProxyBytesOut => "ProxyBytesOut",
            Metric::KeyCreated => "KeyCreated",
            Metric::KeyRevoked => "KeyRevoked",
            Metric::TenantChanged => "TenantChanged",
            Metric::ApiKeyCount => "ApiKeyCount",
            Metric::ReconcilerRedriven => "ReconcilerRedriven",
            Metric::ReconcilerOrphanAdopted => "ReconcilerOrphanAdopted",
            Metric::ReconcilerDuplicateStopped => "ReconcilerDuplicateStopped",
            Metric::ReconcilerSweepDuration => "ReconcilerSweepDuration",
            Metric::TaskEventProcessed => "TaskEventProcessed",
            Metric::TaskEventUnknownTask => "TaskEventUnknownTask",
            Metric::TaskEventStale => "TaskEventStale",
        }
    }

    pub const fn unit(self) -> Unit {
        match self {
            Metric::JobQueueWait
            | Metric::JobRunTime
            | Metric::ProxyUpstreamLatency
            | Metric::ReconcilerSweepDuration => Unit::Milliseconds,
            Metric::ProxyBytesOut => Unit::Bytes,
            _ => Unit::Count,
        }
    }

    /// The dimensions of the metric's second dimension set, besides
    /// `Environment` (`[]`: published under `[Environment]` only). A record
    /// holding the metric must give each of them.
    pub const fn dimensions(self) -> &'static [Dimension] {
        match self {
            Metric::AuthorizerDecision => &[D::Outcome],
            Metric::JobSubmitted
            | Metric::JobDeduplicated
            | Metric::JobStarted
            | Metric::JobSucceeded
            | Metric::JobFailed
            | Metric::JobCancelled
            | Metric::JobTimedOut
            | Metric::JobQueueWait
            | Metric::JobRunTime => &[D::JobType],
            Metric::RunTaskFailure | Metric::ProxyRefusal => &[D::Reason],
            Metric::ProxyUpstreamResponse => &[D::Service, D::StatusClass],
            Metric::ProxyUpstreamLatency | Metric::ProxyBytesOut => &[D::Service],
            _ => &[],
        }
    }

    /// Whether the metric is also published under `[Environment, Tenant]`
    /// when `METRICS_TENANT_DIMENSION=true` (the table's "(T)").
    pub const fn per_tenant(self) -> bool {
        matches!(self, Metric::AuthorizerDecision | Metric::JobSubmitted)
    }

    /// The dimension sets the metric is published under, tenant opt-in
    /// aside: `[Environment]`, then `[Environment, <dimensions>]`.
    pub fn dimension_sets(self) -> Vec<Vec<Dimension>> {
        let mut sets = vec![vec![D::Environment]];
        if !self.dimensions().is_empty() {
            let mut set = vec![D::Environment];
            set.extend_from_slice(self.dimensions());
            sets.push(set);
        }
        sets
    }

    /// The metric of this name, if the catalogue has it.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// The catalogue as JSON, on one line:
/// `{"namespace":"Portcullis","metrics":[{"name":..,"unit":..,"dimensions":[["Environment"],..]},..]}`
/// (what `cargo run -p portcullis-core --example metrics-catalogue` prints;
/// the Terraform cross-check compares the alarms' metric names with it).
/// The opt-in `[Environment, Tenant]` set is not listed: alarms never use it.
pub fn catalogue_json() -> String {
    let mut out = String::from("{\"namespace\":");
    push_json_str(&mut out, NAMESPACE);
    out.push_str(",\"metrics\":[");
    for (i, m) in Metric::ALL.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_str(&mut out, m.name());
        out.push_str(",\"unit\":");
        push_json_str(&mut out, m.unit().name());
        out.push_str(",\"dimensions\":");
        push_sets(&mut out, &m.dimension_sets());
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// What every record of the process carries: the environment and the
/// tenant opt-in, read once from the process environment ([`settings`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DEPLOYMENT_ENVIRONMENT`, default [`DEFAULT_ENVIRONMENT`].
    pub environment: String,
    /// `METRICS_TENANT_DIMENSION` (default false).
    pub tenant_dimension: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            environment: DEFAULT_ENVIRONMENT.to_owned(),
            tenant_dimension: false,
        }
    }
}

impl Settings {
    /// From `env`: `DEPLOYMENT_ENVIRONMENT` (default `dev`) and
    /// `METRICS_TENANT_DIMENSION` (a boolean, default false).
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        Ok(Settings {
            environment: environment_of(env),
            tenant_dimension: env.flag(METRICS_TENANT_DIMENSION, false)?,
        })
    }
}

fn environment_of(env: &Env) -> String {
    env.get(DEPLOYMENT_ENVIRONMENT)
        .map(|e| e.trim().to_owned())
        .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_owned())
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();
static FUNCTION: OnceLock<String> = OnceLock::new();

/// The settings of the process: those [`init`] read, else read from the
/// process environment on first use (a malformed opt-in then counts as
/// off: [`init`] is where it stops a start).
pub fn settings() -> &'static Settings {
    SETTINGS.get_or_init(|| {
        let env = Env::Process;
        Settings {
            environment: environment_of(&env),
            tenant_dimension: env
                .flag(METRICS_TENANT_DIMENSION, false)
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "metrics: the tenant dimension stays off");
                    false
                }),
        }
    })
}

/// Read the settings from the process environment once and name the
/// function every record's `Function` property gives: the runtime kit's
/// start ([`crate::runtime::start`]). A malformed `METRICS_TENANT_DIMENSION`
/// is a start-up error naming it.
pub fn init(function: &str) -> Result<(), ConfigError> {
    let read = Settings::from_env(&Env::Process)?;
    let _ = SETTINGS.set(read);
    let _ = FUNCTION.set(function.to_owned());
    Ok(())
}

/// Use `settings` for this process's records instead of the process
/// environment's: for the local gateway, which runs every function in one
/// process with each function's own environment as a map (their
/// `DEPLOYMENT_ENVIRONMENT` is the deployment's, not the gateway process's).
/// The first settings a process takes stay, as with [`init`].
pub fn use_settings(settings: Settings) {
    let _ = SETTINGS.set(settings);
}

/// The `Function` property of the records, once [`init`] named it.
pub fn function() -> Option<&'static str> {
    FUNCTION.get().map(String::as_str)
}

/// One metric's values in a record.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    metric: Metric,
    values: Vec<f64>,
}

/// One EMF record: dimension values shared by its metrics, and their
/// values. Build it, then [`Record::emit`] it (one line; more only past
/// [`MAX_VALUES`] values of one metric).
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use = "a record is only written by emit()"]
pub struct Record {
    dimensions: Vec<(Dimension, String)>,
    tenant: Option<String>,
    entries: Vec<Entry>,
}

impl Record {
    pub fn new() -> Record {
        Record::default()
    }

    /// The value of dimension `d` for the metrics of this record that
    /// declare it ([`Metric::dimensions`]). Values are bounded names (an
    /// outcome, a reason class, a registered job type or service), never an
    /// id. `Environment` is the emitter's and `Tenant` goes through
    /// [`Record::tenant`]: both refused here.
    pub fn dimension(mut self, d: Dimension, value: &str) -> Record {
        debug_assert!(
            !matches!(d, D::Environment | D::Tenant),
            "{} is set by the emitter (Tenant: Record::tenant)",
            d.name()
        );
        let value = dimension_value(value);
        match self.dimensions.iter_mut().find(|(k, _)| *k == d) {
            Some(slot) => slot.1 = value,
            None => self.dimensions.push((d, value)),
        }
        self
    }

    /// The caller's tenant: published only for the metrics marked
    /// [`Metric::per_tenant`], and only when `METRICS_TENANT_DIMENSION=true`.
    pub fn tenant(mut self, tenant: &str) -> Record {
        self.tenant = Some(dimension_value(tenant));
        self
    }

    /// One occurrence of a `Count` metric.
    pub fn count(self, metric: Metric) -> Record {
        self.add(metric, 1)
    }

    /// `n` occurrences of a `Count` metric (a sweep's total; 0 is written).
    pub fn add(self, metric: Metric, n: u64) -> Record {
        debug_assert_eq!(
            metric.unit(),
            Unit::Count,
            "{} is not a count",
            metric.name()
        );
        self.value(metric, n as f64)
    }

    /// A duration of a `Milliseconds` metric (fractions kept).
    pub fn millis(self, metric: Metric, d: Duration) -> Record {
        debug_assert_eq!(
            metric.unit(),
            Unit::Milliseconds,
            "{} is not in milliseconds",
            metric.name()
        );
        self.value(metric, d.as_secs_f64() * 1000.0)
    }

    /// A size of a `Bytes` metric.
    pub fn bytes(self, metric: Metric, n: u64) -> Record {
        debug_assert_eq!(
            metric.unit(),
            Unit::Bytes,
            "{} is not in bytes",
            metric.name()
        );
        self.value(metric, n as f64)
    }

    /// A value: counts of the same metric add up; durations and sizes
    /// are kept one by one (a distribution, EMF's array of values).
    fn value(mut self, metric: Metric, v: f64) -> Record {
        if !v.is_finite() {
            return self;
        }
        match self.entries.iter_mut().find(|e| e.metric == metric) {
            Some(e) if metric.unit() == Unit::Count => {
                if let Some(first) = e.values.first_mut() {
                    *first += v;
                }
            }
            Some(e) => e.values.push(v),
            None => self.entries.push(Entry {
                metric,
                values: vec![v],
            }),
        }
        self
    }

    /// Whether the record holds no metric.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Write the record (nothing when it holds no metric): to the
    /// thread's [`capture`] if there is one, else the process writer
    /// (stdout unless [`set_writer`] replaced it).
    pub fn emit(self) {
        if self.entries.is_empty() {
            return;
        }
        let captured = CAPTURE.with(|c| c.borrow().clone());
        let now = timestamp_ms();
        match captured {
            Some(c) => {
                let lines = self.render(&c.settings, now);
                c.lines.borrow_mut().extend(lines);
            }
            None => write_lines(&self.render(settings(), now)),
        }
    }

    /// The record's EMF lines under `settings`, stamped `timestamp_ms`.
    /// A dimension no metric of the record declares is not written, nor a
    /// set whose dimension is missing (both are debug assertions).
    pub fn render(&self, settings: &Settings, timestamp_ms: u64) -> Vec<String> {
        self.check();
        let rounds = self
            .entries
            .iter()
            .map(|e| e.values.len().div_ceil(MAX_VALUES))
            .max()
            .unwrap_or(0);
        (0..rounds)
            .map(|round| self.line(settings, timestamp_ms, round))
            .collect()
    }

    /// Every metric gets the dimensions it declares; every dimension is
    /// declared by a metric of the record.
    fn check(&self) {
        if cfg!(debug_assertions) {
            for e in &self.entries {
                for d in e.metric.dimensions() {
                    assert!(
                        self.given(*d).is_some(),
                        "metric {} needs dimension {}",
                        e.metric.name(),
                        d.name()
                    );
                }
            }
            for (d, _) in &self.dimensions {
                assert!(
                    self.entries
                        .iter()
                        .any(|e| e.metric.dimensions().contains(d)),
                    "dimension {} is not in the catalogue for {:?}",
                    d.name(),
                    self.entries
                        .iter()
                        .map(|e| e.metric.name())
                        .collect::<Vec<_>>()
                );
            }
        }
    }

    fn given(&self, d: Dimension) -> Option<&str> {
        self.dimensions
            .iter()
            .find(|(k, _)| *k == d)
            .map(|(_, v)| v.as_str())
    }

    /// The sets `metric` is published under here.
    fn sets_of(&self, metric: Metric, settings: &Settings) -> Vec<Vec<Dimension>> {
        let mut sets = vec![vec![D::Environment]];
        let own = metric.dimensions();
        if !own.is_empty() && own.iter().all(|d| self.given(*d).is_some()) {
            let mut set = vec![D::Environment];
            set.extend_from_slice(own);
            sets.push(set);
        }
        if metric.per_tenant() && settings.tenant_dimension && self.tenant.is_some() {
            sets.push(vec![D::Environment, D::Tenant]);
        }
        sets
    }

    /// Line `round`: the `round`-th hundred of each metric's values.
    fn line(&self, settings: &Settings, timestamp_ms: u64, round: usize) -> String {
        let groups = self.groups(settings, round);
        let mut out = String::with_capacity(384);
        let _ = write!(
            out,
            "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":["
        );
        let used = push_directives(&mut out, &groups);
        out.push_str("]}");
        self.push_dimension_values(&mut out, settings, &used);
        push_values(&mut out, &groups, round);
        if let Some(f) = function() {
            out.push_str(",\"Function\":");
            push_json_str(&mut out, f);
        }
        out.push('}');
        out
    }

    /// The metrics of line `round`, grouped by identical dimension sets:
    /// one directive per group.
    fn groups(&self, settings: &Settings, round: usize) -> Vec<Group<'_>> {
        let mut groups: Vec<Group<'_>> = Vec::new();
        for e in &self.entries {
            if e.values.len() <= round * MAX_VALUES {
                continue;
            }
            let sets = self.sets_of(e.metric, settings);
            match groups.iter_mut().find(|(s, _)| *s == sets) {
                Some((_, members)) => members.push(e),
                None => groups.push((sets, vec![e])),
            }
        }
        groups
    }

    /// Each dimension the directives name, with its value.
    fn push_dimension_values(&self, out: &mut String, settings: &Settings, used: &[Dimension]) {
        for d in used {
            let value = match d {
                D::Environment => Some(settings.environment.as_str()),
                D::Tenant => self.tenant.as_deref(),
                other => self.given(*other),
            };
            if let Some(v) = value {
                out.push(',');
                push_json_str(out, d.name());
                out.push(':');
                push_json_str(out, v);
            }
        }
    }
}

/// Metrics sharing one list of dimension sets.
type Group<'a> = (Vec<Vec<Dimension>>, Vec<&'a Entry>);

/// One `CloudWatchMetrics` directive per group; the dimensions they name,
/// in order of first use.
fn push_directives(out: &mut String, groups: &[Group<'_>]) -> Vec<Dimension> {
    let mut used: Vec<Dimension> = Vec::new();
    for (i, (sets, members)) in groups.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"Namespace\":");
        push_json_str(out, NAMESPACE);
        out.push_str(",\"Dimensions\":");
        push_sets(out, sets);
        out.push_str(",\"Metrics\":[");
        for (j, e) in members.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"Name\":");
            push_json_str(out, e.metric.name());
            out.push_str(",\"Unit\":");
            push_json_str(out, e.metric.unit().name());
            out.push('}');
        }
        out.push_str("]}");
        for d in sets.iter().flatten() {
            if !used.contains(d) {
                used.push(*d);
            }
        }
    }
    used
}

/// Each metric's values of line `round`: one number, or an array.
fn push_values(out: &mut String, groups: &[Group<'_>], round: usize) {
    for (_, members) in groups {
        for e in members {
            let chunk = e.values.chunks(MAX_VALUES).nth(round).unwrap_or_default();
            out.push(',');
            push_json_str(out, e.metric.name());
            out.push(':');
            match chunk {
                [one] => push_number(out, *one),
                many => {
                    out.push('[');
                    for (k, v) in many.iter().enumerate() {
                        if k > 0 {
                            out.push(',');
                        }
                        push_number(out, *v);
                    }
                    out.push(']');
                }
            }
        }
    }
}

/// One occurrence of `metric` with these dimension values, as its own record.
pub fn count(metric: Metric, dimensions: &[(Dimension, &str)]) {
    with_dimensions(dimensions).count(metric).emit();
}

/// `n` occurrences of `metric`, as its own record.
pub fn add(metric: Metric, n: u64, dimensions: &[(Dimension, &str)]) {
    with_dimensions(dimensions).add(metric, n).emit();
}

/// One duration of a `Milliseconds` metric, as its own record.
pub fn millis(metric: Metric, d: Duration, dimensions: &[(Dimension, &str)]) {
    with_dimensions(dimensions).millis(metric, d).emit();
}

fn with_dimensions(dimensions: &[(Dimension, &str)]) -> Record {
    dimensions
        .iter()
        .fold(Record::new(), |r, (d, v)| r.dimension(*d, v))
}

/// A dimension value CloudWatch accepts: printable ASCII (anything else
/// becomes `_`), trimmed, not empty (`none`), at most
/// [`MAX_DIMENSION_VALUE`] characters ("Dimension",
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html>).
fn dimension_value(raw: &str) -> String {
    let v: String = raw
        .trim()
        .chars()
        .take(MAX_DIMENSION_VALUE)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if v.is_empty() { "none".to_owned() } else { v }
}

fn timestamp_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_sets(out: &mut String, sets: &[Vec<Dimension>]) {
    out.push('[');
    for (i, set) in sets.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, d) in set.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_json_str(out, d.name());
        }
        out.push(']');
    }
    out.push(']');
}

/// Integers without a fraction (counts, bytes); others as Rust prints
/// them (always valid JSON for a finite f64).
fn push_number(out: &mut String, v: f64) {
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Where records go when the thread has no [`capture`]: stdout, or what
/// [`set_writer`] installed.
static WRITER: Mutex<Option<Box<dyn std::io::Write + Send>>> = Mutex::new(None);

/// Send every record of the process (outside a [`capture`]) to `writer`
/// instead of stdout.
pub fn set_writer(writer: Box<dyn std::io::Write + Send>) {
    *WRITER.lock().unwrap_or_else(|p| p.into_inner()) = Some(writer);
}

fn write_lines(lines: &[String]) {
    let mut guard = WRITER.lock().unwrap_or_else(|p| p.into_inner());
    for line in lines {
        // One write per line, newline included, so no log line lands in
        // the middle of it (the log writer locks stdout per line too).
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let written = match guard.as_mut() {
            Some(w) => w.write_all(&buf).and_then(|()| w.flush()),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&buf).and_then(|()| out.flush())
            }
        };
        if let Err(e) = written {
            tracing::warn!(error = %e, "a metrics record could not be written");
        }
    }
}

/// A capture's shared state.
struct Captured {
    settings: Settings,
    lines: RefCell<Vec<String>>,
}

thread_local! {
    static CAPTURE: RefCell<Option<Rc<Captured>>> = const { RefCell::new(None) };
}

/// The records emitted on this thread while it lives (tests: a handler on
/// a current-thread runtime, and the tasks it spawns, emit on the test's
/// thread), instead of stdout, with the default [`Settings`].
pub fn capture() -> Capture {
    capture_with(Settings::default())
}

/// [`capture`] with these settings (an environment, the tenant opt-in).
pub fn capture_with(settings: Settings) -> Capture {
    let inner = Rc::new(Captured {
        settings,
        lines: RefCell::new(Vec::new()),
    });
    let previous = CAPTURE.with(|c| c.borrow_mut().replace(inner.clone()));
    Capture { inner, previous }
}

/// What [`capture`] returns; the thread's records go back where they went
/// when it is dropped.
pub struct Capture {
    inner: Rc<Captured>,
    previous: Option<Rc<Captured>>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CAPTURE.with(|c| *c.borrow_mut() = previous);
    }
}

impl Capture {
    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.inner.lines.borrow().clone()
    }

    /// The records written so far, parsed.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Forget what was written so far.
    pub fn clear(&self) {
        self.inner.lines.borrow_mut().clear();
    }

    /// The sum of `metric`'s values over the records whose dimension values
    /// include every pair of `dimensions` (by name: `("JobType", "echo")`).
    pub fn sum(&self, metric: Metric, dimensions: &[(&str, &str)]) -> f64 {
        self.values(metric, dimensions).iter().sum()
    }

    /// Each value of `metric` in the records whose dimension values include
    /// every pair of `dimensions`, in order.
    pub fn values(&self, metric: Metric, dimensions: &[(&str, &str)]) -> Vec<f64> {
        let mut out = Vec::new();
        for r in self.records() {
            let matches = dimensions
                .iter()
                .all(|(k, v)| r.get(*k).and_then(serde_json::Value::as_str) == Some(*v));
            if !matches {
                continue;
            }
            match r.get(metric.name()) {
                Some(serde_json::Value::Array(vs)) => {
                    out.extend(vs.iter().filter_map(serde_json::Value::as_f64));
                }
                Some(v) => out.extend(v.as_f64()),
                None => {}
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::collections::BTreeSet;

    fn dev() -> Settings {
        Settings::default()
    }

    fn one(r: &Record, s: &Settings) -> Value {
        let lines = r.render(s, 1_700_000_000_000);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!lines[0].contains('\n'));
        let mut doc: Value = serde_json::from_str(&lines[0]).unwrap();
        // `Function` is whatever runtime::start named in this test binary.
        if let Some(f) = doc.as_object_mut().and_then(|o| o.remove("Function")) {
            assert!(f.is_string());
        }
        doc
    }

    /// The EMF specification's rules for a document: `_aws` with a number
    /// `Timestamp` and a `CloudWatchMetrics` array of directives, each
    /// with `Namespace`, `Dimensions` (arrays of at most 30 strings, each
    /// naming a string member of the root) and `Metrics` (at most 100
    /// definitions with `Name` and `Unit`, each naming a root member that
    /// is a number or an array of at most 100 numbers).
    fn assert_emf(doc: &Value) {
        let aws = doc["_aws"].as_object().expect("_aws object");
        assert!(aws["Timestamp"].is_u64(), "{doc}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for d in directives {
            let d = d.as_object().unwrap();
            let keys: BTreeSet<&str> = d.keys().map(String::as_str).collect();
            assert_eq!(keys, BTreeSet::from(["Namespace", "Dimensions", "Metrics"]));
            assert_eq!(d["Namespace"], NAMESPACE);
            for set in d["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(!set.is_empty() && set.len() <= 30);
                for name in set {
                    let v = &doc[name.as_str().unwrap()];
                    let v = v.as_str().unwrap_or_else(|| panic!("{name}: {doc}"));
                    assert!(!v.is_empty() && v.is_ascii() && v.len() <= 1024);
                }
            }
            let metrics = d["Metrics"].as_array().unwrap();
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for m in metrics {
                let name = m["Name"].as_str().unwrap();
                let metric = Metric::from_name(name).expect("a catalogue name");
                assert_eq!(m["Unit"], metric.unit().name());
                match &doc[name] {
                    Value::Array(vs) => {
                        assert!(!vs.is_empty() && vs.len() <= MAX_VALUES);
                        assert!(vs.iter().all(Value::is_number));
                    }
                    v => assert!(v.is_number(), "{name}: {doc}"),
                }
            }
        }
    }

    #[test]
    fn a_record_is_one_emf_line_with_the_environment_roll_up_and_the_metrics_own_set() {
        let r = Record::new()
            .dimension(Dimension::Outcome, "allowed")
            .count(Metric::AuthorizerDecision);
        let doc = one(&r, &dev());
        assert_emf(&doc);
        assert_eq!(
            doc,
            json!({"_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [{
                "Namespace": "Portcullis",
                "Dimensions": [["Environment"], ["Environment", "Outcome"]],
                "Metrics": [{"Name": "AuthorizerDecision", "Unit": "Count"}]}]},
             "Environment": "dev", "Outcome": "allowed", "AuthorizerDecision": 1})
        );
    }

    #[test]
    fn metrics_of_one_record_share_its_line_each_under_its_own_sets() {
        let r = Record::new()
            .dimension(Dimension::Service, "echo")
            .dimension(Dimension::StatusClass, "5xx")
            .count(Metric::ProxyUpstreamResponse)
            .millis(Metric::ProxyUpstreamLatency, Duration::from_micros(12_500))
            .bytes(Metric::ProxyBytesOut, 512);
        let doc = one(&r, &dev());
        assert_emf(&doc);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        assert_eq!(
            directives[0]["Dimensions"],
            json!([["Environment"], ["Environment", "Service", "StatusClass"]])
        );
        assert_eq!(
            directives[1]["Dimensions"],
            json!([["Environment"], ["Environment", "Service"]])
        );
        assert_eq!(
            directives[1]["Metrics"],
            json!([{"Name": "ProxyUpstreamLatency", "Unit": "Milliseconds"},
                   {"Name": "ProxyBytesOut", "Unit": "Bytes"}])
        );
        assert_eq!(doc["ProxyUpstreamLatency"], 12.5);
        assert_eq!(doc["ProxyBytesOut"], 512);
        assert_eq!(doc["StatusClass"], "5xx");
    }

    #[test]
    fn counts_add_up_and_durations_are_a_distribution_split_past_a_hundred_values() {
        let mut r = Record::new()
            .add(Metric::ReconcilerRedriven, 2)
            .add(Metric::ReconcilerRedriven, 3)
            .add(Metric::ReconcilerOrphanAdopted, 0);
        let doc = one(&r, &dev());
        assert_emf(&doc);
        assert_eq!(doc["ReconcilerRedriven"], 5);
        assert_eq!(doc["ReconcilerOrphanAdopted"], 0);

        r = Record::new().dimension(Dimension::JobType, "report");
        for i in 0..150 {
            r = r.millis(Metric::JobQueueWait, Duration::from_millis(i));
        }
        let lines = r.render(&dev(), 1);
        assert_eq!(lines.len(), 2);
        let docs: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for d in &docs {
            assert_emf(d);
        }
        assert_eq!(docs[0]["JobQueueWait"].as_array().unwrap().len(), 100);
        assert_eq!(docs[1]["JobQueueWait"].as_array().unwrap().len(), 50);
        assert_eq!(docs[1]["JobQueueWait"][49], 149);
    }

    #[test]
    fn the_tenant_is_a_dimension_only_when_the_operator_opts_in_and_only_where_marked() {
        let r = Record::new()
            .dimension(Dimension::JobType, "report")
            .tenant("acme")
            .count(Metric::JobSubmitted);
        let off = one(&r, &dev());
        assert_emf(&off);
        assert!(off.get("Tenant").is_none(), "{off}");
        assert!(!off.to_string().contains("acme"));

        let opted = Settings {
            environment: "prod".to_owned(),
            tenant_dimension: true,
        };
        let on = one(&r, &opted);
        assert_emf(&on);
        assert_eq!(on["Tenant"], "acme");
        assert_eq!(on["Environment"], "prod");
        assert_eq!(
            on["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([
                ["Environment"],
                ["Environment", "JobType"],
                ["Environment", "Tenant"]
            ])
        );

        // A metric not marked (T) never carries it, opt-in or not.
        let r = Record::new()
            .dimension(Dimension::JobType, "report")
            .tenant("acme")
            .count(Metric::JobDeduplicated);
        let doc = one(&r, &opted);
        assert!(doc.get("Tenant").is_none(), "{doc}");
    }

    #[test]
    fn the_settings_come_from_the_deployment_environment_and_the_opt_in() {
        assert_eq!(
            Settings::from_env(&Env::from_pairs::<&str, &str>([])).unwrap(),
            dev()
        );
        let s = Settings::from_env(&Env::from_pairs([
            (DEPLOYMENT_ENVIRONMENT, "staging"),
            (METRICS_TENANT_DIMENSION, "true"),
        ]))
        .unwrap();
        assert_eq!(s.environment, "staging");
        assert!(s.tenant_dimension);
        let e = Settings::from_env(&Env::from_pairs([(METRICS_TENANT_DIMENSION, "sometimes")]))
            .unwrap_err();
        assert_eq!(e.var(), METRICS_TENANT_DIMENSION);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "dimension Service is not in the catalogue")]
    fn a_dimension_the_metric_does_not_declare_is_refused() {
        let _ = Record::new()
            .dimension(Dimension::Service, "echo")
            .count(Metric::JobSubmitted)
            .dimension(Dimension::JobType, "report")
            .render(&dev(), 1);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "needs dimension JobType")]
    fn a_metric_without_its_dimension_is_refused() {
        let _ = Record::new().count(Metric::JobSubmitted).render(&dev(), 1);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "set by the emitter")]
    fn the_tenant_is_no_ordinary_dimension() {
        let _ = Record::new().dimension(Dimension::Tenant, "acme");
    }

    #[test]
    fn dimension_values_are_bounded_printable_ascii() {
        let r = Record::new()
            .dimension(Dimension::Reason, " caf\u{e9}\n\"x\" ")
            .count(Metric::ProxyRefusal);
        let doc = one(&r, &dev());
        assert_emf(&doc);
        assert_eq!(doc["Reason"], "caf__\"x\"");
        let long = "x".repeat(2000);
        let doc = one(
            &Record::new()
                .dimension(Dimension::Reason, &long)
                .count(Metric::ProxyRefusal),
            &dev(),
        );
        assert_eq!(doc["Reason"].as_str().unwrap().len(), MAX_DIMENSION_VALUE);
        let doc = one(
            &Record::new()
                .dimension(Dimension::Reason, "  ")
                .count(Metric::ProxyRefusal),
            &dev(),
        );
        assert_eq!(doc["Reason"], "none");
    }

    #[test]
    fn the_catalogue_json_lists_every_metric_with_its_unit_and_sets() {
        let doc: Value = serde_json::from_str(&catalogue_json()).unwrap();
        assert_eq!(doc["namespace"], "Portcullis");
        let metrics = doc["metrics"].as_array().unwrap();
        assert_eq!(metrics.len(), Metric::ALL.len());
        let names: BTreeSet<&str> = metrics
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), Metric::ALL.len(), "names are unique");
        for m in metrics {
            let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys.len(), 3, "{m}");
            let sets = m["dimensions"].as_array().unwrap();
            assert_eq!(sets[0], json!(["Environment"]));
            assert!(sets.iter().all(|s| s[0] == "Environment"));
        }
        let find = |n: &str| metrics.iter().find(|m| m["name"] == n).unwrap().clone();
        assert_eq!(
            find("ProxyUpstreamResponse"),
            json!({"name": "ProxyUpstreamResponse", "unit": "Count",
                   "dimensions": [["Environment"], ["Environment", "Service", "StatusClass"]]})
        );
        assert_eq!(
            find("JobQueueWait"),
            json!({"name": "JobQueueWait", "unit": "Milliseconds",
                   "dimensions": [["Environment"], ["Environment", "JobType"]]})
        );
        assert_eq!(
            find("ApiKeyCount"),
            json!({"name": "ApiKeyCount", "unit": "Count", "dimensions": [["Environment"]]})
        );
        assert_eq!(find("ProxyBytesOut")["unit"], "Bytes");
        assert!(catalogue_json().starts_with(r#"{"namespace":"Portcullis","metrics":[{"name":"AuthorizerDecision","unit":"Count","dimensions":[["Environment"],["Environment","Outcome"]]}"#));
    }

    #[test]
    fn the_catalogue_holds_the_contracts_metrics() {
        let expected = [
            "AuthorizerDecision",
            "AuthorizerCacheHit",
            "JwksFetch",
            "JwksFetchFailure",
            "IdentitySigningFailure",
            "JobSubmitted",
            "JobDeduplicated",
            "JobStarted",
            "JobSucceeded",
            "JobFailed",
            "JobCancelled",
            "JobTimedOut",
            "JobQueueWait",
            "JobRunTime",
            "RunTaskFailure",
            "ProxyUpstreamResponse",
            "ProxyUpstreamLatency",
            "ProxyRefusal",
            "ProxyBytesOut",
            "KeyCreated",
            "KeyRevoked",
            "TenantChanged",
            "ApiKeyCount",
            "ReconcilerRedriven",
            "ReconcilerOrphanAdopted",
            "ReconcilerDuplicateStopped",
            "ReconcilerSweepDuration",
            "TaskEventProcessed",
            "TaskEventUnknownTask",
            "TaskEventStale",
        ];
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names, expected);
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(*m));
        }
        assert_eq!(Metric::from_name("JobsSubmitted"), None);
    }

    #[test]
    fn a_capture_sees_this_threads_records_and_nothing_of_other_threads() {
        let cap = capture();
        count(Metric::KeyCreated, &[]);
        millis(
            Metric::JobRunTime,
            Duration::from_millis(40),
            &[(Dimension::JobType, "report")],
        );
        std::thread::spawn(|| {
            let own = capture();
            count(Metric::KeyRevoked, &[]);
            assert_eq!(own.sum(Metric::KeyRevoked, &[]), 1.0);
        })
        .join()
        .unwrap();
        Record::new().emit(); // empty: nothing written
        assert_eq!(cap.lines().len(), 2);
        for r in cap.records() {
            assert_emf(&r);
        }
        assert_eq!(cap.sum(Metric::KeyCreated, &[("Environment", "dev")]), 1.0);
        assert_eq!(cap.sum(Metric::KeyRevoked, &[]), 0.0);
        assert_eq!(
            cap.values(Metric::JobRunTime, &[("JobType", "report")]),
            vec![40.0]
        );
        assert!(
            cap.values(Metric::JobRunTime, &[("JobType", "other")])
                .is_empty()
        );
        cap.clear();
        assert!(cap.lines().is_empty());
    }

    #[test]
    fn a_capture_can_opt_in_to_the_tenant_dimension() {
        let cap = capture_with(Settings {
            environment: "test".to_owned(),
            tenant_dimension: true,
        });
        Record::new()
            .dimension(Dimension::Outcome, "allowed")
            .tenant("acme")
            .count(Metric::AuthorizerDecision)
            .emit();
        assert_eq!(
            cap.sum(
                Metric::AuthorizerDecision,
                &[("Tenant", "acme"), ("Environment", "test")]
            ),
            1.0
        );
    }

    #[test]
    fn a_process_writer_receives_whole_lines() {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Shared::default();
        // On a thread of its own: no capture there, and the process writer
        // is only used by threads without one (every other test captures).
        let b = buf.clone();
        std::thread::spawn(move || {
            set_writer(Box::new(b));
            count(Metric::TaskEventProcessed, &[]);
        })
        .join()
        .unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("TaskEventProcessed"))
            .expect("the record");
        assert!(text.ends_with('\n'));
        assert_emf(&serde_json::from_str(line).unwrap());
    }
}
