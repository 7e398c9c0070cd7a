//! Tenant life cycle and settings. The platform-admin API and the CLI call the life-cycle
//! functions.

use uuid::Uuid;

use super::{
    model::{Tenant, TenantSlug, TenantStatus, parse_tenant_name},
    settings::{SettingsChange, TenantSettings},
    store::{self, InsertOutcome},
};
use crate::{
    admin::service::InitialPassword,
    app::AppState,
    auth::{Principal, password},
    authz::{AuthAction, Permit, Role, Roles, SettingsAction, TenantAction, TestClockAction},
    db::{Db, Timestamp, Tx},
    error::{ApiError, ErrorCode, FieldError},
    ids::{TenantId, UserId},
    users::{
        model::Email,
        service::{self as users, Inserted, NewUser},
    },
};

pub struct NewTenant<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    /// A test tenant (see `Tenant::test_mode`).
    pub test_mode: bool,
}

/// The first administrator of a new tenant.
pub struct FirstAdmin<'a> {
    pub email: &'a str,
    pub password: InitialPassword,
}

#[tracing::instrument(skip_all, fields(slug = new.slug))]
pub async fn create(db: &Db, new: NewTenant<'_>) -> Result<Tenant, ApiError> {
    create_with_admin(db, new, None)
        .await
        .map(|(tenant, _)| tenant)
}

/// Creates a tenant and, when asked, its first administrator in the same transaction. Returns
/// the one-time password when one was generated for the administrator.
#[tracing::instrument(skip_all, fields(slug = new.slug))]
pub async fn create_with_admin(
    db: &Db,
    new: NewTenant<'_>,
    admin: Option<FirstAdmin<'_>>,
) -> Result<(Tenant, Option<String>), ApiError> {
    let mut errors = Vec::new();
    let slug = TenantSlug::parse(new.slug)
        .map_err(|message| errors.push(FieldError::new("slug", message)))
        .ok();
    let name = parse_tenant_name(new.name)
        .map_err(|message| errors.push(FieldError::new("name", message)))
        .ok();
    let admin_email = admin.as_ref().and_then(|admin| {
        Email::parse(admin.email)
            .map_err(|message| errors.push(FieldError::new("admin-email", message)))
            .ok()
    });
    if let Some(FirstAdmin {
        password: InitialPassword::Given(password),
        email,
    }) = &admin
        && let Err(error) = password::check_policy("password", password, email)
    {
        errors.push(error);
    }
    let (Some(slug), Some(name)) = (slug, name) else {
        return Err(ApiError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }

    let now = Timestamp::now();
    let tenant = Tenant {
        id: TenantId(Uuid::now_v7()),
        settings: TenantSettings::defaults(&name),
        slug,
        name,
        status: TenantStatus::Active,
        policy_version: 0,
        listings_version: 0,
        plugins_version: 0,
        created_at: now,
        updated_at: now,
        test_mode: new.test_mode,
        clock: new.test_mode.then_some(now),
    };
    let first_admin = match (admin, admin_email) {
        (Some(admin), Some(email)) => {
            let (password, one_time) = match admin.password {
                InitialPassword::Given(password) => (password, false),
                InitialPassword::OneTime => (password::one_time(), true),
            };
            Some((
                email,
                password::hash(password.clone()).await?,
                one_time.then_some(password),
            ))
        }
        _ => None,
    };

    let mut tx = db.begin().await?;
    if let InsertOutcome::SlugTaken = store::insert(&mut tx, &tenant).await? {
        return Err(ApiError::Conflict {
            code: ErrorCode::SlugTaken,
            detail: format!("The slug {} is already in use.", tenant.slug),
        });
    }
    let mut one_time_password = None;
    if let Some((email, hash, one_time)) = first_admin {
        let roles = Roles::new([Role::TenantAdmin, Role::Guest]);
        let inserted = users::insert(
            &mut tx,
            &Permit::for_operator(tenant.id, AuthAction::Register),
            NewUser {
                id: UserId(Uuid::now_v7()),
                email: &email.display,
                email_normalized: &email.normalized,
                first_name: "Administrator",
                last_name: &tenant.name,
                phone_number: None,
                password_hash: &hash,
                roles: &roles,
                must_change_password: one_time.is_some(),
                now,
            },
        )
        .await?;
        if let Inserted::EmailTaken = inserted {
            return Err(ApiError::internal("a new tenant already has a user"));
        }
        one_time_password = one_time;
    }
    tx.commit().await?;
    tracing::info!(tenant_id = %tenant.id, "tenant created");
    Ok((tenant, one_time_password))
}

/// Suspends or resumes a tenant; every replica refuses or serves it again within
/// `directory::STALENESS_BOUND` at worst.
#[tracing::instrument(skip(state))]
pub async fn set_status(
    state: &AppState,
    slug: &str,
    status: TenantStatus,
) -> Result<Tenant, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
    let mut tx = state.db.begin().await?;
    let tenant = store::set_status(&mut tx, &slug, status, Timestamp::now())
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    tx.commit().await?;
    state.tenants.forget(slug.as_str());
    Ok(tenant)
}

