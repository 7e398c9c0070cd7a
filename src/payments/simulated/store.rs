//! The simulated provider's books: its intents, refunds and webhook signing keys.

use crate::{
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
    on_db, on_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntentRow {
    pub id: String,
    pub payment_id: String,
    pub payment_method: String,
    pub capture: String,
    pub status: String,
    pub currency: String,
    pub amount: i64,
    pub captured: i64,
    pub refunded: i64,
}

const INTENT_COLUMNS: &str =
    "id, payment_id, payment_method, capture, status, currency, amount, captured, refunded";

/// Records a new intent unless one has this idempotency key; `false` when one had.
pub async fn insert_intent(
    tx: &mut Tx,
    tenant: TenantId,
    key: &str,
    intent: &IntentRow,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO simulated_intents (tenant_id, id, idempotency_key, payment_method, \
             capture, status, currency, amount, captured, refunded, created_at, payment_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(&intent.id)
        .bind(key)
        .bind(&intent.payment_method)
        .bind(&intent.capture)
        .bind(&intent.status)
        .bind(&intent.currency)
        .bind(intent.amount)
        .bind(intent.captured)
        .bind(intent.refunded)
        .bind(now)
        .bind(&intent.payment_id)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(inserted == 1)
}

pub async fn intent_by_key(
    tx: &mut Tx,
    tenant: TenantId,
    key: &str,
) -> Result<Option<IntentRow>, ApiError> {
    let sql = format!(
        "SELECT {INTENT_COLUMNS} FROM simulated_intents WHERE tenant_id = $1 AND idempotency_key = $2"
    );
    Ok(on_tx!(tx, |conn| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(key)
            .fetch_optional(conn)
            .await
    })?)
}

pub async fn intent(
    tx: &mut Tx,
    tenant: TenantId,
    id: &str,
) -> Result<Option<IntentRow>, ApiError> {
    let sql =
        format!("SELECT {INTENT_COLUMNS} FROM simulated_intents WHERE tenant_id = $1 AND id = $2");
    Ok(on_tx!(tx, |conn| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id)
            .fetch_optional(conn)
            .await
    })?)
}

pub async fn update_intent(
    tx: &mut Tx,
    tenant: TenantId,
    intent: &IntentRow,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE simulated_intents SET status = $3, captured = $4, refunded = $5 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(&intent.id)
        .bind(&intent.status)
        .bind(intent.captured)
        .bind(intent.refunded)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// The refund made with this idempotency key, if any.
pub async fn refund_by_key(
    tx: &mut Tx,
    tenant: TenantId,
    key: &str,
) -> Result<Option<String>, ApiError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "SELECT id FROM simulated_refunds WHERE tenant_id = $1 AND idempotency_key = $2",
        )
        .bind(tenant.0)
        .bind(key)
        .fetch_optional(conn)
        .await
    })?)
}

pub async fn insert_refund(
    tx: &mut Tx,
    tenant: TenantId,
    (id, intent, key): (&str, &str, &str),
    amount: i64,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO simulated_refunds (tenant_id, id, intent_id, idempotency_key, amount, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(intent)
        .bind(key)
        .bind(amount)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Replaces the tenant's stored webhook key `old` (as stored) with `new`; a concurrent
/// replacement wins.
pub async fn reseal_webhook_key(
    db: &Db,
    tenant: TenantId,
    old: &str,
    new: &str,
) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE simulated_webhook_keys SET secret = $3 WHERE tenant_id = $1 AND secret = $2",
        )
        .bind(tenant.0)
        .bind(old)
        .bind(new)
        .execute(conn)
        .await
        .map(drop)
    })?;
    tx.commit().await
}

/// Every tenant's stored webhook key, as stored.
pub async fn webhook_keys(db: &Db) -> Result<Vec<(TenantId, String)>, ApiError> {
    let rows: Vec<(uuid::Uuid, String)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT tenant_id, secret FROM simulated_webhook_keys")
            .fetch_all(pool)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(tenant, stored)| (TenantId(tenant), stored))
        .collect())
}

/// The tenant's webhook signing key as stored, made by `candidate` on first use (only then).
pub async fn webhook_key(
    db: &Db,
    tenant: TenantId,
    candidate: impl FnOnce() -> Result<String, ApiError>,
    now: Timestamp,
) -> Result<String, ApiError> {
    let existing: Option<String> = on_db!(db, |pool| {
        sqlx::query_scalar("SELECT secret FROM simulated_webhook_keys WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_optional(pool)
            .await
    })?;
    if let Some(secret) = existing {
        return Ok(secret);
    }
    let candidate = candidate()?;
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO simulated_webhook_keys (tenant_id, secret, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(&candidate)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    let secret: String = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar("SELECT secret FROM simulated_webhook_keys WHERE tenant_id = $1")
            .bind(tenant.0)
            .fetch_one(conn)
            .await
    })?;
    tx.commit().await?;
    Ok(secret)
}
