//! Quotes: the price of a stay at a property, with the rules a booking will have to meet; and
//! the property's per-date prices and seasons, which its owner (or a tenant admin) manages.

use time::Date;
use uuid::Uuid;

use super::{
    engine::{self, Fees, NightRates, PricingError, Quote, Season},
    store,
};
use crate::{
    app::AppState,
    auth::Principal,
    availability,
    dates::{Stay, format_date, parse_range},
    db::{Timestamp, Tx},
    error::{ApiError, ErrorCode, FieldError},
    ids::{PropertyId, TenantId},
    money::MoneyError,
    plugins::service::{self as plugins, PricingInput},
    properties::{
        model::{Listing, Property},
        service::{self as properties, CHANGE},
    },
    tenants::Tenant,
};

/// The most nights one `PUT prices` may set.
pub const MAX_DATE_PRICES: usize = 366;

/// Prices a stay: dates from the property's today, within the listing's (and its season's)
/// stay limits and party size, allowed by its rules (409 naming the rule), and free every
/// night (409 `dates_unavailable`, or `preparation_conflict` next to another stay).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn quote(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    (stay, guests): (Stay, u32),
) -> Result<Quote, ApiError> {
    let found = properties::get(state, tenant, principal, property).await?;
    let rates = store::rates_between(&state.db, tenant.id, property, stay.range()).await?;
    check_stay(tenant, &found.listing, (stay, guests), &rates)?;
    availability::check_free_now(
        &state.db,
        tenant.id,
        property,
        (stay, found.listing.rules.preparation_nights),
    )
    .await?;
    price(state, tenant, &found, (stay, guests), &rates).await
}

/// The per-date prices and seasons of a stay, read in the booking's transaction.
pub async fn rates_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    stay: Stay,
) -> Result<NightRates, ApiError> {
    store::rates_in(tx, tenant, property, stay.range()).await
}