/// The tenant with this slug, whatever its status (for operators).
#[tracing::instrument(skip(db))]
pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Tenant, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
    store::find_by_slug(db, &slug)
        .await?
        .ok_or(ApiError::TenantNotFound)
}

/// What platform operators (platform admins and the CLI) change on a tenant, not something a
/// tenant admin decides for itself; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct OperatorChange {
    /// One of the configured rate-limit plans.
    pub rate_limit_plan: Option<String>,
}

/// Moves a test tenant's clock forward to `to`; returns the tenant as it now is. This
/// replica forgets its copy at once, the others as for any change of a tenant. A clock
/// already past `to` (a concurrent advance) is 422 naming `to`.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn advance_clock(
    state: &AppState,
    permit: &Permit<TestClockAction>,
    tenant: &Tenant,
    to: Timestamp,
) -> Result<Tenant, ApiError> {
    let mut tx = state.db.begin().await?;
    if !store::advance_clock(&mut tx, permit, to).await? {
        return Err(ApiError::validation(
            "to",
            "must not be earlier than the tenant's clock",
        ));
    }
    tx.commit().await?;
    state.tenants.forget(tenant.slug.as_str());
    store::find_by_id(&state.db, tenant.id)
        .await?
        .ok_or(ApiError::TenantNotFound)
}

/// Applies an operator's change to the tenant `slug`; returns the tenant as it now is.
#[tracing::instrument(skip(state))]
pub async fn change_as_operator(
    state: &AppState,
    slug: &str,
    change: OperatorChange,
) -> Result<Tenant, ApiError> {
    let db = &state.db;
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
    let id = store::find_by_slug(db, &slug)
        .await?
        .ok_or(ApiError::TenantNotFound)?
        .id;
    let mut tx = db.begin().await?;
    store::lock_settings(&mut tx, id).await?;
    let tenant = store::find_by_slug_in(&mut tx, &slug)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    let change = SettingsChange {
        rate_limit_plan: change.rate_limit_plan,
        ..SettingsChange::default()
    };
    let next = change
        .apply(&tenant.settings, &state.config.plan_names())
        .map_err(ApiError::Validation)?;
    if next != tenant.settings {
        let permit = Permit::for_operator(tenant.id, SettingsAction::Update);
        store::update_settings(&mut tx, &permit, &next, Timestamp::now()).await?;
    }
    tx.commit().await?;
    state.tenants.forget(slug.as_str());
    store::find_by_slug(db, &slug)
        .await?
        .ok_or(ApiError::TenantNotFound)
}

/// The tenant a `/v1/t/{tenant}` request addresses, from this replica's directory when it has
/// it (so a cached answer costs no query), refused when unknown or suspended.
#[tracing::instrument(skip_all, fields(slug = slug))]
pub async fn resolve_for_request(state: &AppState, slug: &str) -> Result<Tenant, ApiError> {
    let tenant = match state.tenants.get(slug) {
        Some(tenant) => tenant,
        None => {
            let parsed = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
            let tenant = store::find_by_slug(&state.db, &parsed)
                .await?
                .ok_or(ApiError::TenantNotFound)?;
            state.tenants.remember(&tenant);
            tenant
        }
    };
    active(tenant)
}

fn active(tenant: Tenant) -> Result<Tenant, ApiError> {
    match tenant.status {
        TenantStatus::Active => Ok(tenant),
        TenantStatus::Suspended => Err(ApiError::TenantSuspended),
    }
}

