//! Staybase: a multi-tenant backend for vacation-rental marketplaces.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod ops;
pub mod telemetry;
pub mod tenants;

pub use app::AppState;
pub use config::Config;
