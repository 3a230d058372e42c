//! The `proxy` Lambda (placeholder: built in a later issue).
