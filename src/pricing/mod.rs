//! Prices of stays.

pub mod engine;
