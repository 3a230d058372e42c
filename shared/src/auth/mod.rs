//! Credentials: API key format and digests, scopes (issue 3).
