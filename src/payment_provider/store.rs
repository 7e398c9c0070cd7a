//! SQL of `payment_provider_settings`: one row per tenant that chose a provider.

use crate::{
    authz::{PaymentProviderAction, Permit},
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::{TenantId, UserId},
    on_db, on_tx,
};

/// A stored row; `stripe_credentials` is sealed.
#[derive(sqlx::FromRow)]
pub struct SettingsRow {
    pub provider: String,
    pub stripe_credentials: Option<String>,
    pub stripe_secret_key_last4: Option<String>,
    pub stripe_webhook_secrets_last4: Option<String>,
    pub stripe_api_base: Option<String>,
}

/// The values of a write; `stripe_credentials` already sealed.
pub struct NewSettings<'a> {
    pub provider: &'a str,
    pub stripe_credentials: Option<&'a str>,
    pub stripe_secret_key_last4: Option<&'a str>,
    /// The last four characters of each webhook secret, comma-separated.
    pub stripe_webhook_secrets_last4: Option<&'a str>,
    pub stripe_api_base: Option<&'a str>,
    pub updated_by: UserId,
    pub now: Timestamp,
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn find(db: &Db, tenant: TenantId) -> Result<Option<SettingsRow>, ApiError> {
    Ok(on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT provider, stripe_credentials, stripe_secret_key_last4, \
             stripe_webhook_secrets_last4, stripe_api_base \
             FROM payment_provider_settings WHERE tenant_id = $1",
        )
        .bind(tenant.0)
        .fetch_optional(pool)
        .await
    })?)
}

#[tracing::instrument(level = "debug", skip_all, fields(tenant = %permit.tenant()))]
pub async fn save(
    tx: &mut Tx,
    permit: &Permit<PaymentProviderAction>,
    settings: NewSettings<'_>,
) -> Result<(), ApiError> {
    permit.require(&[PaymentProviderAction::Update])?;
    let tenant = permit.tenant();
    on_tx!(tx, |conn| {
        sqlx::query(
            "INSERT INTO payment_provider_settings (tenant_id, provider, stripe_credentials, \
             stripe_secret_key_last4, stripe_webhook_secrets_last4, stripe_api_base, updated_by, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (tenant_id) DO UPDATE SET provider = excluded.provider, \
             stripe_credentials = excluded.stripe_credentials, \
             stripe_secret_key_last4 = excluded.stripe_secret_key_last4, \
             stripe_webhook_secrets_last4 = excluded.stripe_webhook_secrets_last4, \
             stripe_api_base = excluded.stripe_api_base, updated_by = excluded.updated_by, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant.0)
        .bind(settings.provider)
        .bind(settings.stripe_credentials)
        .bind(settings.stripe_secret_key_last4)
        .bind(settings.stripe_webhook_secrets_last4)
        .bind(settings.stripe_api_base)
        .bind(settings.updated_by.0)
        .bind(settings.now)
        .execute(conn)
        .await
        .map(drop)
    })?;
    Ok(())
}

/// Tenants with sealed credentials, to seal them again after a key rotation.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn sealed_credentials(db: &Db) -> Result<Vec<(TenantId, String)>, ApiError> {
    let rows: Vec<(uuid::Uuid, String)> = on_db!(db, |pool| {
        sqlx::query_as(
            "SELECT tenant_id, stripe_credentials FROM payment_provider_settings \
             WHERE stripe_credentials IS NOT NULL ORDER BY tenant_id",
        )
        .fetch_all(pool)
        .await
    })?;
    Ok(rows
        .into_iter()
        .map(|(tenant, sealed)| (TenantId(tenant), sealed))
        .collect())
}

/// Replaces sealed credentials if they are still `old` (a concurrent save wins).
#[tracing::instrument(level = "debug", skip_all, fields(tenant = %tenant))]
pub async fn reseal(db: &Db, tenant: TenantId, old: &str, new: &str) -> Result<(), ApiError> {
    on_db!(db, |pool| {
        sqlx::query(
            "UPDATE payment_provider_settings SET stripe_credentials = $1 \
             WHERE tenant_id = $2 AND stripe_credentials = $3",
        )
        .bind(new)
        .bind(tenant.0)
        .bind(old)
        .execute(pool)
        .await
        .map(drop)
    })?;
    Ok(())
}
