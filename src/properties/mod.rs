//! Properties: the listings hosts offer and guests search.

pub mod api;
pub mod calendar;
pub mod model;
pub mod service;
pub mod store;
