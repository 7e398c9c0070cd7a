use uuid::Uuid;

use super::model::{Tenant, TenantId, TenantSlug, TenantStatus};
use crate::{
    db::{Db, Timestamp, Tx},
    error::ApiError,
    on_db, on_tx,
};

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    status: String,
    policy_version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = ApiError;

    fn try_from(row: TenantRow) -> Result<Self, ApiError> {
        let corrupt =
            |what: &str| ApiError::internal(format!("tenant {} has an invalid {what}", row.id));
        Ok(Tenant {
            id: TenantId(row.id),
            slug: TenantSlug::parse(&row.slug).map_err(|_| corrupt("slug"))?,
            status: TenantStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            name: row.name,
            policy_version: row.policy_version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: &str = "id, slug, name, status, policy_version, created_at, updated_at";

pub enum InsertOutcome {
    Inserted,
    SlugTaken,
}

pub async fn insert(tx: &mut Tx, tenant: &Tenant) -> Result<InsertOutcome, ApiError> {
    let result = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.id.0)
        .bind(tenant.slug.as_str())
        .bind(&tenant.name)
        .bind(tenant.status.as_str())
        .bind(tenant.created_at)
        .bind(tenant.updated_at)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    });
    match result {
        Ok(_) => Ok(InsertOutcome::Inserted),
        Err(err) if crate::db::is_unique_violation(&err) => Ok(InsertOutcome::SlugTaken),
        Err(err) => Err(err.into()),
    }
}

pub async fn find_by_slug(db: &Db, slug: &TenantSlug) -> Result<Option<Tenant>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1");
    let row: Option<TenantRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await
    })?;
    row.map(Tenant::try_from).transpose()
}

/// Sets the status; returns the updated tenant, or `None` when no tenant has the slug.
pub async fn set_status(
    tx: &mut Tx,
    slug: &TenantSlug,
    status: TenantStatus,
    now: Timestamp,
) -> Result<Option<Tenant>, ApiError> {
    let sql = format!(
        "UPDATE tenants SET status = $1, updated_at = $2 WHERE slug = $3 RETURNING {COLUMNS}"
    );
    let row: Option<TenantRow> = on_tx!(tx, |conn| {
        sqlx::query_as(&sql)
            .bind(status.as_str())
            .bind(now)
            .bind(slug.as_str())
            .fetch_optional(conn)
            .await
    })?;
    row.map(Tenant::try_from).transpose()
}
