//! Users' SQL. Every function takes the tenant; writes take the `Permit` of their check.

use uuid::Uuid;

use super::model::{User, UserFilter};
use crate::{
    authz::{AccountAction, AuthAction, Permit, Roles},
    db::{Db, Timestamp, Tx, is_unique_violation},
    error::ApiError,
    ids::{TenantId, UserId},
    on_db, on_tx,
};

#[derive(sqlx::FromRow)]
struct UserRow {
    tenant_id: Uuid,
    id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    phone_number: Option<String>,
    roles: String,
    email_verified: bool,
    disabled: bool,
    must_change_password: bool,
    picture_key: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<UserRow> for User {
    type Error = ApiError;

    fn try_from(row: UserRow) -> Result<Self, ApiError> {
        Ok(User {
            tenant_id: TenantId(row.tenant_id),
            id: UserId(row.id),
            roles: Roles::from_column(&row.roles)?,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            phone_number: row.phone_number,
            email_verified: row.email_verified,
            disabled: row.disabled,
            must_change_password: row.must_change_password,
            picture_key: row.picture_key,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

const COLUMNS: &str = "tenant_id, id, email, first_name, last_name, phone_number, roles, \
    email_verified, disabled, must_change_password, picture_key, created_at, updated_at";

pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone_number: Option<&'a str>,
    pub password_hash: &'a str,
    pub roles: &'a Roles,
    pub must_change_password: bool,
    pub now: Timestamp,
}

pub enum Inserted {
    Created(Box<User>),
    EmailTaken,
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), user = %user.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<AuthAction>,
    user: NewUser<'_>,
) -> Result<Inserted, ApiError> {
    let tenant = permit.tenant();
    let sql = format!(
        "INSERT INTO users (tenant_id, id, email, email_normalized, first_name, last_name, \
         phone_number, password_hash, roles, must_change_password, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {COLUMNS}"
    );
    let result: Result<UserRow, sqlx::Error> = on_tx!(tx, |conn| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(user.id.0)
            .bind(user.email)
            .bind(user.email_normalized)
            .bind(user.first_name)
            .bind(user.last_name)
            .bind(user.phone_number)
            .bind(user.password_hash)
            .bind(user.roles.to_column())
            .bind(user.must_change_password)
            .bind(user.now)
            .fetch_one(conn)
            .await
    });
    match result {
        Ok(row) => Ok(Inserted::Created(Box::new(row.try_into()?))),
        Err(err) if is_unique_violation(&err) => Ok(Inserted::EmailTaken),
        Err(err) => Err(err.into()),
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %id))]
pub async fn get(db: &Db, tenant: TenantId, id: UserId) -> Result<Option<User>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
    let row: Option<UserRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .fetch_optional(pool)
            .await
    })?;
    row.map(User::try_from).transpose()
}

#[derive(sqlx::FromRow)]
struct SignedInRow {
    #[sqlx(flatten)]
    user: UserRow,
    session_ended: bool,
}

/// The user behind an access token and whether the token's session has ended, in one round
/// trip: every signed-in request asks both. The session's state is the `refresh_tokens` table
/// of `auth` (a family with a revoked token has ended); `None` is a token without a session.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %id))]
pub async fn get_signed_in(
    db: &Db,
    tenant: TenantId,
    id: UserId,
    session: Option<Uuid>,
) -> Result<Option<(User, bool)>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM refresh_tokens WHERE tenant_id = $1 \
         AND family_id = $3 AND revoked_at IS NOT NULL) AS session_ended \
         FROM users WHERE tenant_id = $1 AND id = $2"
    );
    let row: Option<SignedInRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(id.0)
            .bind(session)
            .fetch_optional(pool)
            .await
    })?;
    row.map(|row| Ok((User::try_from(row.user)?, row.session_ended)))
        .transpose()
}

/// The user, read on the transaction's connection and (on PostgreSQL) locked until it ends,
/// for read-modify-write changes.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant, user = %id))]
pub async fn get_in(tx: &mut Tx, tenant: TenantId, id: UserId) -> Result<Option<User>, ApiError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
    let row: Option<UserRow> = match tx {
        Tx::Postgres(tx) => {
            sqlx::query_as(&format!("{sql} FOR UPDATE"))
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
        }
        Tx::Sqlite(tx) => {
            sqlx::query_as(&sql)
                .bind(tenant.0)
                .bind(id.0)
                .fetch_optional(&mut **tx)
                .await?
        }
    };
    row.map(User::try_from).transpose()
}

