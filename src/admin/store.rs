use uuid::Uuid;

use crate::{
    db::{Db, Timestamp, Tx, is_unique_violation},
    error::ApiError,
    on_db, on_tx,
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlatformAdmin {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub disabled: bool,
}

const COLUMNS: &str = "id, email, password_hash, must_change_password, disabled";

/// Inserts an administrator; `false` when the email is taken.
#[tracing::instrument(level = "debug", skip_all, fields(admin = %id))]
pub async fn insert(
    tx: &mut Tx,
    id: Uuid,
    email: &str,
    email_normalized: &str,
    password_hash: &str,
    must_change_password: bool,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let result = on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO platform_admins (id, email, email_normalized, password_hash, \
             must_change_password, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id)
        .bind(email)
        .bind(email_normalized)
        .bind(password_hash)
        .bind(must_change_password)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    });
    match result {
        Ok(()) => Ok(true),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn find_by_email(
    db: &Db,
    email_normalized: &str,
) -> Result<Option<PlatformAdmin>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM platform_admins WHERE email_normalized = $1");
    Ok(on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(email_normalized)
        .fetch_optional(pool)
        .await)?)
}

#[tracing::instrument(level = "debug", skip_all, fields(admin = %id))]
pub async fn get(db: &Db, id: Uuid) -> Result<Option<PlatformAdmin>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM platform_admins WHERE id = $1");
    Ok(on_db!(db, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await)?)
}

#[tracing::instrument(level = "debug", skip_all, fields(admin = %id))]
pub async fn set_password(
    tx: &mut Tx,
    id: Uuid,
    password_hash: &str,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE platform_admins SET password_hash = $2, must_change_password = FALSE, \
             updated_at = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(password_hash)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}