/// The tenant named by an operator's command, refused when unknown or suspended.
#[tracing::instrument(skip_all, fields(slug = slug))]
pub async fn resolve_active(db: &Db, slug: &str) -> Result<Tenant, ApiError> {
    let slug = TenantSlug::parse(slug).map_err(|_| ApiError::TenantNotFound)?;
    let tenant = store::find_by_slug(db, &slug)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    active(tenant)
}

/// Every tenant, by slug, whatever its status (for operators).
#[tracing::instrument(skip_all)]
pub async fn list(db: &Db) -> Result<Vec<Tenant>, ApiError> {
    store::list(db).await
}

/// The tenant with this id, whatever its status (for work done on its behalf, such as jobs).
#[tracing::instrument(skip_all, fields(tenant = %id))]
pub async fn find_by_id(db: &Db, id: TenantId) -> Result<Option<Tenant>, ApiError> {
    store::find_by_id(db, id).await
}

/// Commits `tx`, which changed what the tenant's public listing answers show (a listing or its
/// photos), with a new listings version, so that no replica serves the cached answers again:
/// this one forgets its copy of the tenant at once, the others when notified (see
/// `directory`). Availability is not part of any cached answer, so bookings and calendars do
/// not come here, and do not write the tenant row.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn commit_listings_change(
    state: &AppState,
    mut tx: Tx,
    tenant: TenantId,
) -> Result<(), ApiError> {
    store::bump_listings(&mut tx, tenant).await?;
    tx.commit().await?;
    state.tenants.forget_id(tenant);
    Ok(())
}

/// Commits `tx`, which changed which of the tenant's plugins are active, with a new plugins
/// version: this replica forgets its copy of the tenant at once, the others when notified,
/// and each then prepares the plugins of the new version.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn commit_plugins_change(
    state: &AppState,
    mut tx: Tx,
    tenant: TenantId,
) -> Result<(), ApiError> {
    store::bump_plugins(&mut tx, tenant).await?;
    tx.commit().await?;
    state.tenants.forget_id(tenant);
    Ok(())
}

/// The tenant's currency as of `tx`: on PostgreSQL it holds a share lock on the settings until
/// the transaction ends, so a concurrent currency change waits for the listing being priced.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn currency_in(tx: &mut Tx, tenant: TenantId) -> Result<String, ApiError> {
    store::currency_for_share(tx, tenant).await
}

/// The public face of the tenant (anyone may read it).
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn public_profile(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<(), ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, TenantAction::Read)
        .await
        .map(drop)
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn settings(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<TenantSettings, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, SettingsAction::Read)
        .await?;
    // Read afresh, not from this replica's directory: an admin who changed a setting through
    // another replica reads back what they wrote.
    Ok(store::find_by_slug(&state.db, &tenant.slug)
        .await?
        .ok_or(ApiError::TenantNotFound)?
        .settings)
}

/// Applies a settings change after checking every field.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn update_settings(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    change: SettingsChange,
) -> Result<TenantSettings, ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, SettingsAction::Update)
        .await?;
    let plans = state.config.plan_names();
    let mut tx = state.db.begin().await?;
    // Lock, then re-read inside the write transaction, so concurrent changes apply one after
    // the other.
    store::lock_settings(&mut tx, tenant.id).await?;
    let current = store::find_by_slug_in(&mut tx, &tenant.slug)
        .await?
        .ok_or(ApiError::TenantNotFound)?;
    let next = change
        .apply(&current.settings, &plans)
        .map_err(ApiError::Validation)?;
    // A change that changes nothing (`{}`, or the values already set) writes nothing, so the
    // version keeps saying which settings answers were computed with.
    if next == current.settings {
        return Ok(current.settings);
    }
    // Prices are stored in the tenant's currency: once one exists, the currency is fixed.
    if next.currency != current.settings.currency
        && crate::properties::service::tenant_has_properties(&mut tx, tenant.id).await?
    {
        return Err(ApiError::Conflict {
            code: ErrorCode::CurrencyLocked,
            detail: format!(
                "The currency stays {}: the marketplace already has properties priced in it.",
                current.settings.currency
            ),
        });
    }
    let now = Timestamp::now();
    store::update_settings(&mut tx, &permit, &next, now).await?;
    tx.commit().await?;
    state.tenants.forget(tenant.slug.as_str());
    Ok(TenantSettings {
        version: current.settings.version + 1,
        ..next
    })
}
