//! The calendar's SQL: host blocks and calendar imports with the ranges they block. Reading
//! what is taken is the availability module's.

use time::Date;
use uuid::Uuid;

use super::model::CalendarImport;
use crate::{
    authz::{Permit, PropertyAction},
    availability::Block,
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::{PropertyId, TenantId},
    on_db, on_tx,
};

const IMPORT_COLUMNS: &str = "id, property_id, url, last_synced_at, last_error, created_at";

/// Host blocks overlapping or touching `[start, end)`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn host_blocks_touching(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
    (start, end): (Date, Date),
) -> Result<Vec<Block>, ApiError> {
    Ok(on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT id, start_date, end_date, reason FROM blocked_ranges \
             WHERE tenant_id = $1 AND property_id = $2 AND source = 'host' \
               AND start_date <= $4 AND end_date >= $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(start)
        .bind(end)
        .fetch_all(conn)
        .await
    })?)
}

/// Replaces the host blocks `merged` with `block`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property, block = %block.id))]
pub async fn merge_host_blocks(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    merged: &[Uuid],
    block: &Block,
    now: Timestamp,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    for id in merged {
        on_tx!(&mut *tx, |conn| {
            sqlx::query("DELETE FROM blocked_ranges WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.0)
                .bind(*id)
                .execute(conn)
                .await
                .map(drop)
        })?;
    }
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO blocked_ranges (tenant_id, id, property_id, start_date, end_date, reason, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.0)
        .bind(block.id)
        .bind(property.0)
        .bind(block.start)
        .bind(block.end)
        .bind(&block.reason)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Deletes a host block; `false` when the property has no such block.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property, block = %block))]
pub async fn delete_host_block(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    block: Uuid,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    let deleted = on_tx!(tx, |conn| {
        sqlx::query(
            "DELETE FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 AND id = $3 AND source = 'host'",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(block)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(deleted == 1)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn imports_of(
    db: &Db,
    tenant: TenantId,
    property: PropertyId,
) -> Result<Vec<CalendarImport>, ApiError> {
    let sql = format!(
        "SELECT {IMPORT_COLUMNS} FROM calendar_imports WHERE tenant_id = $1 AND property_id = $2 ORDER BY id"
    );
    Ok(on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(property.0)
        .fetch_all(pool)
        .await)?)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, import = %import))]
pub async fn get_import(
    db: &Db,
    tenant: TenantId,
    import: Uuid,
) -> Result<Option<CalendarImport>, ApiError> {
    let sql =
        format!("SELECT {IMPORT_COLUMNS} FROM calendar_imports WHERE tenant_id = $1 AND id = $2");
    Ok(on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(import)
        .fetch_optional(pool)
        .await)?)
}

/// Every import of every tenant, as `(tenant, import)`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn all_imports(db: &Db) -> Result<Vec<(TenantId, Uuid)>, ApiError> {
    let rows: Vec<(Uuid, Uuid)> = on_db!(db, |pool| {
        sqlx::query_as("SELECT tenant_id, id FROM calendar_imports")
            .fetch_all(pool)
            .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(tenant, import)| (TenantId(tenant), import))
        .collect())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), import = %import.id))]
pub async fn insert_import(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    import: &CalendarImport,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query("INSERT INTO calendar_imports (tenant_id, id, property_id, url, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(tenant.0)
            .bind(import.id)
            .bind(import.property_id)
            .bind(&import.url)
            .bind(import.created_at)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Deletes an import and the ranges it blocked; `false` when the property has no such import.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), property = %property, import = %import))]
pub async fn delete_import(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    property: PropertyId,
    import: Uuid,
    source: &str,
) -> Result<bool, ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    let deleted = on_tx!(&mut *tx, |conn| {
        sqlx::query(
            "DELETE FROM calendar_imports WHERE tenant_id = $1 AND property_id = $2 AND id = $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(import)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    if deleted == 0 {
        return Ok(false);
    }
    on_tx!(tx, |conn| {
        sqlx::query(
            "DELETE FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 AND source = $3",
        )
        .bind(tenant.0)
        .bind(property.0)
        .bind(source)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(true)
}

/// Replaces the ranges an import blocks with `ranges`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), import = %import.id, ranges = ranges.len()))]
pub async fn replace_imported_blocks(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    import: &CalendarImport,
    ranges: &[(Date, Date)],
    now: Timestamp,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    let source = import.source();
    on_tx!(&mut *tx, |conn| {
        sqlx::query(
            "DELETE FROM blocked_ranges WHERE tenant_id = $1 AND property_id = $2 AND source = $3",
        )
        .bind(tenant.0)
        .bind(import.property_id)
        .bind(&source)
        .execute(conn)
        .await
        .map(drop)
    })?;
    for (start, end) in ranges {
        on_tx!(&mut *tx, |conn| {
            sqlx::query(
                "INSERT INTO blocked_ranges (tenant_id, id, property_id, start_date, end_date, reason, source, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'imported', $6, $7)",
            )
            .bind(tenant.0)
            .bind(Uuid::now_v7())
            .bind(import.property_id)
            .bind(*start)
            .bind(*end)
            .bind(&source)
            .bind(now)
            .execute(conn)
            .await
            .map(drop)
        })?;
    }
    Ok(())
}

/// Records a fetch: its time when it succeeded, its error otherwise.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, import = %import))]
pub async fn record_sync(
    tx: &mut Tx,
    tenant: TenantId,
    import: Uuid,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE calendar_imports SET last_synced_at = CASE WHEN $3 IS NULL THEN $4 ELSE last_synced_at END, \
             last_error = $3 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(import)
        .bind(error)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}
