//! Availability: the one owner of the rule that a night is taken when a holding booking or a
//! blocked range covers it, and of its SQL. Bookings, the calendar, quotes and search ask here,
//! and none of them asks another: the booking transaction calls `stay_is_free`, search embeds
//! `free_stay_conditions`, the calendar reads `nights`.

pub mod model;
mod store;

use time::Date;

pub use model::{Block, NightStatus, Sources};
pub use store::free_stay_conditions;

use crate::{
    dates::Stay,
    db::{Db, Tx},
    error::ApiError,
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

/// Whether every night of the stay is free of holding bookings and blocked ranges, read in the
/// transaction that holds the calendar's lock.
#[tracing::instrument(skip(tx))]
pub async fn stay_is_free(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    stay: Stay,
) -> Result<bool, ApiError> {
    store::stay_is_free(tx, tenant, property, stay.range()).await
}

/// `stay_is_free` outside a transaction, for a quote: an answer of the moment, which the
/// booking checks again under the lock.
#[tracing::instrument(skip(db))]
pub async fn stay_is_free_now(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    stay: Stay,
) -> Result<bool, ApiError> {
    store::stay_is_free_now(db, tenant, property, stay.range()).await
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

/// Each night of `[from, to)` and whether it can be booked.
#[tracing::instrument(skip(db))]
pub async fn nights(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
    (from, to): (Date, Date),
) -> Result<Vec<(Date, NightStatus)>, ApiError> {
    let blocks = blocks_between(db, tenant, property, (from, to), Sources::All).await?;
    let booked = booked_between(db, tenant, property, (from, to)).await?;
    Ok(model::nights((from, to), &booked, &blocks))
}
