//! End-to-end suite: one test binary, a module per area.

mod gateway;
mod keys;
mod proxy;
mod jobs;
