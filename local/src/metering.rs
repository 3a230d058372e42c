//! Usage plans as API Gateway REST applies them to a method with
//! `apiKeyRequired` and `apiKeySource: AUTHORIZER`: the authorizer's
//! `usageIdentifierKey` must be the value of an enabled API key of the
//! account that is in a usage plan associated with this API stage, else 403
//! `Forbidden`; then the plan's quota for that key (429 `Limit Exceeded`)
//! and its throttle (429 `Too Many Requests`), each counted per key and plan.
//!
//! Keys and plans are read from the emulator's API Gateway API
//! ([`EmulatorUsage`]: `GetApiKeys` with values, `GetUsagePlans`,
//! `GetUsagePlanKeys`, `GetStage` for the stage's default method throttle)
//! and cached for at most [`Meter::max_age`]; a key the cache does not know
//! triggers a fresh read, so a key created a moment ago works at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Duration as Days, NaiveTime, TimeZone, Utc};
use futures::future::BoxFuture;

/// How long keys and plans read from the emulator are used before they are
/// read again: a disabled key, a key moved out of a plan or a changed plan
/// takes effect within this bound (a new key at once: a miss re-reads).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);

/// A throttle: steady requests per second and bucket size (burst).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate_per_second: f64,
    pub burst: u32,
}

impl Throttle {
    /// The stricter of two throttles, limit by limit.
    pub fn min(self, other: Throttle) -> Throttle {
        Throttle {
            rate_per_second: self.rate_per_second.min(other.rate_per_second),
            burst: self.burst.min(other.burst),
        }
    }
}

/// How often a quota resets (`QuotaSettings.period`), at 00:00 UTC: every
/// day, every Sunday, the first of every month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

impl QuotaPeriod {
    pub fn parse(text: &str) -> Option<QuotaPeriod> {
        match text {
            "DAY" => Some(QuotaPeriod::Day),
            "WEEK" => Some(QuotaPeriod::Week),
            "MONTH" => Some(QuotaPeriod::Month),
            _ => None,
        }
    }

    /// When the period holding `now` began.
    pub fn start(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let day = now.date_naive();
        let first = match self {
            QuotaPeriod::Day => day,
            QuotaPeriod::Week => day - Days::days(i64::from(day.weekday().num_days_from_sunday())),
            QuotaPeriod::Month => day.with_day(1).unwrap_or(day),
        };
        Utc.from_utc_datetime(&first.and_time(NaiveTime::MIN))
    }
}

/// A usage plan's quota (`QuotaSettings`): `limit` requests per period;
/// `offset` requests are subtracted from the limit in the first period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub limit: u64,
    pub offset: u64,
    pub period: QuotaPeriod,
}

/// An API key of the account (`GetApiKeys`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub value: String,
    pub enabled: bool,
}

/// A usage plan (`GetUsagePlans`) with the ids of its keys (`GetUsagePlanKeys`).
#[derive(Debug, Clone, PartialEq)]
pub struct UsagePlan {
    pub id: String,
    pub name: String,
    pub throttle: Option<Throttle>,
    pub quota: Option<Quota>,
    /// The API stages it is associated with: `(rest api id, stage name)`.
    pub stages: Vec<(String, String)>,
    /// Ids of its API keys.
    pub keys: Vec<String>,
}

/// What metering reads: the account's keys and plans, and the stage's
/// default method throttle (`methodSettings["*/*"]`), if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub keys: Vec<ApiKey>,
    pub plans: Vec<UsagePlan>,
    pub stage_throttle: Option<Throttle>,
}

/// Where keys and plans come from. A fixed [`Usage`] is one (tests,
/// `Gateway::throttle`); [`EmulatorUsage`] reads the emulator.
pub trait UsageSource: Send + Sync + 'static {
    fn load(&self) -> BoxFuture<'_, Result<Usage, String>>;
}

impl UsageSource for Usage {
    fn load(&self) -> BoxFuture<'_, Result<Usage, String>> {
        let usage = self.clone();
        Box::pin(async move { Ok(usage) })
    }
}

