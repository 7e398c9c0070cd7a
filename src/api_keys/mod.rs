//! Integrator API keys: `sk_` secrets shown once and stored as SHA-256, bound to a tenant,
//! acting for the user who created them with the roles they were given.

pub mod api;
pub mod service;
mod store;

pub const SECRET_PREFIX: &str = "sk_";
