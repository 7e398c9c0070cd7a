//! The simulated provider, the default, so that a fresh install takes bookings end to end. It
//! keeps its books in its own tables, as a real provider does on its side, and answers
//! deterministically by test payment method:
//! - `pm_sim_success`: succeeds (or, with manual capture, is authorized);
//! - `pm_sim_declined`: fails with `card_declined`;
//! - `pm_sim_requires_action`: requires the guest's action, then confirm succeeds;
//! - `pm_sim_async_fail`: answers `processing`, then fails by webhook.
//!
//! Every change of an intent is also sent as a signed webhook (a job), which goes through the
//! same verification and processing as a real provider's: `Staybase-Signature: t=<unix
//! seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed with a random per-tenant key.

mod store;

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use self::store::IntentRow;
use super::{
    model::{Capture, PaymentStatus},
    provider::{
        IntentOutcome, NewIntent, PaymentProvider, ProviderError, ProviderEvent, RefundOutcome,
        WebhookDelivery,
    },
};
use crate::{
    db::{Db, Timestamp, Tx},
    error::ApiError,
    ids::TenantId,
    jobs::{self, EnqueueOptions, Job},
    money::Money,
    secret_box::{Binding, SecretBox},
};

pub const NAME: &str = "simulated";
/// The signature header of the simulated provider's webhooks.
pub const SIGNATURE_HEADER: &str = "Staybase-Signature";
/// How old a signed timestamp may be (either way).
pub const TOLERANCE: time::Duration = time::Duration::minutes(5);

pub const SUCCESS: &str = "pm_sim_success";
pub const DECLINED: &str = "pm_sim_declined";
pub const REQUIRES_ACTION: &str = "pm_sim_requires_action";
pub const ASYNC_FAIL: &str = "pm_sim_async_fail";

/// A webhook the simulated provider sends, as its JSON body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookBody {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub data: WebhookData,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WebhookData {
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
}

/// Sends one webhook of the simulated provider to the tenant's webhook route (a job, so it
/// comes after the call that caused it, as a real provider's does).
#[derive(Debug, Serialize, Deserialize)]
pub struct SendWebhook {
    pub body: WebhookBody,
}

impl Job for SendWebhook {
    const KIND: &'static str = "payments.simulated_webhook";
}

pub struct Simulated {
    db: Db,
    secrets: SecretBox,
    tenant: TenantId,
}

type HmacSha256 = Hmac<Sha256>;

/// `t=<unix>,v1=<hex>` for `body` at `at`, with `key`.
pub fn signature(key: &str, at: Timestamp, body: &[u8]) -> String {
    let seconds = at.get().unix_timestamp();
    let mac = mac(key, seconds, body).finalize().into_bytes();
    format!("t={seconds},v1={}", hex(&mac))
}

/// The MAC of `<seconds>.<body>`, before it is finalized or verified.
fn mac(key: &str, seconds: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

/// Whether `header` signs `body` with `key` at a time within `TOLERANCE` of `now`.
fn verify(key: &str, header: &str, body: &[u8], now: Timestamp) -> bool {
    let mut seconds = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => seconds = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(unhex(value)),
            _ => {}
        }
    }
    let Some(seconds) = seconds else {
        return false;
    };
    let age = now.get().unix_timestamp() - seconds;
    if age.abs() > TOLERANCE.whole_seconds() {
        return false;
    }
    // verify_slice compares in constant time.
    signatures
        .iter()
        .any(|signature| mac(key, seconds, body).verify_slice(signature).is_ok())
}

fn binding(tenant: &str) -> Binding<'_> {
    Binding {
        purpose: "payments.simulated_webhook_key",
        owner: tenant,
    }
}

/// The tenant's signing key for simulated webhooks, made on first use. It is stored sealed
/// under `STAYBASE_SECRET_KEY` when one is set; one stored in the clear (before a key was set)
/// or under the previous key is sealed again as it is read.
pub async fn webhook_key(
    db: &Db,
    secrets: &SecretBox,
    tenant: TenantId,
) -> Result<String, ApiError> {
    let owner = tenant.to_string();
    let candidate = || {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let fresh = STANDARD.encode(bytes);
        if secrets.is_configured() {
            secrets.seal(binding(&owner), fresh.as_bytes())
        } else {
            Ok(fresh)
        }
    };
    let stored = store::webhook_key(db, tenant, candidate, Timestamp::now()).await?;
    let (key, stale) = if SecretBox::is_sealed(&stored) {
        let opened = secrets.open(binding(&owner), &stored)?;
        let key = String::from_utf8(opened.plaintext.expose().to_vec())
            .map_err(|_| ApiError::internal("a sealed simulated webhook key is not text"))?;
        (key, opened.needs_reseal)
    } else {
        (stored.clone(), secrets.is_configured())
    };
    if stale {
        let sealed = secrets.seal(binding(&owner), key.as_bytes())?;
        store::reseal_webhook_key(db, tenant, &stored, &sealed).await?;
    }
    Ok(key)
}

