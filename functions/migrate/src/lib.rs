//! The `migrate` Lambda (placeholder: built in a later issue).
