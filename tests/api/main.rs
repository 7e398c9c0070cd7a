//! The one integration-test binary: a module per area.

mod admin;
mod api_keys;
mod auth;
mod authz;
mod bookings;
mod calendar;
mod cli;
mod config;
mod connections;
mod errors;
mod health;
mod helpers;
mod images;
mod jobs;
mod mail;
mod metrics;
mod openapi;
mod policies;
mod pricing;
mod properties;
mod ratelimit;
mod redis_outage;
mod search_plans;
mod settings;
mod tenancy;
mod users;
