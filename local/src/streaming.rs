//! Streamed integration responses (`responseTransferMode: STREAM`), as AWS
//! describes them in "Stream the integration response for your proxy
//! integrations in API Gateway" (Considerations) and "Set up an HTTP proxy
//! integration with payload response streaming in API Gateway":
//!
//! - API Gateway sends the status and headers once it has received all the
//!   upstream's headers (the integration timeout bounds that wait, up to
//!   15 minutes for a streamed integration);
//! - the body is not held to the 10 MB response payload limit;
//! - "The maximum duration for response streaming is 15 minutes";
//! - "Streams are subject to idle timeouts. For Regional or private endpoints,
//!   the timeout is 5 minutes" (the REST API here is regional);
//! - "For each streamed response, the first 10 MB of response payload is not
//!   subject to any bandwidth restrictions. Response payload data exceeding
//!   10 MB is restricted to 2 MB/s."
//!
//! A stream cut by the duration or idle limit ends with an error, so the
//! client's connection breaks off mid-body, as it does in AWS.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::Response;
use http_body_util::BodyExt;
use hyper::body::Body as HttpBody;
use tokio::time::Instant;

/// The limits of one streamed response (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// How long the whole response may take: 15 minutes.
    pub max_duration: Duration,
    /// How long the upstream may send nothing: 5 minutes (regional endpoint).
    pub idle_timeout: Duration,
    /// Bytes sent at full speed: the first 10 MB.
    pub unthrottled_bytes: u64,
    /// The bandwidth beyond them: 2 MB/s.
    pub bytes_per_second: u64,
}

/// API Gateway's limits for a regional REST API.
pub const REGIONAL_STREAM_LIMITS: StreamLimits = StreamLimits {
    max_duration: Duration::from_secs(15 * 60),
    idle_timeout: Duration::from_secs(5 * 60),
    unthrottled_bytes: 10 * 1024 * 1024,
    bytes_per_second: 2 * 1024 * 1024,
};

impl Default for StreamLimits {
    fn default() -> Self {
        REGIONAL_STREAM_LIMITS
    }
}

impl StreamLimits {
    /// How long to hold back the next piece once `sent` bytes (this piece
    /// included) are out and `since_crossing` has passed since the stream
    /// went past the unthrottled bytes: the piece may leave when the bytes
    /// beyond them fit `bytes_per_second`.
    pub fn pause_before(&self, sent: u64, since_crossing: Duration) -> Duration {
        let Some(over) = sent.checked_sub(self.unthrottled_bytes) else {
            return Duration::ZERO;
        };
        let rate = self.bytes_per_second.max(1) as f64;
        Duration::from_secs_f64(over as f64 / rate).saturating_sub(since_crossing)
    }
}

/// The largest piece sent at once, so the bandwidth rule paces a large
/// upstream frame too.
const PIECE: usize = 64 * 1024;

/// Why a stream was cut.
#[derive(Debug, thiserror::Error)]
pub enum StreamCut {
    #[error(
        "the integration sent nothing for {0:?} (API Gateway's idle timeout for streamed responses)"
    )]
    Idle(Duration),
    #[error("the streamed response went on past {0:?} (API Gateway's maximum streaming duration)")]
    TooLong(Duration),
    #[error("the integration's answer broke off: {0}")]
    Upstream(String),
}

struct State<B> {
    body: B,
    limits: StreamLimits,
    started: Instant,
    sent: u64,
    crossed_at: Option<Instant>,
    pending: Bytes,
    done: bool,
}

impl<B> State<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    /// The next piece of the body, paced and within the limits; `None` at
    /// the end.
    async fn next_piece(&mut self) -> Option<Result<Bytes, StreamCut>> {
        if self.done {
            return None;
        }
        while self.pending.is_empty() {
            match self.next_frame().await {
                Ok(Some(data)) => self.pending = data,
                Ok(None) => return None,
                Err(cut) => {
                    self.done = true;
                    tracing::warn!(error = %cut, "streamed integration response cut");
                    return Some(Err(cut));
                }
            }
        }
        let piece = self.pending.split_to(self.pending.len().min(PIECE));
        self.pace(piece.len() as u64).await;
        Some(Ok(piece))
    }

    /// The next data frame of the upstream body within the idle timeout and
    /// the maximum duration (trailers are dropped).
    async fn next_frame(&mut self) -> Result<Option<Bytes>, StreamCut> {
        loop {
            let left = self
                .limits
                .max_duration
                .saturating_sub(self.started.elapsed());
            let wait = left.min(self.limits.idle_timeout);
            let frame = match tokio::time::timeout(wait, self.body.frame()).await {
                Ok(frame) => frame,
                Err(_) if wait == left => {
                    return Err(StreamCut::TooLong(self.limits.max_duration));
                }
                Err(_) => return Err(StreamCut::Idle(self.limits.idle_timeout)),
            };
            match frame {
                None => return Ok(None),
                Some(Err(e)) => return Err(StreamCut::Upstream(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    async fn pace(&mut self, len: u64) {
        self.sent += len;
        if self.sent <= self.limits.unthrottled_bytes {
            return;
        }
        let crossed = *self.crossed_at.get_or_insert_with(Instant::now);
        let pause = self.limits.pause_before(self.sent, crossed.elapsed());
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// The upstream's answer passed on as it arrives, within `limits`.
pub fn stream_response<B>(response: Response<B>, limits: StreamLimits) -> Response<Body>
where
    B: HttpBody<Data = Bytes> + Unpin + Send + 'static,
    B::Error: std::fmt::Display,
{
    let (parts, body) = response.into_parts();
    let state = State {
        body,
        limits,
        started: Instant::now(),
        sent: 0,
        crossed_at: None,
        pending: Bytes::new(),
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        let piece = state.next_piece().await?;
        Some((piece, state))
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    #[test]
    fn the_first_10_mb_go_at_full_speed_and_the_rest_at_2_mb_a_second() {
        let limits = REGIONAL_STREAM_LIMITS;
        assert_eq!(limits.pause_before(10 * MB, Duration::ZERO), Duration::ZERO);
        assert_eq!(
            limits.pause_before(12 * MB, Duration::ZERO),
            Duration::from_secs(1)
        );
        assert_eq!(
            limits.pause_before(14 * MB, Duration::from_millis(500)),
            Duration::from_millis(1500)
        );
        // Already slower than 2 MB/s: no pause.
        assert_eq!(
            limits.pause_before(12 * MB, Duration::from_secs(3)),
            Duration::ZERO
        );
    }
}
