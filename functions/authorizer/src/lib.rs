//! The `authorizer` Lambda (placeholder: built in a later issue).
