use uuid::Uuid;

use super::model::{
    FailurePolicy, KEPT_FAILURES, Plugin, PluginKind, PluginStatus, RecordedFailure,
};
use crate::{
    authz::{Permit, PluginAction},
    db::{Db, Timestamp, Tx, is_foreign_key_violation, is_unique_violation},
    error::{ApiError, ErrorCode},
    ids::TenantId,
    on_db, on_tx,
};

#[derive(sqlx::FromRow)]
struct PluginRow {
    tenant_id: Uuid,
    id: Uuid,
    kind: String,
    name: String,
    version: i64,
    sha256: String,
    size: i64,
    config: String,
    status: String,
    failure_policy: Option<String>,
    created_at: Timestamp,
    activated_at: Option<Timestamp>,
}

fn corrupt(column: &str) -> ApiError {
    ApiError::internal(format!("plugins.{column} holds an unknown value"))
}

impl TryFrom<PluginRow> for Plugin {
    type Error = ApiError;

    fn try_from(row: PluginRow) -> Result<Self, ApiError> {
        Ok(Self {
            tenant_id: TenantId(row.tenant_id),
            id: row.id,
            kind: PluginKind::parse(&row.kind).ok_or_else(|| corrupt("kind"))?,
            name: row.name,
            version: row.version,
            sha256: row.sha256,
            size: row.size,
            config: row.config,
            status: PluginStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            failure_policy: row
                .failure_policy
                .map(|policy| {
                    FailurePolicy::parse(&policy).ok_or_else(|| corrupt("failure_policy"))
                })
                .transpose()?,
            created_at: row.created_at,
            activated_at: row.activated_at,
        })
    }
}

const COLUMNS: &str = "tenant_id, id, kind, name, CAST(version AS BIGINT) AS version, sha256, \
    CAST(size AS BIGINT) AS size, config, status, failure_policy, created_at, activated_at";

/// Keeps a module's bytes once per content hash.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant()))]
pub async fn insert_module(
    tx: &mut Tx,
    permit: &Permit<PluginAction>,
    sha256: &str,
    bytes: &[u8],
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| sqlx::query(
        "INSERT INTO plugin_modules (tenant_id, sha256, bytes) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, sha256) DO NOTHING"
    )
    .bind(permit.tenant().0)
    .bind(sha256)
    .bind(bytes)
    .execute(conn)
    .await
    .map(drop))?;
    Ok(())
}

/// The module's bytes, to compile again for another engine.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn module(db: &Db, tenant: TenantId, sha256: &str) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(on_db!(db, |pool| sqlx::query_scalar(
        "SELECT bytes FROM plugin_modules WHERE tenant_id = $1 AND sha256 = $2"
    )
    .bind(tenant.0)
    .bind(sha256)
    .fetch_optional(pool)
    .await)?)
}

/// Code `engine` compiled from the module, if it did.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn code(
    db: &Db,
    tenant: TenantId,
    sha256: &str,
    engine: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(on_db!(db, |pool| sqlx::query_scalar(
        "SELECT code FROM plugin_code WHERE tenant_id = $1 AND sha256 = $2 AND engine = $3"
    )
    .bind(tenant.0)
    .bind(sha256)
    .bind(engine)
    .fetch_optional(pool)
    .await)?)
}

/// Keeps what `engine` compiled from the module (the first replica to compile it wins).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn insert_code(
    db: &Db,
    tenant: TenantId,
    sha256: &str,
    engine: &str,
    code: &[u8],
) -> Result<(), ApiError> {
    // A transaction, so that on SQLite the write takes its turn among the writers.
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |conn| sqlx::query(
        "INSERT INTO plugin_code (tenant_id, sha256, engine, code) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, sha256, engine) DO NOTHING"
    )
    .bind(tenant.0)
    .bind(sha256)
    .bind(engine)
    .bind(code)
    .execute(conn)
    .await
    .map(drop))?;
    tx.commit().await
}

