//! The interface every payment provider implements, in provider-neutral terms: intents to pay
//! that are created, confirmed, captured or voided, and refunds. Each call carries an
//! idempotency key, so a retried call never charges or refunds twice. Later outcomes arrive as
//! signed webhook events, which `verify_webhook` checks and parses.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::model::{Capture, PaymentStatus};
use crate::{db::Timestamp, money::Money};

/// A request to charge (or, with manual capture, to authorize) an amount.
#[derive(Debug, Clone)]
pub struct NewIntent {
    pub amount: Money,
    pub capture: Capture,
    /// A provider token for the guest's payment method; card numbers never reach Staybase.
    pub payment_method: String,
    pub idempotency_key: String,
    /// Our payment's id, which the provider keeps (as metadata) and echoes in its events.
    pub payment_id: String,
}

/// What the provider says about an intent, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentOutcome {
    pub reference: String,
    pub status: PaymentStatus,
    /// Why it failed, in the provider-neutral words of API.md (`card_declined`).
    pub failure_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    pub reference: String,
}

/// A provider webhook's news, once its signature is verified; stored as JSON until processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEvent {
    /// Unique per provider: a second delivery of the same id is ignored.
    pub id: String,
    pub kind: String,
    /// The intent it is about, for the kinds we act on.
    pub reference: Option<String>,
    /// Our payment's id, as given at creation.
    pub payment_id: Option<String>,
    pub status: Option<PaymentStatus>,
    pub failure_code: Option<String>,
    /// For `refunds.updated`: all the provider has refunded of the intent so far, in minor
    /// units, whoever asked for it (refunds made in the provider's dashboard included).
    #[serde(default)]
    pub refunded: Option<i64>,
}

/// The kind of event that reports an intent's refunded total.
pub const REFUNDS_UPDATED: &str = "refunds.updated";

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the request itself (not a decline, which is an outcome).
    #[error("the provider refused the request: {0}")]
    Refused(String),
    /// It could not be reached or failed; the same call may be retried with the same key.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
}

/// The headers and body of a webhook delivery, as received.
#[derive(Debug, Clone, Copy)]
pub struct WebhookDelivery<'a> {
    pub signature: Option<&'a str>,
    pub body: &'a [u8],
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// The name in `payments.provider` and in the webhook path.
    fn name(&self) -> &'static str;

    async fn create(&self, intent: &NewIntent) -> Result<IntentOutcome, ProviderError>;

    /// Completes an intent that required the guest's action.
    async fn confirm(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<IntentOutcome, ProviderError>;

    /// Takes the money of an authorized intent.
    async fn capture(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<IntentOutcome, ProviderError>;

    /// Voids an intent before capture.
    async fn cancel(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<IntentOutcome, ProviderError>;

    async fn refund(
        &self,
        reference: &str,
        amount: &Money,
        idempotency_key: &str,
    ) -> Result<RefundOutcome, ProviderError>;

    /// Checks a webhook's signature and timestamp against `now`, and reads its event; `None`
    /// when it is not authentic (or too old).
    async fn verify_webhook(
        &self,
        delivery: WebhookDelivery<'_>,
        now: Timestamp,
    ) -> Result<Option<ProviderEvent>, ProviderError>;
}
