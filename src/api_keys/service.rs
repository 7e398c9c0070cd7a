use uuid::Uuid;

use super::{
    SECRET_PREFIX,
    store::{self, ApiKey},
};
use crate::{
    app::AppState,
    auth::{Principal, UserPrincipal, account_disabled, secrets},
    authz::{ApiKeyAction, Roles},
    db::{Db, Timestamp},
    error::ApiError,
    tenants::Tenant,
};

/// Characters of the secret kept in clear to tell keys apart.
const PREFIX_LENGTH: usize = SECRET_PREFIX.len() + 8;

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn create(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    name: &str,
    roles: Roles,
) -> Result<(ApiKey, String), ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, ApiKeyAction::Create)
        .await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation(
            "name",
            "must be 1 to 100 characters long",
        ));
    }
    // A key cannot carry more than its creator holds.
    if !roles.is_subset(&caller.roles) {
        return Err(ApiError::validation(
            "roles",
            "must be roles you hold yourself",
        ));
    }
    let secret = secrets::generate(SECRET_PREFIX);
    let key = ApiKey {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        prefix: secret[..PREFIX_LENGTH].to_owned(),
        roles,
        created_by: caller.user_id,
        created_at: Timestamp::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let mut tx = state.db.begin().await?;
    store::insert(&mut tx, &permit, &key, &secrets::digest(&secret)).await?;
    tx.commit().await?;
    tracing::info!(api_key = %key.id, "API key created");
    Ok((key, secret))
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn list(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<Vec<ApiKey>, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, ApiKeyAction::List)
        .await?;
    store::list(&state.db, tenant.id).await
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug, api_key = %id))]
pub async fn revoke(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    id: Uuid,
) -> Result<(), ApiError> {
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, ApiKeyAction::Delete)
        .await?;
    let mut tx = state.db.begin().await?;
    if !store::revoke(&mut tx, &permit, id, Timestamp::now()).await? {
        return Err(ApiError::NotFound("API key"));
    }
    tx.commit().await
}

/// The principal an `sk_` secret stands for: its creator, with the key's roles.
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn authenticate(db: &Db, tenant: &Tenant, secret: &str) -> Result<Principal, ApiError> {
    let (key, creator) = store::find_active(db, tenant.id, &secrets::digest(secret))
        .await?
        .ok_or_else(ApiError::invalid_token)?;
    if creator.disabled {
        return Err(account_disabled());
    }
    // The key's roles, as far as its creator still holds them: demoting the creator demotes
    // their keys at once.
    let roles = Roles::new(
        key.roles
            .iter()
            .filter(|role| creator.roles.contains(*role)),
    );
    let now = Timestamp::now();
    let recorded_lately = key
        .last_used_at
        .is_some_and(|used| used > now - time::Duration::MINUTE);
    if !recorded_lately && let Err(err) = store::touch(db, tenant.id, key.id, now).await {
        tracing::warn!(error = %err, api_key = %key.id, "recording API key use failed");
    }
    Ok(Principal::User(UserPrincipal {
        user_id: key.created_by,
        roles,
        session: None,
        api_key: Some(key.id),
    }))
}