/// Stores a new version: one more than the latest of its kind and name. Two uploads of one
/// name at once: the second is 409.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), plugin = %plugin.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<PluginAction>,
    plugin: &mut Plugin,
) -> Result<(), ApiError> {
    let tenant = permit.tenant();
    let latest: Option<i64> = on_tx!(tx, |conn| sqlx::query_scalar(
        "SELECT CAST(MAX(version) AS BIGINT) FROM plugins \
         WHERE tenant_id = $1 AND kind = $2 AND name = $3"
    )
    .bind(tenant.0)
    .bind(plugin.kind.as_str())
    .bind(&plugin.name)
    .fetch_one(conn)
    .await)?;
    plugin.version = latest.unwrap_or(0) + 1;
    let inserted = on_tx!(tx, |conn| {
        sqlx::query(
        "INSERT INTO plugins (tenant_id, id, kind, name, version, sha256, size, config, status, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(tenant.0)
    .bind(plugin.id)
    .bind(plugin.kind.as_str())
    .bind(&plugin.name)
    .bind(plugin.version)
    .bind(&plugin.sha256)
    .bind(plugin.size)
    .bind(&plugin.config)
    .bind(plugin.status.as_str())
    .bind(plugin.created_at)
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
    });
    match inserted {
        Ok(_) => Ok(()),
        // The same version number taken by a concurrent upload, or the module deleted by a
        // concurrent deletion of the last version that used it.
        Err(err) if is_unique_violation(&err) || is_foreign_key_violation(&err) => {
            Err(ApiError::Conflict {
                code: ErrorCode::ConcurrentChange,
                detail: "Another change to this plugin was made at the same moment; upload again."
                    .into(),
            })
        }
        Err(err) => Err(err.into()),
    }
}

/// Every version of every plugin of the tenant, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn list(db: &Db, tenant: TenantId) -> Result<Vec<Plugin>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM plugins WHERE tenant_id = $1 ORDER BY id DESC");
    let rows: Vec<PluginRow> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Plugin::try_from).collect()
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, plugin = %id))]
pub async fn find(db: &Db, tenant: TenantId, id: Uuid) -> Result<Option<Plugin>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM plugins WHERE tenant_id = $1 AND id = $2");
    let row: Option<PluginRow> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    row.map(Plugin::try_from).transpose()
}

/// The tenant's active plugin of `kind`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn active(
    db: &Db,
    tenant: TenantId,
    kind: PluginKind,
) -> Result<Option<Plugin>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM plugins WHERE tenant_id = $1 AND kind = $2 AND status = 'active'"
    );
    let row: Option<PluginRow> = on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(tenant.0)
        .bind(kind.as_str())
        .fetch_optional(pool)
        .await)?;
    row.map(Plugin::try_from).transpose()
}

/// Makes `plugin` its kind's only active one, with `policy`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), plugin = %plugin.id))]
pub async fn activate(
    tx: &mut Tx,
    permit: &Permit<PluginAction>,
    plugin: &Plugin,
    policy: FailurePolicy,
    now: Timestamp,
) -> Result<(), ApiError> {
    let tenant = permit.tenant();
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE plugins SET status = 'inactive', failure_policy = NULL \
         WHERE tenant_id = $1 AND kind = $2 AND status = 'active' AND id <> $3"
    )
    .bind(tenant.0)
    .bind(plugin.kind.as_str())
    .bind(plugin.id)
    .execute(conn)
    .await
    .map(drop))?;
    let activated = on_tx!(tx, |conn| sqlx::query(
        "UPDATE plugins SET status = 'active', failure_policy = $3, activated_at = $4 \
         WHERE tenant_id = $1 AND id = $2"
    )
    .bind(tenant.0)
    .bind(plugin.id)
    .bind(policy.as_str())
    .bind(now)
    .execute(conn)
    .await
    .map(|done| done.rows_affected()));
    match activated {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => Err(ApiError::Conflict {
            code: ErrorCode::ConcurrentChange,
            detail: "Another plugin of this kind was activated at the same moment; try again."
                .into(),
        }),
        Err(err) => Err(err.into()),
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), plugin = %id))]
pub async fn deactivate(
    tx: &mut Tx,
    permit: &Permit<PluginAction>,
    id: Uuid,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE plugins SET status = 'inactive', failure_policy = NULL \
         WHERE tenant_id = $1 AND id = $2"
    )
    .bind(permit.tenant().0)
    .bind(id)
    .execute(conn)
    .await
    .map(drop))?;
    Ok(())
}

