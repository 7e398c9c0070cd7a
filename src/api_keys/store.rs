use uuid::Uuid;

use crate::{
    authz::{ApiKeyAction, Permit, Roles},
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::{TenantId, UserId},
    on_db, on_tx,
};

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub roles: Roles,
    pub created_by: UserId,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: Uuid,
    name: String,
    prefix: String,
    roles: String,
    created_by: Uuid,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = ApiError;

    fn try_from(row: ApiKeyRow) -> Result<Self, ApiError> {
        Ok(Self {
            id: row.id,
            roles: Roles::from_column(&row.roles)?,
            name: row.name,
            prefix: row.prefix,
            created_by: UserId(row.created_by),
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

const COLUMNS: &str = "id, name, prefix, roles, created_by, created_at, last_used_at, revoked_at";

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), api_key = %key.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<ApiKeyAction>,
    key: &ApiKey,
    secret_hash: &str,
) -> Result<(), ApiError> {
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, secret_hash, roles, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(tenant.0)
        .bind(key.id)
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(secret_hash)
        .bind(key.roles.to_column())
        .bind(key.created_by.0)
        .bind(key.created_at)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Active keys, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn list(db: &Db, tenant: TenantId) -> Result<Vec<ApiKey>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY id DESC"
    );
    let rows: Vec<ApiKeyRow> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(ApiKey::try_from).collect()
}

/// The active key with this secret hash in the tenant.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn find_active(
    db: &Db,
    tenant: TenantId,
    secret_hash: &str,
) -> Result<Option<(ApiKey, Creator)>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct WithCreator {
        #[sqlx(flatten)]
        key: ApiKeyRow,
        creator_roles: String,
        creator_disabled: bool,
    }
    // The key and its creator in one round trip: every request made with a key asks both.
    let row: Option<WithCreator> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT k.id, k.name, k.prefix, k.roles, k.created_by, k.created_at, \
             k.last_used_at, k.revoked_at, u.roles AS creator_roles, \
             u.disabled AS creator_disabled \
             FROM api_keys k JOIN users u ON u.tenant_id = k.tenant_id AND u.id = k.created_by \
             WHERE k.tenant_id = $1 AND k.secret_hash = $2 AND k.revoked_at IS NULL",
        )
        .bind(tenant.0)
        .bind(secret_hash)
        .fetch_optional(pool)
        .await
    })?;
    row.map(|row| {
        Ok((
            ApiKey::try_from(row.key)?,
            Creator {
                roles: Roles::from_column(&row.creator_roles)?,
                disabled: row.creator_disabled,
            },
        ))
    })
    .transpose()
}

/// What a key's requests take from its creator's account.
#[derive(Debug, Clone)]
pub struct Creator {
    pub roles: Roles,
    pub disabled: bool,
}

/// Records use at most once a minute per key (also checked here, for concurrent requests), so
/// busy integrations do not write per request.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, api_key = %id))]
pub async fn touch(db: &Db, tenant: TenantId, id: Uuid, now: Timestamp) -> Result<(), ApiError> {
    // A transaction, so that on SQLite the write takes its turn among the writers.
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2 \
             AND (last_used_at IS NULL OR last_used_at < $4)",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .bind(now - time::Duration::MINUTE)
        .execute(conn)
        .await
        .map(drop)
    })?;
    tx.commit().await
}

/// Revokes the key; `false` when there is no active key with this id.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), api_key = %id))]
pub async fn revoke(
    tx: &mut Tx,
    permit: &Permit<ApiKeyAction>,
    id: Uuid,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let tenant = permit.tenant();
    let revoked = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(tenant.0)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(revoked == 1)
}
