//! The route tree: the operational endpoints, the API (every resource's operations joined into
//! one OpenAPI service), its spec and docs, behind the HTTP edge; and (`server`) the loop that
//! serves it beside the job workers.

mod connections;
mod openapi;
pub mod server;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route, endpoint::make_sync, web::Html};
use poem_openapi::{ContactObject, LicenseObject, OpenApiService, ServerObject};
use serde_json::Value;

pub use openapi::spec_json;

use crate::{
    admin::api::AdminApi,
    api_keys::api::ApiKeysApi,
    app::AppState,
    auth::api::AuthApi,
    authz::api::PoliciesApi,
    bookings::api::BookingsApi,
    calendar::api::CalendarApi,
    http::{
        AllowedMethods, BodyLimits, Edge,
        cors::{Cors, OriginCheck},
    },
    ops,
    payment_provider::api::PaymentProviderApi,
    payments::api::PaymentsApi,
    photos::api::PhotosApi,
    plugins::api::PluginsApi,
    pricing::api::PricingApi,
    properties::api::PropertiesApi,
    reviews::api::ReviewsApi,
    tenants::{self, api::TenantsApi},
    test_clock::api::TestClockApi,
    users::api::UsersApi,
};

pub type Apis = (
    TenantsApi,
    AuthApi,
    UsersApi,
    PropertiesApi,
    CalendarApi,
    PhotosApi,
    PricingApi,
    BookingsApi,
    PaymentsApi,
    ReviewsApi,
    ApiKeysApi,
    PoliciesApi,
    PaymentProviderApi,
    TestClockApi,
    PluginsApi,
    AdminApi,
);

pub const API_PREFIX: &str = "/v1";

pub fn service() -> OpenApiService<Apis, ()> {
    let apis = (
        TenantsApi,
        AuthApi,
        UsersApi,
        PropertiesApi,
        CalendarApi,
        PhotosApi,
        PricingApi,
        BookingsApi,
        PaymentsApi,
        ReviewsApi,
        ApiKeysApi,
        PoliciesApi,
        PaymentProviderApi,
        TestClockApi,
        PluginsApi,
        AdminApi,
    );
    OpenApiService::new(apis, "Staybase API", env!("CARGO_PKG_VERSION"))
        .description(
            "Multi-tenant backend for vacation-rental marketplaces. Tenant-scoped operations live \
             under `/v1/t/{tenant}`. Errors are RFC 9457 problem documents \
             (`application/problem+json`) with a stable `code`.",
        )
        .url_prefix(API_PREFIX)
        // Relative: the host that serves the document. The paths keep their `/v1`.
        .server(ServerObject::new("/").description(
            "The host serving this document; every path starts with the API base `/v1`.",
        ))
        .license(LicenseObject::new("Proprietary").url(LICENSE_URL))
        .contact(
            ContactObject::new()
                .name("Staybase maintainers")
                .url(CONTACT_URL),
        )
}

/// Where the API's terms and its maintainers are published. Placeholders under the reserved
/// `.example` domain until the project has a public site.
const LICENSE_URL: &str = "https://staybase.example/license";
const CONTACT_URL: &str = "https://staybase.example/support";

/// The operational routes alone, for a worker process's probes.
pub fn operations_endpoint(state: AppState) -> impl Endpoint + 'static {
    let limits = BodyLimits {
        body: state.config.max_body_bytes,
        upload: state.config.max_upload_bytes,
    };
    let metrics = Arc::clone(&state.metrics);
    let route = Route::new()
        .at("/healthz", poem::get(ops::healthz))
        .at("/readyz", poem::get(ops::readyz))
        .data(state);
    Edge::new(
        route,
        limits,
        AllowedMethods::from_spec(&serde_json::Value::Null, ops::WORKER_ROUTES),
    )
    .with_metrics(metrics)
}

/// `GET /metrics` alone, for the metrics listener (`metrics_bind`), kept off the API's port.
pub fn metrics_endpoint(state: AppState) -> impl Endpoint + 'static {
    Route::new()
        .at("/metrics", poem::get(ops::metrics))
        .data(state)
}

/// The whole HTTP application: operational routes, the API, its spec and docs, behind the edge.
pub fn endpoint(state: AppState) -> impl Endpoint + 'static {
    let service = service();
    let document = spec_json();
    let spec: Value = serde_json::from_str(&document).unwrap_or(Value::Null);
    // Swagger UI shows the same document: poem's page embeds its own, replaced here.
    let docs_html = service
        .swagger_ui_html()
        .replacen(&service.spec(), &document, 1);
    let allowed = AllowedMethods::from_spec(&spec, ops::PLAIN_GET_ROUTES);
    let limits = BodyLimits {
        body: state.config.max_body_bytes,
        upload: state.config.max_upload_bytes,
    };
    let metrics = Arc::clone(&state.metrics);
    let origins = state.clone();
    let origin_check: OriginCheck = Arc::new(move |slug: String, origin: String| {
        let state = origins.clone();
        Box::pin(async move {
            tenants::service::resolve_for_request(&state, &slug)
                .await
                .is_ok_and(|tenant| tenant.settings.allowed_origins.contains(&origin))
        })
    });
    let route = Route::new()
        .at("/healthz", poem::get(ops::healthz))
        .at("/readyz", poem::get(ops::readyz))
        .at("/.well-known/jwks.json", poem::get(ops::jwks))
        .at(
            "/openapi.json",
            poem::get(make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(document.clone())
            })),
        )
        .nest(
            "/docs",
            Route::new().at("/", poem::get(make_sync(move |_| Html(docs_html.clone())))),
        )
        .nest(API_PREFIX, service)
        .data(state);
    Edge::new(route, limits, allowed)
        .with_metrics(metrics)
        .with_cors(Cors::new(origin_check))
}
