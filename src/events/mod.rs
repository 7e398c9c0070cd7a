//! Domain events integrators care about (`property.created`, later bookings and payments),
//! written in the transaction of the change. Webhook deliveries and the events feed read them.

mod store;

use uuid::Uuid;

use crate::{
    db::{Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
};

/// Records one event of `subject`.
pub async fn record(
    tx: &mut Tx,
    tenant: TenantId,
    kind: &str,
    subject: Uuid,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<(), ApiError> {
    record_each(tx, tenant, &[kind], subject, payload, now).await
}

/// Records an event of each of `kinds` about `subject`, with the same payload, in one statement
/// (a booking confirmed at creation is both `booking.created` and `booking.confirmed`).
#[tracing::instrument(skip_all, fields(tenant = %tenant, kinds = ?kinds, subject = %subject))]
pub async fn record_each(
    tx: &mut Tx,
    tenant: TenantId,
    kinds: &[&str],
    subject: Uuid,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<(), ApiError> {
    let events: Vec<store::NewEvent> = kinds
        .iter()
        .map(|kind| store::NewEvent {
            id: Uuid::now_v7(),
            kind,
            subject,
            payload,
            now,
        })
        .collect();
    store::insert(tx, tenant, &events).await
}
