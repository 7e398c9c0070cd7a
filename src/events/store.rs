//! SQL of domain events.

use uuid::Uuid;

use crate::{
    db::{Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
    on_tx,
};

pub struct NewEvent<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub subject: Uuid,
    pub payload: &'a serde_json::Value,
    pub now: Timestamp,
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, kind = event.kind))]
pub async fn insert(tx: &mut Tx, tenant: TenantId, event: NewEvent<'_>) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO events (tenant_id, id, kind, subject_id, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.0)
        .bind(event.id)
        .bind(event.kind)
        .bind(event.subject)
        .bind(event.payload.to_string())
        .bind(event.now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}
