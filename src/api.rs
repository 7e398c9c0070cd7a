//! Joins the resource APIs into one OpenAPI service.

use poem_openapi::{OpenApiService, Tags};

use crate::tenants::api::TenantsApi;

#[derive(Tags)]
pub enum Tag {
    /// Marketplaces hosted on Staybase.
    Tenants,
}

pub type Apis = TenantsApi;

pub const API_PREFIX: &str = "/v1";

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(TenantsApi, "Staybase API", env!("CARGO_PKG_VERSION"))
        .description(
            "Multi-tenant backend for vacation-rental marketplaces. Tenant-scoped operations live \
             under `/v1/t/{tenant}`. Errors are RFC 9457 problem documents \
             (`application/problem+json`) with a stable `code`.",
        )
        .url_prefix(API_PREFIX)
}

/// The OpenAPI document as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut spec = service().spec();
    spec.push('\n');
    spec
}
