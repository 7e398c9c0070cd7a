//! The one integration-test binary: a module per area.

mod auth;
mod cli;
mod errors;
mod health;
mod helpers;
mod jobs;
mod mail;
mod metrics;
mod openapi;
mod tenancy;
