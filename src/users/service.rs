//! Profiles, the tenant's user directory and account administration.

use bytes::Bytes;

pub use super::store::{Change, Inserted, NewUser};
use super::{
    User,
    model::{UserFilter, parse_name, parse_phone},
    store,
};
use crate::{
    app::AppState,
    auth::{self, Principal},
    authz::{AccountAction, AuthAction, Permit, ProfileAction, Role, Roles, UserAction},
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode, FieldError},
    ids::{TenantId, UserId},
    images,
    storage::ImageFormat,
    tenants::Tenant,
};

/// Largest profile picture accepted.
pub const MAX_PICTURE_BYTES: usize = 5 * 1024 * 1024;

/// The account with this id, for work done on the tenant's behalf (such as notifications).
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %id))]
pub async fn find(db: &Db, tenant: TenantId, id: UserId) -> Result<Option<User>, ApiError> {
    store::get(db, tenant, id).await
}

/// The account behind an access token, and whether the token's session has ended (one query).
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %id))]
pub async fn find_signed_in(
    db: &Db,
    tenant: TenantId,
    id: UserId,
    session: Option<uuid::Uuid>,
) -> Result<Option<(User, bool)>, ApiError> {
    store::get_signed_in(db, tenant, id, session).await
}

/// The account with this id, read in the transaction and (on PostgreSQL) locked until it ends,
/// for read-modify-write changes.
#[tracing::instrument(skip_all, fields(tenant = %tenant, user = %id))]
pub async fn get_in(tx: &mut Tx, tenant: TenantId, id: UserId) -> Result<Option<User>, ApiError> {
    store::get_in(tx, tenant, id).await
}

/// The account with this normalized (lowercased) email and its password hash, for the
/// sign-in checks of `auth`.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn find_by_email(
    db: &Db,
    tenant: TenantId,
    email_normalized: &str,
) -> Result<Option<(User, String)>, ApiError> {
    store::find_by_email(db, tenant, email_normalized).await
}

/// Inserts an account as it is, under a register permit: the caller's (sign-up) or an
/// operator's (a new tenant's first administrator, the demo seed). Validation, hashing and
/// the welcome mail are the caller's.
#[tracing::instrument(skip_all, fields(tenant = %permit.tenant(), user = %user.id))]
pub async fn insert(
    tx: &mut Tx,
    permit: &Permit<AuthAction>,
    user: NewUser<'_>,
) -> Result<Inserted, ApiError> {
    store::insert(tx, permit, user).await
}

/// Applies one change to an account (a verified email, a new password) for `auth`, whose
/// service checked the permit; `None` when there is no such user.
#[tracing::instrument(skip_all, fields(tenant = %permit.tenant(), user = %id))]
pub async fn update_account(
    tx: &mut Tx,
    permit: &Permit<impl AccountAction>,
    id: UserId,
    change: Change<'_>,
    now: Timestamp,
) -> Result<Option<User>, ApiError> {
    store::update(tx, permit, id, change, now).await
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn me(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<User, ApiError> {
    let caller = principal.user()?;
    state
        .authorizer
        .check(&state.db, tenant, principal, ProfileAction::ReadOwn)
        .await?;
    store::get(&state.db, tenant.id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))
}

/// A profile edit: `None` leaves a field alone; `phone_number: Some(None)` removes the number.
pub struct ProfileEdit {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<Option<String>>,
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn update_me(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    edit: ProfileEdit,
) -> Result<User, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, ProfileAction::UpdateOwn)
        .await?;
    let mut errors = Vec::new();
    let mut field = |name: &str, result: Result<String, &'static str>| {
        result
            .map_err(|message| errors.push(FieldError::new(name, message)))
            .ok()
    };
    let first_name = edit
        .first_name
        .map(|value| field("first_name", parse_name(&value)));
    let last_name = edit
        .last_name
        .map(|value| field("last_name", parse_name(&value)));
    let phone = edit
        .phone_number
        .map(|value| value.map(|phone| field("phone_number", parse_phone(&phone))));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let current = store::get_in(&mut tx, tenant.id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let first_name = first_name.flatten().unwrap_or(current.first_name);
    let last_name = last_name.flatten().unwrap_or(current.last_name);
    let phone_number = match phone {
        None => current.phone_number,
        Some(None) => None,
        Some(Some(phone)) => phone,
    };
    let user = store::update(
        &mut tx,
        &permit,
        caller.user_id,
        Change::Profile {
            first_name: &first_name,
            last_name: &last_name,
            phone_number: phone_number.as_deref(),
        },
        now,
    )
    .await?
    .ok_or(ApiError::NotFound("user"))?;
    tx.commit().await?;
    Ok(user)
}

