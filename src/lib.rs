//! Staybase: a multi-tenant backend for vacation-rental marketplaces.

pub mod admin;
pub mod api_keys;
pub mod app;
pub mod auth;
pub mod authz;
pub mod bookings;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod http;
pub mod idempotency;
pub mod ids;
pub mod job_registry;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod money;
pub mod ops;
pub mod outbound;
pub mod pricing;
pub mod properties;
pub mod ratelimit;
pub mod router;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod tenants;
pub mod users;

pub use app::AppState;
pub use config::Config;
