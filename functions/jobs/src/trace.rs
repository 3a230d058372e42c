//! The `X-Amzn-Trace-Id` a submit stores with its job and hands to the task
//! (`TRACE_ID`), kept by the one rule of `portcullis_core::trace::accept`
//! (the documented syntax only; anything else is dropped, never an error).

use portcullis_core::trace;

/// The trace header of a submit: the client's header when well-formed, else
/// the invocation's own (`portcullis_core::trace::current`, else
/// `_X_AMZN_TRACE_ID` as Lambda sets it) when well-formed.
pub fn of_submit(header: Option<&str>, request_id: &str) -> Option<String> {
    if let Some(h) = header {
        match trace::accept(h) {
            Some(t) => return Some(t.to_owned()),
            None => tracing::debug!(
                request_id,
                length = h.len(),
                "X-Amzn-Trace-Id dropped: not the documented trace header syntax (Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;Key=value..., at most 256 ASCII characters)"
            ),
        }
    }
    trace::current().map(|t| t.to_string()).or_else(|| {
        std::env::var("_X_AMZN_TRACE_ID")
            .ok()
            .and_then(|t| trace::accept(&t).map(str::to_owned))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "Root=1-5759e988-bd862e3fe1be46a994272793";

    #[tokio::test]
    async fn the_clients_header_wins_and_a_malformed_one_falls_back_to_the_invocations() {
        let own = format!("{ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let client = "Root=1-00000000-000000000000000000000000";
        let got = trace::scope(Some(&own), async { of_submit(Some(client), "r1") }).await;
        assert_eq!(got.as_deref(), Some(client));
        let got = trace::scope(Some(&own), async { of_submit(Some("Root=bad"), "r1") }).await;
        assert_eq!(got.as_deref(), Some(own.as_str()));
    }
}
