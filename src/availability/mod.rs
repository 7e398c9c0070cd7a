//! Availability: the one owner of the rule that a night is taken when a holding booking or a
//! blocked range covers it, of a property's stay rules (advance notice, preparation time,
//! check-in and check-out days, booking window, times, time zone: `rules`), and of their SQL.
//! Bookings, the calendar, quotes and search ask here, and none of them asks another: the
//! booking transaction calls `check_free`, search embeds `free_stay_conditions` and
//! `rule_conditions`, the calendar reads `nights`.

pub mod model;
pub mod rules;
mod store;

use time::Date;

pub use model::{Block, NightStatus, Sources};
pub use rules::{InForce, StayRules, TimeOfDay, Weekdays};
pub use store::{Dialect, RuleSearch, free_stay_conditions, rule_conditions};

use crate::{
    dates::Stay,
    db::{Db, Tx},
    error::{ApiError, ErrorCode},
    ids::{BookingId, PropertyId, TenantId},
};

/// Serialises the writers of one property's calendar (bookings, blocks): PostgreSQL locks the
/// property row until the transaction ends; SQLite's `BEGIN IMMEDIATE` already admits one
/// writer. `false` when there is no such property.
#[tracing::instrument(skip(tx))]
pub async fn lock_calendar(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
) -> Result<bool, ApiError> {
    store::lock_property(tx, tenant, property).await
}

/// Checks, in the transaction that holds the calendar's lock, that every night of the stay is
/// free (409 `dates_unavailable`) and that no holding booking lies within the property's
/// preparation nights of it (409 `preparation_conflict`).
#[tracing::instrument(skip(tx))]
pub async fn check_free(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    (stay, preparation_nights): (Stay, u32),
) -> Result<(), ApiError> {
    if !store::stay_is_free(tx, tenant, property, stay.range()).await? {
        return Err(ApiError::dates_unavailable());
    }
    if preparation_nights > 0
        && store::booked_in(
            tx,
            tenant,
            property,
            rules::with_preparation(stay, preparation_nights),
        )
        .await?
    {
        return Err(preparation_conflict(preparation_nights));
    }
    Ok(())
}

/// `check_free` outside a transaction, for a quote: an answer of the moment, which the booking
/// checks again under the lock.
#[tracing::instrument(skip(db))]
pub async fn check_free_now(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (stay, preparation_nights): (Stay, u32),
) -> Result<(), ApiError> {
    if !store::stay_is_free_now(db, tenant, property, stay.range()).await? {
        return Err(ApiError::dates_unavailable());
    }
    if preparation_nights > 0
        && !store::booked_between(
            db,
            tenant,
            property,
            rules::with_preparation(stay, preparation_nights),
        )
        .await?
        .is_empty()
    {
        return Err(preparation_conflict(preparation_nights));
    }
    Ok(())
}

fn preparation_conflict(nights: u32) -> ApiError {
    ApiError::Conflict {
        code: ErrorCode::PreparationConflict,
        detail: format!(
            "This property keeps {nights} night(s) free before and after every stay for \
             preparation."
        ),
    }
}

/// Whether a holding booking covers a night of `[from, to)`, in a transaction that holds the
/// calendar's lock.
#[tracing::instrument(skip(tx))]
pub async fn booked_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    range: (Date, Date),
) -> Result<bool, ApiError> {
    store::booked_in(tx, tenant, property, range).await
}

/// The stays of holding bookings overlapping `[from, to)`, by check-in.
#[tracing::instrument(skip(db))]
pub async fn booked_between(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    range: (Date, Date),
) -> Result<Vec<(BookingId, Date, Date)>, ApiError> {
    store::booked_between(db, tenant, property, range).await
}

/// The blocked ranges overlapping `[from, to)`, by start.
#[tracing::instrument(skip(db))]
pub async fn blocks_between(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    range: (Date, Date),
    sources: Sources,
) -> Result<Vec<Block>, ApiError> {
    store::blocks_between(db, tenant, property, range, sources).await
}

/// Each night of `[from, to)` and whether it can be booked under the property's rules in force.
#[tracing::instrument(skip(db, rules))]
pub async fn nights(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
    (rules, preparation_nights): (&InForce<'_>, u32),
) -> Result<Vec<(Date, NightStatus)>, ApiError> {
    let blocks = blocks_between(db, tenant, property, (from, to), Sources::All).await?;
    let around = rules::with_preparation(
        Stay {
            check_in: from,
            check_out: to,
        },
        preparation_nights,
    );
    let booked = booked_between(db, tenant, property, around).await?;
    Ok(model::nights(
        (from, to),
        (&booked, &blocks),
        preparation_nights,
        |night| rules.time_rule(night),
    ))
}

/// The ranges of preparation nights around the holding bookings overlapping `[from, to)`: what
/// the calendar export shows beside the stays themselves.
#[tracing::instrument(skip(db))]
pub async fn preparation_between(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
    preparation_nights: u32,
) -> Result<Vec<(BookingId, Date, Date)>, ApiError> {
    if preparation_nights == 0 {
        return Ok(Vec::new());
    }
    let around = rules::with_preparation(
        Stay {
            check_in: from,
            check_out: to,
        },
        preparation_nights,
    );
    let booked = booked_between(db, tenant, property, around).await?;
    Ok(model::preparation_ranges(&booked, preparation_nights))
}
