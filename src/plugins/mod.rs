//! Tenants' WebAssembly plugins: a pricing plugin adjusts the lines of every quote and
//! booking, a review-rules plugin decides on every review. Components run sandboxed in
//! `runtime`, with no capability beyond their input, under fuel, memory and time limits.

pub mod api;
pub mod kit;
pub mod model;
pub mod runtime;
pub mod service;
mod store;
