//! SQL of sessions (refresh tokens), single-use email tokens and JWT signing keys.

use uuid::Uuid;

use crate::{
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::{TenantId, UserId},
    on_db, on_tx,
};

pub struct NewRefreshToken<'a> {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %token.user_id, session = %token.family_id))]
pub async fn insert_refresh_token(
    tx: &mut Tx,
    tenant: TenantId,
    token: NewRefreshToken<'_>,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO refresh_tokens (tenant_id, id, family_id, user_id, token_hash, \
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.0)
        .bind(token.id)
        .bind(token.family_id)
        .bind(token.user_id.0)
        .bind(token.token_hash)
        .bind(token.expires_at)
        .bind(token.now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

pub enum Spent {
    /// This call spent the token (it may still be expired or revoked: the caller checks).
    Fresh(RefreshTokenRow),
    /// The token had been spent before: a replay.
    Replayed(RefreshTokenRow),
    Unknown,
}

/// Spends a refresh token. The conditional update makes concurrent uses of one token
/// serialize: exactly one of them sees it fresh.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn spend_refresh_token(
    tx: &mut Tx,
    tenant: TenantId,
    token_hash: &str,
    now: Timestamp,
) -> Result<Spent, ApiError> {
    let fresh: Option<RefreshTokenRow> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $3 \
             WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL \
             RETURNING family_id, user_id, expires_at, revoked_at",
        )
        .bind(tenant.0)
        .bind(token_hash)
        .bind(now)
        .fetch_optional(conn)
        .await
    })?;
    if let Some(row) = fresh {
        return Ok(Spent::Fresh(row));
    }
    let spent: Option<RefreshTokenRow> = on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT family_id, user_id, expires_at, revoked_at FROM refresh_tokens \
             WHERE tenant_id = $1 AND token_hash = $2",
        )
        .bind(tenant.0)
        .bind(token_hash)
        .fetch_optional(conn)
        .await
    })?;
    Ok(spent.map_or(Spent::Unknown, Spent::Replayed))
}

/// Revokes every token of the family of `token_hash`; returns its user, if one was found.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn revoke_family_of(
    tx: &mut Tx,
    tenant: TenantId,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<UserId>, ApiError> {
    let users: Vec<Uuid> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND family_id = \
                (SELECT family_id FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2) \
             RETURNING user_id",
        )
        .bind(tenant.0)
        .bind(token_hash)
        .bind(now)
        .fetch_all(conn)
        .await
    })?;
    Ok(users.first().copied().map(UserId))
}

/// Spends every unused token of this purpose of the user (a newer one, or a new password,
/// makes the older links worthless).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user, purpose = ?purpose))]
pub async fn spend_user_tokens(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    purpose: TokenPurpose,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE user_tokens SET used_at = $4 \
             WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3 AND used_at IS NULL",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, session = %family_id))]
pub async fn revoke_family(
    tx: &mut Tx,
    tenant: TenantId,
    family_id: Uuid,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND family_id = $2",
        )
        .bind(tenant.0)
        .bind(family_id)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Ends every session of the user except `keep` (the session making the request, if any).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user))]
pub async fn revoke_user_sessions(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    keep: Option<Uuid>,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = COALESCE(revoked_at, $3) \
             WHERE tenant_id = $1 AND user_id = $2 AND ($4 IS NULL OR family_id <> $4)",
        )
        .bind(tenant.0)
        .bind(user.0)
        .bind(now)
        .bind(keep)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    PasswordReset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::PasswordReset => "password_reset",
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %user, purpose = ?purpose))]
pub async fn insert_user_token(
    tx: &mut Tx,
    tenant: TenantId,
    user: UserId,
    purpose: TokenPurpose,
    token_hash: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO user_tokens (tenant_id, id, user_id, purpose, token_hash, expires_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.0)
        .bind(Uuid::now_v7())
        .bind(user.0)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(expires_at)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// The user of a valid (unexpired, unused) token of this purpose, without spending it.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, purpose = ?purpose))]
pub async fn valid_user_token(
    db: &crate::db::Db,
    tenant: TenantId,
    purpose: TokenPurpose,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<UserId>, ApiError> {
    let user: Option<Uuid> = crate::on_db!(db, |pool| {
        sqlx::query_scalar(
            "SELECT user_id FROM user_tokens WHERE tenant_id = $1 AND purpose = $2 \
             AND token_hash = $3 AND used_at IS NULL AND expires_at > $4",
        )
        .bind(tenant.0)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_optional(pool)
        .await
    })?;
    Ok(user.map(UserId))
}

/// Uses up a valid (unexpired, unused) token of this purpose; returns its user.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, purpose = ?purpose))]
pub async fn consume_user_token(
    tx: &mut Tx,
    tenant: TenantId,
    purpose: TokenPurpose,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<UserId>, ApiError> {
    let user: Option<Uuid> = on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "UPDATE user_tokens SET used_at = $4 \
             WHERE tenant_id = $1 AND purpose = $2 AND token_hash = $3 \
               AND used_at IS NULL AND expires_at > $4 \
             RETURNING user_id",
        )
        .bind(tenant.0)
        .bind(purpose.as_str())
        .bind(token_hash)
        .bind(now)
        .fetch_optional(conn)
        .await
    })?;
    Ok(user.map(UserId))
}

/// A signing key as stored; shared by every tenant, so not scoped by one.
#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    pub id: String,
    /// Sealed (`v1:...`), or PKCS#8 DER in base64 when written without a secret key.
    pub private_key: String,
    pub public_key: String,
    pub retired_at: Option<Timestamp>,
}

/// The active signing keys and those retired after `cutoff`, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn signing_keys_retired_after(
    db: &Db,
    cutoff: Timestamp,
) -> Result<Vec<SigningKeyRow>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT id, private_key, public_key, retired_at FROM signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(cutoff)
        .fetch_all(pool)
        .await
    })?)
}

pub struct NewSigningKey<'a> {
    pub id: &'a str,
    /// Sealed, or PKCS#8 DER in base64 without a secret key.
    pub private_key: &'a str,
    /// The raw public key, base64url.
    pub public_key: &'a str,
    pub now: Timestamp,
}

/// Retires the active signing keys and inserts the new one, which signs from now on.
#[tracing::instrument(level = "debug", skip_all, fields(key = key.id))]
pub async fn insert_signing_key(tx: &mut Tx, key: NewSigningKey<'_>) -> Result<(), ApiError> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(key.now)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "INSERT INTO signing_keys (id, private_key, public_key, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key.id)
        .bind(key.private_key)
        .bind(key.public_key)
        .bind(key.now)
        .execute(&mut *conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// A stored private key, retired or not.
#[derive(sqlx::FromRow)]
pub struct StoredPrivateKey {
    pub id: String,
    pub private_key: String,
}

/// Every signing key's stored private key, to seal those still in the clear.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn signing_key_private_keys(db: &Db) -> Result<Vec<StoredPrivateKey>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_as("SELECT id, private_key FROM signing_keys ORDER BY id")
            .fetch_all(pool)
            .await
    })?)
}

/// Replaces a stored private key if it still holds `old` (another replica may have sealed it).
#[tracing::instrument(level = "debug", skip_all, fields(key = id))]
pub async fn replace_signing_private_key(
    db: &Db,
    id: &str,
    old: &str,
    new: &str,
) -> Result<(), ApiError> {
    on_db!(db, |pool| {
        sqlx::query("UPDATE signing_keys SET private_key = $1 WHERE id = $2 AND private_key = $3")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(pool)
            .await
            .map(drop)
    })?;
    Ok(())
}
