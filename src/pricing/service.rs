//! Quotes: the price of a stay at a property, with the rules a booking will have to meet.

use time::Date;

use super::engine::{self, Fees, PricingError, Quote};
use crate::{
    app::AppState,
    auth::Principal,
    bookings,
    error::{ApiError, FieldError},
    ids::PropertyId,
    properties::{calendar, model::Listing, service as properties},
    tenants::Tenant,
};

pub struct StayRequest<'a> {
    pub check_in: &'a str,
    pub check_out: &'a str,
    pub guests: u32,
}

/// Prices a stay: dates from the tenant's today, within the listing's stay limits and party
/// size, and free every night (409 `dates_unavailable` otherwise).
pub async fn quote(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    stay: StayRequest<'_>,
) -> Result<(Quote, String), ApiError> {
    let found = properties::get(state, tenant, principal, property).await?;
    let stay_dates = calendar::parse_range("check_in", stay.check_in, "check_out", stay.check_out)?;
    check_stay(tenant, &found.listing, stay_dates, stay.guests)?;
    if !bookings::store::stay_is_free_now(&state.db, tenant.id, property, stay_dates).await? {
        return Err(ApiError::dates_unavailable());
    }
    Ok((price(tenant, &found.listing, stay_dates)?, found.currency))
}

/// Checks a stay against the tenant's today and the listing's stay length and party size.
pub fn check_stay(
    tenant: &Tenant,
    listing: &Listing,
    (check_in, check_out): (Date, Date),
    guests: u32,
) -> Result<(), ApiError> {
    let nights = (check_out - check_in).whole_days();
    let mut errors = Vec::new();
    if check_in < tenant.settings.today() {
        errors.push(FieldError::new("check_in", "must not be in the past"));
    }
    if nights < i64::from(listing.min_nights) || nights > i64::from(listing.max_nights) {
        errors.push(FieldError::new(
            "check_out",
            format!(
                "the stay must be {} to {} nights",
                listing.min_nights, listing.max_nights
            ),
        ));
    }
    if guests == 0 || guests > listing.max_guests {
        errors.push(FieldError::new(
            "guests",
            format!("must be 1 to {}", listing.max_guests),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The line items of a checked stay under the tenant's fees. The tenant's pricing plugin will
/// adjust the lines here, before `Quote::from_lines` totals them.
pub fn price(
    tenant: &Tenant,
    listing: &Listing,
    (check_in, check_out): (Date, Date),
) -> Result<Quote, ApiError> {
    let fees = Fees {
        platform_fee_bps: tenant.settings.platform_fee_bps,
        tax_bps: tenant.settings.tax_bps,
    };
    engine::quote(listing, check_in, check_out, fees).map_err(|err| match err {
        PricingError::NoNights => ApiError::validation("check_out", "must be after check_in"),
        PricingError::Overflow => {
            ApiError::validation("check_out", "the stay is too long to price")
        }
    })
}
