//! Stripe webhooks: the `Stripe-Signature` header (`t=<unix time>,v1=<hex HMAC-SHA256 of
//! "t.payload">`, possibly several `v1`, one per active signing secret) is checked against each
//! of the tenant's webhook secrets within a 5-minute tolerance; the events the payments core
//! follows are parsed into provider-neutral form.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{IntentObject, PaymentState};
use crate::{money::Money, secret_box::SecretString};

/// How far a signature's timestamp may be from now (Stripe's libraries use the same).
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches a webhook secret")]
    Mismatch,
}

/// Checks `header` for `payload` at `now` (unix seconds) against every secret.
pub fn verify(
    header: &str,
    payload: &[u8],
    secrets: &[SecretString],
    now: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                );
            }
            "t" => return Err(SignatureError::Malformed),
            // Not hex: not a signature of ours; another may still match.
            "v1" => signatures.extend(decode_hex(value)),
            // v0 (test mode's old scheme) and future schemes are ignored.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let matches = secrets.iter().any(|secret| {
        signatures.iter().any(|signature| {
            // `verify_slice` compares in constant time.
            mac(secret, timestamp, payload)
                .verify_slice(signature)
                .is_ok()
        })
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The signature Stripe would send: for the fake Stripe of tests and the simulated provider.
pub fn sign(secret: &SecretString, timestamp: i64, payload: &[u8]) -> String {
    let tag = mac(secret, timestamp, payload).finalize().into_bytes();
    let hex: String = tag.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

fn mac(secret: &SecretString, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    // The whole secret, `whsec_` included, is the HMAC key, as in Stripe's libraries.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A provider event the payments core acts on, whatever the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// Stripe's `evt_...` id: each is processed once.
    pub event_id: String,
    /// The payment's provider reference (`pi_...`).
    pub reference: String,
    pub state: PaymentState,
    pub amount: Money,
    /// Captured so far (for refunds: the charge's captured amount).
    pub captured: Money,
    pub refunded: Money,
    /// Held and capturable (manual capture).
    pub capturable: Money,
    pub failure_code: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the event payload is not a Stripe event we can read")]
pub struct MalformedEvent;

#[derive(serde::Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(serde::Deserialize)]
struct EventData {
    object: serde_json::Value,
}

#[derive(serde::Deserialize)]
struct ChargeObject {
    payment_intent: Option<String>,
    amount: i64,
    #[serde(default)]
    amount_captured: i64,
    #[serde(default)]
    amount_refunded: i64,
    currency: String,
}

/// Parses a verified payload. Event types the payments core does not follow are `None`:
/// acknowledged and ignored.
pub fn parse_event(payload: &[u8]) -> Result<Option<ProviderEvent>, MalformedEvent> {
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|_| MalformedEvent)?;
    let state = match envelope.kind.as_str() {
        "payment_intent.succeeded" => PaymentState::Succeeded,
        "payment_intent.payment_failed" => PaymentState::Failed,
        "payment_intent.canceled" => PaymentState::Canceled,
        "payment_intent.requires_action" => PaymentState::RequiresAction,
        "payment_intent.amount_capturable_updated" => PaymentState::RequiresCapture,
        "charge.refunded" => return charge_refunded(envelope).map(Some),
        _ => return Ok(None),
    };
    let intent: IntentObject =
        serde_json::from_value(envelope.data.object).map_err(|_| MalformedEvent)?;
    let currency = intent.currency.to_ascii_uppercase();
    Ok(Some(ProviderEvent {
        event_id: envelope.id,
        failure_code: intent
            .last_payment_error
            .as_ref()
            .and_then(super::PaymentError::failure_code),
        amount: Money::new(intent.amount, currency.clone()),
        captured: Money::new(intent.amount_received, currency.clone()),
        refunded: Money::zero(currency.clone()),
        capturable: Money::new(intent.amount_capturable, currency),
        reference: intent.id,
        state,
    }))
}

fn charge_refunded(envelope: Envelope) -> Result<ProviderEvent, MalformedEvent> {
    let charge: ChargeObject =
        serde_json::from_value(envelope.data.object).map_err(|_| MalformedEvent)?;
    let currency = charge.currency.to_ascii_uppercase();
    let state = if charge.amount_refunded >= charge.amount_captured {
        PaymentState::Refunded
    } else {
        PaymentState::PartiallyRefunded
    };
    Ok(ProviderEvent {
        event_id: envelope.id,
        reference: charge.payment_intent.ok_or(MalformedEvent)?,
        state,
        amount: Money::new(charge.amount, currency.clone()),
        captured: Money::new(charge.amount_captured, currency.clone()),
        refunded: Money::new(charge.amount_refunded, currency.clone()),
        capturable: Money::zero(currency),
        failure_code: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_547_200;
    const PAYLOAD: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;

    fn secret(text: &str) -> SecretString {
        SecretString::new(text)
    }

    #[test]
    fn a_good_signature_verifies() {
        let header = sign(&secret("whsec_current"), NOW, PAYLOAD);
        assert_eq!(
            verify(&header, PAYLOAD, &[secret("whsec_current")], NOW + 10),
            Ok(())
        );
    }

    #[test]
    fn a_wrong_secret_or_a_changed_payload_fails() {
        let header = sign(&secret("whsec_other"), NOW, PAYLOAD);
        assert_eq!(
            verify(&header, PAYLOAD, &[secret("whsec_current")], NOW),
            Err(SignatureError::Mismatch)
        );
        let header = sign(&secret("whsec_current"), NOW, PAYLOAD);
        assert_eq!(
            verify(&header, b"{}", &[secret("whsec_current")], NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_old_or_far_future_timestamp_is_refused() {
        let header = sign(
            &secret("whsec_current"),
            NOW - TOLERANCE_SECONDS - 1,
            PAYLOAD,
        );
        assert_eq!(
            verify(&header, PAYLOAD, &[secret("whsec_current")], NOW),
            Err(SignatureError::Stale)
        );
        let header = sign(&secret("whsec_current"), NOW - TOLERANCE_SECONDS, PAYLOAD);
        assert_eq!(
            verify(&header, PAYLOAD, &[secret("whsec_current")], NOW),
            Ok(())
        );
        let header = sign(
            &secret("whsec_current"),
            NOW + TOLERANCE_SECONDS + 1,
            PAYLOAD,
        );
        assert_eq!(
            verify(&header, PAYLOAD, &[secret("whsec_current")], NOW),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn during_a_rotation_either_secret_and_any_v1_match() {
        let secrets = [secret("whsec_new"), secret("whsec_old")];
        let old = sign(&secret("whsec_old"), NOW, PAYLOAD);
        assert_eq!(verify(&old, PAYLOAD, &secrets, NOW), Ok(()));
        // Stripe signs with every active secret: one header, several v1.
        let new = sign(&secret("whsec_new"), NOW, PAYLOAD);
        let both = format!(
            "{},v1={},v0=ignored",
            sign(&secret("whsec_unknown"), NOW, PAYLOAD),
            new.split("v1=").nth(1).unwrap()
        );
        assert_eq!(verify(&both, PAYLOAD, &[secret("whsec_new")], NOW), Ok(()));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let secrets = [secret("whsec_current")];
        for header in [
            "",
            "garbage",
            "v1=abcd",
            "t=notanumber,v1=abcd",
            &format!("t={NOW}"),
            &format!("t={NOW},v1=zz"),
            &format!("t={NOW},t={NOW},v1=ab"),
        ] {
            assert_eq!(
                verify(header, PAYLOAD, &secrets, NOW),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    #[test]
    fn intent_events_become_provider_events() {
        let payload = serde_json::json!({
            "id": "evt_9", "type": "payment_intent.payment_failed",
            "data": { "object": {
                "id": "pi_9", "status": "requires_payment_method", "amount": 41500,
                "amount_capturable": 0, "amount_received": 0, "currency": "eur",
                "last_payment_error": { "code": "card_declined", "decline_code": "insufficient_funds" }
            } }
        });
        let event = parse_event(payload.to_string().as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(event.event_id, "evt_9");
        assert_eq!(event.reference, "pi_9");
        assert_eq!(event.state, PaymentState::Failed);
        assert_eq!(event.amount, Money::new(41500, "EUR"));
        assert_eq!(event.failure_code.as_deref(), Some("insufficient_funds"));

        let held = serde_json::json!({
            "id": "evt_10", "type": "payment_intent.amount_capturable_updated",
            "data": { "object": {
                "id": "pi_10", "status": "requires_capture", "amount": 500,
                "amount_capturable": 500, "amount_received": 0, "currency": "usd"
            } }
        });
        let event = parse_event(held.to_string().as_bytes()).unwrap().unwrap();
        assert_eq!(event.state, PaymentState::RequiresCapture);
        assert_eq!(event.capturable, Money::new(500, "USD"));
    }

    #[test]
    fn refunds_are_whole_or_partial() {
        let charge = |refunded: i64| {
            serde_json::json!({
                "id": "evt_r", "type": "charge.refunded",
                "data": { "object": {
                    "id": "ch_1", "payment_intent": "pi_1", "amount": 1000,
                    "amount_captured": 1000, "amount_refunded": refunded, "currency": "eur"
                } }
            })
            .to_string()
        };
        let partial = parse_event(charge(400).as_bytes()).unwrap().unwrap();
        assert_eq!(partial.state, PaymentState::PartiallyRefunded);
        assert_eq!(partial.refunded, Money::new(400, "EUR"));
        assert_eq!(partial.reference, "pi_1");
        let whole = parse_event(charge(1000).as_bytes()).unwrap().unwrap();
        assert_eq!(whole.state, PaymentState::Refunded);
    }

    #[test]
    fn unknown_types_are_ignored_and_garbage_is_malformed() {
        let other = br#"{"id":"evt_1","type":"customer.created","data":{"object":{}}}"#;
        assert_eq!(parse_event(other), Ok(None));
        assert_eq!(parse_event(b"not json"), Err(MalformedEvent));
        let missing = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#;
        assert_eq!(parse_event(missing), Err(MalformedEvent));
    }
}
