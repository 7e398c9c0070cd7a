//! A property's calendar: the host's blocked dates (merged when they overlap or touch), the
//! per-night availability view, the iCalendar export other platforms read, and the imports of
//! their calendars. What makes a night unavailable is the availability module's rule; this
//! resource manages the blocks and feeds. A sub-resource of properties: access follows the
//! property's.

pub mod api;
mod ical;
pub mod jobs;
pub mod model;
pub mod service;
mod store;
