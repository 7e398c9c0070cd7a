//! Payments: charging bookings through a provider (simulated by default), provider webhooks,
//! refunds by policy and by admins, and hosts' payouts.

pub mod api;
pub mod jobs;
pub mod model;
pub mod provider;
pub mod service;
pub mod simulated;
mod store;
mod stripe;