/// A shared source whose content a test changes between requests.
impl UsageSource for std::sync::Mutex<Usage> {
    fn load(&self) -> BoxFuture<'_, Result<Usage, String>> {
        let usage = self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Box::pin(async move { Ok(usage) })
    }
}

/// The keys and plans of the emulator's API Gateway, read with the gateway's
/// own (administrator) credentials, as API Gateway reads its own records.
pub struct EmulatorUsage {
    client: aws_sdk_apigateway::Client,
    rest_api_id: String,
    stage: String,
}

impl EmulatorUsage {
    pub fn new(config: &aws_config::SdkConfig, rest_api_id: &str, stage: &str) -> EmulatorUsage {
        EmulatorUsage {
            client: aws_sdk_apigateway::Client::new(config),
            rest_api_id: rest_api_id.to_owned(),
            stage: stage.to_owned(),
        }
    }

    async fn read(&self) -> Result<Usage, String> {
        let keys = self.read_keys().await?;
        let mut plans = self.read_plans().await?;
        for plan in &mut plans {
            plan.keys = self.read_plan_keys(&plan.id).await?;
        }
        let stage_throttle = self.read_stage_throttle().await?;
        Ok(Usage {
            keys,
            plans,
            stage_throttle,
        })
    }

    /// Every API key with its value, page by page.
    async fn read_keys(&self) -> Result<Vec<ApiKey>, String> {
        let mut keys = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let page = self
                .client
                .get_api_keys()
                .include_values(true)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(|e| {
                    read_failed(
                        "the API keys",
                        &aws_smithy_types::error::display::DisplayErrorContext(e),
                    )
                })?;
            for k in page.items() {
                if let (Some(id), Some(value)) = (k.id(), k.value()) {
                    keys.push(ApiKey {
                        id: id.to_owned(),
                        value: value.to_owned(),
                        enabled: k.enabled(),
                    });
                }
            }
            match page.position() {
                Some(p) if !p.is_empty() && !page.items().is_empty() => {
                    position = Some(p.to_owned())
                }
                _ => break,
            }
        }
        Ok(keys)
    }

    /// Every usage plan, page by page, without its keys.
    async fn read_plans(&self) -> Result<Vec<UsagePlan>, String> {
        let mut plans = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let page = self
                .client
                .get_usage_plans()
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(|e| {
                    read_failed(
                        "the usage plans",
                        &aws_smithy_types::error::display::DisplayErrorContext(e),
                    )
                })?;
            for p in page.items() {
                let Some(id) = p.id() else { continue };
                plans.push(UsagePlan {
                    id: id.to_owned(),
                    name: p.name().unwrap_or_default().to_owned(),
                    throttle: p.throttle().map(|t| Throttle {
                        rate_per_second: t.rate_limit(),
                        burst: u32::try_from(t.burst_limit()).unwrap_or(0),
                    }),
                    quota: p.quota().and_then(|q| {
                        Some(Quota {
                            limit: u64::try_from(q.limit()).unwrap_or(0),
                            offset: u64::try_from(q.offset()).unwrap_or(0),
                            period: QuotaPeriod::parse(q.period()?.as_str())?,
                        })
                    }),
                    stages: p
                        .api_stages()
                        .iter()
                        .filter_map(|s| Some((s.api_id()?.to_owned(), s.stage()?.to_owned())))
                        .collect(),
                    keys: Vec::new(),
                });
            }
            match page.position() {
                Some(p) if !p.is_empty() && !page.items().is_empty() => {
                    position = Some(p.to_owned())
                }
                _ => break,
            }
        }
        Ok(plans)
    }

    /// The ids of the keys of one usage plan, page by page.
    async fn read_plan_keys(&self, plan_id: &str) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut position: Option<String> = None;
        loop {
            let page = self
                .client
                .get_usage_plan_keys()
                .usage_plan_id(plan_id)
                .limit(500)
                .set_position(position.take())
                .send()
                .await
                .map_err(|e| {
                    read_failed(
                        &format!("the keys of usage plan {plan_id}"),
                        &aws_smithy_types::error::display::DisplayErrorContext(e),
                    )
                })?;
            keys.extend(
                page.items()
                    .iter()
                    .filter_map(|k| k.id().map(str::to_owned)),
            );
            match page.position() {
                Some(p) if !p.is_empty() && !page.items().is_empty() => {
                    position = Some(p.to_owned())
                }
                _ => break,
            }
        }
        Ok(keys)
    }

    /// The stage's default method throttle (`methodSettings["*/*"]`), if any.
    async fn read_stage_throttle(&self) -> Result<Option<Throttle>, String> {
        let stage = self
            .client
            .get_stage()
            .rest_api_id(&self.rest_api_id)
            .stage_name(&self.stage)
            .send()
            .await
            .map_err(|e| {
                read_failed(
                    &format!("stage {} of REST API {}", self.stage, self.rest_api_id),
                    &aws_smithy_types::error::display::DisplayErrorContext(e),
                )
            })?;
        Ok(stage
            .method_settings()
            .and_then(|m| m.get("*/*"))
            .map(|s| Throttle {
                rate_per_second: s.throttling_rate_limit(),
                burst: u32::try_from(s.throttling_burst_limit()).unwrap_or(0),
            }))
    }
}

