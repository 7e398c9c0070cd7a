//! Bookings: a guest's stay at a property, from request or hold to completion.

pub mod api;
pub mod jobs;
pub mod model;
pub mod service;
mod store;
