//! End-to-end suite: one test binary, a module per area.

mod cors;
mod gateway;
mod iam;
mod jobs;
mod keys;
mod proxy;
mod quota;
mod routes;
mod services;
mod web;
