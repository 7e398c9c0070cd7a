use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, payload::Json};

use super::{
    model::Tenant,
    service,
    settings::{
        BookingMode, CancellationPolicy, PaymentCollection, ReviewPublication, SettingsChange,
        TenantSettings,
    },
};
use crate::{
    app::AppState,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, Public, tenancy},
};

/// A marketplace as its public site sees it.
#[derive(Debug, Object)]
#[oai(rename = "Tenant")]
pub struct TenantView {
    /// The URL identifier used in `/v1/t/{tenant}`.
    slug: String,
    /// The marketplace's name as shown to guests.
    display_name: String,
    /// ISO 4217 code of every price in this marketplace.
    currency: String,
    /// IANA time zone of the marketplace's dates.
    timezone: String,
}

impl From<&Tenant> for TenantView {
    fn from(tenant: &Tenant) -> Self {
        Self {
            slug: tenant.slug.to_string(),
            display_name: tenant.settings.display_name.clone(),
            currency: tenant.settings.currency.clone(),
            timezone: tenant.settings.timezone.clone(),
        }
    }
}

/// How bookings are made.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "BookingMode")]
pub enum BookingModeDto {
    /// A booking holds its dates at once.
    Instant,
    /// The host accepts or declines each booking request.
    Request,
}

/// How guests pay.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "PaymentCollection")]
pub enum PaymentCollectionDto {
    /// Through Staybase when booking; unpaid bookings expire after `hold_minutes`.
    Online,
    /// At the property: bookings are confirmed without payment.
    AtProperty,
}

/// Refund rules snapshotted by each new booking: `flexible` (full refund until 24 h before
/// check-in), `moderate` (full refund until 5 days before), `strict` (half refund until 7
/// days before).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "CancellationPolicy")]
pub enum CancellationPolicyDto {
    Flexible,
    Moderate,
    Strict,
}

/// When reviews appear: `immediate` (as written) or `double_blind` (default: a stay's guest
/// and host reviews appear together once both are written, or when the review window closes).
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case", rename = "ReviewPublication")]
pub enum ReviewPublicationDto {
    Immediate,
    DoubleBlind,
}

macro_rules! convert_enum {
    ($dto:ident <-> $domain:ident { $($variant:ident),+ }) => {
        impl From<$domain> for $dto {
            fn from(value: $domain) -> Self {
                match value { $($domain::$variant => $dto::$variant),+ }
            }
        }
        impl From<$dto> for $domain {
            fn from(value: $dto) -> Self {
                match value { $($dto::$variant => $domain::$variant),+ }
            }
        }
    };
}

convert_enum!(BookingModeDto <-> BookingMode { Instant, Request });
convert_enum!(PaymentCollectionDto <-> PaymentCollection { Online, AtProperty });
convert_enum!(CancellationPolicyDto <-> CancellationPolicy { Flexible, Moderate, Strict });
convert_enum!(ReviewPublicationDto <-> ReviewPublication { Immediate, DoubleBlind });

