//! `/v1/t/{tenant}/payment-provider`: the tenant's payment provider (tenant admins). Secrets
//! go in and never come out: answers show their last four characters.

use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, payload::Json};

use super::{
    model::{self, ProviderKind, ProviderView, StripeInput},
    service,
};
use crate::{
    app::AppState,
    error::ApiError,
    error_statuses,
    http::{ApiResult, BodyExample, Caller, JsonBody, tenancy},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case", rename = "PaymentProviderKind")]
pub enum ProviderDto {
    /// Deterministic test payments (the default): no money moves.
    Simulated,
    /// Stripe, with the marketplace's own account.
    Stripe,
}

impl From<ProviderDto> for ProviderKind {
    fn from(value: ProviderDto) -> Self {
        match value {
            ProviderDto::Simulated => Self::Simulated,
            ProviderDto::Stripe => Self::Stripe,
        }
    }
}

impl From<ProviderKind> for ProviderDto {
    fn from(value: ProviderKind) -> Self {
        match value {
            ProviderKind::Simulated => Self::Simulated,
            ProviderKind::Stripe => Self::Stripe,
        }
    }
}

/// Stripe credentials. Stored sealed; never returned.
#[derive(Object)]
#[oai(rename = "StripeCredentialsInput")]
pub struct StripeRequest {
    /// The account's secret (`sk_...`) or restricted (`rk_...`) key.
    #[oai(write_only)]
    secret_key: String,
    /// Webhook signing secrets (`whsec_...`), 1 to 5: during a rotation Stripe signs with
    /// several, and a webhook signed with any of them is accepted.
    #[oai(write_only)]
    webhook_secrets: Vec<String>,
    /// Stripe's API base URL; default `https://api.stripe.com`.
    api_base: Option<String>,
}

/// The provider and, for Stripe, its credentials (`stripe`: required with `stripe`, refused
/// with `simulated`); replaces what was set before.
#[derive(Object)]
pub struct PaymentProviderRequest {
    provider: ProviderDto,
    stripe: Option<StripeRequest>,
}

impl BodyExample for PaymentProviderRequest {
    fn example() -> serde_json::Value {
        serde_json::json!({
            "provider": "stripe",
            "stripe": {
                "secret_key": "sk_live_51Hx...",
                "webhook_secrets": ["whsec_5f2b..."],
            }
        })
    }
}

/// Which Stripe secrets are set, by their last four characters.
#[derive(Debug, Object)]
#[oai(rename = "StripeSettings")]
pub struct StripeView {
    secret_key_last4: String,
    webhook_secrets_last4: Vec<String>,
    api_base: String,
}

/// The marketplace's payment provider; `stripe` is present when it is Stripe.
#[derive(Debug, Object)]
#[oai(rename = "PaymentProvider")]
pub struct PaymentProviderView {
    provider: ProviderDto,
    #[oai(skip_serializing_if_is_none)]
    stripe: Option<StripeView>,
}

impl From<ProviderView> for PaymentProviderView {
    fn from(view: ProviderView) -> Self {
        Self {
            provider: view.provider.into(),
            stripe: view.stripe.map(|stripe| StripeView {
                secret_key_last4: stripe.secret_key_last4,
                webhook_secrets_last4: stripe.webhook_secrets_last4,
                api_base: stripe.api_base,
            }),
        }
    }
}

error_statuses!(ReadErrors => [401, 403, 404, 429]);
error_statuses!(WriteErrors => [400, 401, 403, 404, 409, 413, 415, 422, 429]);

pub struct PaymentProviderApi;

#[OpenApi(tag = "crate::http::Tag::PaymentProvider")]
impl PaymentProviderApi {
    /// Get the marketplace's payment provider (tenant admins).
    ///
    /// Secrets are never shown: `stripe` names each by its last four characters.
    #[oai(
        path = "/t/:tenant/payment-provider",
        method = "get",
        operation_id = "get_payment_provider"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
    ) -> ApiResult<Json<PaymentProviderView>, ReadErrors> {
        Ok(Json(
            service::get(&state, &tenant.0, &caller.0).await?.into(),
        ))
    }

    /// Set the marketplace's payment provider and its credentials (tenant admins).
    ///
    /// Stripe credentials are stored encrypted; without `STAYBASE_SECRET_KEY` on the server
    /// the answer is 409 `secret_key_missing`.
    #[oai(
        path = "/t/:tenant/payment-provider",
        method = "put",
        operation_id = "set_payment_provider"
    )]
    async fn set(
        &self,
        state: Data<&AppState>,
        tenant: tenancy::Path,
        caller: Caller,
        body: JsonBody<PaymentProviderRequest>,
    ) -> ApiResult<Json<PaymentProviderView>, WriteErrors> {
        let body = body.0;
        let change = model::parse_change(
            body.provider.into(),
            body.stripe.map(|stripe| StripeInput {
                secret_key: stripe.secret_key,
                webhook_secrets: stripe.webhook_secrets,
                api_base: stripe.api_base,
            }),
        )
        .map_err(ApiError::Validation)?;
        Ok(Json(
            service::replace(&state, &tenant.0, &caller.0, change)
                .await?
                .into(),
        ))
    }
}
