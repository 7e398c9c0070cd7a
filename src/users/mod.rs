//! Users: the accounts of a tenant's guests, hosts and administrators.

pub mod api;
pub mod model;
pub mod service;
mod store;

pub use model::User;
