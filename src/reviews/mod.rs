//! Reviews: guests review the properties of their completed stays and hosts their guests,
//! published at once or double-blind, with host replies, moderation, and exact ratings.

pub mod api;
pub mod jobs;
pub mod model;
pub mod rules;
pub mod service;
mod store;
