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

/// Inserts `events` in one statement (one round trip however many a change records).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, count = events.len()))]
pub async fn insert(
    tx: &mut Tx,
    tenant: TenantId,
    events: &[NewEvent<'_>],
) -> Result<(), ApiError> {
    let rows: Vec<String> = (0..events.len())
        .map(|n| {
            let first = n * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                first + 1,
                first + 2,
                first + 3,
                first + 4,
                first + 5,
                first + 6
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO events (tenant_id, id, kind, subject_id, payload, created_at) VALUES {}",
        rows.join(", ")
    );
    on_tx!(tx, |conn| {
        let mut statement = sqlx::query(&sql);
        for event in events {
            statement = statement
                .bind(tenant.0)
                .bind(event.id)
                .bind(event.kind)
                .bind(event.subject)
                .bind(event.payload.to_string())
                .bind(event.now);
        }
        statement.execute(conn).await.map(drop)
    })?;
    Ok(())
}
