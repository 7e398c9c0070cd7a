//! Domain events integrators care about (`property.created`, later bookings and payments),
//! written in the transaction of the change. Webhook deliveries and the events feed read them.

use uuid::Uuid;

use crate::{
    db::{Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
    on_tx,
};

pub async fn record(
    tx: &mut Tx,
    tenant: TenantId,
    kind: &str,
    subject: Uuid,
    payload: &serde_json::Value,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO events (tenant_id, id, kind, subject_id, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.0)
        .bind(Uuid::now_v7())
        .bind(kind)
        .bind(subject)
        .bind(payload.to_string())
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}
