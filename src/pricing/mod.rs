//! Prices of stays.

pub mod api;
pub mod engine;
pub mod service;
