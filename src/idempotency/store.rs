//! SQL of idempotency keys. A key belongs to a user of a tenant.

use crate::{
    db::{Timestamp, Tx},
    error::ApiError,
    ids::{TenantId, UserId},
    on_tx,
};

#[derive(sqlx::FromRow)]
pub struct StoredKey {
    pub request_hash: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: Timestamp,
}

const FIND: &str = "SELECT request_hash, response_status, response_body, created_at \
    FROM idempotency_keys WHERE tenant_id = $1 AND user_id = $2 AND key = $3";

/// The stored key, read on the transaction's connection.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn get_in(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    key: &str,
) -> Result<Option<StoredKey>, ApiError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query_as(FIND)
            .bind(tenant.0)
            .bind(user.0)
            .bind(key)
            .fetch_optional(conn)
            .await
    })?)
}

/// Deletes the key (one past its retention, about to be claimed again).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn delete(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    key: &str,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND user_id = $2 AND key = $3",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(key)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Inserts the key without a response; `false` when it exists already. On PostgreSQL this
/// waits while another transaction holds the same key.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn insert(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    key: &str,
    request_hash: &str,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO idempotency_keys (tenant_id, user_id, key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(inserted == 1)
}

/// Stores the response of the key.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn set_response(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    key: &str,
    status: u16,
    body: &serde_json::Value,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = $4, response_body = $5 \
             WHERE tenant_id = $1 AND user_id = $2 AND key = $3",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(key)
        .bind(i32::from(status))
        .bind(body.to_string())
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Deletes the keys of every tenant created before `cutoff`; returns how many.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn delete_created_before(tx: &mut Tx, cutoff: Timestamp) -> Result<u64, ApiError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(cutoff)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?)
}
