//! Domain events integrators care about (`property.created`, later bookings and payments),
//! written in the transaction of the change. Webhook deliveries and the events feed read them.

mod store;

use uuid::Uuid;

use crate::{
    db::{Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
};

#[tracing::instrument(skip_all, fields(tenant = %tenant, kind = kind, subject = %subject))]
pub async fn record(
    tx: &mut Tx,
    tenant: TenantId,
    kind: &str,
    subject: Uuid,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<(), ApiError> {
    store::insert(
        tx,
        tenant,
        store::NewEvent {
            id: Uuid::now_v7(),
            kind,
            subject,
            payload,
            now,
        },
    )
    .await
}
