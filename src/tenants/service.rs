//! Tenant life cycle. The platform-admin API will call these; today the CLI does.

use uuid::Uuid;

use super::{
    model::{Tenant, TenantId, TenantSlug, TenantStatus, parse_tenant_name},
    store::{self, InsertOutcome},
};
use crate::{
    db::{Db, Timestamp},
    error::{ApiError, FieldError},
};

pub struct NewTenant<'a> {
    pub slug: &'a str,
    pub name: &'a str,
}

#[tracing::instrument(skip_all, fields(slug = new.slug))]
pub async fn create(db: &Db, new: NewTenant<'_>) -> Result<Tenant, ApiError> {
    let mut errors = Vec::new();
    let slug = TenantSlug::parse(new.slug)
        .map_err(|message| errors.push(FieldError::new("slug", message)))
        .ok();
    let name = parse_tenant_name(new.name)
        .map_err(|message| errors.push(FieldError::new("name", message)))
        .ok();
    let (Some(slug), Some(name)) = (slug, name) else {
        return Err(ApiError::Validation(errors));
    };

    let now = Timestamp::now();
    let tenant = Tenant {
        id: TenantId(Uuid::now_v7()),
        slug,
        name,
        status: TenantStatus::Active,
        policy_version: 0,
        created_at: now,
        updated_at: now,
    };
    let mut tx = db.begin().await?;
    match store::insert(&mut tx, &tenant).await? {
        InsertOutcome::Inserted => {}
        InsertOutcome::SlugTaken => {
            return Err(ApiError::Conflict {
                code: "slug_taken",
                detail: format!("The slug {} is already in use.", tenant.slug),
            });
        }
    }
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant.id, "tenant created");
    Ok(tenant)
}

#[tracing::instrument(skip(db))]
pub async fn set_status(db: &Db, slug: &str, status: TenantStatus) -> Result<Tenant, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
    let mut tx = db.begin().await?;
    let tenant = store::set_status(&mut tx, &slug, status, Timestamp::now())
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    tx.commit().await?;
    Ok(tenant)
}

/// The tenant a `/v1/t/{tenant}` request addresses, refused when unknown or suspended.
pub async fn resolve_active(db: &Db, slug: &str) -> Result<Tenant, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
    let tenant = store::find_by_slug(db, &slug)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    match tenant.status {
        TenantStatus::Active => Ok(tenant),
        TenantStatus::Suspended => Err(ApiError::TenantSuspended),
    }
}
