//! The `task-events` Lambda (placeholder: built in a later issue).
