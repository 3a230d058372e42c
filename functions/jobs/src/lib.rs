//! The `jobs` Lambda (placeholder: built in a later issue).
