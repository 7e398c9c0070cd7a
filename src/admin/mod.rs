//! Platform operators: accounts created from the CLI, signing in to `/v1/admin/*` only.

pub mod api;
pub mod service;
mod store;