/// The user with this (lowercased) email and their password hash.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn find_by_email(
    db: &Db,
    tenant: TenantId,
    email_normalized: &str,
) -> Result<Option<(User, String)>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct WithHash {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let sql = format!(
        "SELECT {COLUMNS}, password_hash FROM users WHERE tenant_id = $1 AND email_normalized = $2"
    );
    let row: Option<WithHash> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(email_normalized)
            .fetch_optional(pool)
            .await
    })?;
    row.map(|row| Ok((User::try_from(row.user)?, row.password_hash)))
        .transpose()
}

/// One change to a user row, applied by `update`.
pub enum Change<'a> {
    Profile {
        first_name: &'a str,
        last_name: &'a str,
        phone_number: Option<&'a str>,
    },
    Password {
        hash: &'a str,
    },
    Roles(&'a Roles),
    Disabled(bool),
    EmailVerified,
    Picture(Option<&'a str>),
}

/// Applies `change`; returns the updated user, or `None` when there is no such user.
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant(), user = %id))]
pub async fn update(
    tx: &mut Tx,
    permit: &Permit<impl AccountAction>,
    id: UserId,
    change: Change<'_>,
    now: Timestamp,
) -> Result<Option<User>, ApiError> {
    let tenant = permit.tenant();
    let set = match &change {
        Change::Profile { .. } => "first_name = $4, last_name = $5, phone_number = $6",
        Change::Password { .. } => "password_hash = $4, must_change_password = FALSE",
        Change::Roles(_) => "roles = $4",
        Change::Disabled(_) => "disabled = $4",
        Change::EmailVerified => "email_verified = TRUE",
        Change::Picture(_) => "picture_key = $4",
    };
    let sql = format!(
        "UPDATE users SET {set}, updated_at = $3 WHERE tenant_id = $1 AND id = $2 RETURNING {COLUMNS}"
    );
    let row: Option<UserRow> = on_tx!(tx, |conn| {
        let query = sqlx::query_as(&sql).bind(tenant.0).bind(id.0).bind(now);
        let query = match &change {
            Change::Profile {
                first_name,
                last_name,
                phone_number,
            } => query.bind(*first_name).bind(*last_name).bind(*phone_number),
            Change::Password { hash } => query.bind(*hash),
            Change::Roles(roles) => query.bind(roles.to_column()),
            Change::Disabled(disabled) => query.bind(*disabled),
            Change::EmailVerified => query,
            Change::Picture(key) => query.bind(*key),
        };
        query.fetch_optional(conn).await
    })?;
    row.map(User::try_from).transpose()
}

/// Users newest first, after the cursor (a user id: UUIDv7 ids sort by creation).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn list(
    db: &Db,
    tenant: TenantId,
    filter: &UserFilter,
    before: Option<UserId>,
    limit: u32,
) -> Result<Vec<User>, ApiError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND ($2 IS NULL OR id < $2) \
         AND ($4 IS NULL OR (',' || roles || ',') LIKE $4) \
         AND ($5 IS NULL OR disabled = $5) \
         AND ($6 IS NULL OR email_normalized LIKE $6 ESCAPE '\\') \
         ORDER BY id DESC LIMIT $3"
    );
    let role = filter.role.map(|role| format!("%,{},%", role.as_str()));
    // The prefix is matched literally: LIKE's wildcards in it are escaped.
    let email = filter.email_prefix.as_ref().map(|prefix| {
        let escaped = prefix
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    });
    let rows: Vec<UserRow> = on_db!(db, |pool| {
        sqlx::query_as(&sql)
            .bind(tenant.0)
            .bind(before.map(|id| id.0))
            .bind(i64::from(limit))
            .bind(role.as_deref())
            .bind(filter.disabled)
            .bind(email.as_deref())
            .fetch_all(pool)
            .await
    })?;
    rows.into_iter().map(User::try_from).collect()
}