/// Stores a new profile picture (JPEG, PNG or WebP, by content; stored as JPEG, or PNG when it
/// has transparency) and removes the old one.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, bytes = bytes.len()))]
pub async fn set_picture(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    bytes: Vec<u8>,
) -> Result<User, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, ProfileAction::UpdateOwn)
        .await?;
    if bytes.len() > MAX_PICTURE_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_PICTURE_BYTES,
        });
    }
    // Decoded and encoded again (under the decoding limits), so no metadata block (EXIF GPS
    // coordinates) and nothing appended to the pixels reaches the readers of the picture.
    let (format, bytes) = images::bounded(move || {
        let (_, image) = images::decode(&bytes)?;
        images::encode(&image)
    })
    .await?
    .map_err(|err| err.for_field("file"))?;
    let key = format!(
        "tenants/{}/users/{}/picture-{}.{}",
        tenant.id,
        caller.user_id,
        uuid::Uuid::now_v7().simple(),
        format.extension()
    );
    state.storage.put(&key, Bytes::from(bytes)).await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let previous = store::get_in(&mut tx, tenant.id, caller.user_id)
        .await?
        .and_then(|user| user.picture_key);
    let user = store::update(
        &mut tx,
        &permit,
        caller.user_id,
        Change::Picture(Some(&key)),
        now,
    )
    .await?
    .ok_or(ApiError::NotFound("user"))?;
    tx.commit().await?;
    if let Some(previous) = previous {
        state.storage.delete(&previous).await?;
    }
    Ok(user)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn delete_picture(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<(), ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, ProfileAction::UpdateOwn)
        .await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let previous = store::get_in(&mut tx, tenant.id, caller.user_id)
        .await?
        .and_then(|user| user.picture_key);
    store::update(&mut tx, &permit, caller.user_id, Change::Picture(None), now).await?;
    tx.commit().await?;
    if let Some(previous) = previous {
        state.storage.delete(&previous).await?;
    }
    Ok(())
}

/// A user's public profile; disabled accounts are not shown.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %id))]
pub async fn public_profile(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: UserId,
) -> Result<User, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, UserAction::ReadPublic)
        .await?;
    store::get(&state.db, tenant.id, id)
        .await?
        .filter(|user| !user.disabled)
        .ok_or(ApiError::NotFound("user"))
}

/// The picture bytes and their type.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %id))]
pub async fn picture(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: UserId,
) -> Result<(Bytes, ImageFormat), ApiError> {
    let user = public_profile(state, tenant, principal, id).await?;
    let key = user.picture_key.ok_or(ApiError::NotFound("picture"))?;
    let bytes = state
        .storage
        .get(&key)
        .await?
        .ok_or(ApiError::NotFound("picture"))?;
    let format = ImageFormat::sniff(&bytes)
        .ok_or_else(|| ApiError::internal(format!("stored picture {key} is not an image")))?;
    Ok((bytes, format))
}

pub struct Page {
    pub users: Vec<User>,
    pub next: Option<UserId>,
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    filter: &UserFilter,
    (after, limit): (Option<UserId>, u32),
) -> Result<Page, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, UserAction::ListAny)
        .await?;
    let mut users = store::list(&state.db, tenant.id, filter, after, limit + 1).await?;
    let next = (users.len() > limit as usize).then(|| {
        users.truncate(limit as usize);
        users.last().map(|user| user.id)
    });
    Ok(Page {
        users,
        next: next.flatten(),
    })
}

/// An administrator's change to an account.
pub enum AccountChange {
    Roles(Roles),
    Disabled(bool),
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, user = %id))]
pub async fn administer(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: UserId,
    change: AccountChange,
) -> Result<User, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, UserAction::UpdateAny)
        .await?;
    // An administrator cannot lock themselves out.
    let locks_out_self = id == caller.user_id
        && match &change {
            AccountChange::Roles(roles) => !roles.contains(Role::TenantAdmin),
            AccountChange::Disabled(disabled) => *disabled,
        };
    if locks_out_self {
        return Err(ApiError::Conflict {
            code: ErrorCode::CannotLockOutSelf,
            detail: "You cannot disable your own account or remove your own tenant_admin role."
                .into(),
        });
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let db_change = match &change {
        AccountChange::Roles(roles) => Change::Roles(roles),
        AccountChange::Disabled(disabled) => Change::Disabled(*disabled),
    };
    let user = store::update(&mut tx, &permit, id, db_change, now)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if matches!(change, AccountChange::Disabled(true)) {
        auth::service::end_sessions(&mut tx, tenant.id, id, now).await?;
    }
    tx.commit().await?;
    state.principals.forget_user(id);
    tracing::info!(user_id = %id, by = %caller.user_id, "account changed by an administrator");
    Ok(user)
}

/// Replaces a user's roles from the operator CLI, outside any caller's rules.
#[tracing::instrument(skip_all, fields(tenant = tenant_slug, roles = ?roles))]
pub async fn set_roles_by_operator(
    db: &crate::db::Db,
    tenant_slug: &str,
    email: &str,
    roles: Roles,
) -> Result<User, ApiError> {
    let tenant = crate::tenants::service::resolve_active(db, tenant_slug).await?;
    let email = super::model::Email::parse(email)
        .map_err(|message| ApiError::validation("email", message))?;
    let (user, _) = store::find_by_email(db, tenant.id, &email.normalized)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let mut tx = db.begin().await?;
    let user = store::update(
        &mut tx,
        &crate::authz::Permit::for_operator(tenant.id, UserAction::UpdateAny),
        user.id,
        Change::Roles(&roles),
        Timestamp::now(),
    )
    .await?
    .ok_or(ApiError::NotFound("user"))?;
    tx.commit().await?;
    Ok(user)
}
