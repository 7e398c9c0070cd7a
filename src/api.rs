//! Joins the resource APIs into one OpenAPI service.

use poem_openapi::{OpenApiService, Tags};

use crate::{
    admin::api::AdminApi, api_keys::api::ApiKeysApi, auth::api::AuthApi, authz::api::PoliciesApi,
    bookings::api::BookingsApi, pricing::api::PricingApi, properties::api::PropertiesApi,
    tenants::api::TenantsApi, users::api::UsersApi,
};

#[derive(Tags)]
pub enum Tag {
    /// Marketplaces hosted on Staybase.
    Tenants,
    /// Sign-up, sign-in, sessions, email verification and password reset.
    Auth,
    /// Accounts: your own profile, public profiles, and user administration.
    Users,
    /// Listings, their search and the amenity catalogue.
    Properties,
    /// Bookings: create, list, cancel, and the host's answer to requests.
    Bookings,
    /// Integrator API keys.
    #[oai(rename = "API keys")]
    ApiKeys,
    /// The tenant's own authorization rules.
    Policies,
    /// The platform operators' API.
    Admin,
}

pub type Apis = (
    TenantsApi,
    AuthApi,
    UsersApi,
    PropertiesApi,
    PricingApi,
    BookingsApi,
    ApiKeysApi,
    PoliciesApi,
    AdminApi,
);

pub const API_PREFIX: &str = "/v1";

pub fn service() -> OpenApiService<Apis, ()> {
    let apis = (
        TenantsApi,
        AuthApi,
        UsersApi,
        PropertiesApi,
        PricingApi,
        BookingsApi,
        ApiKeysApi,
        PoliciesApi,
        AdminApi,
    );
    OpenApiService::new(apis, "Staybase API", env!("CARGO_PKG_VERSION"))
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
