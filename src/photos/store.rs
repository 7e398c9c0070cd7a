//! Photos' SQL.

use std::collections::HashMap;

use uuid::Uuid;

use super::model::{ImageStatus, PropertyImage};
use crate::{
    authz::{Permit, PropertyAction},
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::{PropertyId, TenantId},
    on_db, on_tx,
};

const COLUMNS: &str = "id, property_id, CAST(position AS BIGINT) AS position, status, original_key, thumbnail_key, large_key";

/// The images of several properties at once, in order: one query for a whole page of listings.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, properties = ids.len()))]
pub async fn of_properties(
    db: &Db,
    tenant: TenantId,
    ids: &[PropertyId],
) -> Result<HashMap<PropertyId, Vec<PropertyImage>>, ApiError> {
    let mut by_property: HashMap<PropertyId, Vec<PropertyImage>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_property);
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|n| format!("${}", n + 2)).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM property_images WHERE tenant_id = $1 AND property_id IN ({}) \
         ORDER BY property_id, position, id",
        placeholders.join(", ")
    );
    let rows: Vec<PropertyImage> = on_db!(db, |pool| {
        let mut query = sqlx::query_as(&sql).bind(tenant.0);
        for id in ids {
            query = query.bind(id.0);
        }
        query.fetch_all(pool).await
    })?;
    for row in rows {
        by_property
            .entry(PropertyId(row.property_id))
            .or_default()
            .push(row);
    }
    Ok(by_property)
}

/// A property's images in order, read in a write transaction.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, property = %property))]
pub async fn of_property_in(
    tx: &mut Tx,
    tenant: TenantId,
    property: PropertyId,
) -> Result<Vec<PropertyImage>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM property_images WHERE tenant_id = $1 AND property_id = $2 ORDER BY position, id"
    );
    Ok(on_tx!(tx, |conn| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(property.0)
        .fetch_all(conn)
        .await)?)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, image = %image))]
pub async fn get(
    db: &Db,
    tenant: TenantId,
    image: Uuid,
) -> Result<Option<PropertyImage>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM property_images WHERE tenant_id = $1 AND id = $2");
    Ok(on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(image)
        .fetch_optional(pool)
        .await)?)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), image = %image.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    image: &PropertyImage,
    now: Timestamp,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO property_images (tenant_id, id, property_id, position, status, original_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(tenant.0)
        .bind(image.id)
        .bind(image.property_id)
        .bind(image.position as i32)
        .bind(&image.status)
        .bind(&image.original_key)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), image = %image))]
pub async fn delete(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    image: Uuid,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM property_images WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(image)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), image = %image, position = position))]
pub async fn set_position(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    image: Uuid,
    position: usize,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE property_images SET position = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(image)
            .bind(position as i32)
            .execute(conn)
            .await
            .map(drop)
    })?;
    Ok(())
}

/// Records the outcome of the renditions: `ready` with their keys (the original is then
/// dropped), or `failed`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), image = %image, status = ?status))]
pub async fn set_status(
    tx: &mut Tx,
    permit: &Permit<PropertyAction>,
    image: Uuid,
    status: ImageStatus,
    keys: Option<(&str, &str)>,
    now: Timestamp,
) -> Result<(), ApiError> {
    permit.require(PropertyAction::CHANGES)?;
    let tenant = permit.tenant();
    let (thumbnail, large) = keys.unzip();
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE property_images SET status = $3, thumbnail_key = COALESCE($4, thumbnail_key), \
             large_key = COALESCE($5, large_key), \
             original_key = CASE WHEN $3 = 'ready' THEN NULL ELSE original_key END, updated_at = $6 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.0)
        .bind(image)
        .bind(status.as_str())
        .bind(thumbnail)
        .bind(large)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}
