//! The OpenAPI tags that group operations in the spec and the docs.

use poem_openapi::Tags;

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
    /// Payments of bookings, refunds, provider webhooks and hosts' payouts.
    Payments,
    /// Guests' reviews of properties, hosts' replies and reviews of guests, moderation.
    Reviews,
    /// Integrator API keys.
    #[oai(rename = "API keys")]
    ApiKeys,
    /// The tenant's own authorization rules.
    Policies,
    /// The marketplace's payment provider and its credentials.
    #[oai(rename = "Payment provider")]
    PaymentProvider,
    /// The marketplace's WebAssembly plugins: custom pricing and review rules.
    Plugins,
    /// Test tenants' clocks.
    #[oai(rename = "Test clocks")]
    TestClocks,
    /// The platform operators' API.
    Admin,
}
