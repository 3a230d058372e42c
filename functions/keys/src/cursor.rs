//! Opaque pagination cursors over `(created_at, id)`.
//!
//! A cursor is `base64url(v1|<created_at RFC 3339 with microseconds>|<uuid>)`:
//! the position of the last item of the previous page. Keys are listed newest
//! first, so the next page holds the rows strictly before that position.
//! Clients must treat it as opaque; anything that does not decode is a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_core::ApiError;
use uuid::Uuid;

const VERSION: &str = "v1";

/// A position in the list: the `(created_at, id)` of the last row returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let raw = format!(
            "{VERSION}|{}|{}",
            self.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.id
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Decode a cursor given by a client; every failure is a 400 that says
    /// where cursors come from.
    pub fn decode(text: &str) -> Result<Cursor, ApiError> {
        let bad = || {
            ApiError::bad_request(
                "the cursor is not valid; pass back the next_cursor of a previous page unchanged, or omit it to start from the first page",
            )
        };
        if text.len() > 200 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| bad())?;
        let raw = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = raw.split('|');
        let (Some(VERSION), Some(at), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let created_at = DateTime::parse_from_rfc3339(at)
            .map_err(|_| bad())?
            .with_timezone(&Utc);
        let id = Uuid::parse_str(id).map_err(|_| bad())?;
        Ok(Cursor { created_at, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_cursor_round_trips_with_microsecond_precision() {
        let at = Utc
            .timestamp_opt(1_700_000_000, 123_456_000)
            .single()
            .unwrap();
        let c = Cursor {
            created_at: at,
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn garbage_cursors_are_bad_requests() {
        for bad in [
            "",
            "!!!",
            "dGhpcyBpcyBub3QgYSBjdXJzb3I",
            &URL_SAFE_NO_PAD.encode("v2|2024-01-01T00:00:00Z|00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("v1|yesterday|00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("v1|2024-01-01T00:00:00Z|not-a-uuid"),
            &URL_SAFE_NO_PAD
                .encode("v1|2024-01-01T00:00:00Z|00000000-0000-0000-0000-000000000000|x"),
            &"A".repeat(500),
        ] {
            let err = Cursor::decode(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}");
        }
    }
}
