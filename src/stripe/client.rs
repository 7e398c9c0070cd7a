//! Calls to Stripe's API with a tenant's secret key: form-encoded bodies as Stripe takes them,
//! `Authorization: Bearer`, an `Idempotency-Key` on every call (Stripe answers a retried key
//! with the first answer, so a retry never charges twice), through the outbound guard.

use std::time::Duration;

use serde::Deserialize;

use super::{Intent, IntentObject};
use crate::{
    money::Money,
    outbound::{FetchError, Outbound, read_limited},
    secret_box::SecretString,
};

/// The API version our requests and parsing are written for.
const API_VERSION: &str = "2024-06-20";
const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureMethod {
    /// Charged at once.
    Automatic,
    /// Held (authorized) until captured or canceled.
    Manual,
}

/// A PaymentIntent to create and confirm at once with a payment method token.
#[derive(Debug)]
pub struct NewIntent<'a> {
    pub amount: &'a Money,
    pub capture: CaptureMethod,
    /// A provider token (`pm_...`): card numbers never reach us.
    pub payment_method: &'a str,
    /// Our ids, so that Stripe's dashboard leads back to the booking and payment.
    pub metadata: &'a [(&'a str, String)],
}

/// A refund as Stripe reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// Stripe's `re_...` id.
    pub reference: String,
    /// `pending`, `succeeded`, `failed`, `canceled` or `requires_action`.
    pub status: String,
    pub amount: Money,
}

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe could not be reached: {0}")]
    Unreachable(#[from] FetchError),
    #[error("Stripe refused the tenant's secret key")]
    Authentication,
    /// Stripe refused the request itself (a wrong state, a bad parameter); retrying is futile.
    #[error("Stripe refused the request ({status} {code})")]
    Rejected { status: u16, code: String },
    /// Rate limited or failing on Stripe's side: retry later with the same idempotency key.
    #[error("Stripe is unavailable ({0})")]
    Unavailable(u16),
    #[error("Stripe's answer could not be read")]
    Malformed,
}

impl StripeError {
    /// Whether the same call (with the same idempotency key) may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Unavailable(_))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    payment_intent: Option<IntentObject>,
}

#[derive(Deserialize)]
struct RefundObject {
    id: String,
    status: String,
    amount: i64,
    currency: String,
}

