//! The `keys` Lambda (placeholder: built in a later issue).
