//! Quotes: the price of a stay at a property, with the rules a booking will have to meet.

use super::engine::{self, Fees, PricingError, Quote};
use crate::{
    app::AppState,
    auth::Principal,
    availability,
    dates::Stay,
    error::{ApiError, ErrorCode, FieldError},
    ids::PropertyId,
    money::MoneyError,
    properties::{model::Listing, service as properties},
    tenants::Tenant,
};

/// Prices a stay: dates from the tenant's today, within the listing's stay limits and party
/// size, and free every night (409 `dates_unavailable` otherwise).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn quote(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    (stay, guests): (Stay, u32),
) -> Result<Quote, ApiError> {
    let found = properties::get(state, tenant, principal, property).await?;
    check_stay(tenant, &found.listing, stay, guests)?;
    if !availability::stay_is_free_now(&state.db, tenant.id, property, stay).await? {
        return Err(ApiError::dates_unavailable());
    }
    price(tenant, (&found.listing, &found.currency), stay)
}

/// Checks a stay against the tenant's today and the listing's stay length and party size
/// (422 naming the fields), then against the tenant's booking window (409).
pub fn check_stay(
    tenant: &Tenant,
    listing: &Listing,
    stay: Stay,
    guests: u32,
) -> Result<(), ApiError> {
    let nights = stay.nights();
    let mut errors = Vec::new();
    if stay.check_in < tenant.today() {
        errors.push(FieldError::new("check_in", "must not be in the past"));
    }
    let longest = listing.max_nights.min(tenant.settings.max_stay_nights);
    if nights < i64::from(listing.min_nights) || nights > i64::from(longest) {
        errors.push(FieldError::new(
            "check_out",
            format!(
                "the stay must be {} to {longest} nights",
                listing.min_nights
            ),
        ));
    }
    if guests == 0 || guests > listing.max_guests {
        errors.push(FieldError::new(
            "guests",
            format!("must be 1 to {}", listing.max_guests),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let window = i64::from(tenant.settings.booking_window_days);
    if (stay.check_in - tenant.today()).whole_days() > window {
        return Err(ApiError::Conflict {
            code: ErrorCode::OutsideBookingWindow,
            detail: format!("Stays can be booked at most {window} days ahead."),
        });
    }
    Ok(())
}

/// The line items of a checked stay under the tenant's fees. The tenant's pricing plugin will
/// adjust the lines here, before `Quote::from_lines` totals them.
pub fn price(
    tenant: &Tenant,
    (listing, currency): (&Listing, &str),
    stay: Stay,
) -> Result<Quote, ApiError> {
    let fees = Fees {
        platform_fee_bps: tenant.settings.platform_fee_bps,
        tax_bps: tenant.settings.tax_bps,
    };
    engine::quote(listing, currency, stay.check_in, stay.check_out, fees).map_err(|err| match err {
        PricingError::NoNights => ApiError::validation("check_out", "must be after check_in"),
        PricingError::Money(MoneyError::Overflow) => {
            ApiError::validation("check_out", "the stay is too long to price")
        }
        PricingError::Money(mismatch) => ApiError::internal(mismatch),
    })
}