/// Seals every tenant's simulated webhook key under the current `STAYBASE_SECRET_KEY` (those
/// in the clear or under the previous key); returns how many were sealed again.
pub async fn reseal_webhook_keys(db: &Db, secrets: &SecretBox) -> Result<usize, ApiError> {
    let mut resealed = 0;
    for (tenant, stored) in store::webhook_keys(db).await? {
        let stale = !SecretBox::is_sealed(&stored)
            || secrets
                .open(binding(&tenant.to_string()), &stored)?
                .needs_reseal;
        if stale {
            webhook_key(db, secrets, tenant).await?;
            resealed += 1;
        }
    }
    Ok(resealed)
}

fn outcome(intent: &IntentRow) -> Result<IntentOutcome, ProviderError> {
    let status = PaymentStatus::parse(&intent.status)
        .ok_or_else(|| ProviderError::Unavailable("a simulated intent is corrupt".into()))?;
    Ok(IntentOutcome {
        reference: intent.id.clone(),
        status,
        failure_code: match intent.payment_method.as_str() {
            DECLINED => Some("card_declined".into()),
            ASYNC_FAIL if status == PaymentStatus::Failed => Some("card_declined".into()),
            SUCCESS | REQUIRES_ACTION | ASYNC_FAIL => None,
            _ => Some("invalid_payment_method".into()),
        },
    })
}

fn unavailable(err: ApiError) -> ProviderError {
    ProviderError::Unavailable(err.to_string())
}

impl Simulated {
    pub fn new(db: Db, secrets: SecretBox, tenant: TenantId) -> Self {
        Self {
            db,
            secrets,
            tenant,
        }
    }