/// A tenant's settings.
#[derive(Debug, Object)]
#[oai(rename = "TenantSettings")]
pub struct SettingsView {
    /// The marketplace's name as shown to guests and in emails.
    display_name: String,
    /// ISO 4217 code of every price (default `EUR`); fixed once the tenant has a property.
    currency: String,
    /// IANA time zone (default `UTC`): "today" for date rules is the tenant's today.
    timezone: String,
    booking_mode: BookingModeDto,
    payment_collection: PaymentCollectionDto,
    /// Minutes an unpaid booking holds its dates (default 15).
    hold_minutes: u32,
    /// Hours a host has to answer a booking request (default 24).
    request_expiry_hours: u32,
    /// Platform fee in basis points of the stay subtotal (100 = 1 %).
    platform_fee_bps: u32,
    /// Taxes in basis points of the stay subtotal.
    tax_bps: u32,
    /// Commission kept from the host's payout, in basis points of the stay subtotal (default
    /// 0); it adds to the payment's `platform_fee`, not to the guest's total.
    host_fee_bps: u32,
    cancellation_policy: CancellationPolicyDto,
    /// Whether `host: true` at registration grants the host role (default true).
    self_service_hosts: bool,
    /// Whether guests must verify their email address before booking (default false; then
    /// an unverified guest's booking is 403 `email_not_verified`).
    require_verified_email: bool,
    /// Days after check-out during which guests and hosts may review the stay (default 30).
    review_window_days: u32,
    review_publication: ReviewPublicationDto,
    /// Unpaid bookings (requests and holds awaiting payment) a guest may have at once
    /// (default 3); one more is 409 `too_many_unpaid_bookings`.
    max_unpaid_bookings: u32,
    /// The longest stay in nights, whatever a listing allows (default 90); longer is 422.
    max_stay_nights: u32,
    /// How many days ahead of today a stay may start (default 730); later is 409
    /// `outside_booking_window`.
    booking_window_days: u32,
    /// Browser origins of the marketplace's own sites (`https://stays.example.com`) that may
    /// call this API (CORS); empty by default.
    allowed_origins: Vec<String>,
    /// The operator's storefront: emailed links (verification, password reset) lead there;
    /// `null` uses the deployment's default.
    #[oai(nullable)]
    site_url: Option<String>,
    /// Where replies to the marketplace's emails go; `null` for none. Emails are sent in the
    /// marketplace's `display_name` from the deployment's address.
    #[oai(nullable)]
    reply_to: Option<String>,
    /// The rate-limit plan: a platform decision (`staybase tenant plan`), read-only here.
    rate_limit_plan: String,
    /// Increases with every change.
    version: i64,
}

impl From<TenantSettings> for SettingsView {
    fn from(settings: TenantSettings) -> Self {
        Self {
            display_name: settings.display_name,
            currency: settings.currency,
            timezone: settings.timezone,
            booking_mode: settings.booking_mode.into(),
            payment_collection: settings.payment_collection.into(),
            hold_minutes: settings.hold_minutes,
            request_expiry_hours: settings.request_expiry_hours,
            platform_fee_bps: settings.platform_fee_bps,
            tax_bps: settings.tax_bps,
            host_fee_bps: settings.host_fee_bps,
            cancellation_policy: settings.cancellation_policy.into(),
            self_service_hosts: settings.self_service_hosts,
            require_verified_email: settings.require_verified_email,
            review_window_days: settings.review_window_days,
            review_publication: settings.review_publication.into(),
            max_unpaid_bookings: settings.max_unpaid_bookings,
            max_stay_nights: settings.max_stay_nights,
            booking_window_days: settings.booking_window_days,
            allowed_origins: settings.allowed_origins,
            site_url: settings.site_url,
            reply_to: settings.reply_to,
            rate_limit_plan: settings.rate_limit_plan,
            version: settings.version,
        }
    }
}

/// Any subset of the settings.
#[derive(Debug, Object)]
pub struct SettingsUpdate {
    #[oai(validator(min_length = 1, max_length = 100))]
    display_name: Option<String>,
    /// ISO 4217, e.g. `EUR`.
    #[oai(validator(min_length = 3, max_length = 3))]
    currency: Option<String>,
    /// IANA, e.g. `Europe/Paris`.
    timezone: Option<String>,
    booking_mode: Option<BookingModeDto>,
    payment_collection: Option<PaymentCollectionDto>,
    #[oai(validator(minimum(value = "5"), maximum(value = "1440")))]
    hold_minutes: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "168")))]
    request_expiry_hours: Option<u32>,
    #[oai(validator(minimum(value = "0"), maximum(value = "5000")))]
    platform_fee_bps: Option<u32>,
    #[oai(validator(minimum(value = "0"), maximum(value = "5000")))]
    tax_bps: Option<u32>,
    #[oai(validator(minimum(value = "0"), maximum(value = "5000")))]
    host_fee_bps: Option<u32>,
    cancellation_policy: Option<CancellationPolicyDto>,
    self_service_hosts: Option<bool>,
    require_verified_email: Option<bool>,
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    review_window_days: Option<u32>,
    review_publication: Option<ReviewPublicationDto>,
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    max_unpaid_bookings: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "366")))]
    max_stay_nights: Option<u32>,
    #[oai(validator(minimum(value = "1"), maximum(value = "1095")))]
    booking_window_days: Option<u32>,
    /// At most 20 origins, each `http(s)://host[:port]` without a path; replaces the list.
    allowed_origins: Option<Vec<String>>,
    /// An http(s) URL; an empty string removes it.
    #[oai(validator(max_length = 200))]
    site_url: Option<String>,
    /// An email address; an empty string removes it.
    #[oai(validator(max_length = 254))]
    reply_to: Option<String>,
}

