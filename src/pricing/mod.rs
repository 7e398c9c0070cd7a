//! Prices of stays: the engine, quotes, and a property's per-date prices and seasons.

pub mod api;
pub mod engine;
pub mod service;
mod store;

pub use store::season_min_nights_condition;
