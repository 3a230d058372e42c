//! The `jobs` Lambda: `POST /v1/jobs`, `GET /v1/jobs`, `GET /v1/jobs/{id}`,
//! `GET /v1/jobs/{id}/events`, `POST /v1/jobs/{id}/cancel` (docs/jobs.md).
//!
//! The job core (model, store, launches, transitions, [`State`]) lives in
//! `portcullis-jobs`, shared with `task-events` and `reconciler`.

pub mod api;
pub mod trace;

pub use api::handle;
pub use portcullis_jobs::{Settings, State};