    /// Enqueues the webhook telling of `intent`'s status, in the transaction that set it.
    async fn announce(&self, tx: &mut Tx, intent: &IntentRow) -> Result<(), ApiError> {
        let outcome = outcome(intent).map_err(ApiError::internal)?;
        let body = WebhookBody {
            id: format!("evt_sim_{}", Uuid::now_v7().simple()),
            kind: format!("intent.{}", intent.status),
            created: Timestamp::now().get().unix_timestamp(),
            data: WebhookData {
                reference: Some(intent.id.clone()),
                payment_id: Some(intent.payment_id.clone()),
                status: Some(intent.status.clone()),
                failure_code: outcome.failure_code,
            },
        };
        jobs::enqueue(
            tx,
            &SendWebhook { body },
            EnqueueOptions {
                tenant: Some(self.tenant),
                ..EnqueueOptions::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Moves the intent `reference` with `change` (which says whether it applies) and announces
    /// the new status; answers the intent as it then is.
    async fn change(
        &self,
        reference: &str,
        change: impl FnOnce(&mut IntentRow) -> bool,
    ) -> Result<IntentOutcome, ProviderError> {
        let mut tx = self.db.begin().await.map_err(unavailable)?;
        let mut intent = store::intent(&mut tx, self.tenant, reference)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ProviderError::Refused(format!("no intent {reference}")))?;
        if change(&mut intent) {
            store::update_intent(&mut tx, self.tenant, &intent)
                .await
                .map_err(unavailable)?;
            self.announce(&mut tx, &intent).await.map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        outcome(&intent)
    }
}

#[async_trait]
impl PaymentProvider for Simulated {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn create(&self, new: &NewIntent) -> Result<IntentOutcome, ProviderError> {
        let manual = new.capture == Capture::Manual;
        let (status, captured) = match new.payment_method.as_str() {
            SUCCESS if manual => (PaymentStatus::RequiresCapture, 0),
            SUCCESS => (PaymentStatus::Succeeded, new.amount.amount),
            REQUIRES_ACTION => (PaymentStatus::RequiresAction, 0),
            ASYNC_FAIL => (PaymentStatus::Processing, 0),
            _ => (PaymentStatus::Failed, 0),
        };
        let intent = IntentRow {
            id: format!("simpi_{}", Uuid::now_v7().simple()),
            payment_id: new.payment_id.clone(),
            payment_method: new.payment_method.clone(),
            capture: new.capture.as_str().to_owned(),
            status: status.as_str().to_owned(),
            currency: new.amount.currency.clone(),
            amount: new.amount.amount,
            captured,
            refunded: 0,
        };
        let mut tx = self.db.begin().await.map_err(unavailable)?;
        let inserted = store::insert_intent(
            &mut tx,
            self.tenant,
            &new.idempotency_key,
            &intent,
            Timestamp::now(),
        )
        .await
        .map_err(unavailable)?;
        let intent = if inserted {
            self.announce(&mut tx, &intent).await.map_err(unavailable)?;
            if status == PaymentStatus::Processing {
                // The asynchronous failure, told later by its own webhook.
                let failed = IntentRow {
                    status: PaymentStatus::Failed.as_str().to_owned(),
                    ..intent.clone()
                };
                store::update_intent(&mut tx, self.tenant, &failed)
                    .await
                    .map_err(unavailable)?;
                self.announce(&mut tx, &failed).await.map_err(unavailable)?;
            }
            intent
        } else {
            // A retry: the intent made the first time, as it is now.
            store::intent_by_key(&mut tx, self.tenant, &new.idempotency_key)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| ProviderError::Unavailable("an intent vanished".into()))?
        };
        tx.commit().await.map_err(unavailable)?;
        outcome(&intent)
    }

    async fn confirm(&self, reference: &str, _key: &str) -> Result<IntentOutcome, ProviderError> {
        self.change(reference, |intent| {
            if intent.status != PaymentStatus::RequiresAction.as_str() {
                return false;
            }
            if intent.capture == Capture::Manual.as_str() {
                intent.status = PaymentStatus::RequiresCapture.as_str().to_owned();
            } else {
                intent.status = PaymentStatus::Succeeded.as_str().to_owned();
                intent.captured = intent.amount;
            }
            true
        })
        .await
    }

    async fn capture(&self, reference: &str, _key: &str) -> Result<IntentOutcome, ProviderError> {
        self.change(reference, |intent| {
            if intent.status != PaymentStatus::RequiresCapture.as_str() {
                return false;
            }
            intent.status = PaymentStatus::Succeeded.as_str().to_owned();
            intent.captured = intent.amount;
            true
        })
        .await
    }

    async fn cancel(&self, reference: &str, _key: &str) -> Result<IntentOutcome, ProviderError> {
        self.change(reference, |intent| {
            let open = PaymentStatus::parse(&intent.status).is_some_and(PaymentStatus::is_open);
            if open {
                intent.status = PaymentStatus::Canceled.as_str().to_owned();
            }
            open
        })
        .await
    }

    async fn refund(
        &self,
        reference: &str,
        amount: &Money,
        key: &str,
    ) -> Result<RefundOutcome, ProviderError> {
        let mut tx = self.db.begin().await.map_err(unavailable)?;
        if let Some(id) = store::refund_by_key(&mut tx, self.tenant, key)
            .await
            .map_err(unavailable)?
        {
            return Ok(RefundOutcome { reference: id });
        }
        let mut intent = store::intent(&mut tx, self.tenant, reference)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ProviderError::Refused(format!("no intent {reference}")))?;
        if amount.amount <= 0 || amount.amount > intent.captured - intent.refunded {
            return Err(ProviderError::Refused(
                "the refund exceeds what is left of the charge".into(),
            ));
        }
        let id = format!("simre_{}", Uuid::now_v7().simple());
        store::insert_refund(
            &mut tx,
            self.tenant,
            (&id, reference, key),
            amount.amount,
            Timestamp::now(),
        )
        .await
        .map_err(unavailable)?;
        intent.refunded += amount.amount;
        store::update_intent(&mut tx, self.tenant, &intent)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(RefundOutcome { reference: id })
    }

    async fn verify_webhook(
        &self,
        delivery: WebhookDelivery<'_>,
        now: Timestamp,
    ) -> Result<Option<ProviderEvent>, ProviderError> {
        let Some(header) = delivery.signature else {
            return Ok(None);
        };
        let key = webhook_key(&self.db, &self.secrets, self.tenant)
            .await
            .map_err(unavailable)?;
        if !verify(&key, header, delivery.body, now) {
            return Ok(None);
        }
        let Ok(body) = serde_json::from_slice::<WebhookBody>(delivery.body) else {
            return Ok(None);
        };
        Ok(Some(ProviderEvent {
            id: body.id,
            kind: body.kind,
            reference: body.data.reference,
            payment_id: body.data.payment_id,
            status: body.data.status.as_deref().and_then(PaymentStatus::parse),
            failure_code: body.data.failure_code,
            refunded: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_within_the_tolerance_only() {
        let now = Timestamp::now();
        let body = br#"{"id":"evt_1"}"#;
        let header = signature("key", now, body);
        assert!(verify("key", &header, body, now));
        assert!(verify(
            "key",
            &header,
            body,
            now + time::Duration::minutes(4)
        ));
        assert!(!verify(
            "key",
            &header,
            body,
            now + time::Duration::minutes(6)
        ));
        assert!(!verify("other", &header, body, now));
        assert!(!verify("key", &header, br#"{"id":"evt_2"}"#, now));
        assert!(!verify("key", "t=1,v1=zz", body, now));
        assert!(!verify("key", "", body, now));
        // Several signatures, as during a key rotation: one good one suffices.
        let both = format!("{header},v1={}", hex(&[0u8; 32]));
        assert!(verify("key", &both, body, now));
    }
}