impl BodyExample for SettingsUpdate {
    fn example() -> serde_json::Value {
        serde_json::json!({ "display_name": "Harbour Stays", "booking_mode": "request", "allowed_origins": ["https://stays.example.com"], "site_url": "https://stays.example.com" })
    }
}

error_statuses!(TenantLookupErrors => [401, 403, 404, 429]);
error_statuses!(SettingsWriteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

pub struct TenantsApi;

#[OpenApi(tag = "crate::http::Tag::Tenants")]
impl TenantsApi {
    /// Get a marketplace's public profile.
    ///
    /// Answers 404 `tenant_not_found` for an unknown slug and 403 `tenant_suspended` while the
    /// marketplace is suspended.
    #[oai(path = "/t/:tenant", method = "get", operation_id = "get_tenant")]
    async fn get_tenant(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller<Public>,
    ) -> ApiResult<Json<TenantView>, TenantLookupErrors> {
        service::public_profile(&state, &tenant.0, &caller.0).await?;
        Ok(Json(TenantView::from(&tenant.0)))
    }

    /// Get the marketplace's settings (tenant admins).
    #[oai(
        path = "/t/:tenant/settings",
        method = "get",
        operation_id = "get_settings"
    )]
    async fn get_settings(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<SettingsView>, TenantLookupErrors> {
        Ok(Json(
            service::settings(&state, &tenant.0, &caller.0)
                .await?
                .into(),
        ))
    }

    /// Change some of the marketplace's settings (tenant admins).
    ///
    /// 422 names every invalid field; nothing changes unless all are valid.
    #[oai(
        path = "/t/:tenant/settings",
        method = "patch",
        operation_id = "update_settings"
    )]
    async fn update_settings(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<SettingsUpdate>,
    ) -> ApiResult<Json<SettingsView>, SettingsWriteErrors> {
        let body = body.0;
        let change = SettingsChange {
            display_name: body.display_name,
            currency: body.currency,
            timezone: body.timezone,
            booking_mode: body
                .booking_mode
                .map(|mode| BookingMode::from(mode).as_str().to_owned()),
            payment_collection: body
                .payment_collection
                .map(|collection| PaymentCollection::from(collection).as_str().to_owned()),
            hold_minutes: body.hold_minutes,
            request_expiry_hours: body.request_expiry_hours,
            platform_fee_bps: body.platform_fee_bps,
            tax_bps: body.tax_bps,
            host_fee_bps: body.host_fee_bps,
            cancellation_policy: body
                .cancellation_policy
                .map(|policy| CancellationPolicy::from(policy).as_str().to_owned()),
            self_service_hosts: body.self_service_hosts,
            require_verified_email: body.require_verified_email,
            review_window_days: body.review_window_days,
            review_publication: body
                .review_publication
                .map(|publication| ReviewPublication::from(publication).as_str().to_owned()),
            max_unpaid_bookings: body.max_unpaid_bookings,
            max_stay_nights: body.max_stay_nights,
            booking_window_days: body.booking_window_days,
            allowed_origins: body.allowed_origins,
            site_url: body.site_url,
            reply_to: body.reply_to,
            rate_limit_plan: None,
        };
        let settings = service::update_settings(&state, &tenant.0, &caller.0, change).await?;
        Ok(Json(settings.into()))
    }
}
