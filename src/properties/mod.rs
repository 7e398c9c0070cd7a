//! Properties: the listings hosts offer and guests search. Their calendars (`calendar`) and
//! photos (`photos`) are resources of their own.

pub mod api;
pub mod model;
pub mod service;
mod store;
