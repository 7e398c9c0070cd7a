//! Users: the accounts of a tenant's guests, hosts and administrators.

pub mod api;
pub mod model;
pub mod service;
pub mod store;

pub use model::User;
