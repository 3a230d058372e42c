//! The Markdown table: one row per function, figures over its spawns.

use crate::measure::Sample;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One function's spawns.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub binary_bytes: Option<u64>,
    pub init_calls: String,
    pub samples: Vec<Sample>,
}

/// The median (mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The p-th percentile by nearest rank (p in 0..=100).
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    Some(v[rank.clamp(1, v.len()) - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Row {
    fn inits(&self) -> Vec<f64> {
        self.samples.iter().filter_map(|s| s.init).map(ms).collect()
    }

    pub fn median_init_ms(&self) -> Option<f64> {
        median(&self.inits())
    }

    /// `HTTP 200 ×20`, or several outcomes most frequent first.
    pub fn outcomes(&self) -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for s in &self.samples {
            *counts.entry(s.outcome.label()).or_default() += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        counts
            .into_iter()
            .map(|(label, n)| format!("{label} ×{n}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn cell(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

/// The table; ratios are to the median init of `baseline`.
pub fn table(rows: &[Row], baseline: &str) -> String {
    let base = rows
        .iter()
        .find(|r| r.name == baseline)
        .and_then(Row::median_init_ms);
    let mut out = format!(
        "| function | binary MB | init median ms | init p90 ms | init / {baseline} | first invocation median ms | peak RSS MB (median) | first invocation result | AWS calls at init |\n\
         |---|---:|---:|---:|---:|---:|---:|---|---|\n"
    );
    for r in rows {
        let inits = r.inits();
        let invokes: Vec<f64> = r.samples.iter().filter_map(|s| s.invoke).map(ms).collect();
        let rss: Vec<f64> = r
            .samples
            .iter()
            .filter_map(|s| s.peak_rss_kb)
            .map(|kb| kb as f64 / 1024.0)
            .collect();
        let ratio = match (median(&inits), base) {
            (Some(m), Some(b)) if b > 0.0 => Some(m / b),
            _ => None,
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            cell(r.binary_bytes.map(|b| b as f64 / 1_000_000.0), 1),
            cell(median(&inits), 2),
            cell(percentile(&inits, 90.0), 2),
            ratio.map_or_else(|| "—".to_owned(), |x| format!("{x:.2}×")),
            cell(median(&invokes), 2),
            cell(median(&rss), 1),
            r.outcomes(),
            r.init_calls,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Outcome;

    #[test]
    fn median_and_percentile() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&twenty, 90.0), Some(18.0));
        assert_eq!(percentile(&twenty, 100.0), Some(20.0));
        assert_eq!(percentile(&[5.0], 90.0), Some(5.0));
    }

    fn sample(init_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            init: Some(Duration::from_millis(init_ms)),
            invoke: Some(Duration::from_millis(1)),
            peak_rss_kb: Some(2048),
            outcome,
            answer: None,
            output: String::new(),
        }
    }

    #[test]
    fn rows_show_the_ratio_to_the_baseline_and_count_outcomes() {
        let ok = || Outcome::Answered("ok".into());
        let rows = vec![
            Row {
                name: "hello".into(),
                binary_bytes: Some(1_500_000),
                init_calls: "none".into(),
                samples: vec![sample(2, ok()), sample(2, ok())],
            },
            Row {
                name: "jobs".into(),
                binary_bytes: None,
                init_calls: "none".into(),
                samples: vec![
                    sample(5, ok()),
                    Sample {
                        init: None,
                        invoke: None,
                        peak_rss_kb: None,
                        outcome: Outcome::TimedOut("init"),
                        answer: None,
                        output: String::new(),
                    },
                ],
            },
        ];
        let t = table(&rows, "hello");
        assert!(
            t.contains("| hello | 1.5 | 2.00 | 2.00 | 1.00× | 1.00 | 2.0 | ok ×2 | none |"),
            "{t}"
        );
        assert!(t.contains("| jobs | — | 5.00 | 5.00 | 2.50× |"), "{t}");
        assert!(t.contains("ok ×1; timed out in init ×1"), "{t}");
    }
}
