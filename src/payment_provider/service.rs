//! The rules of provider settings: tenant admins read and replace them; secrets are sealed
//! before they are stored and only their last four characters come back.

use super::{
    model::{
        ProviderChange, ProviderKind, ProviderSettings, ProviderView, STRIPE_API_BASE,
        StripeCredentials, StripeSettings, StripeView,
    },
    store::{self, NewSettings, SettingsRow},
};
use crate::{
    app::AppState,
    auth::Principal,
    authz::PaymentProviderAction,
    db::{Db, Timestamp},
    error::{ApiError, ErrorCode},
    ids::TenantId,
    secret_box::{Binding, SecretBox, SecretString},
    tenants::Tenant,
};

/// What a tenant's sealed Stripe credentials are bound to.
fn binding(tenant: &str) -> Binding<'_> {
    Binding {
        purpose: "payment_provider.stripe",
        owner: tenant,
    }
}

#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn get(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
) -> Result<ProviderView, ApiError> {
    state
        .authorizer
        .check(&state.db, tenant, principal, PaymentProviderAction::Read)
        .await?;
    let row = store::find(&state.db, tenant.id).await?;
    Ok(row.map_or(
        ProviderView {
            provider: ProviderKind::Simulated,
            stripe: None,
        },
        view,
    ))
}

/// Replaces the tenant's provider settings. Stripe credentials need `STAYBASE_SECRET_KEY`
/// (409 `secret_key_missing` without it).
#[tracing::instrument(skip_all, fields(tenant = %tenant.slug))]
pub async fn replace(
    state: &AppState,
    tenant: &Tenant,
    principal: &Principal,
    change: ProviderChange,
) -> Result<ProviderView, ApiError> {
    let caller = principal.user()?;
    let permit = state
        .authorizer
        .check(&state.db, tenant, principal, PaymentProviderAction::Update)
        .await?;
    if tenant.test_mode && matches!(change, ProviderChange::Stripe(_)) {
        return Err(ApiError::Conflict {
            code: ErrorCode::TestTenantSimulatedOnly,
            detail: "A test tenant takes payments with the simulated provider only.".into(),
        });
    }
    let now = Timestamp::now();
    let owner = tenant.id.to_string();
    let mut tx = state.db.begin().await?;
    match &change {
        ProviderChange::Simulated => {
            store::save(
                &mut tx,
                &permit,
                NewSettings {
                    provider: ProviderKind::Simulated.as_str(),
                    stripe_credentials: None,
                    stripe_secret_key_last4: None,
                    stripe_webhook_secrets_last4: None,
                    stripe_api_base: None,
                    updated_by: caller.user_id,
                    now,
                },
            )
            .await?;
        }
        ProviderChange::Stripe(stripe) => {
            let sealed = state
                .secrets
                .seal(binding(&owner), &stripe.credentials.to_sealed_json())?;
            store::save(
                &mut tx,
                &permit,
                NewSettings {
                    provider: ProviderKind::Stripe.as_str(),
                    stripe_credentials: Some(&sealed),
                    stripe_secret_key_last4: Some(&stripe.credentials.secret_key.last4()),
                    stripe_webhook_secrets_last4: Some(&webhook_last4(&stripe.credentials)),
                    stripe_api_base: Some(&stripe.api_base),
                    updated_by: caller.user_id,
                    now,
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    tracing::info!(
        provider = change_kind(&change).as_str(),
        "payment provider set"
    );
    get(state, tenant, principal).await
}

fn change_kind(change: &ProviderChange) -> ProviderKind {
    match change {
        ProviderChange::Simulated => ProviderKind::Simulated,
        ProviderChange::Stripe(_) => ProviderKind::Stripe,
    }
}

/// The tenant's provider with its credentials opened, for the payments core (no
/// authorization: the caller acts for the tenant). Credentials sealed under the previous
/// secret key are sealed again under the current one on the way.
#[tracing::instrument(skip_all, fields(tenant = %tenant))]
pub async fn for_payments(
    state: &AppState,
    tenant: TenantId,
) -> Result<ProviderSettings, ApiError> {
    let Some(row) = store::find(&state.db, tenant).await? else {
        return Ok(ProviderSettings::Simulated);
    };
    let Some(sealed) = row.stripe_credentials.as_deref() else {
        return Ok(ProviderSettings::Simulated);
    };
    let (credentials, _) = open(&state.secrets, &state.db, tenant, sealed).await?;
    Ok(ProviderSettings::Stripe(StripeSettings {
        credentials,
        api_base: row
            .stripe_api_base
            .unwrap_or_else(|| STRIPE_API_BASE.to_owned()),
    }))
}

/// Seals every tenant's credentials under the current secret key (after a rotation, before
/// `STAYBASE_SECRET_KEY_PREVIOUS` is removed); returns how many were sealed again.
#[tracing::instrument(skip_all)]
pub async fn reseal_all(state: &AppState) -> Result<usize, ApiError> {
    let mut resealed = 0;
    for (tenant, sealed) in store::sealed_credentials(&state.db).await? {
        if open(&state.secrets, &state.db, tenant, &sealed).await?.1 {
            resealed += 1;
        }
    }
    Ok(resealed)
}

/// Opens a tenant's credentials; the flag says they were sealed again under the current key.
async fn open(
    secrets: &SecretBox,
    db: &Db,
    tenant: TenantId,
    sealed: &str,
) -> Result<(StripeCredentials, bool), ApiError> {
    let owner = tenant.to_string();
    let opened = secrets.open(binding(&owner), sealed)?;
    let credentials: StripeCredentials = serde_json::from_slice(opened.plaintext.expose())
        .map_err(|_| ApiError::internal("sealed Stripe credentials are not the expected JSON"))?;
    if opened.needs_reseal {
        let resealed = secrets.seal(binding(&owner), &credentials.to_sealed_json())?;
        store::reseal(db, tenant, sealed, &resealed).await?;
        tracing::info!("Stripe credentials sealed under the current STAYBASE_SECRET_KEY");
    }
    Ok((credentials, opened.needs_reseal))
}

fn webhook_last4(credentials: &StripeCredentials) -> String {
    credentials
        .webhook_secrets
        .iter()
        .map(SecretString::last4)
        .collect::<Vec<_>>()
        .join(",")
}

fn view(row: SettingsRow) -> ProviderView {
    let provider = ProviderKind::parse(&row.provider).unwrap_or(ProviderKind::Simulated);
    let stripe = (provider == ProviderKind::Stripe).then(|| StripeView {
        secret_key_last4: row.stripe_secret_key_last4.unwrap_or_default(),
        webhook_secrets_last4: row
            .stripe_webhook_secrets_last4
            .unwrap_or_default()
            .split(',')
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect(),
        api_base: row
            .stripe_api_base
            .unwrap_or_else(|| STRIPE_API_BASE.to_owned()),
    });
    ProviderView { provider, stripe }
}
