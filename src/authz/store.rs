//! A tenant's own allow rules; every change bumps the tenant's policy version in the same
//! transaction, which is how other replicas learn to rebuild their enforcer.

use uuid::Uuid;

use super::{Permit, Rule};
use crate::{
    authz::PolicyAction,
    db::{Db, Timestamp, Tx, is_unique_violation},
    error::ApiError,
    ids::TenantId,
    on_db, on_tx,
};

#[derive(Debug, Clone)]
pub struct TenantRule {
    pub id: Uuid,
    pub rule: Rule,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: Uuid,
    role: String,
    object: String,
    action: String,
    created_at: Timestamp,
}

impl From<RuleRow> for TenantRule {
    fn from(row: RuleRow) -> Self {
        Self {
            id: row.id,
            rule: Rule {
                role: row.role,
                object: row.object,
                action: row.action,
            },
            created_at: row.created_at,
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn list(db: &Db, tenant: TenantId) -> Result<Vec<TenantRule>, ApiError> {
    let rows: Vec<RuleRow> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, role, object, action, created_at FROM tenant_policies \
             WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.0)
        .fetch_all(pool)
        .await
    })?;
    Ok(rows.into_iter().map(TenantRule::from).collect())
}

async fn bump_version(tx: &mut Tx, tenant: TenantId, now: Timestamp) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE tenants SET policy_version = policy_version + 1, updated_at = $2 WHERE id = $1",
        )
        .bind(tenant.0)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Adds a rule; `None` when the tenant already has the same one.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant()))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<PolicyAction>,
    rule: &TenantRule,
) -> Result<Option<()>, ApiError> {
    let tenant = permit.tenant();
    let result = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO tenant_policies (tenant_id, id, role, object, action, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(tenant.0)
        .bind(rule.id)
        .bind(&rule.rule.role)
        .bind(&rule.rule.object)
        .bind(&rule.rule.action)
        .bind(rule.created_at)
        .execute(conn)
        .await
        .map(drop)
    });
    match result {
        Ok(()) => {
            bump_version(tx, tenant, rule.created_at).await?;
            Ok(Some(()))
        }
        Err(err) if is_unique_violation(&err) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Removes a rule; `false` when the tenant has no rule with this id.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), rule = %id))]
pub async fn delete(
    tx: &mut Tx,
    permit: &Permit<PolicyAction>,
    id: Uuid,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let tenant = permit.tenant();
    let deleted = on_tx!(tx, |conn| {
        sqlx::query("DELETE FROM tenant_policies WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    if deleted == 1 {
        bump_version(tx, tenant, now).await?;
    }
    Ok(deleted == 1)
}
