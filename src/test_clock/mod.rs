//! Test clocks (Stripe's idea): a test tenant's own clock, which starts at its creation and
//! stands still until its administrators advance it. Every time-based rule of the tenant reads
//! `Tenant::now` / `Tenant::today`; advancing runs what fell due before answering.

pub mod api;
pub mod service;