/// Checks a stay against the property's today and the listing's stay length (and the minimum
/// of the season its first night falls in) and party size (422 naming the fields), then
/// against the property's rules at the tenant's now (409 naming the rule).
pub fn check_stay(
    tenant: &Tenant,
    listing: &Listing,
    (stay, guests): (Stay, u32),
    rates: &NightRates,
) -> Result<(), ApiError> {
    let rules = listing.rules.in_force(&tenant.settings, tenant.now());
    let nights = stay.nights();
    let mut errors = Vec::new();
    if stay.check_in < rules.today() {
        errors.push(FieldError::new("check_in", "must not be in the past"));
    }
    let season_minimum = rates
        .seasons
        .iter()
        .find(|season| season.covers(stay.check_in))
        .and_then(|season| season.min_nights)
        .unwrap_or(0);
    let shortest = listing.min_nights.max(season_minimum);
    let longest = listing.max_nights.min(tenant.settings.max_stay_nights);
    if nights < i64::from(shortest) || nights > i64::from(longest) {
        errors.push(FieldError::new(
            "check_out",
            format!("the stay must be {shortest} to {longest} nights"),
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
    rules.check(stay)
}

/// The line items of a checked stay: the stay's lines, as the tenant's pricing plugin (if
/// one is active) adjusts them, then the tenant's service fee and taxes over their sum.
pub async fn price(
    state: &AppState,
    tenant: &Tenant,
    property: &Property,
    (stay, guests): (Stay, u32),
    rates: &NightRates,
) -> Result<Quote, ApiError> {
    let fees = Fees {
        platform_fee_bps: tenant.settings.platform_fee_bps,
        tax_bps: tenant.settings.tax_bps,
    };
    let currency = &property.currency;
    let (nights, lines) = engine::stay_lines(
        &property.listing,
        currency,
        (stay.check_in, stay.check_out, guests),
        rates,
    )
    .map_err(pricing_error)?;
    let lines = plugins::adjust_price(
        state,
        tenant,
        PricingInput {
            property,
            stay,
            guests,
            rates,
            nights,
            lines,
        },
    )
    .await?;
    engine::with_fees(nights, currency, lines, fees).map_err(pricing_error)
}

fn pricing_error(err: PricingError) -> ApiError {
    match err {
        PricingError::NoNights => ApiError::validation("check_out", "must be after check_in"),
        PricingError::Money(MoneyError::Overflow) => {
            ApiError::validation("check_out", "the stay is too long to price")
        }
        PricingError::Money(mismatch) => ApiError::internal(mismatch),
    }
}

/// Checks a price given in a request: the tenant's currency, within the listing bounds.
fn checked_price(
    tenant: &Tenant,
    field: &str,
    (amount, currency): (i64, &str),
    errors: &mut Vec<FieldError>,
) {
    if currency != tenant.settings.currency {
        errors.push(FieldError::new(
            format!("{field}.currency"),
            format!(
                "must be {}, the marketplace's currency",
                tenant.settings.currency
            ),
        ));
    }
    if !(1..=Listing::MAX_AMOUNT).contains(&amount) {
        errors.push(FieldError::new(
            format!("{field}.amount"),
            format!("must be between 1 and {} minor units", Listing::MAX_AMOUNT),
        ));
    }
}

/// A night's price in a `PUT prices` request: `None` removes it.
pub struct DatePrice {
    pub date: Date,
    pub price: Option<(i64, String)>,
}

/// Sets or removes the prices of particular nights (from the property's today on); answers
/// the property's per-date prices from today on.
#[tracing::instrument(skip(state, tenant, principal, prices), fields(tenant = %tenant.slug))]
pub async fn put_date_prices(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    prices: Vec<DatePrice>,
) -> Result<Vec<(Date, i64)>, ApiError> {
    let (found, permit) =
        properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let today = today_at(tenant, &found);
    let mut errors = Vec::new();
    if prices.len() > MAX_DATE_PRICES {
        errors.push(FieldError::new(
            "dates",
            format!("must hold at most {MAX_DATE_PRICES} dates"),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (index, night) in prices.iter().enumerate() {
        let field = format!("dates[{index}]");
        if night.date < today {
            errors.push(FieldError::new(
                format!("{field}.date"),
                "must not be in the past",
            ));
        }
        if !seen.insert(night.date) {
            errors.push(FieldError::new(
                format!("{field}.date"),
                "appears more than once",
            ));
        }
        if let Some((amount, currency)) = &night.price {
            checked_price(
                tenant,
                &format!("{field}.price"),
                (*amount, currency),
                &mut errors,
            );
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let changes: Vec<(Date, Option<i64>)> = prices
        .into_iter()
        .map(|night| (night.date, night.price.map(|(amount, _)| amount)))
        .collect();
    let mut tx = state.db.begin().await?;
    if !availability::lock_calendar(&mut tx, tenant.id, property).await? {
        return Err(ApiError::NotFound("property"));
    }
    store::put_date_prices(&mut tx, &permit, property, &changes).await?;
    tx.commit().await?;
    store::date_prices_from(&state.db, tenant.id, property, today).await
}

/// The property's per-date prices from its today on (its owner, or tenant admins).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn date_prices(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<Vec<(Date, i64)>, ApiError> {
    let (found, _) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    store::date_prices_from(&state.db, tenant.id, property, today_at(tenant, &found)).await
}

fn today_at(tenant: &Tenant, property: &Property) -> Date {
    property
        .listing
        .rules
        .in_force(&tenant.settings, tenant.now())
        .today()
}

/// A new season, as a request gives it.
pub struct NewSeason {
    pub start: Date,
    pub end: Date,
    pub nightly_price: (i64, String),
    pub min_nights: Option<u32>,
}

/// Adds a season; one overlapping another of the property is 409 `season_overlap`.
#[tracing::instrument(skip(state, tenant, principal, new), fields(tenant = %tenant.slug))]
pub async fn add_season(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    new: NewSeason,
) -> Result<Season, ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut errors = Vec::new();
    checked_price(
        tenant,
        "nightly_price",
        (new.nightly_price.0, &new.nightly_price.1),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let season = Season {
        id: Uuid::now_v7(),
        start: new.start,
        end: new.end,
        nightly_price: new.nightly_price.0,
        min_nights: new.min_nights,
    };
    let mut tx = state.db.begin().await?;
    if !availability::lock_calendar(&mut tx, tenant.id, property).await? {
        return Err(ApiError::NotFound("property"));
    }
    if !store::insert_season(&mut tx, &permit, property, &season, Timestamp::now()).await? {
        return Err(season_overlap());
    }
    tx.commit().await?;
    Ok(season)
}

/// The property's seasons, by start (its owner, or tenant admins).
#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn seasons(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
) -> Result<Vec<Season>, ApiError> {
    properties::for_change(state, tenant, principal, property, CHANGE).await?;
    store::seasons_of(&state.db, tenant.id, property).await
}

/// A change to a season; `None` leaves a field as it is, `min_nights: Some(None)` removes the
/// minimum.
pub struct SeasonChange {
    pub start: Option<Date>,
    pub end: Option<Date>,
    pub nightly_price: Option<(i64, String)>,
    pub min_nights: Option<Option<u32>>,
}

/// Changes a season; overlapping another season of the property is 409 `season_overlap`.
#[tracing::instrument(skip(state, tenant, principal, change), fields(tenant = %tenant.slug))]
pub async fn change_season(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    (property, season): (PropertyId, Uuid),
    change: SeasonChange,
) -> Result<Season, ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut errors = Vec::new();
    if let Some((amount, currency)) = &change.nightly_price {
        checked_price(tenant, "nightly_price", (*amount, currency), &mut errors);
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = state.db.begin().await?;
    if !availability::lock_calendar(&mut tx, tenant.id, property).await? {
        return Err(ApiError::NotFound("property"));
    }
    let mut changed = store::season_in(&mut tx, tenant.id, property, season)
        .await?
        .ok_or(ApiError::NotFound("season"))?;
    changed.start = change.start.unwrap_or(changed.start);
    changed.end = change.end.unwrap_or(changed.end);
    if let Some((amount, _)) = change.nightly_price {
        changed.nightly_price = amount;
    }
    if let Some(min_nights) = change.min_nights {
        changed.min_nights = min_nights;
    }
    parse_season_range(changed.start, changed.end)?;
    if !store::update_season(&mut tx, &permit, property, &changed).await? {
        return Err(season_overlap());
    }
    tx.commit().await?;
    Ok(changed)
}

/// Checks a season's nights: a forward range of at most `MAX_NIGHTS`, like any range.
fn parse_season_range(start: Date, end: Date) -> Result<(), ApiError> {
    parse_range("start", &format_date(start), "end", &format_date(end)).map(drop)
}

fn season_overlap() -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::SeasonOverlap,
        detail: "The season overlaps another season of this property.".into(),
    }
}

#[tracing::instrument(skip(state, tenant, principal), fields(tenant = %tenant.slug))]
pub async fn remove_season(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    property: PropertyId,
    season: Uuid,
) -> Result<(), ApiError> {
    let (_, permit) = properties::for_change(state, tenant, principal, property, CHANGE).await?;
    let mut tx = state.db.begin().await?;
    if !store::delete_season(&mut tx, &permit, property, season).await? {
        return Err(ApiError::NotFound("season"));
    }
    tx.commit().await
}
