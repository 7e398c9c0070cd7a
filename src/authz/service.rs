//! The rules of a tenant's own authorization rules.

use uuid::Uuid;

use super::{
    ANONYMOUS, Role, Rule,
    store::{self, TenantRule},
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::{Permission, PolicyAction},
    db::Timestamp,
    error::{ApiError, ErrorCode, FieldError},
    tenants::Tenant,
};

/// The tenant's own rules (the defaults come from the authorizer).
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<Vec<TenantRule>, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PolicyAction::List)
        .await?;
    store::list(&state.db, tenant.id).await
}

/// Adds an allow rule: a known role, and a permission the default rules define.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn add(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    rule: Rule,
) -> Result<TenantRule, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PolicyAction::Create)
        .await?;
    let mut errors = Vec::new();
    if rule.role != ANONYMOUS && Role::parse(&rule.role).is_none() {
        errors.push(FieldError::new(
            "role",
            "must be one of: anonymous, guest, host, tenant_admin",
        ));
    }
    if Permission::parse(&rule.object, &rule.action).is_none() {
        errors.push(FieldError::new(
            "action",
            format!(
                "{}:{} is not a permission the default rules define",
                rule.object, rule.action
            ),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let rule = TenantRule {
        id: Uuid::now_v7(),
        rule,
        created_at: Timestamp::now(),
    };
    let mut tx = state.db.begin().await?;
    if store::insert(&mut tx, &permit, &rule).await?.is_none() {
        return Err(ApiError::Conflict {
            code: ErrorCode::RuleExists,
            detail: "The tenant already has this rule.".into(),
        });
    }
    tx.commit().await?;
    state.tenants.forget(tenant.slug.as_str());
    Ok(rule)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, rule = %id))]
pub async fn remove(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
) -> Result<(), ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PolicyAction::Delete)
        .await?;
    let mut tx = state.db.begin().await?;
    if !store::delete(&mut tx, &permit, id, Timestamp::now()).await? {
        return Err(ApiError::NotFound("rule"));
    }
    tx.commit().await?;
    state.tenants.forget(tenant.slug.as_str());
    Ok(())
}
