//! Properties: the listings hosts offer and guests search.

pub mod api;
pub mod calendar;
pub mod ical;
pub mod images;
pub mod imports;
pub mod model;
pub mod service;
pub mod store;