/// Deletes the version, and its module and code when no other version uses them.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), plugin = %plugin.id))]
pub async fn delete(
    tx: &mut Tx,
    permit: &Permit<PluginAction>,
    plugin: &Plugin,
) -> Result<(), ApiError> {
    let tenant = permit.tenant();
    on_tx!(tx, |conn| sqlx::query(
        "DELETE FROM plugin_failures WHERE tenant_id = $1 AND plugin_id = $2"
    )
    .bind(tenant.0)
    .bind(plugin.id)
    .execute(conn)
    .await
    .map(drop))?;
    on_tx!(tx, |conn| sqlx::query(
        "DELETE FROM plugins WHERE tenant_id = $1 AND id = $2"
    )
    .bind(tenant.0)
    .bind(plugin.id)
    .execute(conn)
    .await
    .map(drop))?;
    for table in ["plugin_code", "plugin_modules"] {
        let sql = format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND sha256 = $2 AND NOT EXISTS \
             (SELECT 1 FROM plugins WHERE tenant_id = $1 AND sha256 = $2)"
        );
        on_tx!(tx, |conn| sqlx::query(&sql)
            .bind(tenant.0)
            .bind(&plugin.sha256)
            .execute(conn)
            .await
            .map(drop))?;
    }
    Ok(())
}

/// Records a failed call and forgets all but the latest `KEPT_FAILURES`.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, plugin = %plugin))]
pub async fn record_failure(
    db: &Db,
    tenant: TenantId,
    plugin: Uuid,
    (reason, message): (&str, &str),
    at: Timestamp,
) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |conn| sqlx::query(
        "INSERT INTO plugin_failures (tenant_id, plugin_id, id, reason, message, at) \
         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS \
         (SELECT 1 FROM plugins WHERE tenant_id = $1 AND id = $2)"
    )
    .bind(tenant.0)
    .bind(plugin)
    .bind(Uuid::now_v7())
    .bind(reason)
    .bind(message)
    .bind(at)
    .execute(conn)
    .await
    .map(drop))?;
    on_tx!(&mut tx, |conn| sqlx::query(
        "DELETE FROM plugin_failures WHERE tenant_id = $1 AND plugin_id = $2 AND id NOT IN \
         (SELECT id FROM plugin_failures WHERE tenant_id = $1 AND plugin_id = $2 \
          ORDER BY id DESC LIMIT $3)"
    )
    .bind(tenant.0)
    .bind(plugin)
    .bind(KEPT_FAILURES)
    .execute(conn)
    .await
    .map(drop))?;
    tx.commit().await
}

/// The latest failed calls, newest first.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, plugin = %plugin))]
pub async fn failures(
    db: &Db,
    tenant: TenantId,
    plugin: Uuid,
) -> Result<Vec<RecordedFailure>, ApiError> {
    let rows: Vec<(String, String, Timestamp)> = on_db!(db, |pool| {
        sqlx::query_as(
        "SELECT reason, message, at FROM plugin_failures WHERE tenant_id = $1 AND plugin_id = $2 \
         ORDER BY id DESC LIMIT $3"
    )
    .bind(tenant.0)
    .bind(plugin)
    .bind(KEPT_FAILURES)
    .fetch_all(pool)
    .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(reason, message, at)| RecordedFailure {
            reason,
            message,
            at,
        })
        .collect())
}
