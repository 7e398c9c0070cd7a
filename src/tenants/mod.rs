//! Tenants: the marketplaces hosted on Staybase.

pub mod api;
pub mod directory;
pub mod model;
pub mod service;
pub mod settings;
mod store;

pub use model::{Tenant, TenantSlug, TenantStatus};
