//! Stripe behind the provider interface: the tenant's own account (`payment_provider`), its
//! client (`crate::stripe`), and the mapping between Stripe's words and the payments core's.
//! Our payment's id travels as the intent's metadata; its events are matched by the intent's
//! id (`pi_...`), which is the payment's provider reference.

use async_trait::async_trait;

use super::{
    model::{Capture, PaymentStatus},
    provider::{
        IntentOutcome, NewIntent, PaymentProvider, ProviderError, ProviderEvent, REFUNDS_UPDATED,
        RefundOutcome, WebhookDelivery,
    },
};
use crate::{
    db::Timestamp,
    money::Money,
    outbound::Outbound,
    payment_provider::model::StripeSettings,
    stripe::{
        Intent,
        client::{self, CaptureMethod, StripeClient, StripeError},
        webhook,
    },
};

pub struct Stripe {
    client: StripeClient,
    settings: StripeSettings,
}

impl Stripe {
    pub fn new(outbound: Outbound, settings: StripeSettings) -> Self {
        Self {
            client: StripeClient::new(
                outbound,
                settings.api_base.clone(),
                settings.credentials.secret_key.clone(),
            ),
            settings,
        }
    }
}

/// Stripe's answer about an intent as the core's outcome.
fn outcome(answer: Result<Intent, StripeError>) -> Result<IntentOutcome, ProviderError> {
    let intent = answer.map_err(failure)?;
    let status = PaymentStatus::parse(intent.state.as_str()).ok_or_else(|| {
        ProviderError::Refused(format!("an intent in state {}", intent.state.as_str()))
    })?;
    Ok(IntentOutcome {
        reference: intent.reference,
        status,
        failure_code: intent.failure_code,
    })
}

fn failure(err: StripeError) -> ProviderError {
    if err.is_retryable() {
        ProviderError::Unavailable(err.to_string())
    } else {
        ProviderError::Refused(err.to_string())
    }
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create(&self, intent: &NewIntent) -> Result<IntentOutcome, ProviderError> {
        let metadata = [("payment_id", intent.payment_id.clone())];
        let request = client::NewIntent {
            amount: &intent.amount,
            capture: match intent.capture {
                Capture::Automatic => CaptureMethod::Automatic,
                Capture::Manual => CaptureMethod::Manual,
            },
            payment_method: &intent.payment_method,
            metadata: &metadata,
        };
        outcome(
            self.client
                .create_intent(&request, &intent.idempotency_key)
                .await,
        )
    }

    async fn confirm(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<IntentOutcome, ProviderError> {
        outcome(self.client.confirm(reference, idempotency_key).await)
    }

    async fn capture(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<IntentOutcome, ProviderError> {
        outcome(self.client.capture(reference, None, idempotency_key).await)
    }

    async fn cancel(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<IntentOutcome, ProviderError> {
        outcome(self.client.cancel(reference, idempotency_key).await)
    }

    async fn refund(
        &self,
        reference: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<RefundOutcome, ProviderError> {
        let refund = self
            .client
            .refund(reference, Some(amount), idempotency_key)
            .await
            .map_err(failure)?;
        Ok(RefundOutcome {
            reference: refund.reference,
        })
    }

    /// Verifies `Stripe-Signature` against each of the tenant's webhook secrets. Intent news
    /// becomes `intent.<status>`; `charge.refunded` becomes `refunds.updated` with the
    /// charge's refunded total, so refunds made in Stripe's dashboard reach the ledger.
    async fn verify_webhook(
        &self,
        delivery: WebhookDelivery<'_>,
        now: Timestamp,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        let Some(header) = delivery.signature else {
            return Ok(None);
        };
        let secrets = &self.settings.credentials.webhook_secrets;
        if webhook::verify(header, delivery.body, secrets, now.get().unix_timestamp()).is_err() {
            return Ok(None);
        }
        // A signed body we cannot read is refused like an unsigned one: nothing is stored.
        let Ok(envelope) = serde_json::from_slice::<serde_json::Value>(delivery.body) else {
            return Ok(None);
        };
        let (Some(id), Some(kind)) = (envelope["id"].as_str(), envelope["type"].as_str()) else {
            return Ok(None);
        };
        let payment_id = envelope["data"]["object"]["metadata"]["payment_id"]
            .as_str()
            .map(str::to_owned);
        let Ok(parsed) = webhook::parse_event(delivery.body) else {
            return Ok(None);
        };
        Ok(Some(match parsed {
            Some(event) if kind.starts_with("payment_intent.") => ProviderEvent {
                id: event.event_id,
                kind: format!("intent.{}", event.state.as_str()),
                reference: Some(event.reference),
                payment_id,
                status: PaymentStatus::parse(event.state.as_str()),
                failure_code: event.failure_code,
                refunded: None,
            },
            Some(event) if kind == "charge.refunded" => ProviderEvent {
                id: event.event_id,
                kind: REFUNDS_UPDATED.to_owned(),
                reference: Some(event.reference),
                payment_id,
                status: None,
                failure_code: None,
                refunded: Some(event.refunded.amount),
            },
            _ => ProviderEvent {
                id: id.to_owned(),
                kind: kind.to_owned(),
                reference: None,
                payment_id: None,
                status: None,
                failure_code: None,
                refunded: None,
            },
        }))
    }
}