/// One tenant's Stripe account. `Debug` shows the API base, never the key.
#[derive(Clone)]
pub struct StripeClient {
    outbound: Outbound,
    api_base: String,
    secret_key: SecretString,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl StripeClient {
    pub fn new(outbound: Outbound, api_base: impl Into<String>, secret_key: SecretString) -> Self {
        Self {
            outbound,
            api_base: api_base.into().trim_end_matches('/').to_owned(),
            secret_key,
        }
    }

    /// Creates and confirms a PaymentIntent. A declined card is an `Intent` in state
    /// `Failed` with its `failure_code`, not an error.
    #[tracing::instrument(skip_all, fields(capture = ?intent.capture))]
    pub async fn create_intent(
        &self,
        intent: &NewIntent<'_>,
        idempotency_key: &str,
    ) -> Result<Intent, StripeError> {
        let mut form = vec![
            ("amount".to_owned(), intent.amount.amount.to_string()),
            (
                "currency".to_owned(),
                intent.amount.currency.to_ascii_lowercase(),
            ),
            (
                "capture_method".to_owned(),
                match intent.capture {
                    CaptureMethod::Automatic => "automatic",
                    CaptureMethod::Manual => "manual",
                }
                .to_owned(),
            ),
            (
                "payment_method".to_owned(),
                intent.payment_method.to_owned(),
            ),
            ("payment_method_types[]".to_owned(), "card".to_owned()),
            ("confirm".to_owned(), "true".to_owned()),
        ];
        form.extend(
            intent
                .metadata
                .iter()
                .map(|(key, value)| (format!("metadata[{key}]"), value.clone())),
        );
        self.intent_call("/v1/payment_intents", &form, idempotency_key)
            .await
    }

    /// Confirms an intent that waited for the guest (after 3-D Secure, say).
    #[tracing::instrument(skip_all, fields(intent = reference))]
    pub async fn confirm(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<Intent, StripeError> {
        let path = format!("/v1/payment_intents/{}/confirm", path_segment(reference)?);
        self.intent_call(&path, &[], idempotency_key).await
    }

    /// Captures a held intent: all of it, or `amount` of it (the rest is released).
    #[tracing::instrument(skip_all, fields(intent = reference))]
    pub async fn capture(
        &self,
        reference: &str,
        amount: Option<&Money>,
        idempotency_key: &str,
    ) -> Result<Intent, StripeError> {
        let path = format!("/v1/payment_intents/{}/capture", path_segment(reference)?);
        let form: Vec<_> = amount
            .map(|amount| ("amount_to_capture".to_owned(), amount.amount.to_string()))
            .into_iter()
            .collect();
        self.intent_call(&path, &form, idempotency_key).await
    }

    /// Cancels an intent that was not captured (voids a hold).
    #[tracing::instrument(skip_all, fields(intent = reference))]
    pub async fn cancel(
        &self,
        reference: &str,
        idempotency_key: &str,
    ) -> Result<Intent, StripeError> {
        let path = format!("/v1/payment_intents/{}/cancel", path_segment(reference)?);
        self.intent_call(&path, &[], idempotency_key).await
    }

    /// Refunds a captured intent: `amount` of it, or all that remains.
    #[tracing::instrument(skip_all, fields(intent = reference))]
    pub async fn refund(
        &self,
        reference: &str,
        amount: Option<&Money>,
        idempotency_key: &str,
    ) -> Result<Refund, StripeError> {
        let mut form = vec![
            ("payment_intent".to_owned(), reference.to_owned()),
            ("reason".to_owned(), "requested_by_customer".to_owned()),
        ];
        if let Some(amount) = amount {
            form.push(("amount".to_owned(), amount.amount.to_string()));
        }
        let body = self.post("/v1/refunds", &form, idempotency_key).await?;
        let refund: RefundObject =
            serde_json::from_slice(&body).map_err(|_| StripeError::Malformed)?;
        Ok(Refund {
            reference: refund.id,
            status: refund.status,
            amount: Money::new(refund.amount, refund.currency.to_ascii_uppercase()),
        })
    }

    async fn intent_call(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Intent, StripeError> {
        match self.post(path, form, idempotency_key).await {
            Ok(body) => serde_json::from_slice::<IntentObject>(&body)
                .ok()
                .and_then(IntentObject::into_intent)
                .ok_or(StripeError::Malformed),
            Err(Declined(Some(intent))) => intent.into_intent().ok_or(StripeError::Malformed),
            Err(err) => Err(err.into()),
        }
    }

    /// POSTs a form; a card error comes back apart, with the intent Stripe embeds in it.
    async fn post(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<Vec<u8>, CallError> {
        let url = reqwest::Url::parse(&format!("{}{path}", self.api_base))
            .map_err(|_| Failed(FetchError::Scheme.into()))?;
        let client = self
            .outbound
            .client_for(&url, TIMEOUT)
            .await
            .map_err(|err| Failed(err.into()))?;
        let response = client
            .post(url)
            .bearer_auth(self.secret_key.expose())
            .header("Idempotency-Key", idempotency_key)
            .header("Stripe-Version", API_VERSION)
            .form(form)
            .send()
            .await
            .map_err(|err| Failed(FetchError::Transport(without_url(&err)).into()))?;
        let status = response.status().as_u16();
        let body = read_limited(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|err| Failed(err.into()))?;
        tracing::debug!(status, path, "Stripe answered");
        match status {
            200..=299 => Ok(body),
            401 => Err(Failed(StripeError::Authentication)),
            429 | 500..=599 => Err(Failed(StripeError::Unavailable(status))),
            _ => {
                let error = serde_json::from_slice::<ErrorBody>(&body)
                    .map_err(|_| Failed(StripeError::Unavailable(status)))?
                    .error;
                if error.kind.as_deref() == Some("card_error") {
                    return Err(Declined(error.payment_intent));
                }
                Err(Failed(StripeError::Rejected {
                    status,
                    code: error.code.unwrap_or_else(|| "unknown".into()),
                }))
            }
        }
    }
}

enum CallError {
    /// A card error (402): the attempt was declined.
    Declined(Option<IntentObject>),
    Failed(StripeError),
}

use CallError::{Declined, Failed};

impl From<CallError> for StripeError {
    /// A card error where no intent says which: Stripe refused the request.
    fn from(err: CallError) -> Self {
        match err {
            Declined(_) => StripeError::Rejected {
                status: 402,
                code: "card_declined".into(),
            },
            Failed(err) => err,
        }
    }
}

/// Stripe ids are `[A-Za-z0-9_]`; anything else would change the path.
fn path_segment(reference: &str) -> Result<&str, StripeError> {
    if !reference.is_empty()
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(reference)
    } else {
        Err(StripeError::Rejected {
            status: 400,
            code: "invalid_reference".into(),
        })
    }
}

/// A transport error's text without the URL (it never holds the key, but keeps logs short).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<stripe>");
    }
    text
}