/// Why a read of the emulator's API Gateway failed, and what to check.
fn read_failed(what: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "cannot read {what} from the emulator's API Gateway: {e}; is the emulator running with the deployment applied (scripts/tf-local.sh apply), and does AWS_ENDPOINT_URL point at it?"
    )
}

impl UsageSource for EmulatorUsage {
    fn load(&self) -> BoxFuture<'_, Result<Usage, String>> {
        Box::pin(self.read())
    }
}

/// The outcome of metering one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// No key, not a key of the account, disabled, or in no plan of this
    /// stage: 403 `Forbidden` (`INVALID_API_KEY`).
    Forbidden,
    /// The key's bucket is empty: 429 `Too Many Requests` (`THROTTLED`).
    Throttled,
    /// The key's quota for this period is used up: 429 `Limit Exceeded`
    /// (`QUOTA_EXCEEDED`).
    QuotaExceeded,
    /// Keys and plans could not be read (why, logged).
    Unavailable(String),
}

/// Keys and plans as last read, indexed by key value.
struct Snapshot {
    /// When the read that produced it began.
    read_at: Instant,
    keys: HashMap<String, ApiKey>,
    /// Plan of each key id on this stage.
    plan_of: HashMap<String, UsagePlan>,
    stage_throttle: Option<Throttle>,
}

