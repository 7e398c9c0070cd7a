//! Stripe over HTTP: PaymentIntents (automatic and manual capture), confirm, capture, cancel
//! and refunds (`client`), and webhooks verified from `Stripe-Signature` and parsed into
//! provider-neutral events (`webhook`). Each call uses the tenant's own secret key and an
//! `Idempotency-Key`; the keys never reach a log line or an error message.

pub mod client;
pub mod webhook;

use crate::money::Money;

/// Where a payment stands, in the provider-neutral terms of the payments core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentState {
    RequiresAction,
    RequiresCapture,
    Processing,
    Succeeded,
    Failed,
    Canceled,
    Refunded,
    PartiallyRefunded,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresAction => "requires_action",
            Self::RequiresCapture => "requires_capture",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
            Self::Refunded => "refunded",
            Self::PartiallyRefunded => "partially_refunded",
        }
    }
}

/// A PaymentIntent as Stripe reported it, in our terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Stripe's `pi_...` id: the payment's provider reference.
    pub reference: String,
    pub state: PaymentState,
    pub amount: Money,
    /// Held and not yet captured (manual capture).
    pub capturable: Money,
    pub received: Money,
    /// Why the last attempt failed (`card_declined`, `insufficient_funds`, ...).
    pub failure_code: Option<String>,
    /// Where the guest completes an action (3-D Secure), when Stripe gives a URL.
    pub next_action_url: Option<String>,
}

/// The intent's status mapped to ours: a declined attempt leaves Stripe's intent waiting for
/// another payment method, which for us is a failed payment.
fn intent_state(status: &str, failure: bool) -> Option<PaymentState> {
    Some(match status {
        "requires_payment_method" if failure => PaymentState::Failed,
        "requires_payment_method" | "requires_confirmation" | "requires_action" => {
            PaymentState::RequiresAction
        }
        "processing" => PaymentState::Processing,
        "requires_capture" => PaymentState::RequiresCapture,
        "succeeded" => PaymentState::Succeeded,
        "canceled" => PaymentState::Canceled,
        _ => return None,
    })
}

/// The wire form of a PaymentIntent (the fields we read).
#[derive(Debug, serde::Deserialize)]
struct IntentObject {
    id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    amount_capturable: i64,
    #[serde(default)]
    amount_received: i64,
    currency: String,
    last_payment_error: Option<PaymentError>,
    next_action: Option<NextAction>,
}

#[derive(Debug, serde::Deserialize)]
struct PaymentError {
    code: Option<String>,
    decline_code: Option<String>,
}

impl PaymentError {
    /// The most specific reason: the issuer's decline code, else Stripe's error code.
    fn failure_code(&self) -> Option<String> {
        self.decline_code.clone().or_else(|| self.code.clone())
    }
}

#[derive(Debug, serde::Deserialize)]
struct NextAction {
    redirect_to_url: Option<RedirectToUrl>,
}

#[derive(Debug, serde::Deserialize)]
struct RedirectToUrl {
    url: Option<String>,
}

impl IntentObject {
    fn into_intent(self) -> Option<Intent> {
        let failure_code = self
            .last_payment_error
            .as_ref()
            .and_then(PaymentError::failure_code);
        let currency = self.currency.to_ascii_uppercase();
        Some(Intent {
            state: intent_state(&self.status, failure_code.is_some())?,
            amount: Money::new(self.amount, currency.clone()),
            capturable: Money::new(self.amount_capturable, currency.clone()),
            received: Money::new(self.amount_received, currency),
            failure_code,
            next_action_url: self
                .next_action
                .and_then(|action| action.redirect_to_url)
                .and_then(|redirect| redirect.url),
            reference: self.id,
        })
    }
}
