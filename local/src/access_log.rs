//! The stage's access log: one line per request in the stage's format
//! (`accessLogSettings.format`, `$context` variables), written to its
//! CloudWatch Logs group (AWS, "Set up CloudWatch logging for REST APIs in
//! API Gateway"; the variables: "Variables for access logging for API
//! Gateway"). A variable without a value is written `-`, as in AWS.
//!
//! Locally the group is the emulator's: lines are queued without waiting
//! (the request never waits for the log) and sent in batches with
//! `PutLogEvents` by a background task, which logs a failed batch and goes
//! on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use tokio::sync::mpsc;

use crate::context_vars::{self, ContextVars};

/// Where access-log lines go. `send` must not block.
pub trait AccessLogSink: Send + Sync + 'static {
    fn send(&self, timestamp_ms: i64, line: String);
}

/// The stage's access-log format and where its lines go.
#[derive(Clone)]
pub struct AccessLog {
    pub format: String,
    pub sink: Arc<dyn AccessLogSink>,
}

impl AccessLog {
    /// The line of one request (values JSON-escaped, so a JSON format
    /// stays JSON).
    pub fn line(&self, vars: &ContextVars) -> String {
        vars.render(&self.format, "-", context_vars::json_escaped)
    }

    pub fn record(&self, vars: &ContextVars) {
        self.sink
            .send(chrono::Utc::now().timestamp_millis(), self.line(vars));
    }
}

/// Lines kept in memory (tests).
#[derive(Default)]
pub struct MemoryLog(pub Mutex<Vec<String>>);

impl AccessLogSink for MemoryLog {
    fn send(&self, _timestamp_ms: i64, line: String) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }
}

/// Lines queued while a batch is sent; beyond, new lines are dropped (and
/// counted in a warning) rather than making requests wait.
const QUEUE: usize = 10_000;
/// At most this many lines per `PutLogEvents` (its limit is 10,000).
const BATCH: usize = 1_000;
/// How long a batch collects lines before it is sent.
const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// The access-log group in CloudWatch Logs (the emulator's).
pub struct CloudWatchLogs {
    queue: mpsc::Sender<(i64, String)>,
}

impl CloudWatchLogs {
    /// Start the task that writes to `group`, in the log stream `stream`
    /// (created if missing). Call within a Tokio runtime.
    pub fn start(config: &aws_config::SdkConfig, group: &str, stream: &str) -> CloudWatchLogs {
        let (queue, lines) = mpsc::channel(QUEUE);
        let writer = Writer {
            client: aws_sdk_cloudwatchlogs::Client::new(config),
            group: group.to_owned(),
            stream: stream.to_owned(),
            stream_ready: false,
        };
        tokio::spawn(writer.run(lines));
        CloudWatchLogs { queue }
    }
}

impl AccessLogSink for CloudWatchLogs {
    fn send(&self, timestamp_ms: i64, line: String) {
        if let Err(e) = self.queue.try_send((timestamp_ms, line)) {
            tracing::warn!(error = %e, "access-log line dropped: the queue to CloudWatch Logs is full or closed");
        }
    }
}

struct Writer {
    client: aws_sdk_cloudwatchlogs::Client,
    group: String,
    stream: String,
    stream_ready: bool,
}

impl Writer {
    async fn run(mut self, mut lines: mpsc::Receiver<(i64, String)>) {
        while let Some(first) = lines.recv().await {
            let mut batch = vec![first];
            let until = tokio::time::Instant::now() + FLUSH_EVERY;
            while batch.len() < BATCH {
                match tokio::time::timeout_at(until, lines.recv()).await {
                    Ok(Some(line)) => batch.push(line),
                    Ok(None) | Err(_) => break,
                }
            }
            if let Err(reason) = self.put(batch).await {
                tracing::error!(group = %self.group, %reason, "cannot write the access log; lines of this batch are lost");
            }
        }
    }

    async fn put(&mut self, batch: Vec<(i64, String)>) -> Result<(), String> {
        self.ensure_stream().await?;
        let events = batch
            .into_iter()
            .map(|(ts, line)| {
                InputLogEvent::builder()
                    .timestamp(ts)
                    .message(line)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .put_log_events()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .set_log_events(Some(events))
            .send()
            .await
            .map_err(|e| display(&e))?;
        Ok(())
    }

    async fn ensure_stream(&mut self) -> Result<(), String> {
        if self.stream_ready {
            return Ok(());
        }
        let created = self
            .client
            .create_log_stream()
            .log_group_name(&self.group)
            .log_stream_name(&self.stream)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e) => {
                return Err(format!(
                    "CreateLogStream {} in {}: {}; is the stage's access-log group created (terraform/, access_log_group in the deployment) and AWS_ENDPOINT_URL the emulator?",
                    self.stream,
                    self.group,
                    display(&e)
                ));
            }
        }
        self.stream_ready = true;
        Ok(())
    }
}

fn display<E: std::error::Error>(e: &E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
}