impl Snapshot {
    fn new(usage: Usage, read_at: Instant, api_id: &str, stage: &str) -> Snapshot {
        let mut plan_of = HashMap::new();
        for plan in usage
            .plans
            .iter()
            .filter(|p| p.stages.iter().any(|(a, s)| a == api_id && s == stage))
        {
            for key in &plan.keys {
                // API Gateway refuses a key in two plans of one stage; the first wins.
                plan_of.entry(key.clone()).or_insert_with(|| plan.clone());
            }
        }
        Snapshot {
            read_at,
            keys: usage
                .keys
                .into_iter()
                .map(|k| (k.value.clone(), k))
                .collect(),
            plan_of,
            stage_throttle: usage.stage_throttle,
        }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Counter {
    bucket: Option<Bucket>,
    period_start: Option<DateTime<Utc>>,
    /// Whether `period_start` is the first period this key was metered in.
    first_period: bool,
    used: u64,
}

/// Metering of one API stage: the usage source, its cached snapshot and the
/// counters per (key id, plan id).
pub struct Meter {
    source: Arc<dyn UsageSource>,
    api_id: String,
    stage: String,
    max_age: Duration,
    snapshot: tokio::sync::RwLock<Option<Arc<Snapshot>>>,
    reading: tokio::sync::Mutex<()>,
    counters: std::sync::Mutex<HashMap<(String, String), Counter>>,
}

impl Meter {
    pub fn new(source: Arc<dyn UsageSource>, api_id: &str, stage: &str) -> Meter {
        Meter {
            source,
            api_id: api_id.to_owned(),
            stage: stage.to_owned(),
            max_age: DEFAULT_MAX_AGE,
            snapshot: tokio::sync::RwLock::new(None),
            reading: tokio::sync::Mutex::new(()),
            counters: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn with_max_age(mut self, max_age: Duration) -> Meter {
        self.max_age = max_age;
        self
    }

    /// How long a read of keys and plans is used.
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The snapshot to judge `value` with: the cached one if it is fresh and
    /// knows the key, else one read after this call began (a read already in
    /// flight that began later is shared).
    async fn snapshot_for(&self, value: &str) -> Result<Arc<Snapshot>, String> {
        let asked = Instant::now();
        if let Some(s) = self.snapshot.read().await.as_ref() {
            if s.read_at.elapsed() <= self.max_age && s.keys.contains_key(value) {
                return Ok(s.clone());
            }
        }
        let _reading = self.reading.lock().await;
        if let Some(s) = self.snapshot.read().await.as_ref() {
            if s.read_at >= asked {
                return Ok(s.clone());
            }
        }
        let read_at = Instant::now();
        match self.source.load().await {
            Ok(usage) => {
                let fresh = Arc::new(Snapshot::new(usage, read_at, &self.api_id, &self.stage));
                *self.snapshot.write().await = Some(fresh.clone());
                Ok(fresh)
            }
            Err(e) => match self.snapshot.read().await.as_ref() {
                // Keep metering with the last good read while the source is down.
                Some(stale) => {
                    tracing::warn!(error = %e, "usage plans not re-read: metering with the previous read");
                    Ok(stale.clone())
                }
                None => Err(e),
            },
        }
    }

    /// Meter one request whose authorizer returned `usage_identifier_key`.
    pub async fn check(&self, usage_identifier_key: Option<&str>) -> Verdict {
        self.check_at(usage_identifier_key, Utc::now()).await
    }

    /// [`Meter::check`] at wall-clock time `now` (quota periods).
    pub async fn check_at(
        &self,
        usage_identifier_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Verdict {
        let Some(value) = usage_identifier_key.filter(|v| !v.is_empty()) else {
            return Verdict::Forbidden;
        };
        let snapshot = match self.snapshot_for(value).await {
            Ok(s) => s,
            Err(e) => return Verdict::Unavailable(e),
        };
        let Some(key) = snapshot.keys.get(value).filter(|k| k.enabled) else {
            return Verdict::Forbidden;
        };
        let Some(plan) = snapshot.plan_of.get(&key.id) else {
            return Verdict::Forbidden;
        };
        let throttle = match (plan.throttle, snapshot.stage_throttle) {
            (Some(p), Some(s)) => Some(p.min(s)),
            (p, s) => p.or(s),
        };
        let mut counters = self
            .counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let counter = counters
            .entry((key.id.clone(), plan.id.clone()))
            .or_insert(Counter {
                bucket: None,
                period_start: None,
                first_period: true,
                used: 0,
            });
        // The quota first: a request refused for the quota takes no token.
        if let Some(quota) = plan.quota {
            let start = quota.period.start(now);
            match counter.period_start {
                None => counter.period_start = Some(start),
                Some(s) if s != start => {
                    counter.period_start = Some(start);
                    counter.first_period = false;
                    counter.used = 0;
                }
                Some(_) => {}
            }
            let limit = if counter.first_period {
                quota.limit.saturating_sub(quota.offset)
            } else {
                quota.limit
            };
            if counter.used >= limit {
                return Verdict::QuotaExceeded;
            }
        }
        if let Some(t) = throttle {
            let at = Instant::now();
            let bucket = counter.bucket.get_or_insert(Bucket {
                tokens: f64::from(t.burst),
                at,
            });
            let refill = at.duration_since(bucket.at).as_secs_f64() * t.rate_per_second;
            bucket.tokens = (bucket.tokens + refill).min(f64::from(t.burst));
            bucket.at = at;
            if bucket.tokens < 1.0 {
                return Verdict::Throttled;
            }
            bucket.tokens -= 1.0;
        }
        if plan.quota.is_some() {
            counter.used += 1;
        }
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    const API: &str = "api1";
    const STAGE: &str = "local";

    fn key(id: &str, enabled: bool) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            value: format!("value-of-{id}"),
            enabled,
        }
    }

    fn plan(
        id: &str,
        throttle: Option<Throttle>,
        quota: Option<Quota>,
        keys: &[&str],
    ) -> UsagePlan {
        UsagePlan {
            id: id.to_owned(),
            name: id.to_owned(),
            throttle,
            quota,
            stages: vec![(API.to_owned(), STAGE.to_owned())],
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        }
    }

    fn slow(burst: u32) -> Option<Throttle> {
        Some(Throttle {
            rate_per_second: 0.0001,
            burst,
        })
    }

    fn daily(limit: u64) -> Option<Quota> {
        Some(Quota {
            limit,
            offset: 0,
            period: QuotaPeriod::Day,
        })
    }

    /// These keys and plans, no stage throttle.
    fn usage(keys: Vec<ApiKey>, plans: Vec<UsagePlan>) -> Usage {
        Usage {
            keys,
            plans,
            stage_throttle: None,
        }
    }

    /// Key `a` (enabled) alone in plan `p` with this throttle and quota.
    fn one_key(throttle: Option<Throttle>, quota: Option<Quota>) -> Usage {
        usage(
            vec![key("a", true)],
            vec![plan("p", throttle, quota, &["a"])],
        )
    }

    fn meter(usage: Usage) -> Meter {
        Meter::new(Arc::new(usage), API, STAGE)
    }

    /// A meter over a source the test changes, reread after `max_age`.
    fn changing_meter(usage: Usage, max_age: Duration) -> (Arc<Mutex<Usage>>, Meter) {
        let source = Arc::new(Mutex::new(usage));
        let m = Meter::new(source.clone(), API, STAGE).with_max_age(max_age);
        (source, m)
    }

    /// A UTC time.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("date")
    }

    #[tokio::test]
    async fn two_keys_of_one_plan_have_separate_buckets() {
        let m = meter(usage(
            vec![key("a", true), key("b", true)],
            vec![plan("p", slow(2), None, &["a", "b"])],
        ));
        for _ in 0..2 {
            assert_eq!(m.check(Some("value-of-a")).await, Verdict::Pass);
        }
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Throttled);
        assert_eq!(m.check(Some("value-of-b")).await, Verdict::Pass);
        assert_eq!(m.check(Some("value-of-b")).await, Verdict::Pass);
        assert_eq!(m.check(Some("value-of-b")).await, Verdict::Throttled);
    }

    #[tokio::test]
    async fn no_key_an_unknown_key_or_a_key_outside_this_stage_is_forbidden() {
        let mut elsewhere = plan("q", None, None, &["c"]);
        elsewhere.stages = vec![
            (API.to_owned(), "prod".to_owned()),
            ("other".to_owned(), STAGE.to_owned()),
        ];
        let m = meter(usage(
            vec![key("a", true), key("b", true), key("c", true)],
            vec![plan("p", None, None, &["a"]), elsewhere],
        ));
        assert_eq!(m.check(None).await, Verdict::Forbidden);
        assert_eq!(m.check(Some("")).await, Verdict::Forbidden);
        assert_eq!(m.check(Some("made-up")).await, Verdict::Forbidden);
        assert_eq!(
            m.check(Some("value-of-b")).await,
            Verdict::Forbidden,
            "in no plan"
        );
        assert_eq!(
            m.check(Some("value-of-c")).await,
            Verdict::Forbidden,
            "plan of another stage"
        );
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Pass);
        // The key id is not its value.
        assert_eq!(m.check(Some("a")).await, Verdict::Forbidden);
    }

    #[tokio::test]
    async fn a_disabled_key_is_forbidden_once_the_read_is_older_than_max_age() {
        let (source, m) = changing_meter(one_key(None, None), Duration::from_millis(50));
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Pass);
        source.lock().expect("lock").keys[0].enabled = false;
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Forbidden);
        // Disabled from the start.
        let m = meter(usage(
            vec![key("a", false)],
            vec![plan("p", None, None, &["a"])],
        ));
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Forbidden);
    }

    #[tokio::test]
    async fn a_key_created_after_the_last_read_works_at_once() {
        let (source, m) = changing_meter(one_key(None, None), Duration::from_secs(3600));
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Pass);
        {
            let mut usage = source.lock().expect("lock");
            usage.keys.push(key("b", true));
            usage.plans[0].keys.push("b".to_owned());
        }
        assert_eq!(m.check(Some("value-of-b")).await, Verdict::Pass);
    }

    #[tokio::test]
    async fn an_exhausted_quota_is_limit_exceeded_for_that_key_only() {
        let m = meter(usage(
            vec![key("a", true), key("b", true)],
            vec![plan("p", None, daily(3), &["a", "b"])],
        ));
        let now = utc(2026, 11, 29, 12, 0, 0);
        for _ in 0..3 {
            assert_eq!(m.check_at(Some("value-of-a"), now).await, Verdict::Pass);
        }
        assert_eq!(
            m.check_at(Some("value-of-a"), now).await,
            Verdict::QuotaExceeded
        );
        assert_eq!(m.check_at(Some("value-of-b"), now).await, Verdict::Pass);
        // The next day (00:00 UTC) the quota is whole again.
        let tomorrow = utc(2026, 11, 30, 0, 0, 0);
        assert_eq!(
            m.check_at(Some("value-of-a"), tomorrow).await,
            Verdict::Pass
        );
    }

    #[tokio::test]
    async fn the_offset_is_taken_from_the_first_period_only() {
        let m = meter(one_key(
            None,
            Some(Quota {
                limit: 3,
                offset: 2,
                period: QuotaPeriod::Day,
            }),
        ));
        let day1 = utc(2026, 11, 29, 12, 0, 0);
        assert_eq!(m.check_at(Some("value-of-a"), day1).await, Verdict::Pass);
        assert_eq!(
            m.check_at(Some("value-of-a"), day1).await,
            Verdict::QuotaExceeded
        );
        let day2 = day1 + Days::days(1);
        for _ in 0..3 {
            assert_eq!(m.check_at(Some("value-of-a"), day2).await, Verdict::Pass);
        }
        assert_eq!(
            m.check_at(Some("value-of-a"), day2).await,
            Verdict::QuotaExceeded
        );
    }

    #[tokio::test]
    async fn a_throttled_request_does_not_count_against_the_quota() {
        let m = meter(one_key(slow(1), daily(2)));
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Pass);
        for _ in 0..3 {
            assert_eq!(m.check(Some("value-of-a")).await, Verdict::Throttled);
        }
        let counters = m.counters.lock().expect("lock");
        assert_eq!(counters[&("a".to_owned(), "p".to_owned())].used, 1);
    }

    #[tokio::test]
    async fn the_stage_throttle_applies_when_lower_than_the_plan() {
        let m = meter(Usage {
            stage_throttle: slow(1),
            ..one_key(slow(10), None)
        });
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Pass);
        assert_eq!(m.check(Some("value-of-a")).await, Verdict::Throttled);
    }

    #[tokio::test]
    async fn an_unreadable_source_is_unavailable() {
        struct Down;
        impl UsageSource for Down {
            fn load(&self) -> BoxFuture<'_, Result<Usage, String>> {
                Box::pin(async { Err("emulator down".to_owned()) })
            }
        }
        let m = Meter::new(Arc::new(Down), API, STAGE);
        assert_eq!(
            m.check(Some("x")).await,
            Verdict::Unavailable("emulator down".to_owned())
        );
    }

    #[test]
    fn quota_periods_start_at_midnight_utc_on_the_day_sunday_and_the_first() {
        // 2026-11-26 is a Thursday.
        let now = utc(2026, 11, 26, 17, 30, 5);
        let at = |y, m, d| utc(y, m, d, 0, 0, 0);
        assert_eq!(QuotaPeriod::Day.start(now), at(2026, 11, 26));
        assert_eq!(QuotaPeriod::Week.start(now), at(2026, 11, 22));
        assert_eq!(QuotaPeriod::Month.start(now), at(2026, 11, 1));
        assert_eq!(QuotaPeriod::Week.start(at(2026, 11, 22)), at(2026, 11, 22));
        assert_eq!(QuotaPeriod::parse("WEEK"), Some(QuotaPeriod::Week));
        assert_eq!(QuotaPeriod::parse("week"), None);
    }
}
