//! Listing photos: uploads recognised by content, renditions made by a job (re-encoded, so no
//! EXIF or GPS data leaves), ordering and removal. A sub-resource of properties: access follows
//! the property's.

pub mod api;
pub mod jobs;
pub mod model;
pub mod service;
mod store;
