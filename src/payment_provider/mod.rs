//! A tenant's payment provider and its credentials (`GET/PUT payment-provider`): the simulated
//! provider by default, or Stripe with the tenant's own keys, sealed at rest and never shown
//! again. The payments core reads the opened settings through `service::for_payments`.

pub mod api;
pub mod model;
pub mod service;
mod store;
