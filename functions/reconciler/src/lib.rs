//! The `reconciler` Lambda (placeholder: built in a later issue).
